"""Running Relais as it runs in production, on one machine, and proving it holds.

``ops.services`` starts PostgreSQL and Redis from Debian's packages on loopback,
``ops.cluster`` adds gunicorn and RQ workers, ``ops.load`` replays signed webhooks for many
shops, ``ops.audit`` reads back what was accepted, processed, lost and duplicated, and
``ops.faults`` breaks one part at a time.
"""
