"""Core cached reads: data version, instruments, recent closes, freshness, coverage, ingestion runs."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from store import tables
from store.db import get_engine
from store.settings import get_settings

TTL = get_settings().cache_ttl_seconds


def data_version() -> int:
    """Id of the latest finished ingestion run (0 when none); cheap, so it is not cached."""
    runs = tables.ingestion_runs
    with get_engine().connect() as conn:
        return conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(runs.c.id), 0)).where(runs.c.status.in_(["success", "partial"]))
        ).scalar_one()


@st.cache_data(ttl=TTL, show_spinner=False)
def instruments(version: int) -> pd.DataFrame:
    t = tables.instruments
    query = (
        sa.select(t.c.symbol, t.c.name, t.c.asset_class, t.c.sector, t.c.currency)
        .where(t.c.active)
        .order_by(t.c.symbol)
    )
    with get_engine().connect() as conn:
        return pd.read_sql(query, conn)


@st.cache_data(ttl=TTL, show_spinner=False)
def recent_closes(version: int, days: int = 400) -> pd.DataFrame:
    """Adjusted closes of every active instrument over the last `days` calendar days of stored data."""
    bars, inst = tables.daily_bars, tables.instruments
    with get_engine().connect() as conn:
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


@st.cache_data(ttl=TTL, show_spinner=False)
def freshness(version: int) -> dict:
    """Where the bars come from and how fresh they are: sources, latest bar date, last successful run."""
    bars, runs = tables.daily_bars, tables.ingestion_runs
    with get_engine().connect() as conn:
        latest: date | None = conn.execute(sa.select(sa.func.max(bars.c.date))).scalar_one()
        sources = []
        if latest is not None:
            sources = (
                conn.execute(sa.select(bars.c.source).where(bars.c.date == latest).distinct().order_by(bars.c.source))
                .scalars()
                .all()
            )
        last_run = conn.execute(
            sa.select(sa.func.max(runs.c.finished_at)).where(runs.c.status == "success")
        ).scalar_one()
    return {"as_of": latest, "sources": list(sources), "last_success": last_run}


@st.cache_data(ttl=TTL, show_spinner=False)
def ingestion_runs(version: int, limit: int = 50) -> pd.DataFrame:
    runs = tables.ingestion_runs
    query = (
        sa.select(
            runs.c.id,
            runs.c.job,
            runs.c.source,
            runs.c.status,
            runs.c.started_at,
            runs.c.finished_at,
            runs.c.rows_written,
            runs.c.error_summary,
        )
        .order_by(runs.c.id.desc())
        .limit(limit)
    )
    with get_engine().connect() as conn:
        return pd.read_sql(query, conn)


@st.cache_data(ttl=TTL, show_spinner=False)
def coverage(version: int) -> pd.DataFrame:
    """Per dataset and source: rows, first and last date, last write."""
    bars, obs = tables.daily_bars, tables.macro_observations
    parts = []
    with get_engine().connect() as conn:
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


@st.cache_data(ttl=5, show_spinner=False)
def worker_status() -> pd.DataFrame:
    """Ingestion workers seen in the last day, newest beat first (a short TTL: heartbeats are live state).

    `status` is the worker's own state, or `stale` when three beats in a row did not arrive.
    """
    hb = tables.worker_heartbeats
    age = sa.func.extract("epoch", sa.func.now() - hb.c.beat_at)
    query = (
        sa.select(
            hb.c.worker_id.label("worker"),
            sa.case(
                (sa.and_(hb.c.state != "stopped", age > 3 * get_settings().worker_heartbeat_seconds), "stale"),
                else_=hb.c.state,
            ).label("status"),
            hb.c.current_job,
            sa.func.round(age).label("last_beat_s_ago"),
            hb.c.started_at,
            hb.c.details["next_runs"].label("next_runs"),
        )
        .where(hb.c.beat_at > sa.func.now() - sa.text("interval '1 day'"))
        .order_by(hb.c.beat_at.desc())
    )
    with get_engine().connect() as conn:
        frame = pd.read_sql(query, conn)
    # One readable cell instead of a JSON object: "prices 2026-11-25T22:15:00+00:00, quotes ...".
    frame["next_runs"] = frame["next_runs"].map(
        lambda runs: ", ".join(f"{job} {at}" for job, at in sorted(runs.items())) if isinstance(runs, dict) else ""
    )
    return frame


@st.cache_data(ttl=TTL, show_spinner=False)
def disabled_providers() -> dict[str, str]:
    """Provider name -> why it is off (a missing API key ...), from the settings; no secret is ever included."""
    from ingestion.providers.registry import disabled_providers as reasons

    return reasons(get_settings())
