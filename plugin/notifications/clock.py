"""The time notifications decide with (one place, so tests can move it)."""

from __future__ import annotations

from datetime import datetime

from plugin.db import utcnow


def now() -> datetime:
    """Timezone-aware now, in UTC."""
    return utcnow()
