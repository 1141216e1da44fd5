"""A ``relais worker`` for the crash test: the real worker loop (RQ SimpleWorker with the
scheduler and the periodic sweeps) in the app context, configured from one JSON argument.

    python -m tests.notifications.crash_worker '{"database_url": ..., "redis_url": ...}'
"""

from __future__ import annotations

import json
import sys

from plugin import create_app
from plugin.config import Config
from plugin.worker import run_worker


def main() -> None:
    settings = json.loads(sys.argv[1])
    config = Config(
        shopify_api_key="test-api-key",
        shopify_api_secret="test-api-secret",
        app_url="https://relais.test",
        secret_key="test-secret-key",
        database_url=settings["database_url"],
        redis_url=settings["redis_url"],
        instance_dir=settings["instance_dir"],
        email_backend="sendgrid",
        sendgrid_api_key=settings["sendgrid_api_key"],
        sendgrid_host=settings["sendgrid_url"],
        sms_backend="twilio",
        twilio_account_sid=settings["twilio_account_sid"],
        twilio_auth_token=settings["twilio_auth_token"],
        twilio_base_url=settings["twilio_url"],
        twilio_sms_from=settings["sms_from"],
        twilio_whatsapp_from=settings["whatsapp_from"],
        notifications_send_timeout=float(settings["send_timeout"]),
        notifications_lease_seconds=float(settings["lease_seconds"]),
        testing=True,
    )
    app = create_app(config)
    with app.app_context():
        run_worker(app)


if __name__ == "__main__":
    main()
