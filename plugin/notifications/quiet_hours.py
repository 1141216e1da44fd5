"""Quiet hours: when a phone may buzz, in the shopper's time zone. Messages wait, they are
not dropped: :func:`next_allowed` says until when."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from plugin.notifications.settings import QuietHours

log = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def is_public_holiday(day: date, country: str | None) -> bool:
    if not country:
        return False
    try:
        return day in _holidays(country, day.year)
    except NotImplementedError:  # a country the package does not know: no holidays
        return False


def allowed_day(day: date, quiet: QuietHours) -> bool:
    return day.weekday() in quiet.days and not is_public_holiday(day, quiet.holidays_country)


def next_allowed(at: datetime, timezone: ZoneInfo, quiet: QuietHours) -> datetime:
    """``at`` if a phone message may go out then, else the first moment it may (in UTC)."""
    if not quiet.enabled:
        return at
    candidate = at.astimezone(timezone)
    for _ in range(400):
        day = candidate.date()
        if allowed_day(day, quiet):
            start = datetime.combine(day, quiet.start, tzinfo=timezone)
            end = datetime.combine(day, quiet.end, tzinfo=timezone)
            if candidate < start:
                return start.astimezone(UTC)
            if candidate < end:
                return candidate.astimezone(UTC)
        candidate = datetime.combine(day + timedelta(days=1), quiet.start, tzinfo=timezone)
    log.warning("quiet hours allow no day in a year; sending now")
    return at
