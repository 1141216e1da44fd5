"""Email over SMTP (``SMTP_URL``), for merchants and operators with their own relay."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from plugin.notifications.transports.base import (
    Accepted,
    OutgoingEmail,
    PermanentSendError,
    TransientSendError,
)


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to connect, read from ``smtp://user:password@host:587?starttls=true``
    (``smtps://`` for TLS from the first byte)."""

    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        query = parse_qs(parts.query)
        implicit = parts.scheme == "smtps"
        starttls = query.get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=starttls,
        )


class SmtpTransport:
    """One connection per email: simple, and nothing stays open between jobs."""

    name = "smtp"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.server = SmtpServer.from_url(url)
        self.timeout = timeout

    def build(self, email: OutgoingEmail) -> EmailMessage:
        """The MIME message: a text part and an HTML alternative."""
        message = EmailMessage()
        message["From"] = formataddr((email.from_name, email.from_email))
        message["To"] = email.to
        message["Subject"] = email.subject
        if email.reply_to:
            message["Reply-To"] = email.reply_to
        domain = email.from_email.rpartition("@")[2] or None
        message["Message-ID"] = make_msgid(idstring=f"relais{email.message_id}", domain=domain)
        message["X-Relais-Message-Id"] = str(email.message_id)
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        return message

    def send(self, email: OutgoingEmail) -> Accepted:
        message = self.build(email)
        server = self.server
        try:
            client: smtplib.SMTP
            if server.implicit_tls:
                client = smtplib.SMTP_SSL(
                    server.host,
                    server.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
            with client:
                if server.starttls:
                    client.starttls(context=ssl.create_default_context())
                if server.username:
                    client.login(server.username, server.password or "")
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _by_code(code, text) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise _by_code(exc.smtp_code, exc.smtp_error) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentSendError(f"SMTP login refused ({exc.smtp_code})") from None
        except TimeoutError:
            raise TransientSendError(
                "SMTP server did not answer in time", maybe_accepted=True
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientSendError(f"SMTP server unreachable: {type(exc).__name__}") from None
        return Accepted(provider_id=message["Message-ID"])

    def find_accepted(self, email: OutgoingEmail, since: datetime) -> Accepted | None:
        return None  # SMTP has no way to ask a relay what it accepted


def _by_code(code: int, text: bytes | str) -> Exception:
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    reason = f"SMTP {code}: {detail}"[:300]
    if 400 <= code < 500:
        return TransientSendError(reason, code=str(code))
    return PermanentSendError(reason, code=str(code))
