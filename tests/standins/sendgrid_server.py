"""A local stand-in for SendGrid's v3 API: ``POST /v3/mail/send``.

It checks what SendGrid checks before accepting a message (bearer key, personalizations,
sender, subject, content order, categories, custom args), answers 202 with an
``X-Message-Id``, or 400/401 with SendGrid's error body, and records every request. Tests
script 429 (with Retry-After), 500 or slow answers through :meth:`RecordingServer.script`.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from tests.standins.http_recorder import Answer, RecordedRequest, RecordingServer

API_KEY = "SG.test-key"
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _error(message: str, field: str | None = None, status: int = 400) -> Answer:
    return Answer(status, {"errors": [{"message": message, "field": field, "help": None}]})


def respond(request: RecordedRequest) -> Answer:
    """What SendGrid answers to this request."""
    if request.method != "POST" or request.path.split("?")[0] != "/v3/mail/send":
        return _error("Not Found", status=404)
    if request.headers.get("Authorization") != f"Bearer {API_KEY}":
        return _error(
            "The provided authorization grant is invalid, expired, or revoked", status=401
        )
    try:
        body: dict[str, Any] = json.loads(request.body)
    except ValueError:
        return _error("Bad Request", field=None)
    personalizations = body.get("personalizations") or []
    if not personalizations or not all(p.get("to") for p in personalizations):
        return _error(
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
        )
    for p in personalizations:
        for to in p["to"]:
            if not _ADDRESS.match(str(to.get("email", ""))):
                return _error("Does not contain a valid address.", "personalizations.0.to.0.email")
    if not _ADDRESS.match(str((body.get("from") or {}).get("email", ""))):
        return _error("The from email does not contain a valid address.", "from.email")
    if not body.get("subject") and not all(p.get("subject") for p in personalizations):
        return _error("The subject is required.", "subject")
    content = body.get("content") or []
    types = [c.get("type") for c in content]
    if not content or any(not c.get("value") for c in content):
        return _error(
            "The content value must be a string at least one character in length.",
            "content.0.value",
        )
    if "text/plain" in types and types.index("text/plain") != 0:
        return _error("If present, text/plain must be first.", "content.0.type")
    categories = body.get("categories") or []
    if len(categories) > 10:
        return _error("Too many categories.", "categories")
    custom_args = body.get("custom_args") or {}
    if any(not isinstance(v, str) for v in custom_args.values()):
        return _error("custom_args values must be strings.", "custom_args")
    return Answer(202, headers={"X-Message-Id": uuid.uuid4().hex[:22]})


def sendgrid_standin(port: int = 0) -> RecordingServer:
    """A stand-in to start (``with sendgrid_standin() as server: server.url``)."""
    return RecordingServer(respond, port=port)
