"""The merchant's admin inside Shopify: server-rendered pages and their JSON endpoints.

Pages verify App Bridge's ID token (:func:`plugin.admin.auth.app_home_page`) and render
Polaris web components; forms post through ``admin.js`` to JSON endpoints that require a
bearer ID token (:func:`plugin.admin.auth.admin_api`) and answer errors per field in the
merchant's language.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from flask import Blueprint, Response, abort, jsonify, render_template, request
from redis.exceptions import RedisError
from sqlalchemy import select

from plugin.admin import checklist as setup
from plugin.admin import credentials as creds
from plugin.admin.auth import (
    AdminSession,
    admin_api,
    app_home_page,
    as_flask_response,
    shopify_request,
)
from plugin.admin.forms import (
    Errors,
    fields_list,
    flag,
    relais_code_percentage,
    validate_branding,
    validate_copy,
    validate_feedback,
    validate_upsell,
)
from plugin.admin.i18n import Translator
from plugin.admin.milestones import CHANNELS, EDITABLE_CHANNELS, ORDER, Copy, milestone_settings
from plugin.admin.settings import (
    confirm_step,
    get_branding,
    get_feedback,
    get_upsell,
    save_branding,
    save_feedback,
    save_upsell,
)
from plugin.db import utcnow
from plugin.insights import discounts
from plugin.insights.tracking import UPSELL_CAMPAIGN
from plugin.models import Shop
from plugin.notifications.settings import get_settings, save_settings
from plugin.runtime import current_runtime
from plugin.shopify import catalog
from plugin.shopify.admin_api import AdminApiError
from plugin.shopify.connection import shopify_connection
from plugin.shopify.models import ShopifyOrderImport
from plugin.shopify.tokens import NoAccessToken

log = logging.getLogger(__name__)

bp = Blueprint(
    "admin",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/admin-static",
)

# Query parameters Shopify adds that links between pages keep (never the ID token).
KEPT_PARAMS = ("shop", "host", "locale", "embedded")
NAV = (
    ("admin.home", "nav_home"),
    ("admin.branding_page", "nav_branding"),
    ("admin.channels_page", "nav_channels"),
    ("admin.messages_page", "nav_milestones"),
    ("admin.upsell_page", "nav_upsell"),
    ("admin.insights_page", "nav_insights"),
)


# --- helpers -----------------------------------------------------------------------------


def _load_shop(shop_id: int) -> Shop:
    with current_runtime().db.session() as session:
        shop = session.get(Shop, shop_id)
    if shop is None:
        abort(404)
    return shop


def _kept_query() -> str:
    kept = {k: request.args[k] for k in KEPT_PARAMS if request.args.get(k)}
    return "?" + urlencode(kept) if kept else ""


def _formatter(shop: Shop, language: str) -> Any:
    try:
        zone = ZoneInfo(shop.iana_timezone or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("Europe/Paris")

    def when(value: object) -> object:
        if isinstance(value, datetime):
            return format_datetime(value, "d MMM y, HH:mm", tzinfo=zone, locale=language)
        return value

    return when


def _render(session: AdminSession, template: str, shop: Shop, **context: Any) -> str:
    return render_template(
        template,
        t=session.t,
        session=session,
        shop=shop,
        api_key=current_runtime().config.shopify_api_key,
        query=_kept_query(),
        nav=NAV,
        language=session.language,
        **context,
    )


def _form() -> Mapping[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else request.form


def _invalid(t: Translator, errors: Errors) -> tuple[Response, int]:
    return (
        jsonify(
            ok=False,
            message=t("form_has_errors"),
            errors={name: t(e.key, **e.args) for name, e in errors.fields.items()},
        ),
        422,
    )


def _saved(t: Translator, message_key: str = "saved", **extra: Any) -> Response:
    return jsonify(ok=True, message=t(message_key), **extra)


def _checklist_json(session: AdminSession, shop: Shop) -> dict[str, Any]:
    runtime = current_runtime()
    when = _formatter(shop, session.language)
    t = session.t
    with runtime.db.session() as db:
        items = setup.build_checklist(db, runtime.redis, shop, utcnow())
    return {
        "done": sum(1 for i in items if i.done),
        "total": len(items),
        "items": [
            {
                "name": item.name,
                "status": item.status,
                "title": t(item.title),
                "status_label": t(f"status_{item.status}"),
                "detail": t(item.detail, **{k: when(v) for k, v in item.args.items()}),
                "action": (
                    {
                        "label": t(item.action.label),
                        "href": item.action.href,
                        "confirm": item.action.confirm,
                    }
                    if item.action
                    else None
                ),
            }
            for item in items
        ],
    }


# --- pages -------------------------------------------------------------------------------


@bp.get("/auth/patch-id-token")
def patch_id_token() -> Response:
    """The page where App Bridge fetches a fresh ID token and reloads the app (shopify_app's)."""
    result = current_runtime().shopify.app_home_patch_id_token(shopify_request())
    return as_flask_response(result.response)


@bp.get("/")
@app_home_page
def home(session: AdminSession) -> str:
    runtime = current_runtime()
    shop = _load_shop(session.shop_id)
    with runtime.db.session() as db:
        state = db.get(ShopifyOrderImport, shop.id)
        has_proxy_check = db.scalar(
            select(setup.ShopSetupCheck.name).where(
                setup.ShopSetupCheck.shop_id == shop.id, setup.ShopSetupCheck.name == "app_proxy"
            )
        )
    # First views after install: check the app proxy once (at most every 10 minutes).
    if not has_proxy_check:
        try:
            if runtime.redis.set(f"relais:setup:first-checks:{shop.id}", 1, nx=True, ex=600):
                setup.queue_checks(shop.id)
        except RedisError as exc:
            log.warning("set-up checks not queued: %s", type(exc).__name__)
    return _render(
        session,
        "admin/home.html",
        shop,
        checklist=_checklist_json(session, shop),
        order_import=state,
    )


@bp.get("/settings/branding")
@app_home_page
def branding_page(session: AdminSession) -> str:
    shop = _load_shop(session.shop_id)
    return _render(session, "admin/branding.html", shop, branding=get_branding(shop))


@bp.get("/settings/channels")
@app_home_page
def channels_page(session: AdminSession) -> str:
    shop = _load_shop(session.shop_id)
    with current_runtime().db.session() as db:
        details = creds.channel_details(db, shop.id)
    return _render(
        session,
        "admin/channels.html",
        shop,
        channels=details,
        whatsapp_milestones=creds.WHATSAPP_MILESTONES,
    )


@bp.get("/settings/messages")
@app_home_page
def messages_page(session: AdminSession) -> str:
    runtime = current_runtime()
    store = milestone_settings(runtime.config)
    with runtime.db.session() as db:
        shop = db.get(Shop, session.shop_id)
        assert shop is not None
        plans = store.plans(db, shop)
    copy_json = {
        name: {
            channel: {
                language: {
                    "subject": plan.copies[(channel, language)].subject,
                    "body": plan.copies[(channel, language)].body,
                }
                for language in ("fr", "en")
            }
            for channel in EDITABLE_CHANNELS
        }
        for name, plan in plans.items()
    }
    return _render(
        session,
        "admin/messages.html",
        shop,
        plans=plans,
        order=ORDER,
        channels=CHANNELS,
        copy_channels=EDITABLE_CHANNELS,
        copy_json=copy_json,
        fields=fields_list(store.variables),
    )


@bp.get("/settings/upsell")
@app_home_page
def upsell_page(session: AdminSession) -> str:
    shop = _load_shop(session.shop_id)
    with current_runtime().db.session() as db:
        feedback_days = get_settings(db, shop.id).thresholds.feedback_days
        relais_code = discounts.code_of(db, shop.id, UPSELL_CAMPAIGN)
    return _render(
        session,
        "admin/upsell.html",
        shop,
        upsell=get_upsell(shop),
        feedback=get_feedback(shop),
        feedback_days=feedback_days,
        relais_code=relais_code,
    )


# --- JSON endpoints ----------------------------------------------------------------------


@bp.get("/api/admin/checklist")
@admin_api
def checklist_api(session: AdminSession) -> Response:
    return jsonify(_checklist_json(session, _load_shop(session.shop_id)))


@bp.post("/api/admin/checks")
@admin_api
def run_checks(session: AdminSession) -> Response:
    setup.queue_checks(session.shop_id)
    return _saved(session.t, "checks_queued")


@bp.post("/api/admin/setup/<step>")
@admin_api
def confirm_setup_step(session: AdminSession, step: str) -> Response:
    if step != setup.SHOPIFY_EMAILS_STEP:
        abort(404)
    with current_runtime().db.transaction() as db:
        shop = db.get(Shop, session.shop_id)
        assert shop is not None
        confirm_step(shop, step, utcnow())
    return _saved(session.t)


@bp.post("/api/admin/branding")
@admin_api
def save_branding_api(session: AdminSession) -> Response | tuple[Response, int]:
    branding, errors = validate_branding(_form())
    if errors:
        return _invalid(session.t, errors)
    with current_runtime().db.transaction() as db:
        shop = db.get(Shop, session.shop_id)
        assert shop is not None
        save_branding(shop, branding)
    return _saved(session.t)


@bp.post("/api/admin/channels/<channel>")
@admin_api
def save_channel_api(session: AdminSession, channel: str) -> Response | tuple[Response, int]:
    if channel not in creds.CHANNELS:
        abort(404)
    runtime = current_runtime()
    box = shopify_connection().box
    providers = creds.HttpProviderCheck.from_config(runtime.config)
    form = _form()
    with runtime.db.session() as db:
        current = creds.load_credentials(db, box, session.shop_id, channel)
        twilio = creds.load_credentials(db, box, session.shop_id, "sms")
    if channel == "email":
        checked = creds.check_email(form, current, providers)
    elif channel == "sms":
        checked = creds.check_sms(form, current, providers)
    elif channel == "whatsapp":
        checked = creds.check_whatsapp(form, twilio)
    else:
        checked = creds.check_wallet(form, current)
    if checked.errors:
        return _invalid(session.t, checked.errors)
    with runtime.db.transaction() as db:
        creds.save_credentials(db, box, session.shop_id, channel, checked)
    return _saved(session.t, details=checked.details)


@bp.delete("/api/admin/channels/<channel>")
@admin_api
def remove_channel_api(session: AdminSession, channel: str) -> Response:
    if channel not in creds.CHANNELS:
        abort(404)
    with current_runtime().db.transaction() as db:
        creds.remove_credentials(db, session.shop_id, channel)
    return _saved(session.t, "credentials_removed")


def _channel_ranks(form: Mapping[str, Any], errors: Errors) -> tuple[str, ...]:
    """Channels ordered by the rank the merchant gave them (``rank_email=1``...)."""
    ranked = []
    for channel in CHANNELS:
        raw = str(form.get(f"rank_{channel}") or "").strip()
        if not raw:
            continue
        if raw not in ("1", "2", "3", "4"):
            errors.add(f"rank_{channel}", "error_choice")
            continue
        ranked.append((int(raw), channel))
    ranks = [r for r, _ in ranked]
    if len(ranks) != len(set(ranks)):
        errors.add("channels", "error_channels_duplicate")
    return tuple(channel for _, channel in sorted(ranked))


@bp.post("/api/admin/messages/<milestone>")
@admin_api
def save_milestone_api(session: AdminSession, milestone: str) -> Response | tuple[Response, int]:
    if milestone not in {m.value for m in ORDER}:
        abort(404)
    runtime = current_runtime()
    store = milestone_settings(runtime.config)
    form = _form()
    errors = Errors()
    enabled = flag(form, "enabled")
    channels = _channel_ranks(form, errors)
    if enabled and not channels and "channels" not in errors.fields:
        errors.add("channels", "error_channels_empty")
    copy_channel = str(form.get("copy_channel") or "email")
    if copy_channel not in EDITABLE_CHANNELS:
        errors.add("copy_channel", "error_choice")
        copy_channel = "email"
    copies, copy_errors = validate_copy(form, channel=copy_channel, variables=store.variables)
    errors.fields.update(copy_errors.fields)
    if errors:
        return _invalid(session.t, errors)
    with runtime.db.transaction() as db:
        shop = db.get(Shop, session.shop_id)
        assert shop is not None
        for problem in store.save_plan(db, shop, milestone, enabled, channels):
            errors.add("channels", "error_template_refused", detail=problem)
        for language, (subject, body) in copies.items():
            if not body:
                continue
            refused = store.save_copy(
                db, shop, milestone, copy_channel, language, Copy(subject, body)
            )
            if refused:
                errors.add(f"body_{language}", "error_template_refused", detail="; ".join(refused))
        if errors:
            db.rollback()  # all or nothing: the page shows what to fix
    if errors:
        return _invalid(session.t, errors)
    return _saved(session.t)


@bp.post("/api/admin/messages/<milestone>/preview")
@admin_api
def preview_milestone_api(session: AdminSession, milestone: str) -> Response | tuple[Response, int]:
    if milestone not in {m.value for m in ORDER}:
        abort(404)
    runtime = current_runtime()
    store = milestone_settings(runtime.config)
    form = _form()
    channel = str(form.get("copy_channel") or "email")
    language = str(form.get("language") or session.language)
    if channel not in EDITABLE_CHANNELS or language not in ("fr", "en"):
        abort(400)
    copies, errors = validate_copy(
        form, channel=channel, variables=store.variables, languages=(language,)
    )
    subject, body = copies[language]
    if errors or not body:
        if not body:
            errors.add(f"body_{language}", "error_required")
        return _invalid(session.t, errors)
    with runtime.db.session() as db:
        shop = db.get(Shop, session.shop_id)
        assert shop is not None
        preview = store.preview(db, shop, milestone, channel, language, Copy(subject, body))
    if preview.problems:
        errors.add(f"body_{language}", "error_template_refused", detail="; ".join(preview.problems))
        return _invalid(session.t, errors)
    return jsonify(ok=True, subject=preview.subject, html=preview.html, text=preview.text)


@bp.post("/api/admin/upsell")
@admin_api
def save_upsell_api(session: AdminSession) -> Response | tuple[Response, int]:
    form = _form()
    upsell, errors = validate_upsell(form)
    feedback, feedback_days, feedback_errors = validate_feedback(form)
    errors.fields.update(feedback_errors.fields)
    percentage = relais_code_percentage(form, errors)
    if not errors and (upsell.fallback_collection or upsell.discount_code):
        # What the merchant named must exist in the shop: ask Shopify.
        try:
            _check_in_shopify(session, upsell.fallback_collection, upsell.discount_code, errors)
        except (AdminApiError, NoAccessToken):
            errors.add(
                "fallback_collection" if upsell.fallback_collection else "discount_code",
                "error_shopify_unavailable",
            )
    if errors:
        return _invalid(session.t, errors)
    with current_runtime().db.transaction() as db:
        shop = db.get(Shop, session.shop_id)
        assert shop is not None
        save_upsell(shop, upsell)
        save_feedback(shop, feedback)
        # When the request goes out is the notifications' alert threshold (0: never).
        settings = get_settings(db, shop.id)
        thresholds = replace(settings.thresholds, feedback_days=feedback_days)
        save_settings(db, shop.id, replace(settings, thresholds=thresholds))
        code_id = (
            None
            if percentage is None
            else discounts.request_code(db, shop.id, UPSELL_CAMPAIGN, percentage)
        )
    if code_id is not None:
        discounts.queue_creation(current_runtime(), session.shop_id, code_id)
    return _saved(session.t)


def _check_in_shopify(
    session: AdminSession, collection: str | None, code: str | None, errors: Errors
) -> None:
    admin = shopify_connection().admin
    if collection:
        found = catalog.find_collection(admin, session.shop_domain, collection)
        if found is None:
            errors.add("fallback_collection", "error_collection_unknown", handle=collection)
        elif found.products == 0:
            errors.add("fallback_collection", "error_collection_empty", handle=collection)
    if code:
        discount = catalog.find_discount(admin, session.shop_domain, code)
        if discount is None:
            errors.add("discount_code", "error_discount_unknown", code=code)
        elif not discount.active:
            errors.add("discount_code", "error_discount_inactive", code=code)
