"""Relais keeps nothing in cookies (plugin.factory.NoCookieSessions)."""

from __future__ import annotations

import pytest
from flask import Flask, session


def test_a_write_to_the_cookie_session_is_refused(app: Flask) -> None:
    # With Flask's default interface (and the SECRET_KEY Relais has), this write would
    # succeed and the answer would carry a session cookie.
    with app.test_request_context("/"), pytest.raises(RuntimeError):
        session["shopper"] = "camille@example.fr"
