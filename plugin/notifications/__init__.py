"""Notifications: the right message, on the right channel, once.

- ``transports/``: SendGrid, SMTP, Twilio (SMS and WhatsApp) and the outbox, one interface
  per kind of channel.
- ``messages/``: default copy in French and English, the merchant's sandboxed templates,
  the email layout, GSM-7 and segments.
- ``settings.py`` (``get_settings``, ``save_settings``), ``editor.py`` (``save_template``,
  ``preview``): what the merchant controls.
- ``policy.py``, ``quiet_hours.py``, ``orchestration.py``: which channel, when.
- ``delivery.py``: the state machine of one message; ``jobs.py``: the RQ jobs.
- ``alerts.py``: proactive alerts (not shipped, stalled, pickup reminder, late, feedback).
- ``feedback.py`` and ``views.py``: Twilio inbound and status callbacks, SendGrid events.
- ``cli.py``: ``relais outbox``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the webhook routes and this package's part of privacy and order views."""
    from plugin.notifications.records import MessageRecords
    from plugin.notifications.views import bp

    app.register_blueprint(bp)
    runtime = app.extensions["relais"]
    records = MessageRecords()
    runtime.privacy_holders.append(records)
    runtime.order_sections.append(records)
