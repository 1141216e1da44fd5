"""The set-up checklist: each item is checked for real, none is a box the merchant ticks
(except switching off Shopify's own emails, which no API can read).

* webhooks: a delivery for the shop was stored in the last 7 days;
* app proxy: ``https://{shop}/apps/track`` answered (a job fetches it, see
  :func:`check_app_proxy_job`; the result is kept in ``shop_setup_checks``);
* theme block: the storefront block was shown (the proxy endpoint it calls records it with
  :func:`note_theme_block_seen`);
* sender: with the shop's own SendGrid, SendGrid reports the sender verified; with Relais's
  sender, a support address exists for replies;
* Wallet: the shop's Pass Type ID certificate is in date (or Relais's own is used);
* Shopify's shipping emails: the merchant confirms they switched them off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.admin.credentials import HttpProviderCheck, ProviderUnavailable, load_credentials
from plugin.admin.models import ShopChannelCredentials, ShopSetupCheck
from plugin.admin.settings import confirmed_at, get_branding
from plugin.db import utcnow
from plugin.models import Shop, WebhookDelivery
from plugin.runtime import current_runtime

log = logging.getLogger(__name__)

WEBHOOK_WINDOW = timedelta(days=7)
CERTIFICATE_WARNING = timedelta(days=30)
THEME_BLOCK_TTL_SECONDS = 30 * 24 * 3600
SHOPIFY_EMAILS_STEP = "shopify_emails_off"


@dataclass(frozen=True)
class Action:
    """A link to follow, or (``confirm`` set) a step to confirm."""

    label: str
    href: str | None = None
    confirm: str | None = None


@dataclass(frozen=True)
class ChecklistItem:
    name: str
    title: str
    status: str  # done | todo | warning | optional
    detail: str
    args: dict[str, Any] = field(default_factory=dict)
    action: Action | None = None

    @property
    def done(self) -> bool:
        return self.status in ("done", "optional")


def theme_block_key(shop_domain: str) -> str:
    return f"relais:setup:theme-block:{shop_domain}"


def note_theme_block_seen(redis: Redis, shop_domain: str) -> None:
    """Called by the storefront endpoint the theme block uses: the block is on the theme.

    One Redis SET, cheap enough for every storefront view.
    """
    try:
        redis.set(theme_block_key(shop_domain), utcnow().isoformat(), ex=THEME_BLOCK_TTL_SECONDS)
    except RedisError as exc:
        log.warning("theme block sighting not recorded: %s", type(exc).__name__)


def build_checklist(
    session: Session, redis: Redis, shop: Shop, now: datetime
) -> list[ChecklistItem]:
    """Every item, from what is stored (no outside call: the page stays fast)."""
    stored = {
        check.name: check
        for check in session.scalars(
            select(ShopSetupCheck).where(ShopSetupCheck.shop_id == shop.id)
        )
    }
    channels = {
        row.channel: dict(row.details or {})
        for row in session.scalars(
            select(ShopChannelCredentials).where(ShopChannelCredentials.shop_id == shop.id)
        )
    }
    return [
        _webhooks(session, shop, now),
        _app_proxy(shop, stored.get("app_proxy")),
        _theme_block(redis, shop),
        _sender(shop, channels.get("email")),
        _wallet(channels.get("wallet"), now),
        _shopify_emails(shop),
    ]


def _webhooks(session: Session, shop: Shop, now: datetime) -> ChecklistItem:
    last = session.scalar(
        select(func.max(WebhookDelivery.received_at)).where(
            WebhookDelivery.shop_domain == shop.domain,
            WebhookDelivery.received_at >= now - WEBHOOK_WINDOW,
        )
    )
    if last is None:
        return ChecklistItem("webhooks", "check_webhooks", "todo", "check_webhooks_todo")
    return ChecklistItem("webhooks", "check_webhooks", "done", "check_webhooks_ok", {"when": last})


def proxy_url(shop: Shop) -> str:
    return f"https://{shop.domain}/apps/track"


def _app_proxy(shop: Shop, check: ShopSetupCheck | None) -> ChecklistItem:
    if check is None:
        return ChecklistItem("app_proxy", "check_app_proxy", "todo", "check_app_proxy_unknown")
    args = {**(check.detail_args or {}), "when": check.checked_at, "url": proxy_url(shop)}
    status = "done" if check.ok else ("warning" if check.detail.endswith("password") else "todo")
    return ChecklistItem("app_proxy", "check_app_proxy", status, check.detail, args)


def _theme_block(redis: Redis, shop: Shop) -> ChecklistItem:
    try:
        seen = redis.get(theme_block_key(shop.domain))
    except RedisError:
        seen = None
    editor = Action(
        "open_theme_editor",
        href=f"https://{shop.domain}/admin/themes/current/editor?context=apps",
    )
    if not seen:
        return ChecklistItem(
            "theme_block", "check_theme_block", "todo", "check_theme_block_todo", action=editor
        )
    when = datetime.fromisoformat(seen.decode() if isinstance(seen, bytes) else str(seen))
    return ChecklistItem(
        "theme_block", "check_theme_block", "done", "check_theme_block_ok", {"when": when}
    )


def _sender(shop: Shop, email: dict[str, Any] | None) -> ChecklistItem:
    branding = get_branding(shop)
    if email:
        args = {"email": email.get("sender_email"), "when": _parse(email.get("sender_checked_at"))}
        if email.get("sender_verified"):
            return ChecklistItem("sender", "check_sender", "done", "check_sender_ok", args)
        return ChecklistItem("sender", "check_sender", "todo", "check_sender_todo", args)
    reply_to = branding.reply_to(shop)
    if not branding.support_email:
        return ChecklistItem("sender", "check_sender", "todo", "check_sender_no_support")
    return ChecklistItem(
        "sender",
        "check_sender",
        "done",
        "check_sender_relais",
        {"name": branding.display_name(shop), "email": reply_to},
    )


def _wallet(wallet: dict[str, Any] | None, now: datetime) -> ChecklistItem:
    if not wallet:
        return ChecklistItem("wallet", "check_wallet", "optional", "check_wallet_none")
    until = _parse(wallet.get("not_after"))
    args = {"pass_type": wallet.get("pass_type_identifier"), "until": until}
    if until is None or until <= now:
        return ChecklistItem("wallet", "check_wallet", "todo", "check_wallet_expired", args)
    if until - now <= CERTIFICATE_WARNING:
        return ChecklistItem("wallet", "check_wallet", "warning", "check_wallet_soon", args)
    return ChecklistItem("wallet", "check_wallet", "done", "check_wallet_ok", args)


def _shopify_emails(shop: Shop) -> ChecklistItem:
    confirmed = _parse(confirmed_at(shop, SHOPIFY_EMAILS_STEP))
    if confirmed:
        return ChecklistItem(
            "shopify_emails",
            "check_shopify_emails",
            "done",
            "check_shopify_emails_ok",
            {"when": confirmed},
        )
    return ChecklistItem(
        "shopify_emails",
        "check_shopify_emails",
        "todo",
        "check_shopify_emails_todo",
        action=Action(
            "open_shopify_notifications",
            href=f"https://{shop.domain}/admin/settings/notifications",
            confirm=SHOPIFY_EMAILS_STEP,
        ),
    )


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# --- checks that call outside ---------------------------------------------------------------


def record_check(
    session: Session, shop_id: int, name: str, *, ok: bool, detail: str, **args: Any
) -> None:
    row = session.get(ShopSetupCheck, (shop_id, name))
    if row is None:
        row = ShopSetupCheck(shop_id=shop_id, name=name)
        session.add(row)
    row.ok, row.detail, row.detail_args, row.checked_at = ok, detail, args, utcnow()


def probe_app_proxy(client: httpx.Client, shop: Shop) -> tuple[bool, str, dict[str, Any]]:
    """Fetch the tracking page through Shopify's app proxy: (ok, message key, args)."""
    try:
        response = client.get(proxy_url(shop), follow_redirects=False)
    except httpx.HTTPError as exc:
        return False, "check_app_proxy_todo", {"status": type(exc).__name__}
    location = response.headers.get("location", "")
    if response.is_redirect and "/password" in location:
        return False, "check_app_proxy_password", {}
    if response.status_code == 200:
        return True, "check_app_proxy_ok", {}
    return False, "check_app_proxy_todo", {"status": response.status_code}


