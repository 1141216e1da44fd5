"""Upsell discount codes created through the Admin API (discountCodeBasicCreate), once."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from plugin.admin.settings import get_upsell
from plugin.insights.discounts import create_code_job
from plugin.insights.models import DiscountCodeState, RelaisDiscountCode
from plugin.insights.tracking import relais_codes
from plugin.models import Shop
from plugin.shopify.admin_api import AdminUnavailable
from tests.standins.shopify_server import iter_calls


def _codes(runtime) -> list[RelaisDiscountCode]:
    with runtime.db.session() as session:
        return list(session.scalars(select(RelaisDiscountCode)))


def _creations(standin) -> list[str]:
    return [c.detail for c in iter_calls(standin, "graphql") if "DiscountCodeCreate" in c.detail]


def _page(client, sign, installed, locale="fr"):
    token = sign(installed.domain)
    return client.get(
        f"/settings/upsell?shop={installed.domain}&host=YWRtaW4&embedded=1&locale={locale}"
        f"&id_token={token}"
    ).text


def test_the_code_is_created_after_commit_once_and_offered(
    api, client, sign, installed, runtime, standin, run_jobs
):
    asked = api("POST", "/api/admin/upsell", {"enabled": "on", "relais_code_percentage": "15"})
    assert asked.status_code == 200, asked.json
    # Recorded and queued, not yet called: the request returned before Shopify was asked.
    (pending,) = _codes(runtime)
    assert pending.state == DiscountCodeState.PENDING and _creations(standin) == []
    assert "en cours de création" in _page(client, sign, installed)

    run_jobs()
    (created,) = _codes(runtime)
    assert created.state == DiscountCodeState.CREATED
    assert created.shopify_gid and created.shopify_gid.startswith("gid://shopify/DiscountCodeNode/")
    sent = standin.shop(installed.domain).created_discounts[created.code]
    assert sent["customerGets"] == {"value": {"percentage": 0.15}, "items": {"all": True}}
    assert sent["context"] == {"all": "ALL"} and sent["appliesOncePerCustomer"] is True
    assert sent["startsAt"] and sent["title"]
    with runtime.db.session() as session:
        shop = session.get(Shop, installed.id)
        assert get_upsell(shop).discount_code == created.code
        assert created.code.upper() in relais_codes(session, shop)
    assert f"Code {created.code} (-15 %) : créé dans Shopify." in _page(client, sign, installed)

    # Asking again keeps the one code of the campaign.
    again = api("POST", "/api/admin/upsell", {"enabled": "on", "relais_code_percentage": "20"})
    assert again.status_code == 200
    run_jobs()
    assert len(_codes(runtime)) == 1 and len(_creations(standin)) == 1


def test_transient_errors_are_retried_and_a_lost_answer_creates_nothing_twice(
    api, app, installed, runtime, standin
):
    assert api("POST", "/api/admin/upsell", {"relais_code_percentage": "10"}).status_code == 200
    (row,) = _codes(runtime)
    # More 503s than the client's attempts: the job fails, RQ retries it later.
    standin.fail_next(503, times=4)
    with app.app_context(), pytest.raises(AdminUnavailable):
        create_code_job(row.id)
    assert _codes(runtime)[0].state == DiscountCodeState.PENDING
    # Shopify recorded an earlier attempt whose answer never came back: TAKEN on our code.
    shop = standin.shop(installed.domain)
    shop.discounts[row.code] = {
        "id": "gid://shopify/DiscountCodeNode/77",
        "codeDiscount": {"__typename": "DiscountCodeBasic", "title": "t", "status": "ACTIVE"},
    }
    standin.fail_next(503, times=2)  # fewer than the client's attempts: retried in the call
    with app.app_context():
        assert create_code_job(row.id) == "created gid://shopify/DiscountCodeNode/77"
        assert create_code_job(row.id) == "already created"
    assert shop.created_discounts == {}
    assert _codes(runtime)[0].shopify_gid == "gid://shopify/DiscountCodeNode/77"


def test_a_refusal_is_shown_and_can_be_retried(
    api, app, client, sign, installed, runtime, standin, run_jobs
):
    assert api("POST", "/api/admin/upsell", {"relais_code_percentage": "10"}).status_code == 200
    with runtime.db.transaction() as session:
        session.execute(update(RelaisDiscountCode).values(percentage=150))
    run_jobs()
    (row,) = _codes(runtime)
    assert row.state == DiscountCodeState.REFUSED
    assert row.last_error == "Value must be between 0.0 and 1.0"
    page = _page(client, sign, installed, locale="en")
    assert "refused by Shopify" in page and "Value must be between 0.0 and 1.0" in page
    bad = api("POST", "/api/admin/upsell", {"relais_code_percentage": "95"}, locale="en")
    assert bad.json["errors"]["relais_code_percentage"] == "Enter a number between 1 and 90."

    assert api("POST", "/api/admin/upsell", {"relais_code_percentage": "12"}).status_code == 200
    run_jobs()
    (row,) = _codes(runtime)
    assert row.state == DiscountCodeState.CREATED and row.last_error is None
    assert standin.shop(installed.domain).created_discounts[row.code]["customerGets"]["value"] == {
        "percentage": 0.12
    }
