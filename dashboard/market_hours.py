"""NYSE regular trading hours from the exchange_calendars library (holidays and early closes included)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import pandas as pd

from store import clock


@lru_cache(maxsize=4)
def _calendar(anchor: date):
    # Building a calendar costs ~0.2 s for a short span; one per month of use is plenty.
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start=pd.Timestamp(anchor) - pd.Timedelta(days=40))


def is_market_open(now: datetime | None = None) -> bool:
    """True during an NYSE regular session (09:30-16:00 New York, shorter on early-close days).

    `now` must be timezone-aware (default: the current time).
    """
    now = now or clock.now()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ts = pd.Timestamp(now).tz_convert("UTC").floor("min")
    calendar = _calendar(ts.date().replace(day=1))
    if not (calendar.first_minute <= ts <= calendar.last_minute):
        return False
    return bool(calendar.is_open_on_minute(ts))


def next_open(now: datetime | None = None) -> datetime:
    """The next NYSE session open after `now` (UTC)."""
    now = now or clock.now()
    ts = pd.Timestamp(now).tz_convert("UTC").floor("min")
    calendar = _calendar(ts.date().replace(day=1))
    if ts >= calendar.last_minute - pd.Timedelta(days=7):  # pragma: no cover - a year past the anchor
        calendar = _calendar((ts + timedelta(days=1)).date().replace(day=1))
    return calendar.next_open(ts).to_pydatetime()
