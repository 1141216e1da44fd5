"""SMS and WhatsApp through Twilio's Messages API, with the official ``twilio`` client."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from plugin.notifications.transports.base import (
    Accepted,
    OutgoingText,
    PermanentSendError,
    TransientSendError,
    parse_retry_after,
)

TWILIO_API = "https://api.twilio.com"
CLOCK_SKEW = timedelta(minutes=2)

# Twilio error codes that say "this recipient will never get it", kept for the merchant.
UNSUBSCRIBED_CODES = {21610}  # the number replied STOP to this sender
INVALID_NUMBER_CODES = {21211, 21214, 21217, 21401, 21407, 21408, 21612, 21614, 63024}


class RedirectingHttpClient(TwilioHttpClient):
    """Twilio's documented way to change where requests go: a custom HTTP client.

    Requests for ``https://api.twilio.com`` are sent to ``base_url`` instead (a local
    stand-in in tests, a proxy in some deployments).
    """

    def __init__(self, *, base_url: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout, pool_connections=True)
        self.base_url = base_url.rstrip("/") if base_url else None
        # Kept for the headers of error answers (Retry-After), which the client drops.
        self.last_response: Response | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.base_url and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        self.last_response = None
        response = super().request(method, url, *args, **kwargs)
        self.last_response = response
        return response


class TwilioTransport:
    """Sends SMS (from a number, an alphanumeric sender id or a messaging service) and
    WhatsApp messages (approved templates by Content SID, or free text inside a session)."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.http = RedirectingHttpClient(base_url=base_url, timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=self.http)

    def _params(self, text: OutgoingText) -> dict[str, Any]:
        whatsapp = text.channel == "whatsapp"
        params: dict[str, Any] = {"to": f"whatsapp:{text.to}" if whatsapp else text.to}
        sender = text.sender or ""
        if sender.startswith("MG"):
            params["messaging_service_sid"] = sender
        elif sender:
            params["from_"] = f"whatsapp:{sender}" if whatsapp else sender
        if text.content_sid:
            params["content_sid"] = text.content_sid
            params["content_variables"] = json.dumps(dict(text.content_variables))
        else:
            params["body"] = text.body or ""
        if text.status_callback:
            params["status_callback"] = text.status_callback
        return params

    def send(self, text: OutgoingText) -> Accepted:
        params = self._params(text)
        try:
            message = self.client.messages.create(**params)
        except TwilioRestException as exc:
            raise self._classify(exc) from None
        except (requests.ConnectTimeout, requests.ConnectionError) as exc:
            lost_answer = not isinstance(exc, requests.ConnectTimeout) and _after_sending(exc)
            raise TransientSendError(
                f"Twilio unreachable: {type(exc).__name__}", maybe_accepted=lost_answer
            ) from None
        except requests.Timeout:
            raise TransientSendError("Twilio did not answer in time", maybe_accepted=True) from None
        return Accepted(provider_id=message.sid)

    def find_accepted(self, text: OutgoingText, since: datetime) -> Accepted | None:
        """Ask Twilio for messages to this number since ``since`` with the same content."""
        to = f"whatsapp:{text.to}" if text.channel == "whatsapp" else text.to
        try:
            # Newest first. Not filtered on DateSent: a message Twilio accepted but still
            # holds in its queue has none yet.
            candidates = self.client.messages.list(to=to, limit=50)
        except (TwilioRestException, requests.RequestException):
            return None
        for message in candidates:
            created = message.date_created
            # Allow for the clocks of Relais and Twilio to disagree a little.
            if created is not None and created < since - CLOCK_SKEW:
                continue
            if text.body is not None and (message.body or "") != text.body:
                continue
            return Accepted(provider_id=message.sid)
        return None

    def _classify(self, exc: TwilioRestException) -> Exception:
        status = int(exc.status)
        code = int(exc.code) if exc.code else None
        label = f"{exc.msg or 'error'}" + (f" (Twilio {code})" if code else f" ({status})")
        if status == 429:
            last = self.http.last_response
            header = last.headers.get("Retry-After") if last is not None and last.headers else None
            return TransientSendError(
                f"Twilio rate limit: {label}", code="429", retry_after=parse_retry_after(header)
            )
        if status >= 500 or status == 408:
            return TransientSendError(f"Twilio error: {label}", code=str(code or status))
        if code in UNSUBSCRIBED_CODES:
            return PermanentSendError(
                f"recipient unsubscribed: {label}", code=str(code), unsubscribed=True
            )
        if code in INVALID_NUMBER_CODES:
            return PermanentSendError(f"invalid number: {label}", code=str(code))
        return PermanentSendError(f"Twilio refused the message: {label}", code=str(code or status))


def _after_sending(exc: requests.ConnectionError) -> bool:
    # A reset or a closed connection after the request was written may hide an acceptance;
    # a refused connection cannot.
    text = str(exc).lower()
    return not ("refused" in text or "name or service" in text or "resolve" in text)
