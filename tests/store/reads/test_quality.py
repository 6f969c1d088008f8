"""Data-quality reads on real PostgreSQL: bars cut out on purpose, quarantine and jumps from the real validator."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from analytics.freshness import FRESH, NO_DATA, PENDING, STALE, bar_freshness, series_freshness, stale_first
from ingestion.datasets import DAILY_BARS
from ingestion.validate import validate_daily_bars
from ingestion.writer import quarantine, upsert
from store import calendar, tables
from store.reads import core, quality
from store.universe import PENDING as PENDING_FREQUENCY
from tests.conftest import ROOT

NEW_YORK = ZoneInfo("America/New_York")
PRICES = ROOT / "data" / "sample" / "prices"
MACRO = ROOT / "data" / "sample" / "macro"


def file_dates(symbol: str) -> list[date]:
    """A sample symbol's bar dates, read from its file (independently of the database)."""
    return [d.date() for d in pd.read_csv(PRICES / f"{symbol}.csv", parse_dates=["Date"])["Date"]]


AAPL_DATES = file_dates("AAPL")


@pytest.fixture(scope="module")
def own_engine(make_sample_database):
    """This module's own copy of the sample database (the tests below write to it)."""
    engine = sa.create_engine(make_sample_database())
    yield engine
    engine.dispose()


@pytest.fixture
def conn(own_engine):
    """A connection in a transaction rolled back after the test: every test starts from the sample."""
    with own_engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture(scope="module")
def sample_conn(sample_database_url):
    """The session's shared sample database, read only."""
    engine = sa.create_engine(sample_database_url)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def delete_bars(conn: sa.Connection, symbol: str, days: list[date]) -> None:
    t = tables.daily_bars
    conn.execute(t.delete().where(t.c.symbol == symbol, t.c.date.in_(days)))


def missing_dates(frame: pd.DataFrame, symbol: str | None = None) -> list[date]:
    rows = frame if symbol is None else frame[frame["symbol"] == symbol]
    return [d.date() for d in rows["date"]]


# --------------------------------------------------------------------------- coverage and missing sessions


def test_bar_coverage_matches_the_sample_files(sample_conn):
    cov = quality.bar_coverage(sample_conn)
    assert list(cov.columns) == quality.COVERAGE_COLUMNS
    assert len(cov) == 35 and cov["symbol"].is_monotonic_increasing
    aapl = cov.set_index("symbol").loc["AAPL"]
    assert aapl["first_date"] == pd.Timestamp(AAPL_DATES[0]) and aapl["last_date"] == pd.Timestamp(AAPL_DATES[-1])
    assert aapl["bars"] == len(AAPL_DATES)
    assert pd.api.types.is_datetime64_dtype(cov["first_date"]) and pd.api.types.is_datetime64_dtype(cov["last_date"])


def test_the_sample_misses_no_session(sample_conn):
    missing = quality.missing_sessions(sample_conn)
    assert missing.empty and list(missing.columns) == quality.MISSING_COLUMNS
    assert quality.missing_sessions(sample_conn, []).empty


def test_sessions_cut_out_of_a_history_come_back_exactly(conn):
    cut = [
        date(2022, 6, 21),  # the Tuesday after Juneteenth (observed Monday 20 June 2022)
        date(2023, 11, 24),  # the early close after Thanksgiving
        date(2024, 7, 3),  # around 4 July 2024 (a Thursday holiday): the whole week's sessions
        date(2024, 7, 5),
        date(2024, 7, 8),
        date(2025, 1, 8),  # either side of the national day of mourning for President Carter (9 January 2025)
        date(2025, 1, 10),
    ]
    delete_bars(conn, "AAPL", cut)
    missing = quality.missing_sessions(conn)
    assert set(missing["symbol"]) == {"AAPL"}
    assert missing_dates(missing) == cut
    assert missing_dates(quality.missing_sessions(conn, ["aapl", "MSFT"])) == cut
    # Holidays, the ad hoc closure and weekends inside the cut stretches never appear.
    for closed in (date(2022, 6, 20), date(2023, 11, 23), date(2024, 7, 4), date(2024, 7, 6), date(2025, 1, 9)):
        assert closed not in missing_dates(missing)
    assert all(calendar.is_session(d) for d in missing_dates(missing))


