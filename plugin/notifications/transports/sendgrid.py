"""Email through SendGrid's v3 mail send, with the official ``sendgrid`` client."""

from __future__ import annotations

import socket
from datetime import datetime
from urllib.error import URLError

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Category, CustomArg, From, Mail, ReplyTo, To

from plugin.notifications.transports.base import (
    Accepted,
    OutgoingEmail,
    PermanentSendError,
    TransientSendError,
    parse_retry_after,
)

DEFAULT_HOST = "https://api.sendgrid.com"
# SendGrid accepts at most 10 categories per message.
MAX_CATEGORIES = 10


class SendGridTransport:
    """Sends with ``POST /v3/mail/send``; categories and custom args tag each message so that
    the Event Webhook can be tied back to it."""

    name = "sendgrid"

    def __init__(self, api_key: str, *, host: str | None = None, timeout: float = 10.0) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host or DEFAULT_HOST)
        # The client builds one urllib request per call; this bounds connect and read.
        self.client.client.timeout = timeout

    def build(self, email: OutgoingEmail) -> Mail:
        """The v3 request body for ``email`` (separate so tests can inspect it)."""
        mail = Mail(
            from_email=From(email.from_email, email.from_name),
            to_emails=To(email.to),
            subject=email.subject,
            plain_text_content=email.text,
            html_content=email.html,
        )
        if email.reply_to:
            mail.reply_to = ReplyTo(email.reply_to)
        for category in email.categories[:MAX_CATEGORIES]:
            mail.add_category(Category(category))
        for key, value in email.custom_args.items():
            mail.add_custom_arg(CustomArg(key, str(value)))
        return mail

    def send(self, email: OutgoingEmail) -> Accepted:
        mail = self.build(email)
        try:
            response = self.client.send(mail)
        except http_errors.HTTPError as exc:
            raise _classify(exc) from None
        except TimeoutError:
            # The request may have been accepted before the answer was lost.
            raise TransientSendError(
                "SendGrid did not answer in time", maybe_accepted=True
            ) from None
        except URLError as exc:
            timed_out = isinstance(exc.reason, TimeoutError | socket.timeout)
            raise TransientSendError(
                f"SendGrid unreachable: {exc.reason}", maybe_accepted=timed_out
            ) from None
        except (ConnectionError, OSError) as exc:
            raise TransientSendError(
                f"SendGrid connection lost: {type(exc).__name__}", maybe_accepted=True
            ) from None
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        return Accepted(provider_id=message_id)

    def find_accepted(self, email: OutgoingEmail, since: datetime) -> Accepted | None:
        # SendGrid has no cheap "did you take this?" lookup (the Email Activity API is a paid
        # add-on); its Event Webhook "processed" event answers instead, see delivery.py.
        return None


def _classify(exc: http_errors.HTTPError) -> Exception:
    status = int(exc.status_code)
    detail = _error_text(exc)
    if status == 429:
        retry_after = parse_retry_after(_header(exc, "Retry-After"))
        return TransientSendError(
            f"SendGrid rate limit (429){detail}", code="429", retry_after=retry_after
        )
    if status >= 500 or status == 408:
        return TransientSendError(f"SendGrid error {status}{detail}", code=str(status))
    return PermanentSendError(f"SendGrid refused the email ({status}){detail}", code=str(status))


def _header(exc: http_errors.HTTPError, name: str) -> str | None:
    headers = getattr(exc, "headers", None)
    if headers is None:
        return None
    value = headers.get(name)
    return str(value) if value is not None else None


def _error_text(exc: http_errors.HTTPError) -> str:
    try:
        errors = exc.to_dict.get("errors") or []
        messages = [
            str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")
        ]
    except (ValueError, AttributeError, UnicodeDecodeError):
        return ""
    return (": " + "; ".join(messages))[:300] if messages else ""