def check_app_proxy_job(shop_id: int) -> str:
    """Job: probe the app proxy of the shop and keep the answer for the checklist."""
    from plugin.shopify.connection import shopify_connection

    runtime = current_runtime()
    with runtime.db.session() as session:
        shop = session.get(Shop, shop_id)
    if shop is None or shop.uninstalled_at is not None:
        return "shop not installed"
    ok, detail, args = probe_app_proxy(shopify_connection().http_client, shop)
    with runtime.db.transaction() as session:
        record_check(session, shop_id, "app_proxy", ok=ok, detail=detail, **args)
    return detail


def check_sender_job(shop_id: int) -> str:
    """Job: ask SendGrid again whether the shop's own sender address is verified."""
    from plugin.shopify.connection import shopify_connection

    runtime = current_runtime()
    box = shopify_connection().box
    with runtime.db.session() as session:
        stored = load_credentials(session, box, shop_id, "email")
    if stored is None or not stored.secrets.get("api_key"):
        return "no own sender"
    email = str(stored.details.get("sender_email"))
    try:
        verified = HttpProviderCheck.from_config(runtime.config).sendgrid_sender_verified(
            stored.secrets["api_key"], email
        )
    except ProviderUnavailable as exc:
        return f"SendGrid unavailable: {exc}"
    with runtime.db.transaction() as session:
        row = session.get(ShopChannelCredentials, (shop_id, "email"))
        if row is not None:
            row.details = {
                **(row.details or {}),
                "sender_verified": verified,
                "sender_checked_at": utcnow().isoformat(),
            }
    return "verified" if verified else "not verified"


def queue_checks(shop_id: int) -> None:
    """Queue the checks that call outside (the "check again" button)."""
    from plugin.shopify.connection import shop_job_id

    runtime = current_runtime()
    for job, name in (
        ("plugin.admin.checklist.check_app_proxy_job", "check-app-proxy"),
        ("plugin.admin.checklist.check_sender_job", "check-sender"),
    ):
        runtime.queues.enqueue(
            "default", job, shop_id, job_id=shop_job_id(shop_id, name), retry=None
        )
