"""The embedded home: verification, token exchange on install, ID-token-protected JSON, and
uninstall/reinstall — against the Shopify stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from plugin.models import Shop
from plugin.shopify.connection import cancel_shop_jobs, shop_job_id
from plugin.shopify.models import ShopifyAccessToken

SHOP = "demo-shop.myshopify.com"


def home_url(token: str | None, **extra: str) -> str:
    query = {
        "shop": SHOP,
        "host": "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtby1zaG9w",
        "embedded": "1",
        **extra,
    }
    if token:
        query["id_token"] = token
    return "/?" + "&".join(f"{k}={v}" for k, v in query.items())


def queued_job_ids(runtime) -> set[str]:
    return {job_id for queue in runtime.queues.all() for job_id in queue.get_job_ids()}


def test_without_an_id_token_the_page_asks_app_bridge_for_one(client, connection):
    response = client.get(home_url(None))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/patch-id-token"
    assert location.netloc == "relais.test"  # APP_URL, not the Host header
    assert parse_qs(location.query)["shopify-reload"] == [
        "/?shop=" + SHOP + "&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtby1zaG9w&embedded=1"
    ]

    patch = client.get(response.headers["Location"].removeprefix("https://relais.test"))
    assert patch.status_code == 200
    assert b"https://cdn.shopify.com/shopifycloud/app-bridge.js" in patch.data


def test_first_load_exchanges_the_id_token_and_installs_the_shop(
    client, connection, standin, runtime, sign
):
    response = client.get(home_url(sign(SHOP), locale="fr-FR"))

    assert response.status_code == 200, response.data[:500]
    html = response.get_data(as_text=True)
    assert '<meta name="shopify-api-key" content="test-api-key">' in html
    assert '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>' in html
    assert "Liste de vérification" in html
    # The security headers shopify_app computed are on the page.
    assert (
        "frame-ancestors https://demo-shop.myshopify.com https://admin.shopify.com"
        in response.headers["Content-Security-Policy"]
    )
    assert standin.count("token_exchange", SHOP) == 1
    stored = connection.tokens.get(SHOP)
    assert stored is not None and stored.refresh_token
    with runtime.db.session() as session:
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP))
        assert shop.uninstalled_at is None
    jobs = queued_job_ids(runtime)
    assert shop_job_id(shop.id, "shop-details") in jobs
    assert shop_job_id(shop.id, "order-import-start") in jobs

    # Later loads use the stored token: no second exchange.
    again = client.get(home_url(sign(SHOP), locale="en"))
    assert again.status_code == 200
    assert "Checklist" in again.get_data(as_text=True)
    assert standin.count("token_exchange", SHOP) == 1


def test_a_stale_id_token_on_a_page_goes_through_the_patch_page(client, connection, sign):
    stale = sign(SHOP, issued_at=datetime.now(UTC) - timedelta(minutes=5))
    response = client.get(home_url(stale))
    assert response.status_code == 302
    assert "/auth/patch-id-token" in response.headers["Location"]


def test_admin_json_requires_a_valid_bearer_id_token(client, installed, sign):
    assert client.get("/api/admin/checklist").status_code == 401
    ok = client.get("/api/admin/checklist", headers={"Authorization": f"Bearer {sign(SHOP)}"})
    assert ok.status_code == 200 and ok.json["total"] == 6

    expired = sign(SHOP, issued_at=datetime.now(UTC) - timedelta(minutes=5))
    refused = client.get("/api/admin/checklist", headers={"Authorization": f"Bearer {expired}"})
    assert refused.status_code == 401
    assert refused.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"

    other_app = sign(SHOP, aud="another-app")
    assert (
        client.get(
            "/api/admin/checklist", headers={"Authorization": f"Bearer {other_app}"}
        ).status_code
        == 401
    )

    # iss and dest must name the same shop.
    mixed = sign(SHOP, iss="https://other-shop.myshopify.com/admin")
    assert (
        client.get("/api/admin/checklist", headers={"Authorization": f"Bearer {mixed}"}).status_code
        == 401
    )

    # A valid token for a shop that never installed Relais.
    stranger = sign("stranger.myshopify.com")
    assert (
        client.get(
            "/api/admin/checklist", headers={"Authorization": f"Bearer {stranger}"}
        ).status_code
        == 403
    )


def test_a_token_signed_with_another_secret_is_refused(client, installed):
    from tests.standins.shopify_server import id_token

    forged = id_token(SHOP, client_id="test-api-key", secret="not-the-secret-of-this-app")
    response = client.get("/api/admin/checklist", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_uninstall_revokes_tokens_and_cancels_queued_work_then_reinstall_works(
    client, connection, standin, runtime, sign, post_webhook, run_jobs
):
    assert client.get(home_url(sign(SHOP))).status_code == 200  # install
    with runtime.db.session() as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == SHOP))
    assert shop_job_id(shop_id, "order-import-start") in queued_job_ids(runtime)

    assert (
        post_webhook(
            "app/uninstalled", {"id": 1, "name": "Maison Lumière", "domain": "maison-lumiere.fr"}
        ).status_code
        == 200
    )
    # Only the webhook's own job runs: the uninstall must cancel the shop's queued jobs.
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    SimpleWorker(
        [runtime.queues["webhooks"]], connection=runtime.redis, serializer=JSONSerializer
    ).work(burst=True)

    with runtime.db.session() as session:
        assert (
            session.scalar(select(ShopifyAccessToken).where(ShopifyAccessToken.shop_id == shop_id))
            is None
        )
        assert session.get(Shop, shop_id).uninstalled_at is not None
    assert not {j for j in queued_job_ids(runtime) if j.startswith(f"shop-{shop_id}-")}
    # The JSON endpoints refuse an uninstalled shop.
    assert (
        client.get(
            "/api/admin/checklist", headers={"Authorization": f"Bearer {sign(SHOP)}"}
        ).status_code
        == 403
    )

    # Reinstall: the next embedded load exchanges a new token.
    assert client.get(home_url(sign(SHOP))).status_code == 200
    assert standin.count("token_exchange", SHOP) == 2
    with runtime.db.session() as session:
        assert session.get(Shop, shop_id).uninstalled_at is None
    assert connection.tokens.get(SHOP) is not None
    assert cancel_shop_jobs(runtime, SHOP) >= 1  # the new import was queued, and can be cancelled
