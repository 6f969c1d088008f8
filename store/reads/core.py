"""Core reads: data version, instruments, the active universe, recent closes, freshness, coverage, runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from store import tables

COMPLETED = ("success", "partial")


def data_version(conn: sa.Connection) -> int:
    """Id of the latest finished ingestion run (0 when none): cache keys change when new data lands."""
    runs = tables.ingestion_runs
    return conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(runs.c.id), 0)).where(runs.c.status.in_(COMPLETED))
    ).scalar_one()


def database_is_empty(conn: sa.Connection) -> bool:
    """True when no daily bar is stored (first start: load the bundled sample)."""
    return conn.execute(sa.select(sa.exists().select_from(tables.daily_bars))).scalar_one() is False


def instruments(conn: sa.Connection) -> pd.DataFrame:
    """Active instruments: symbol, name, asset_class, sector, currency (by symbol)."""
    t = tables.instruments
    query = (
        sa.select(t.c.symbol, t.c.name, t.c.asset_class, t.c.sector, t.c.currency)
        .where(t.c.active)
        .order_by(t.c.symbol)
    )
    return pd.read_sql(query, conn)


def active_symbols(conn: sa.Connection) -> list[str]:
    t = tables.instruments
    return list(conn.execute(sa.select(t.c.symbol).where(t.c.active).order_by(t.c.symbol)).scalars())


def active_series(conn: sa.Connection) -> list[str]:
    t = tables.macro_series
    return list(conn.execute(sa.select(t.c.series_id).where(t.c.active).order_by(t.c.series_id)).scalars())


def recent_closes(conn: sa.Connection, days: int = 400) -> pd.DataFrame:
    """Adjusted closes (date, symbol, close) of every active instrument over the last `days` days of stored data."""
    bars, inst = tables.daily_bars, tables.instruments
    latest = conn.execute(sa.select(sa.func.max(bars.c.date))).scalar_one()
    if latest is None:
        return pd.DataFrame(columns=["date", "symbol", "close"])
    query = (
        sa.select(bars.c.date, bars.c.symbol, bars.c.adj_close.label("close"))
        .join(inst, inst.c.symbol == bars.c.symbol)
        .where(inst.c.active, bars.c.date >= latest - timedelta(days=days))
        .order_by(bars.c.symbol, bars.c.date)
    )
    return pd.read_sql(query, conn)


@dataclass(frozen=True)
class Freshness:
    """Where the bars come from and how fresh they are."""

    as_of: date | None  # latest stored bar
    sources: list[str] = field(default_factory=list)  # sources of the bars on that date
    last_success: datetime | None = None  # last successful ingestion run

    def as_dict(self) -> dict:
        return {"as_of": self.as_of, "sources": list(self.sources), "last_success": self.last_success}


def freshness(conn: sa.Connection) -> Freshness:
    """The latest bar date, its sources and the last successful ingestion run (health check and pages)."""
    bars, runs = tables.daily_bars, tables.ingestion_runs
    latest: date | None = conn.execute(sa.select(sa.func.max(bars.c.date))).scalar_one()
    sources: list[str] = []
    if latest is not None:
        sources = list(
            conn.execute(
                sa.select(bars.c.source).where(bars.c.date == latest).distinct().order_by(bars.c.source)
            ).scalars()
        )
    last_run = conn.execute(sa.select(sa.func.max(runs.c.finished_at)).where(runs.c.status == "success")).scalar_one()
    return Freshness(latest, sources, last_run)


RUN_COLUMNS = [
    "id", "job", "source", "status", "started_at", "finished_at", "duration_s", "rows_written",
    "items_ok", "items_failed", "problem", "failures", "error_summary",
]  # fmt: skip


def ingestion_runs(
    conn: sa.Connection,
    limit: int = 50,
    *,
    job: str | None = None,
    provider: str | None = None,
    status: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """The latest runs, newest first, optionally filtered (job, a provider among its sources, status, the UTC
    day it started in [start, end]); with duration, items ok / failed, the run-wide problem (no network) and the
    failed items' reasons."""
    runs = tables.ingestion_runs
    query = sa.select(
        runs.c.id, runs.c.job, runs.c.source, runs.c.status, runs.c.started_at, runs.c.finished_at,
        runs.c.rows_written, runs.c.error_summary, runs.c.details,
    ).order_by(runs.c.id.desc()).limit(limit)  # fmt: skip
    if job:
        query = query.where(runs.c.job == job)
    if provider:
        query = query.where(sa.func.string_to_array(runs.c.source, ",").any_() == provider)
    if status:
        query = query.where(runs.c.status == status)
    day = sa.func.date(sa.func.timezone("UTC", runs.c.started_at))
    if start:
        query = query.where(day >= start)
    if end:
        query = query.where(day <= end)
    rows = []
    for r in conn.execute(query).mappings():
        items = (r["details"] or {}).get("items") or {}
        failed = (r["details"] or {}).get("failed") or {}
        duration = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] else None
        rows.append(
            {
                **{k: r[k] for k in RUN_COLUMNS if k in r},
                "duration_s": duration,
                "items_ok": sum(1 for i in items.values() if i.get("status") == "ok"),
                "items_failed": len(failed),
                "problem": "; ".join((r["details"] or {}).get("notes") or []),
                "failures": "; ".join(f"{item}: {why}" for item, why in sorted(failed.items())),
            }
        )
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def coverage(conn: sa.Connection) -> pd.DataFrame:
    """Per dataset and source: symbols or series, rows, first and last date, last write."""
    bars, obs = tables.daily_bars, tables.macro_observations
    parts = []
    for name, table, key in (("daily bars", bars, bars.c.symbol), ("macro observations", obs, obs.c.series_id)):
        query = sa.select(
            sa.literal(name).label("dataset"),
            table.c.source,
            sa.func.count(sa.distinct(key)).label("instruments"),
            sa.func.count().label("rows"),
            sa.func.min(table.c.date).label("first_date"),
            sa.func.max(table.c.date).label("last_date"),
            sa.func.max(table.c.ingested_at).label("last_written"),
        ).group_by(table.c.source)
        parts.append(pd.read_sql(query, conn))
    return pd.concat(parts, ignore_index=True)


