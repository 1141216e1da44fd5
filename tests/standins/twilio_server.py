"""A local stand-in for Twilio's Messages API (``/2010-04-01/Accounts/{sid}/Messages.json``).

``POST`` creates a message the way Twilio does: basic auth with the account SID and auth
token, form fields ``To``, ``From`` or ``MessagingServiceSid``, ``Body`` or ``ContentSid``,
E.164 numbers (``whatsapp:`` prefixed for WhatsApp). It answers 201 with the message
resource, or 400 with Twilio's error body and code (21211 invalid number, 21610 the number
replied STOP, 21602 no body). ``GET`` lists the accepted messages, filtered by ``To``.
Tests script 429 (with Retry-After), 500 or slow answers through ``server.script``.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.standins.http_recorder import Answer, RecordedRequest, RecordingServer

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-token"
_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def _error(code: int, message: str, status: int = 400) -> Answer:
    return Answer(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


@dataclass
class TwilioState:
    """What the stand-in remembers: accepted messages and numbers that replied STOP."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, request: RecordedRequest) -> Answer:
        parts = urlsplit(request.path)
        match = _PATH.match(parts.path)
        if match is None:
            return _error(20404, "The requested resource was not found", 404)
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if (
            match.group(1) != ACCOUNT_SID
            or request.headers.get("Authorization") != f"Basic {expected}"
        ):
            return _error(20003, "Authenticate", 401)
        if request.method == "GET":
            return self._list(parse_qs(parts.query))
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        return self._create(form)

    def _create(self, form: dict[str, str]) -> Answer:
        to = form.get("To", "")
        channel_prefix = "whatsapp:" if to.startswith("whatsapp:") else ""
        number = to.removeprefix("whatsapp:")
        if not _E164.match(number):
            return _error(21211, f"The 'To' number {to} is not a valid phone number.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _error(21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if not form.get("Body") and not form.get("ContentSid") and not form.get("MediaUrl"):
            return _error(21602, "Message body is required.")
        if number in self.opted_out:
            return _error(21610, "Attempt to send to unsubscribed recipient")
        now = datetime.now(UTC)
        sid = "SM" + uuid.uuid4().hex
        message = {
            "sid": sid,
            "account_sid": ACCOUNT_SID,
            "to": to,
            "from": form.get("From") or (channel_prefix + "+15005550006"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body") or f"[template {form.get('ContentSid')}]",
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": format_datetime(now),
            "date_updated": format_datetime(now),
            "date_sent": None,
            "price": None,
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
            "api_version": "2010-04-01",
            "subresource_uris": {},
        }
        with self.lock:
            self.messages.append({**message, "_form": form})
        return Answer(201, message)

    def _list(self, query: dict[str, list[str]]) -> Answer:
        to = (query.get("To") or [None])[0]
        with self.lock:
            found = [
                {k: v for k, v in m.items() if not k.startswith("_")}
                for m in reversed(self.messages)
                if to is None or m["to"] == to
            ]
        uri = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        return Answer(
            200,
            {
                "messages": found[:50],
                "end": max(len(found[:50]) - 1, 0),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": 50,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            },
        )

    def sent_forms(self) -> list[dict[str, str]]:
        """The form fields of every accepted message, oldest first."""
        with self.lock:
            return [m["_form"] for m in self.messages]


class TwilioStandIn(RecordingServer):
    """The server plus its state (``server.state.opted_out.add("+33...")``)."""

    def __init__(self, port: int = 0) -> None:
        self.state = TwilioState()
        super().__init__(self.state.respond, port=port)


def twilio_standin(port: int = 0) -> TwilioStandIn:
    return TwilioStandIn(port)
