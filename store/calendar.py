"""The NYSE trading calendar (exchange_calendars), shared by validation, the schedule and the pages.

One calendar object per process: building it costs a few hundred milliseconds. Holidays, half-days and
ad hoc closings (national days of mourning) all come from the library.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from store import clock
from store.sessions import Session, SessionTable

TRADING_CALENDAR = "XNYS"
CALENDAR_START = "1990-01-01"


@lru_cache(maxsize=4)
def trading_calendar(name: str = TRADING_CALENDAR) -> xcals.ExchangeCalendar:
    """The exchange calendar from 1990 to a year ahead (built once per process)."""
    return xcals.get_calendar(name, start=CALENDAR_START)


def _minute(at: datetime | None) -> pd.Timestamp:
    at = at or clock.now()
    if at.tzinfo is None:
        raise ValueError("the time must be timezone-aware")
    return pd.Timestamp(at).tz_convert("UTC").floor("min")


# Both answer from the sessions' opens and closes. The library's minute methods (is_open_on_minute, next_open)
# first build an index of every trading minute since CALENDAR_START: 82 MiB held by the process from then on.


def is_market_open(at: datetime | None = None) -> bool:
    """True during an NYSE regular session (09:30-16:00 New York, shorter on early-close days): from the open's
    minute to the one before the close, as exchange_calendars' is_open_on_minute counts them."""
    minute = _minute(at).value
    calendar = trading_calendar()
    latest = int(np.searchsorted(calendar.opens_nanos, minute, side="right")) - 1  # the last open at or before
    return latest >= 0 and bool(minute < calendar.closes_nanos[latest])


def next_open(at: datetime | None = None) -> datetime:
    """The first NYSE session open after `at`'s minute (UTC), as exchange_calendars' next_open; ValueError beyond
    the calendar's last session."""
    calendar = trading_calendar()
    following = int(np.searchsorted(calendar.opens_nanos, _minute(at).value, side="right"))
    if following == len(calendar.opens_nanos):
        raise ValueError(f"no NYSE session open is known after {at}")
    return pd.Timestamp(int(calendar.opens_nanos[following]), tz="UTC").to_pydatetime()


def is_session(day: date) -> bool:
    """Whether `day` is an NYSE session (days outside the calendar's span are not)."""
    calendar = trading_calendar()
    stamp = pd.Timestamp(day)
    if not (calendar.first_session <= stamp <= calendar.last_session):
        return False
    return bool(calendar.is_session(stamp))


def sessions_between(start: date, end: date) -> pd.DatetimeIndex:
    """NYSE sessions from `start` to `end` inclusive (clipped to the calendar's span)."""
    calendar = trading_calendar()
    first = max(pd.Timestamp(start), calendar.first_session)
    last = min(pd.Timestamp(end), calendar.last_session)
    if first > last:
        return pd.DatetimeIndex([])
    return calendar.sessions_in_range(first, last)


def last_session_on_or_before(day: date) -> date:
    """The latest NYSE session on or before `day`."""
    calendar = trading_calendar()
    stamp = min(pd.Timestamp(day), calendar.last_session)
    return calendar.date_to_session(stamp, direction="previous").date()


def outside_calendar(dates: pd.Series) -> pd.Series:
    """True where a date is not an NYSE session; dates before the calendar's first session are not judged."""
    calendar = trading_calendar()
    stamps = pd.to_datetime(dates, errors="coerce").astype("datetime64[ns]")
    judged = stamps.notna() & (stamps >= calendar.first_session)
    return judged & ~stamps.isin(calendar.sessions)


def last_completed_session(now: datetime, grace: timedelta = timedelta(0)) -> date:
    """The latest NYSE session whose close (early closes included) plus `grace` is at or before `now`.

    What a symbol's last bar should be as of `now` (pass store.clock.now()); `grace` leaves the price job
    time to store the day's bars after the close. `now` must be timezone-aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    trading = trading_calendar()
    moment = pd.Timestamp(now).tz_convert("UTC")
    session = pd.Timestamp(last_session_on_or_before(moment.tz_convert("America/New_York").date()))
    while trading.session_close(session) + grace > moment:
        session = trading.previous_session(session)
    return session.date()


def current_session(now: datetime) -> date:
    """The NYSE session a market snapshot taken at `now` belongs to: today's once it has opened, else the latest
    session before (a weekend, a holiday or a pre-open read shows the previous session's close)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    moment = pd.Timestamp(now).tz_convert("UTC")
    session = pd.Timestamp(last_session_on_or_before(moment.tz_convert("America/New_York").date()))
    trading = trading_calendar()
    if trading.session_open(session) > moment:
        session = trading.previous_session(session)
    return session.date()


def session_table(start: date, end: date) -> SessionTable:
    """The sessions from `start` to `end` with their open and close (UTC), clipped to the calendar's span: what a
    process without pandas reads (store.sessions; the ingestion worker's parent)."""
    calendar = trading_calendar()
    first = max(pd.Timestamp(start), calendar.first_session)
    last = min(pd.Timestamp(end), calendar.last_session)
    schedule = calendar.schedule.loc[first:last]
    sessions = [
        Session(day.date(), row.open.to_pydatetime(), row.close.to_pydatetime())
        for day, row in zip(schedule.index, schedule.itertuples(), strict=True)
    ]
    return SessionTable(first.date(), last.date(), sessions)
