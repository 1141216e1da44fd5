"""Apple's Wallet web services, and the shopper's downloads.

Passes, under ``/wallet`` (the pass's ``webServiceURL``):

* ``POST   /wallet/v1/devices/<device>/registrations/<passType>/<serial>``: 201 new, 200 known
* ``DELETE /wallet/v1/devices/<device>/registrations/<passType>/<serial>``: 200
* ``GET    /wallet/v1/devices/<device>/registrations/<passType>?passesUpdatedSince=<tag>``:
  200 ``{"serialNumbers": [...], "lastUpdated": "<tag>"}``, or 204 when nothing changed
* ``GET    /wallet/v1/passes/<passType>/<serial>``: 200 the .pkpass, 304 with If-Modified-Since
* ``POST   /wallet/v1/log``: 200

Wallet orders, under ``/wallet/orders``: the same with ``orders`` in place of ``passes``
(``ordersModifiedSince``, ``{"orderIdentifiers": [...], "lastModified": "<tag>"}``).

Requests about one pass carry ``Authorization: ApplePass <token>`` (``AppleOrder`` for
orders), compared in constant time; anything else gets 401. The shopper's downloads,
``/wallet/passes/<signed token>.pkpass`` and ``/wallet/orders/<signed token>.order``,
are authorised by the signed link (:mod:`plugin.links`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import Config
from plugin.links import read_order_token
from plugin.models import Order, Shop
from plugin.runtime import current_runtime
from wallet import service
from wallet.content import NotFound, build_package, file_name, load_record
from wallet.credentials import credentials
from wallet.models import ORDER, PASS, WalletPass
from wallet.orders import MIME_TYPE as ORDER_MIME_TYPE
from wallet.passes import MIME_TYPE as PASS_MIME_TYPE

log = logging.getLogger(__name__)

_DEVICE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_PUSH_TOKEN = re.compile(r"^[A-Za-z0-9]{8,200}$")
MAX_LOG_LINES = 20
MAX_LOG_LENGTH = 500


@dataclass(frozen=True)
class Flavour:
    """What differs between the passes and the orders web services."""

    kind: str
    scheme: str
    since_parameter: str
    list_key: str
    tag_key: str
    mime_type: str

    def type_identifier(self, config: Config) -> str:
        if self.kind == PASS:
            return config.pass_type_identifier
        return config.order_type_identifier


PASSES = Flavour(
    PASS, "ApplePass", "passesUpdatedSince", "serialNumbers", "lastUpdated", PASS_MIME_TYPE
)
ORDERS = Flavour(
    ORDER, "AppleOrder", "ordersModifiedSince", "orderIdentifiers", "lastModified", ORDER_MIME_TYPE
)

passes_bp = Blueprint("wallet_passes", __name__, url_prefix="/wallet")
orders_bp = Blueprint("wallet_orders", __name__, url_prefix="/wallet/orders")


def _unauthorized() -> Response:
    return Response(status=401)


def _presented_token(flavour: Flavour) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != flavour.scheme.lower():
        return None
    return token.strip() or None


def _check_identifiers(flavour: Flavour, device: str | None, type_identifier: str) -> None:
    if type_identifier != flavour.type_identifier(current_runtime().config):
        abort(404)
    if device is not None and not _DEVICE.match(device):
        abort(404)
    if flavour.kind == ORDER and credentials(current_runtime().config).orders is None:
        abort(404)


# ------------------------------------------------------------------- registrations


def _register(flavour: Flavour, device: str, type_identifier: str, serial: str) -> Response:
    _check_identifiers(flavour, device, type_identifier)
    token = _presented_token(flavour)
    body = request.get_json(silent=True)
    push_token = body.get("pushToken") if isinstance(body, dict) else None
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        found = service.authenticate(session, serial, token)
        if found is None:
            return _unauthorized()
        if not isinstance(push_token, str) or not _PUSH_TOKEN.match(push_token):
            return Response(status=400)
        created = service.register(session, flavour.kind, device, push_token, found.wallet_pass)
    log.info("wallet %s registration %s", flavour.kind, "created" if created else "known")
    return Response(status=201 if created else 200)


def _unregister(flavour: Flavour, device: str, type_identifier: str, serial: str) -> Response:
    _check_identifiers(flavour, device, type_identifier)
    token = _presented_token(flavour)
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        found = service.authenticate(session, serial, token)
        if found is None:
            return _unauthorized()
        service.unregister(session, flavour.kind, device, found.wallet_pass)
    return Response(status=200)


def _updated(flavour: Flavour, device: str, type_identifier: str) -> Response:
    _check_identifiers(flavour, device, type_identifier)
    tag = request.args.get(flavour.since_parameter)
    with current_runtime().db.session() as session:
        changed = service.updated_since(session, flavour.kind, device, tag)
    if changed is None:
        return Response(status=204)
    identifiers, last = changed
    # The tag travels as a string: devices ignore a number.
    return jsonify({flavour.list_key: identifiers, flavour.tag_key: last})


# ------------------------------------------------------------------------ packages


def _package_response(
    flavour: Flavour, content: bytes, last_modified: datetime, *, download_name: str | None
) -> Response:
    response = Response(content, mimetype=flavour.mime_type)
    response.last_modified = last_modified
    # Personal, and changes: never stored by a shared cache, revalidated by the device.
    response.headers["Cache-Control"] = "private, no-cache"
    if download_name:
        response.headers["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return response


def _latest(flavour: Flavour, type_identifier: str, serial: str) -> Response:
    _check_identifiers(flavour, None, type_identifier)
    token = _presented_token(flavour)
    runtime = current_runtime()
    with runtime.db.session() as session:
        # The pass row is read before the order: its updated_at never claims a change
        # that the content loaded below lacks (the update commits after the change).
        found = service.authenticate(session, serial, token)
        if found is None:
            return _unauthorized()
        last_modified = found.wallet_pass.updated_at
        since = request.if_modified_since
        if since is not None and last_modified <= since:
            return Response(status=304)
        try:
            record = load_record(session, found.wallet_pass)
        except NotFound:
            return _unauthorized()
    package = build_package(runtime.config, record, flavour.kind)
    return _package_response(flavour, package.content, last_modified, download_name=None)


def _download(flavour: Flavour, token: str) -> Response:
    """The shopper's first download, from a signed link (email, tracking page)."""
    runtime = current_runtime()
    config = runtime.config
    ref = read_order_token(config.secret_key, token)
    if ref is None or (flavour.kind == ORDER and credentials(config).orders is None):
        abort(404)

    def lookup(session: Session) -> tuple[Order, WalletPass | None]:
        assert ref is not None
        order = session.scalar(
            select(Order)
            .join(Shop, Shop.id == Order.shop_id)
            .where(Shop.domain == ref.shop_domain, Order.public_id == ref.public_id)
        )
        if order is None or order.redacted_at is not None:
            abort(404)
        return order, service.find_pass(session, order.id)

    with runtime.db.session() as session:
        order, wallet_pass = lookup(session)
        record = load_record(session, wallet_pass) if wallet_pass is not None else None
    if record is None:
        # First download of this order: give it its serial number and token.
        with runtime.db.transaction() as session:
            order, _ = lookup(session)
            record = load_record(session, service.ensure_pass(session, order))
    package = build_package(config, record, flavour.kind)
    return _package_response(
        flavour,
        package.content,
        record.wallet_pass.updated_at,
        download_name=file_name(record.order, flavour.kind),
    )


