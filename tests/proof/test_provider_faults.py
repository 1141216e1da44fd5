"""SendGrid, Twilio and APNs failing (500, then 429 with Retry-After, then timing out) while
orders ship, on a real cluster; see ops/provider_faults.py.

A short window here (15 s, 5 s per mode); ``python -m ops.provider_faults`` runs the full
minute and its figures are in benchmarks/README.md.
"""

from __future__ import annotations

from ops.provider_faults import run_provider_faults
from tests.proof.cluster import own_cluster

pytestmark = own_cluster(timeout=420)


def test_providers_failing_lose_nothing_and_duplicate_only_what_timed_out() -> None:
    outcome = run_provider_faults(window=15.0, shops=4, orders_per_shop=4, settle_timeout=240)
    print("\n".join(outcome.lines()))
    figures = outcome.figures
    assert figures.accepted == figures.webhooks
    assert figures.lost == 0 and figures.duplicated == 0
    states = outcome.messages
    assert not any(state in ("failed", "queued", "sending") for (_, state) in states), states
    assert states.get(("email", "sent")) and states.get(("sms", "sent")), states
    providers = {p.provider: p for p in outcome.providers}
    for name, provider in providers.items():
        assert provider.refused_500 + provider.refused_429 > 0, f"{name} never failed"
        assert provider.lost == 0, provider
        assert provider.items > 0, provider
    # Twilio is asked whether an attempt in doubt went through: never a second SMS.
    assert providers["twilio"].duplicated == 0
    # SendGrid cannot be asked: an email accepted after Relais gave up is sent again, once.
    assert providers["sendgrid"].duplicated <= providers["sendgrid"].held_past_timeout
    # A push is "your pass changed": a second one costs a fetch of the same pass, nothing more.
    assert providers["apns"].duplicated <= providers["apns"].held_past_timeout
    assert providers["sendgrid"].delivered_after_recovery > 0
