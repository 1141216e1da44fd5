"""The embedded admin in a real browser (Debian's headless Chromium through Playwright).

Relais is served on loopback and talks to the Shopify stand-in. There is no network: the
two scripts Shopify serves are routed to stand-ins (App Bridge's gives the page an ID token
signed here, Polaris's is empty), and every other request leaving loopback is refused, so
what is tested is the server-rendered HTML and Relais's own deferred script.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from plugin import create_app
from plugin.shopify.connection import EXTENSION, connect
from tests.browser_tools import launched_chromium, require_browser
from tests.standins.shopify_fixtures import TEST_API_KEY, TEST_API_SECRET, TEST_RETRY_POLICY
from tests.standins.shopify_server import ShopifyStandIn, id_token

pytestmark = pytest.mark.browser

SHOP = "demo-shop.myshopify.com"
SCREENSHOTS = Path(os.environ.get("RELAIS_SCREENSHOTS", "/tmp/relais-admin-screenshots"))

# App Bridge's stand-in: what the page uses of it (ID token, toast), nothing more.
APP_BRIDGE_STANDIN = """
window.__toasts = [];
window.shopify = {
  idToken: async () => %s,
  toast: { show: (message) => window.__toasts.push(message) },
};
"""

# Layout shifts and the largest paint, recorded from the first byte.
VITALS = """
window.__cls = 0; window.__lcp = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__cls += entry.value;
}).observe({ type: "layout-shift", buffered: true });
new PerformanceObserver((list) => {
  const entries = list.getEntries();
  window.__lcp = entries[entries.length - 1].startTime;
}).observe({ type: "largest-contentful-paint", buffered: true });
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def live_admin(config, shop) -> Iterator[tuple[str, ShopifyStandIn]]:
    """Relais on a loopback port, connected to the Shopify stand-in."""
    with ShopifyStandIn(TEST_API_KEY, TEST_API_SECRET) as standin:
        standin.add_shop(SHOP)
        server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
        base_url = f"http://127.0.0.1:{server.server_port}"
        app = create_app(config.with_overrides(app_url=base_url))
        runtime = app.extensions["relais"]
        app.extensions[EXTENSION] = connect(
            runtime, http_client=standin.http_client(), policy=TEST_RETRY_POLICY
        )
        server.app = app  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield base_url, standin
        finally:
            server.shutdown()
            runtime.db.dispose()


@pytest.fixture
def page(browser, live_admin) -> Iterator[Any]:
    base_url, _ = live_admin
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    token = id_token(SHOP, client_id=TEST_API_KEY, secret=TEST_API_SECRET, expires_in=900)
    outside: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url == "https://cdn.shopify.com/shopifycloud/app-bridge.js":
            body = APP_BRIDGE_STANDIN % repr(token).replace("'", '"')
            request_route.fulfill(status=200, content_type="text/javascript", body=body)
        elif url == "https://cdn.shopify.com/shopifycloud/polaris.js":
            request_route.fulfill(status=200, content_type="text/javascript", body="")
        elif url.startswith(base_url):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    context.route("**/*", route)
    context.add_init_script(VITALS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.token = token  # type: ignore[attr-defined]
    yield tab
    context.close()
    assert not errors, errors
    assert not outside, f"requests left loopback: {outside}"


def _open(page: Any, base_url: str, path: str, locale: str = "fr") -> Any:
    query = f"shop={SHOP}&host=ZGVtbw&embedded=1&locale={locale}&id_token={page.token}"
    response = page.goto(f"{base_url}{path}?{query}")
    assert response.status == 200, response.text()[:300]
    return response


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_home_installs_the_shop_and_shows_the_checklist(page, live_admin):
    base_url, standin = live_admin
    _open(page, base_url, "/")
    page.wait_for_load_state("networkidle")

    assert standin.count("token_exchange", SHOP) == 1
    assert page.locator("h1").inner_text() == "Mise en route"
    items = page.locator("#checklist li")
    assert items.count() == 6
    assert "E-mails d'expédition de Shopify désactivés" in page.locator("#checklist").inner_text()
    # Only App Bridge blocks: every other script is deferred.
    blocking = page.eval_on_selector_all(
        "head script[src]", "els => els.filter(e => !e.defer && !e.async).map(e => e.src)"
    )
    assert blocking == ["https://cdn.shopify.com/shopifycloud/app-bridge.js"]
    _shot(page, "home-fr")

    # Confirming the manual step updates the checklist through the JSON endpoint.
    page.get_by_role("button", name="C'est fait").click()
    row = page.locator('[data-check="shopify_emails"] [data-badge]')
    row.filter(has_text="Terminé").wait_for()
    assert page.evaluate("window.__cls") <= 0.1
    _shot(page, "home-fr-confirmed")


def test_branding_form_shows_server_errors_then_saves(page, live_admin):
    base_url, _ = live_admin
    _open(page, base_url, "/settings/branding")
    page.fill("#branding-support_email", "no-reply@maison-lumiere.fr")
    page.fill("#branding-logo_url", "http://maison-lumiere.fr/logo.png")
    page.get_by_role("button", name="Enregistrer").click()

    error = page.locator("#branding-support_email-error")
    error.wait_for(state="visible")
    assert "no-reply" in error.inner_text()
    assert page.get_attribute("#branding-support_email", "aria-invalid") == "true"
    assert page.locator("#branding-logo_url-error").inner_text() == (
        "Indiquez une adresse commençant par https://."
    )
    _shot(page, "branding-errors-fr")

    page.fill("#branding-support_email", "service@maison-lumiere.fr")
    page.fill("#branding-logo_url", "https://cdn.shopify.com/s/files/1/logo.png")
    page.get_by_role("button", name="Enregistrer").click()
    page.locator("[data-status]").filter(has_text="Modifications enregistrées.").wait_for()
    assert page.evaluate("window.__toasts") == ["Modifications enregistrées."]
    assert page.locator("#branding-support_email-error").is_hidden()


def test_message_copy_has_a_live_preview_in_english(page, live_admin):
    base_url, _ = live_admin
    _open(page, base_url, "/settings/messages", locale="en-US")
    assert page.locator("h1").inner_text() == "Messages by step"
    form = page.locator("#m-shipped")
    body = form.locator("#m-shipped-body_en")
    body.fill("Hello {{ first_name }}, {{ order_name }} is on its way with {{ carrier }}.")
    preview = form.locator('[data-preview-for="en"]')
    preview.locator("iframe, pre").first.wait_for()
    frame = preview.locator("iframe")
    if frame.count():
        text = frame.content_frame.locator("body").inner_text()
    else:
        text = preview.inner_text()
    assert "Hello Camille" in text
    _shot(page, "messages-en-preview")

    body.fill("Hello {{ prenom }}")
    form.get_by_role("button", name="Save").click()
    error = form.locator("#m-shipped-body_en-error")
    error.wait_for(state="visible")
    assert error.inner_text().startswith("Unknown field: prenom.")


def test_pages_render_fast_and_stable(page, live_admin):
    base_url, _ = live_admin
    for path in ("/", "/settings/channels", "/settings/upsell"):
        _open(page, base_url, path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__cls") <= 0.1, path
        assert page.evaluate("window.__lcp") <= 2500, path
    _shot(page, "upsell-fr")
