"""The set-up checklist checks for real: stored webhooks, the app proxy answering through
Shopify, the theme block seen, the sender, the Wallet certificate, Shopify's emails."""

from __future__ import annotations

from plugin.admin.checklist import check_app_proxy_job, note_theme_block_seen


def statuses(api) -> dict[str, str]:
    response = api("GET", "/api/admin/checklist")
    assert response.status_code == 200
    return {item["name"]: item["status"] for item in response.json["items"]}


def details(api, locale: str = "fr") -> dict[str, str]:
    return {
        i["name"]: i["detail"]
        for i in api("GET", "/api/admin/checklist", locale=locale).json["items"]
    }


def test_a_fresh_install_has_everything_to_do(api, installed):
    assert statuses(api) == {
        "webhooks": "todo",
        "app_proxy": "todo",
        "theme_block": "todo",
        "sender": "todo",
        "wallet": "optional",
        "shopify_emails": "todo",
    }
    assert details(api, "en")["shopify_emails"].startswith("Shopify sends shipping emails too")


def test_webhooks_arriving(api, installed, post_webhook, fixture_payload):
    assert post_webhook("orders/create", fixture_payload("orders/create")).status_code == 200
    assert statuses(api)["webhooks"] == "done"
    assert details(api)["webhooks"].startswith("Dernier événement reçu le")


def test_app_proxy_is_fetched_through_the_storefront(api, installed, standin):
    check_app_proxy_job(installed.id)
    assert statuses(api)["app_proxy"] == "todo"
    assert "code 404" in details(api)["app_proxy"]

    standin.shop(installed.domain).proxy_answer = (302, "")
    check_app_proxy_job(installed.id)
    assert statuses(api)["app_proxy"] == "warning"

    standin.shop(installed.domain).proxy_answer = (200, "<form>Suivre ma commande</form>")
    check_app_proxy_job(installed.id)
    assert statuses(api)["app_proxy"] == "done"
    assert [c.detail for c in standin.calls if c.kind == "proxy"] == ["/apps/track"] * 3


def test_theme_block_seen_on_the_storefront(api, installed, runtime):
    note_theme_block_seen(runtime.redis, installed.domain)
    assert statuses(api)["theme_block"] == "done"


def test_sender_needs_a_support_address(api, installed):
    api("POST", "/api/admin/branding", {"support_email": "service@maison-lumiere.fr"})
    assert statuses(api)["sender"] == "done"
    assert "service@maison-lumiere.fr" in details(api)["sender"]


def test_shopify_emails_confirmed_by_the_merchant(api, installed):
    assert api("POST", "/api/admin/setup/shopify_emails_off").status_code == 200
    assert statuses(api)["shopify_emails"] == "done"
    assert api("POST", "/api/admin/setup/anything_else").status_code == 404


def test_check_again_queues_the_outside_checks(api, installed, runtime, run_jobs, standin):
    standin.shop(installed.domain).proxy_answer = (200, "ok")
    assert api("POST", "/api/admin/checks").status_code == 200
    run_jobs()
    assert statuses(api)["app_proxy"] == "done"
