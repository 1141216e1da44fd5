"""Webhooks from the providers, under ``/notifications``: Twilio inbound messages and status
callbacks (signed with the auth token), SendGrid's Event Webhook (signed with ECDSA)."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, abort, jsonify, request
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader
from twilio.request_validator import RequestValidator

from plugin.notifications import clock
from plugin.notifications.delivery import queue_send
from plugin.notifications.feedback import (
    FeedbackResult,
    apply_sendgrid_events,
    apply_twilio_status,
    handle_inbound,
    parse_inbound,
)
from plugin.notifications.services import current_services
from plugin.runtime import current_runtime

log = logging.getLogger(__name__)

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_EVENTS = 10_000


def _public_url() -> str:
    """The URL Twilio signed: the app's public address, not the one behind a proxy."""
    runtime = current_runtime()
    query = request.query_string.decode()
    return runtime.config.app_url + request.path + (f"?{query}" if query else "")


def _check_twilio_signature() -> None:
    token = current_runtime().config.twilio_auth_token
    if not token:
        abort(403)
    signature = request.headers.get("X-Twilio-Signature", "")
    params = request.form.to_dict(flat=True)
    if not signature or not RequestValidator(token).validate(_public_url(), params, signature):
        log.warning("Twilio webhook %s refused: bad signature", request.path)
        abort(403)


def _queue_follow_ups(result: FeedbackResult) -> None:
    if not result.follow_ups:
        return
    runtime = current_runtime()
    services = current_services()
    now = clock.now()
    for message in result.follow_ups:
        queue_send(runtime.queues, services.options, message, now=now)


@bp.post("/twilio/inbound")
def twilio_inbound() -> Response:
    """A shopper texted (or wrote on WhatsApp to) a shop's number."""
    _check_twilio_signature()
    inbound = parse_inbound(request.form)
    if inbound is not None:
        runtime = current_runtime()
        with runtime.db.transaction() as session:
            result = handle_inbound(
                session, inbound, app_url=runtime.config.app_url, now=clock.now()
            )
        _queue_follow_ups(result)
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/twilio/status")
def twilio_status() -> tuple[str, int]:
    """Twilio reports on a message it accepted (sent, delivered, undelivered, read...)."""
    _check_twilio_signature()
    runtime = current_runtime()
    services = current_services()
    with runtime.db.transaction() as session:
        result = apply_twilio_status(
            session, request.args.get("m"), request.form, now=clock.now(), wallet=services.wallet
        )
    _queue_follow_ups(result)
    return "", 204


@bp.post("/sendgrid/events")
def sendgrid_events() -> tuple[Response, int] | tuple[str, int]:
    """SendGrid's signed Event Webhook: a JSON array of events."""
    services = current_services()
    key = services.options.sendgrid_webhook_public_key
    if not key:
        abort(403)
    payload = request.get_data(as_text=True)
    signature = request.headers.get(EventWebhookHeader.SIGNATURE, "")
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP, "")
    try:
        valid = bool(signature and timestamp) and EventWebhook(key).verify_signature(
            payload, signature, timestamp
        )
    except (ValueError, TypeError):
        valid = False
    if not valid:
        log.warning("SendGrid event webhook refused: bad signature")
        abort(403)
    try:
        events = json.loads(payload)
    except ValueError:
        return jsonify(error="not JSON"), 400
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        return jsonify(error="expected a JSON array of events"), 400
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        result = apply_sendgrid_events(
            session,
            [e for e in events if isinstance(e, dict)],
            now=clock.now(),
            wallet=services.wallet,
        )
    _queue_follow_ups(result)
    return "", 204
