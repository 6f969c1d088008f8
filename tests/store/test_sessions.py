"""The NYSE session table the worker's parent reads (store.sessions) answers exactly as store.calendar does."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from store import calendar
from store.sessions import SessionTable

NY = ZoneInfo("America/New_York")
FIRST, LAST = date(2024, 1, 1), date(2025, 12, 31)


@pytest.fixture(scope="module")
def table() -> SessionTable:
    """As the worker gets it: dumped to JSON by a child, read back by the parent."""
    return SessionTable.from_json(json.loads(json.dumps(calendar.session_table(FIRST, LAST).to_json())))


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_every_day_is_a_session_or_not_as_the_calendar_says(table):
    assert all(table.is_session(day) == calendar.is_session(day) for day in days(FIRST, LAST))
    assert not table.is_session(date(2025, 1, 9))  # a national day of mourning: an ad hoc closing
    assert not table.is_session(date(2024, 7, 4)) and table.is_session(date(2024, 7, 3))


def moments() -> list[datetime]:
    """Around every open and close of the span (early closes included), whole days across both DST changes of each
    year, and seconds within a minute."""
    found = []
    for session in calendar.sessions_between(FIRST, LAST):
        opens, closes = (
            calendar.trading_calendar().session_open(session),
            calendar.trading_calendar().session_close(session),
        )
        for edge in (opens, closes):
            for minutes in (-61, -1, 0, 1):
                found.append((edge + timedelta(minutes=minutes)).to_pydatetime())
    for day in (date(2024, 3, 8), date(2024, 3, 11), date(2024, 11, 1), date(2024, 11, 4), date(2025, 3, 10)):
        start = datetime(day.year, day.month, day.day, tzinfo=NY)
        found += [start + timedelta(minutes=15 * n) for n in range(4 * 24)]
    found += [datetime(2024, 7, 3, 12, 59, 59, tzinfo=NY), datetime(2024, 7, 3, 13, 0, 0, 1, tzinfo=NY)]
    return found


def test_the_market_is_open_when_the_calendar_says_so_to_the_minute(table):
    checked = [(at, table.is_market_open(at), calendar.is_market_open(at)) for at in moments()]
    assert [c for c in checked if c[1] != c[2]] == []
    assert len(checked) > 4000
    assert table.is_market_open(datetime(2024, 7, 3, 12, 59, tzinfo=NY))  # the half-day before Independence Day
    assert not table.is_market_open(datetime(2024, 7, 3, 13, 0, tzinfo=NY))


@pytest.mark.parametrize("grace", [timedelta(0), timedelta(minutes=30), timedelta(hours=6)])
def test_the_last_completed_session_is_the_calendars(table, grace):
    checked = [at for at in moments() if at.astimezone(NY).date() >= FIRST + timedelta(days=10)]
    assert all(table.last_completed_session(at, grace) == calendar.last_completed_session(at, grace) for at in checked)


def test_a_day_outside_the_table_is_not_answered(table):
    assert table.covers(FIRST) and table.covers(LAST) and not table.covers(LAST + timedelta(days=1))
    with pytest.raises(LookupError):
        table.is_session(date(2023, 12, 29))
    with pytest.raises(LookupError):
        table.is_market_open(datetime(2026, 1, 2, 15, tzinfo=UTC))
    with pytest.raises(ValueError, match="timezone-aware"):
        table.is_market_open(datetime(2024, 7, 5, 15))


def test_the_table_stops_where_the_calendar_does():
    last = calendar.trading_calendar().last_session.date()
    clipped = calendar.session_table(last - timedelta(days=5), last + timedelta(days=400))
    assert clipped.last == last and clipped.sessions[-1].day == last


def test_the_schedule_gates_give_the_same_answers_from_the_table(table):
    from ingestion import scheduler
    from ingestion.config import IngestionConfig

    config = IngestionConfig()
    minutes = [datetime(2024, 7, 3, 9, 0, tzinfo=NY) + timedelta(minutes=5 * n) for n in range(12 * 24 * 3)]
    minutes += [datetime(2025, 1, 9, 17, 15, tzinfo=NY), datetime(2024, 11, 29, 15, 45, tzinfo=NY)]
    without = [scheduler.fired_jobs(config, at) for at in minutes]
    scheduler.use_sessions(table)
    try:
        with_table = [scheduler.fired_jobs(config, at) for at in minutes]
    finally:
        scheduler.use_sessions(None)
    assert with_table == without
    assert ["quotes"] in without and ["prices"] in without  # the span has both gates open and shut


def test_open_and_next_open_answer_as_the_librarys_minute_methods_without_building_its_minute_index():
    """The oracle: exchange_calendars' own is_open_on_minute and next_open, on a calendar of their own (they build
    an index of every trading minute since 1990, which store.calendar's versions must never make the app hold)."""
    shared = calendar.trading_calendar()  # get_calendar hands out one instance per name: the oracle is another
    oracle = type(shared)(start=calendar.CALENDAR_START, end=shared.last_session)
    for at in moments():
        minute = pd.Timestamp(at).tz_convert("UTC").floor("min")
        assert calendar.is_market_open(at) == oracle.is_open_on_minute(minute), at
        assert calendar.next_open(at) == oracle.next_open(minute).to_pydatetime(), at
    assert oracle.last_session == shared.last_session and "minutes_nanos" in vars(oracle)
    assert "minutes_nanos" not in vars(shared)
    with pytest.raises(ValueError, match="no NYSE session open"):
        calendar.next_open(oracle.last_minute.to_pydatetime())
