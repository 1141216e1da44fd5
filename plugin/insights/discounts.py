"""Discount codes Relais creates in the shop through the Admin API: one per shop and campaign.

The merchant asks for a code (a percentage off) in the admin; :func:`request_code` records
it as ``pending`` in the same transaction, and :func:`queue_creation` (after commit) queues
:func:`create_code_job`. The job calls ``discountCodeBasicCreate``; Shopify throttling,
5xx and network errors raise :class:`AdminUnavailable` and RQ retries the job. A retry of a
creation Shopify did record (the answer was lost) meets ``TAKEN`` on our own code: the job
then reads the existing code's id instead of creating a second one. Once created, the code
becomes the upsell's offer unless the merchant named their own.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.admin.settings import get_upsell, save_upsell
from plugin.db import utcnow
from plugin.insights.models import DiscountCodeState, RelaisDiscountCode
from plugin.insights.tracking import UPSELL_CAMPAIGN
from plugin.models import Shop
from plugin.runtime import Runtime, current_runtime
from plugin.shopify import catalog
from plugin.shopify.admin_api import AccessDenied, QueryRejected
from plugin.shopify.connection import shop_job_id, shopify_connection
from plugin.shopify.tokens import NoAccessToken
from plugin.upsert import insert_once

log = logging.getLogger(__name__)

CREATE_JOB = "plugin.insights.discounts.create_code_job"
PERCENTAGE_RANGE = range(1, 91)
TITLES = {UPSELL_CAMPAIGN: "Relais - offre de la page de suivi / tracking page offer"}


def code_of(session: Session, shop_id: int, campaign: str) -> RelaisDiscountCode | None:
    """The shop's Relais code for ``campaign``, whatever its state."""
    return session.scalar(
        select(RelaisDiscountCode).where(
            RelaisDiscountCode.shop_id == shop_id, RelaisDiscountCode.campaign == campaign
        )
    )


def request_code(session: Session, shop_id: int, campaign: str, percentage: int) -> int | None:
    """Record that the shop wants a code for ``campaign``; the id to queue, None when the code
    already exists in Shopify (one code per campaign: it is not replaced)."""
    insert_once(
        session,
        RelaisDiscountCode,
        {
            "shop_id": shop_id,
            "campaign": campaign,
            "code": f"RELAIS-{secrets.token_hex(4).upper()}",
            "percentage": percentage,
            "state": DiscountCodeState.PENDING,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        conflict_columns=["shop_id", "campaign"],
    )
    row = session.scalars(
        select(RelaisDiscountCode)
        .where(RelaisDiscountCode.shop_id == shop_id, RelaisDiscountCode.campaign == campaign)
        .with_for_update()
    ).one()
    if row.state == DiscountCodeState.CREATED:
        return None
    row.state, row.percentage, row.last_error = DiscountCodeState.PENDING, percentage, None
    return row.id


def queue_creation(runtime: Runtime, shop_id: int, code_id: int) -> None:
    """Queue the creation in Shopify (call after the request is committed)."""
    runtime.queues.enqueue(
        "default", CREATE_JOB, code_id, job_id=shop_job_id(shop_id, f"discount-code-{code_id}")
    )


def create_code_job(code_id: int) -> str:
    """Job: create the pending code in Shopify, once, and offer it in the upsell."""
    runtime = current_runtime()
    with runtime.db.session() as session:
        row = session.get(RelaisDiscountCode, code_id)
        shop = session.get(Shop, row.shop_id) if row is not None else None
        if row is None or shop is None:
            return "no such code"
        if row.state != DiscountCodeState.PENDING:
            return f"already {row.state}"
        if not shop.is_installed:
            return "shop not installed"
        domain, code, percentage, campaign = shop.domain, row.code, row.percentage, row.campaign
    admin = shopify_connection().admin
    try:
        answer = catalog.create_percentage_code(
            admin,
            domain,
            title=TITLES.get(campaign, f"Relais - {campaign}"),
            code=code,
            percentage=percentage or 10,
            starts_at=utcnow(),
        )
        gid = answer.gid
        taken = any(e.code == "TAKEN" and e.field.endswith("code") for e in answer.errors)
        if taken:  # created by an earlier attempt whose answer was lost: ours, read it back
            existing = catalog.find_discount(admin, domain, code)
            gid = existing.gid if existing is not None else None
        refused = "; ".join(e.message for e in answer.errors) if gid is None else None
    except (NoAccessToken, AccessDenied, QueryRejected) as exc:
        # Retrying cannot help until the merchant acts (reinstall, scope): say so, stay pending.
        _finish(runtime, code_id, DiscountCodeState.PENDING, error=str(exc)[:1000])
        log.warning("discount code %s of shop %s not created: %s", code_id, domain, exc)
        return f"stopped: {exc}"
    if gid is None:
        _finish(runtime, code_id, DiscountCodeState.REFUSED, error=refused or "no id returned")
        return f"refused: {refused}"
    _finish(runtime, code_id, DiscountCodeState.CREATED, gid=gid)
    return f"created {gid}"


def _finish(
    runtime: Runtime, code_id: int, state: str, *, gid: str | None = None, error: str | None = None
) -> None:
    with runtime.db.transaction() as session:
        row = session.get(RelaisDiscountCode, code_id, with_for_update=True)
        if row is None or row.state == DiscountCodeState.CREATED:
            return
        row.state, row.shopify_gid, row.last_error = state, gid, error
        if state != DiscountCodeState.CREATED or row.campaign != UPSELL_CAMPAIGN:
            return
        shop = session.get(Shop, row.shop_id)
        if shop is None:
            return
        upsell = get_upsell(shop)
        if upsell.discount_code is None:  # the merchant's own code stays the offer
            save_upsell(shop, replace(upsell, discount_code=row.code))