def symbol_spans(conn: sa.Connection) -> pd.DataFrame:
    """Per stored symbol: first and last bar date and number of bars."""
    t = tables.daily_bars
    query = (
        sa.select(
            t.c.symbol,
            sa.func.min(t.c.date).label("first"),
            sa.func.max(t.c.date).label("last"),
            sa.func.count().label("bars"),
        )
        .group_by(t.c.symbol)
        .order_by(t.c.symbol)
    )
    return pd.read_sql(query, conn)


def symbol_dates(conn: sa.Connection) -> pd.DataFrame:
    """Per stored symbol: its first and last bar date (symbol_spans without the count of bars).

    A few index lookups per symbol (the next symbol after the last one, then its first and last date) instead of a
    pass over every stored bar: a few milliseconds whatever the history, where symbol_spans reads it all.
    """
    t = tables.daily_bars
    b = t.alias("b")
    seed = sa.select(t.c.symbol).order_by(t.c.symbol).limit(1).cte("symbols", recursive=True)
    following = sa.select(b.c.symbol).where(b.c.symbol > seed.c.symbol).order_by(b.c.symbol).limit(1)
    symbols = seed.union_all(sa.select(following.scalar_subquery().label("symbol")).where(seed.c.symbol.is_not(None)))

    def bound(edge: sa.sql.functions.Function) -> sa.ScalarSelect:
        return sa.select(edge).where(b.c.symbol == symbols.c.symbol).scalar_subquery()

    first, last = bound(sa.func.min(b.c.date)).label("first"), bound(sa.func.max(b.c.date)).label("last")
    query = sa.select(symbols.c.symbol, first, last).where(symbols.c.symbol.is_not(None)).order_by(symbols.c.symbol)
    return pd.read_sql(query, conn)
