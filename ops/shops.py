"""Shops installed ahead of a load, with notification settings fit for a measurement."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from plugin.models import Shop


def install_shops(database_url: str, domains: Iterable[str], *, quiet_hours: bool = False) -> None:
    """Create the shops, installed; without quiet hours a measurement does not depend on the
    time of day it runs at (messages would otherwise wait for the morning)."""
    from plugin.notifications.settings import QuietHours, get_settings, save_settings

    engine = create_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            shops = [
                Shop(domain=d, name=d.split(".")[0], contact_email=f"support@{d}", settings={})
                for d in domains
            ]
            session.add_all(shops)
            session.flush()
            for shop in shops:
                settings = get_settings(session, shop.id)
                save_settings(
                    session, shop.id, replace(settings, quiet_hours=QuietHours(enabled=quiet_hours))
                )
    finally:
        engine.dispose()