def test_the_span_is_the_symbols_own_and_a_range_cuts_within_it(conn):
    delete_bars(conn, "MSFT", [*file_dates("MSFT")[:3], *file_dates("MSFT")[-2:]])  # ends: the span shrinks
    delete_bars(conn, "AAPL", [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5)])
    assert set(quality.missing_sessions(conn)["symbol"]) == {"AAPL"}
    # The gap starts before the range: the bar before it still anchors it.
    assert missing_dates(quality.missing_sessions(conn, start=date(2024, 1, 4))) == [date(2024, 1, 4), date(2024, 1, 5)]
    assert missing_dates(quality.missing_sessions(conn, end=date(2024, 1, 3))) == [date(2024, 1, 2), date(2024, 1, 3)]
    assert missing_dates(quality.missing_sessions(conn, ["AAPL"], date(2024, 1, 4), date(2024, 1, 4))) == [
        date(2024, 1, 4)
    ]
    assert quality.missing_sessions(conn, start=date(2024, 1, 6), end=date(2024, 12, 31)).empty
    assert quality.missing_sessions(conn, start=date(2030, 1, 1)).empty  # after every symbol's last bar


def test_missing_sessions_refuses_bad_arguments(sample_conn):
    with pytest.raises(ValueError, match="after end"):
        quality.missing_sessions(sample_conn, start=date(2024, 2, 1), end=date(2024, 1, 1))
    with pytest.raises(ValueError, match="single string"):
        quality.missing_sessions(sample_conn, "AAPL")
    with pytest.raises(ValueError, match="invalid symbol"):
        quality.missing_sessions(sample_conn, ["BAD SYMBOL!"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=hs.sets(hs.integers(0, len(AAPL_DATES) - 1), min_size=1, max_size=40),
    start=hs.none() | hs.dates(date(2018, 6, 1), date(2026, 12, 31)),
    length=hs.none() | hs.integers(0, 800),
)
def test_random_deletions_are_exactly_the_missing_sessions(conn, cut, start, length):
    end = None if length is None or start is None else start + timedelta(days=length)
    deleted = sorted(AAPL_DATES[i] for i in cut)
    with conn.begin_nested() as savepoint:
        delete_bars(conn, "AAPL", deleted)
        kept = sorted(set(AAPL_DATES) - set(deleted))
        expected = [
            d
            for d in deleted
            if kept and kept[0] < d < kept[-1] and (start is None or d >= start) and (end is None or d <= end)
        ]
        missing = quality.missing_sessions(conn, start=start, end=end)
        assert missing_dates(missing) == expected and set(missing["symbol"]) <= {"AAPL"}
        savepoint.rollback()


# --------------------------------------------------------------------------- quarantine and jumps


def bar(day: date, close: float, **changes: float) -> dict:
    return {
        "symbol": "AAPL",
        "date": day,
        "open": close,
        "high": close * 1.01,
        "low": close * 0.99,
        "close": close,
        "adj_close": close,
        "volume": 1000,
    } | changes


def new_run(conn: sa.Connection, job: str = "prices") -> int:
    runs = tables.ingestion_runs
    return conn.execute(
        runs.insert().values(job=job, source="test", status="partial").returning(runs.c.id)
    ).scalar_one()


def test_quarantined_rows_come_back_newest_first_with_their_reasons(conn):
    q = tables.quarantined_rows
    conn.execute(
        q.insert().values(
            dataset="macro_observations",
            key="UNRATE/2020-01-01",
            reason="duplicate date",
            payload={},
            created_at=datetime(2020, 1, 2, tzinfo=UTC),
        )
    )
    run_id = new_run(conn)
    bars = pd.DataFrame(
        [
            bar(date(2026, 6, 26), 100.0),  # valid
            bar(date(2026, 7, 3), 100.0),  # 3 July 2026: Independence Day observed
            bar(date(2026, 6, 29), 100.0, low=120.0),
            bar(date(2026, 6, 30), 100.0, volume=-5),
        ]
    )[DAILY_BARS.columns]
    checked = validate_daily_bars(bars)
    assert quarantine(conn, run_id, tables.daily_bars, checked.rejected) == 3

    rows = quality.quarantined(conn)
    assert list(rows.columns) == quality.QUARANTINE_COLUMNS
    assert rows["key"].tolist()[:3] == ["AAPL/2026-06-30", "AAPL/2026-06-29", "AAPL/2026-07-03"]  # newest first
    reasons = dict(zip(rows["key"], rows["reason"], strict=True))
    assert reasons == {
        "AAPL/2026-07-03": "not a trading day",
        "AAPL/2026-06-29": "low above high",
        "AAPL/2026-06-30": "negative volume",
        "UNRATE/2020-01-01": "duplicate date",
    }
    assert rows["run_id"].tolist() == [run_id, run_id, run_id, pd.NA]
    assert rows["created_at"].is_monotonic_decreasing
    assert quality.quarantined(conn, dataset="macro_observations")["key"].tolist() == ["UNRATE/2020-01-01"]
    assert len(quality.quarantined(conn, limit=2)) == 2
    with pytest.raises(ValueError, match="positive integer"):
        quality.quarantined(conn, limit=0)


def test_nothing_quarantined_gives_typed_empty_frames(sample_conn):
    rows = quality.quarantined(sample_conn)
    assert rows.empty and list(rows.columns) == quality.QUARANTINE_COLUMNS
    jumps = quality.flagged_jumps(sample_conn)
    assert jumps.empty and list(jumps.columns) == quality.JUMP_COLUMNS


def test_jumps_flagged_by_the_validator_come_back_with_the_previous_close(conn):
    t = tables.daily_bars
    before = conn.execute(
        sa.select(t.c.adj_close).where(t.c.symbol == "AAPL", t.c.date == date(2026, 6, 25))
    ).scalar_one()
    doubled = before * 2.2
    bars = pd.DataFrame([bar(date(2026, 6, 26), doubled), bar(date(2026, 6, 29), doubled * 1.01)])
    checked = validate_daily_bars(bars[DAILY_BARS.columns], previous_close={"AAPL": before})
    assert checked.valid["flags"].tolist()[0] == "jump" and pd.isna(checked.valid["flags"].tolist()[1])
    upsert(conn, t, checked.valid, source="test")
    # A jump on a symbol's very first bar has nothing to compare with.
    conn.execute(t.update().where(t.c.symbol == "MSFT", t.c.date == date(2019, 1, 2)).values(flags="jump"))

    jumps = quality.flagged_jumps(conn)
    assert list(jumps.columns) == quality.JUMP_COLUMNS
    assert jumps["symbol"].tolist() == ["AAPL", "MSFT"]
    aapl, msft = jumps.iloc[0], jumps.iloc[1]
    assert aapl["date"] == pd.Timestamp("2026-06-26") and aapl["previous"] == before
    assert aapl["change"] == pytest.approx(1.2)
    assert pd.isna(msft["previous"]) and pd.isna(msft["change"])
    assert len(quality.flagged_jumps(conn, limit=1)) == 1


# --------------------------------------------------------------------------- empty symbols and series


def test_symbols_without_any_bar(conn, sample_conn):
    assert quality.symbols_without_data(sample_conn) == []
    inst = tables.instruments
    conn.execute(
        inst.insert(),
        [
            {"symbol": "ZZZ", "name": "New", "asset_class": "stock", "source": "test", "active": True},
            {"symbol": "YYY", "name": "Gone", "asset_class": "stock", "source": "test", "active": False},
        ],
    )
    conn.execute(tables.daily_bars.delete().where(tables.daily_bars.c.symbol == "TSLA"))
    assert quality.symbols_without_data(conn) == ["TSLA", "ZZZ"]


def file_series(series_id: str) -> pd.Series:
    frame = pd.read_csv(MACRO / f"{series_id}.csv", parse_dates=["date"], na_values=["."])
    return frame.set_index("date")["value"]


def test_series_last_observations_count_values_only(sample_conn):
    out = quality.series_last_observations(sample_conn)
    assert list(out.columns) == quality.SERIES_COLUMNS and len(out) == 15
    for row in out.itertuples():
        values = file_series(row.series_id).dropna()
        assert row.observations == len(values), row.series_id
        assert row.last_date == values.index.max(), row.series_id
    cpi = out.set_index("series_id").loc["CPIAUCSL"]
    assert cpi["frequency"] == "Monthly" and cpi["observations"] == 354  # the "." of October 2025 not counted


def test_a_series_that_stopped_updating_is_stale_and_a_fresh_one_is_not(conn):
    obs, series = tables.macro_observations, tables.macro_series
    conn.execute(obs.delete().where(obs.c.series_id == "UNRATE", obs.c.date >= date(2026, 2, 1)))
    # FRED's "." rows after the last value do not make a series fresh.
    conn.execute(obs.update().where(obs.c.series_id == "FEDFUNDS", obs.c.date >= date(2026, 5, 1)).values(value=None))
    conn.execute(
        series.insert().values(
            series_id="NEWONE", title="NEWONE", units=PENDING_FREQUENCY, frequency=PENDING_FREQUENCY, source="fred"
        )
    )
    conn.execute(series.update().where(series.c.series_id == "GDP").values(active=False))

    report = series_freshness(quality.series_last_observations(conn), date(2026, 8, 21)).set_index("series_id")
    assert "GDP" not in report.index
    unrate = report.loc["UNRATE"]
    assert unrate["status"] == STALE and unrate["last_date"] == pd.Timestamp("2026-01-01")
    assert unrate["expected_date"] == pd.Timestamp("2026-06-01") and unrate["days_late"] == 129
    fedfunds = report.loc["FEDFUNDS"]
    assert fedfunds["status"] == STALE and fedfunds["last_date"] == pd.Timestamp("2026-04-01")
    assert report.loc["CPIAUCSL", "status"] == FRESH and report.loc["CPIAUCSL", "days_late"] == 0
    assert report.loc["NEWONE", "status"] == PENDING and report.loc["NEWONE", "observations"] == 0
    ordered = stale_first(report.reset_index())["series_id"].tolist()
    assert ordered[0] == "UNRATE"  # the most days late
    assert ordered.index("FEDFUNDS") < ordered.index("NEWONE") < ordered.index("CPIAUCSL")


# --------------------------------------------------------------------------- bars against the calendar


def ny(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("now", "session"),
    [
        (ny(2026, 6, 26, 15, 59), date(2026, 6, 25)),  # before Friday's close
        (ny(2026, 6, 26, 16, 0), date(2026, 6, 26)),  # at the close
        (ny(2026, 6, 27, 12, 0), date(2026, 6, 26)),  # Saturday
        (ny(2025, 11, 28, 13, 30), date(2025, 11, 28)),  # after the 13:00 early close
        (ny(2025, 7, 4, 12, 0), date(2025, 7, 3)),  # Independence Day
        (ny(2025, 1, 9, 17, 0), date(2025, 1, 8)),  # the national day of mourning
        (datetime(2026, 6, 29, 2, 0, tzinfo=UTC), date(2026, 6, 26)),  # Sunday evening in New York
    ],
)
def test_last_completed_session(now, session):
    assert calendar.last_completed_session(now) == session


def test_last_completed_session_grace_and_naive_times():
    assert calendar.last_completed_session(ny(2026, 6, 26, 17, 0), grace=timedelta(hours=2)) == date(2026, 6, 25)
    assert calendar.last_completed_session(ny(2026, 6, 26, 18, 0), grace=timedelta(hours=2)) == date(2026, 6, 26)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.last_completed_session(datetime(2026, 6, 26, 17, 0))


@pytest.mark.parametrize(
    ("now", "session"),
    [
        (ny(2026, 6, 26, 9, 29), date(2026, 6, 25)),  # Friday before the open: Thursday's close is what a read shows
        (ny(2026, 6, 26, 9, 30), date(2026, 6, 26)),  # open
        (ny(2026, 6, 26, 15, 45), date(2026, 6, 26)),  # the options job's minute
        (ny(2026, 6, 27, 12, 0), date(2026, 6, 26)),  # Saturday
        (ny(2026, 7, 3, 15, 45), date(2026, 7, 2)),  # Independence Day observed (a Friday): Thursday's session
    ],
)
def test_current_session_of_a_snapshot(now, session):
    assert calendar.current_session(now) == session


def test_bar_freshness_end_to_end(conn):
    last_three = file_dates("TSLA")[-3:]
    delete_bars(conn, "TSLA", last_three)
    conn.execute(tables.instruments.insert().values(symbol="ZZZ", name="New", asset_class="stock", source="test"))

    def report(now: datetime) -> pd.DataFrame:
        cov = quality.bar_coverage(conn)
        expected = calendar.last_completed_session(now)
        sessions = calendar.sessions_between(cov["last_date"].min().date(), expected)
        return stale_first(bar_freshness(cov, expected, sessions, symbols=core.active_symbols(conn)))

    friday = report(ny(2026, 6, 26, 12, 0))  # the sample's last session, 25 June, is the last completed one
    assert friday["symbol"].tolist()[:2] == ["TSLA", "ZZZ"]
    assert friday.iloc[0]["sessions_behind"] == 3 and friday.iloc[0]["status"] == STALE
    assert friday.iloc[1]["status"] == NO_DATA
    assert (friday.iloc[2:]["status"] == FRESH).all() and len(friday) == 36

    monday = report(ny(2026, 6, 29, 17, 0)).set_index("symbol")  # 26 and 29 June have closed since
    assert monday.loc["TSLA", "sessions_behind"] == 5 and monday.loc["AAPL", "sessions_behind"] == 2
    assert (monday.drop(index="ZZZ")["status"] == STALE).all()
