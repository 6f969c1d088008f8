"""Data-quality reads: bar coverage, sessions missing from a symbol's history, quarantine, jumps, last observations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from store import calendar, tables
from store.reads.market import check_dates, clean_symbols

COVERAGE_COLUMNS = ["symbol", "first_date", "last_date", "bars"]
MISSING_COLUMNS = ["symbol", "date"]
QUARANTINE_COLUMNS = ["id", "dataset", "key", "reason", "created_at", "run_id"]
JUMP_COLUMNS = ["symbol", "date", "adj_close", "previous", "change"]
SERIES_COLUMNS = ["series_id", "title", "frequency", "last_date", "observations"]


def expected_session(now: datetime, grace_hours: float) -> date:
    """The NYSE session whose bars should be stored by `now`: the last one closed `grace_hours` ago or more."""
    return calendar.last_completed_session(now, timedelta(hours=grace_hours))


def bar_coverage(conn: sa.Connection) -> pd.DataFrame:
    """Per stored symbol: first_date, last_date (datetime64) and number of bars, by symbol."""
    t = tables.daily_bars
    query = (
        sa.select(
            t.c.symbol,
            sa.func.min(t.c.date).label("first_date"),
            sa.func.max(t.c.date).label("last_date"),
            sa.func.count().label("bars"),
        )
        .group_by(t.c.symbol)
        .order_by(t.c.symbol)
    )
    frame = pd.read_sql(query, conn)
    for column in ("first_date", "last_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame[COVERAGE_COLUMNS]


def missing_sessions(
    conn: sa.Connection,
    symbols: Iterable[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """NYSE sessions with no bar between a symbol's first and last stored bar: symbol, date (datetime64).

    `symbols` limits the report (None: every stored symbol); `start`/`end` cut it to a range (inclusive),
    within each symbol's own span: sessions before a symbol's first bar or after its last are never reported
    (no history yet, or behind: that is freshness's question). Holidays and weekends never appear. Sorted by
    symbol and date. One query: each bar with the next bar of its symbol, where sessions may lie between.
    """
    check_dates(start, end)
    empty = pd.DataFrame({"symbol": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]")})
    t = tables.daily_bars
    following = sa.func.lead(t.c.date).over(partition_by=t.c.symbol, order_by=t.c.date).label("next_date")
    pairs = sa.select(t.c.symbol, t.c.date, following)
    if symbols is not None:
        cleaned = clean_symbols(symbols)
        if not cleaned:
            return empty
        pairs = pairs.where(t.c.symbol.in_(cleaned))
    b = pairs.subquery()
    step = b.c.next_date - b.c.date
    # Consecutive days and Friday -> Monday cannot hide a session: dropped in SQL so that only the pairs around
    # holidays and the real gaps cross the wire (a few percent of the rows); the calendar judges those below.
    query = sa.select(b.c.symbol, b.c.date, b.c.next_date).where(
        step > 1, sa.not_(sa.and_(step == 3, sa.extract("isodow", b.c.date) == 5))
    )
    if start is not None:
        query = query.where(b.c.next_date > start)
    if end is not None:
        query = query.where(b.c.date < end)
    rows = conn.execute(query).all()
    if not rows:
        return empty
    symbol_col, bar_dates, next_dates = (list(column) for column in zip(*rows, strict=True))
    days = calendar.sessions_between(min(bar_dates), max(next_dates))
    # Sessions strictly between a bar and the next are days[first:stop] (a bar off the calendar cannot hide one).
    first = days.searchsorted(pd.DatetimeIndex(bar_dates), side="right")
    stop = days.searchsorted(pd.DatetimeIndex(next_dates), side="left")
    counts = np.maximum(stop - first, 0)
    total = int(counts.sum())
    if total == 0:
        return empty
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    frame = pd.DataFrame(
        {
            "symbol": np.repeat(np.asarray(symbol_col, dtype=object), counts),
            "date": days[np.repeat(first, counts) + offsets],
        }
    )
    if start is not None:
        frame = frame[frame["date"] >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame["date"] <= pd.Timestamp(end)]
    return frame.sort_values(MISSING_COLUMNS, kind="stable").reset_index(drop=True)


def quarantined(conn: sa.Connection, limit: int = 500, dataset: str | None = None) -> pd.DataFrame:
    """Rejected rows, newest first: id, dataset, key, reason, created_at, run_id (nullable Int64)."""
    _check_limit(limit)
    q = tables.quarantined_rows
    query = sa.select(*(q.c[c] for c in QUARANTINE_COLUMNS)).order_by(q.c.created_at.desc(), q.c.id.desc()).limit(limit)
    if dataset is not None:
        query = query.where(q.c.dataset == dataset)
    frame = pd.read_sql(query, conn)
    # Typed even when empty (read_sql gives object columns then), so a page can filter and format either way.
    frame["id"] = frame["id"].astype("int64")
    frame["run_id"] = frame["run_id"].astype("Int64")
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame[QUARANTINE_COLUMNS]


def flagged_jumps(conn: sa.Connection, limit: int = 500) -> pd.DataFrame:
    """Bars flagged as a jump, newest first: symbol, date, adj_close, previous (the symbol's stored adjusted
    close before it; NaN if none) and change (adj_close / previous - 1)."""
    _check_limit(limit)
    t = tables.daily_bars
    prior = t.alias("prior")
    previous = (
        sa.select(prior.c.adj_close)
        .where(prior.c.symbol == t.c.symbol, prior.c.date < t.c.date)
        .order_by(prior.c.date.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        sa.select(t.c.symbol, t.c.date, t.c.adj_close, previous.label("previous"))
        .where(t.c.flags == tables.JUMP_FLAG)
        .order_by(t.c.date.desc(), t.c.symbol)
        .limit(limit)
    )
    frame = pd.read_sql(query, conn)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["adj_close"] = frame["adj_close"].astype("float64")
    frame["previous"] = frame["previous"].astype("float64")
    frame["change"] = frame["adj_close"] / frame["previous"] - 1
    return frame[JUMP_COLUMNS]


def symbols_without_data(conn: sa.Connection) -> list[str]:
    """Active instruments with no bar at all, by symbol."""
    inst, bars = tables.instruments, tables.daily_bars
    has_bar = sa.exists().where(bars.c.symbol == inst.c.symbol)
    query = sa.select(inst.c.symbol).where(inst.c.active, sa.not_(has_bar)).order_by(inst.c.symbol)
    return list(conn.execute(query).scalars())


def series_last_observations(conn: sa.Connection) -> pd.DataFrame:
    """Active series: series_id, title, frequency, last_date (latest observation WITH a value, datetime64; NaT
    when none) and observations (values stored), by series_id.

    FRED's "." rows (NULL values) are left out of both: a series whose recent rows are all "." has stopped
    publishing, whatever its row dates say (store.reads.macro.series_catalog's last_date counts them).
    """
    series, obs = tables.macro_series, tables.macro_observations
    stats = (
        sa.select(
            obs.c.series_id,
            sa.func.max(obs.c.date).label("last_date"),
            sa.func.count().label("observations"),
        )
        .where(obs.c.value.is_not(None))
        .group_by(obs.c.series_id)
        .subquery()
    )
    query = (
        sa.select(
            series.c.series_id,
            series.c.title,
            series.c.frequency,
            stats.c.last_date,
            sa.func.coalesce(stats.c.observations, 0).label("observations"),
        )
        .outerjoin(stats, stats.c.series_id == series.c.series_id)
        .where(series.c.active)
        .order_by(series.c.series_id)
    )
    frame = pd.read_sql(query, conn)
    frame["last_date"] = pd.to_datetime(frame["last_date"])
    return frame[SERIES_COLUMNS]


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
