# French shopper texts use the typographic apostrophe (U+2019).
# ruff: noqa: RUF001
"""The storefront in a real browser (Debian's headless Chromium through Playwright), with
accessibility checked by axe-core: no serious or critical violation."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from plugin import create_app
from plugin.shopify_payloads import Item, Shopper
from tests.browser_tools import launched_chromium, require_browser
from tests.frontend.conftest import T0, proxy_query
from tests.frontend.live import Holder, ShopFront, serve

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "node" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = []
    if shutil.which("node") is None or not AXE.exists():
        missing.append(f"axe-core ({AXE.parent.parent.parent}: npm ci)")
    require_browser(missing)
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def shopfront(config, shop, app) -> Iterator[tuple[str, ShopFront]]:
    """Relais served on loopback behind the stand-in storefront; yields (base URL, front)."""
    holder = Holder()
    with serve(holder) as base_url:
        live = create_app(config.with_overrides(app_url=base_url))
        front = ShopFront(live.wsgi_app)
        holder.app = front
        yield base_url, front
        live.extensions["relais"].db.dispose()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(
        viewport={"width": 1100, "height": 900}, bypass_csp=True, locale="fr-FR"
    )
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("RELAIS_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def assert_accessible(page: Any, what: str) -> None:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + ", ".join(n["target"][0] for n in v["nodes"][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, f"{what}: " + "; ".join(serious)


def _split_order(store_order: Any, *, shopper: Shopper | None = None, number: int = 1001) -> Any:
    candle = Item("Bougie Figuier", "32.00", product_id=9001)
    throw = Item("Plaid en lin sauge", "89.00", product_id=9003)
    kwargs = {"shopper": shopper} if shopper else {}
    order = store_order(items=[candle, throw], number=number, **kwargs).create()
    order.ship(11 + number, items=[candle], carrier="Colissimo", tracking_number="6A12345678901")
    order.ship(21 + number, items=[throw], carrier="Chronopost", tracking_number="XY987654321FR")
    order.event(11 + number, "in_transit", 20, city="Chilly-Mazarin")
    order.event(
        11 + number,
        "out_for_delivery",
        40,
        city="Lyon",
        estimated_delivery_at=T0 + timedelta(days=4),
    )
    order.event(
        21 + number, "in_transit", 22, city="Paris", estimated_delivery_at=T0 + timedelta(days=5)
    )
    return order


def test_lookup_by_order_number_and_email(page, shopfront, store_order, screenshots):
    base_url, _front = shopfront
    order = _split_order(store_order)
    page.goto(f"{base_url}/apps/track")
    assert_accessible(page, "lookup form")
    page.screenshot(path=str(screenshots / "lookup-fr.png"), full_page=True)
    page.get_by_label("Numéro de commande").fill("1001")
    page.get_by_label("E-mail ou numéro de téléphone").fill("camille@example.fr")
    page.get_by_role("button", name="Suivre ma commande").click()
    page.wait_for_load_state()
    assert page.url == f"{base_url}/apps/track/o/{order.token}"
    assert page.get_by_role("heading", level=1).inner_text() == "Un de vos colis arrive aujourd’hui"


def test_a_wrong_email_says_nothing_about_the_order(page, shopfront, store_order):
    base_url, _front = shopfront
    _split_order(store_order)
    page.goto(f"{base_url}/apps/track")
    page.get_by_label("Numéro de commande").fill("1001")
    page.get_by_label("E-mail ou numéro de téléphone").fill("quelquun@example.fr")
    page.get_by_role("button", name="Suivre ma commande").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    assert "Nous n’avons pas trouvé de commande" in alert.inner_text()
    assert "Camille" not in page.content()
    assert page.get_by_label("Numéro de commande").input_value() == "1001"
    assert_accessible(page, "lookup error")


def test_the_page_in_french(page, shopfront, store_order, screenshots):
    base_url, _front = shopfront
    order = _split_order(store_order)
    page.goto(f"{base_url}/apps/track/o/{order.token}")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "Un de vos colis arrive aujourd’hui"
    assert page.get_by_role("heading", name="Colis 1 sur 2").is_visible()
    assert page.get_by_role("heading", name="Colis 2 sur 2").is_visible()
    assert page.get_by_text("Ajouter à Apple Wallet").is_visible()
    # Split shipments sit side by side on a wide screen.
    first = page.get_by_role("heading", name="Colis 1 sur 2").bounding_box()
    second = page.get_by_role("heading", name="Colis 2 sur 2").bounding_box()
    assert abs(first["y"] - second["y"]) < 2 and second["x"] > first["x"]
    assert_accessible(page, "tracking page (fr, in the theme)")
    page.screenshot(path=str(screenshots / "tracking-fr.png"), full_page=True)


def test_the_page_in_english_standalone(page, shopfront, store_order, screenshots):
    base_url, _front = shopfront
    shopper = Shopper(
        "Alex",
        "Smith",
        "alex@example.com",
        None,
        "London",
        "N1 9GU",
        "GB",
        "en-GB",
        email_consent=True,
    )
    order = _split_order(store_order, shopper=shopper, number=1002)
    page.goto(f"{base_url}/t/{order.token}")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "One of your parcels arrives today"
    assert page.get_by_text("Add to Apple Wallet").is_visible()
    assert page.get_by_role("heading", name="You might also like").is_visible()
    assert_accessible(page, "tracking page (en, standalone)")
    page.screenshot(path=str(screenshots / "tracking-en.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshots / "tracking-en-mobile.png"), full_page=True)


def test_a_forged_signature_is_refused(page, shopfront, store_order):
    base_url, _front = shopfront
    order = _split_order(store_order)
    forged = proxy_query().replace("signature=", "signature=f")
    # Chromium shows its own error page for an empty 401, so ask through its request API.
    response = page.request.get(f"{base_url}/proxy/o/{order.token}?{forged}")
    assert response.status == 401
    assert response.body() == b""
    stale = proxy_query(timestamp=int(T0.timestamp()))
    assert page.request.get(f"{base_url}/proxy/o/{order.token}?{stale}").status == 401
    genuine = page.request.get(f"{base_url}/proxy/o/{order.token}?{proxy_query()}")
    assert genuine.status == 200


def test_in_transit_then_delivered_between_two_loads(page, shopfront, store_order, screenshots):
    base_url, _front = shopfront
    order = store_order().create().ship(31).event(31, "in_transit", 20, city="Paris")
    page.goto(f"{base_url}/apps/track/o/{order.token}")
    assert page.get_by_role("heading", level=1).inner_text() == "Votre commande est en route"
    assert page.get_by_role("group").count() == 0  # no rating before delivery
    order.event(31, "delivered", 44, city="Lyon")
    page.reload()
    assert page.get_by_role("heading", level=1).inner_text() == "Votre commande a été livrée"
    assert page.locator("[aria-current=step]").inner_text() == "Livrée"
    # One tap on the rating, and the page says thank you.
    page.get_by_role("button", name="4 sur 5").click()
    page.wait_for_load_state()
    assert "Vous avez noté cette livraison 4 sur 5" in page.get_by_role("status").inner_text()
    assert page.get_by_role("button", name="4 sur 5").get_attribute("aria-pressed") == "true"
    assert_accessible(page, "delivered page with rating")
    page.screenshot(path=str(screenshots / "delivered-fr.png"), full_page=True)


def test_the_upsell_block_script_fills_its_placeholder(page, shopfront, store_order):
    base_url, _front = shopfront
    store_order().create()
    script = (
        Path(__file__).resolve().parents[2]
        / "frontend"
        / "extensions"
        / "relais-theme"
        / "assets"
        / "upsell.js"
    ).read_text()
    # The block as the theme renders it, on a page of the shop's own domain.
    html = (
        '<!doctype html><html lang="en"><head><title>Shop</title></head><body><main>'
        '<div class="relais-block relais-upsell" aria-live="polite" '
        'data-relais-upsell="/apps/track/upsell?product_id=9003&amp;locale=en"></div>'
        f"</main><script>{script}</script></body></html>"
    )
    page.route(
        f"{base_url}/product", lambda route: route.fulfill(body=html, content_type="text/html")
    )
    page.goto(f"{base_url}/product")
    page.wait_for_selector(".relais-upsell--ready")
    assert page.get_by_role("heading", name="You might also like").is_visible()
    links = page.locator(".relais-upsell__item")
    assert links.count() >= 2
    assert "utm_source=relais" in links.first.get_attribute("href")
    assert_accessible(page, "upsell block")