def _log(flavour: Flavour) -> Response:
    body = request.get_json(silent=True)
    lines = body.get("logs") if isinstance(body, dict) else None
    if isinstance(lines, list):
        for line in lines[:MAX_LOG_LINES]:
            log.warning("wallet %s device log: %s", flavour.kind, str(line)[:MAX_LOG_LENGTH])
    return Response(status=200)


# --------------------------------------------------------------------------- routes


@passes_bp.get("/passes/<token>.pkpass")
def download_pass(token: str) -> Response:
    return _download(PASSES, token)


@passes_bp.post("/v1/devices/<device>/registrations/<type_identifier>/<serial>")
def register_pass(device: str, type_identifier: str, serial: str) -> Response:
    return _register(PASSES, device, type_identifier, serial)


@passes_bp.delete("/v1/devices/<device>/registrations/<type_identifier>/<serial>")
def unregister_pass(device: str, type_identifier: str, serial: str) -> Response:
    return _unregister(PASSES, device, type_identifier, serial)


@passes_bp.get("/v1/devices/<device>/registrations/<type_identifier>")
def updated_passes(device: str, type_identifier: str) -> Response:
    return _updated(PASSES, device, type_identifier)


@passes_bp.get("/v1/passes/<type_identifier>/<serial>")
def latest_pass(type_identifier: str, serial: str) -> Response:
    return _latest(PASSES, type_identifier, serial)


@passes_bp.post("/v1/log")
def pass_log() -> Response:
    return _log(PASSES)


@orders_bp.get("/<token>.order")
def download_order(token: str) -> Response:
    return _download(ORDERS, token)


@orders_bp.post("/v1/devices/<device>/registrations/<type_identifier>/<serial>")
def register_order(device: str, type_identifier: str, serial: str) -> Response:
    return _register(ORDERS, device, type_identifier, serial)


@orders_bp.delete("/v1/devices/<device>/registrations/<type_identifier>/<serial>")
def unregister_order(device: str, type_identifier: str, serial: str) -> Response:
    return _unregister(ORDERS, device, type_identifier, serial)


@orders_bp.get("/v1/devices/<device>/registrations/<type_identifier>")
def updated_orders(device: str, type_identifier: str) -> Response:
    return _updated(ORDERS, device, type_identifier)


@orders_bp.get("/v1/orders/<type_identifier>/<serial>")
def latest_order(type_identifier: str, serial: str) -> Response:
    return _latest(ORDERS, type_identifier, serial)


@orders_bp.post("/v1/log")
def order_log() -> Response:
    return _log(ORDERS)
