"""Macro reads: the series catalog, observations (NULL = gap), Treasury yields, one symbol's closes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import sqlalchemy as sa

from store import tables

CATALOG_COLUMNS = [
    "series_id",
    "title",
    "units",
    "frequency",
    "seasonal_adjustment",
    "last_updated",
    "source",
    "observations",
    "first_date",
    "last_date",
]


def series_catalog(conn: sa.Connection) -> pd.DataFrame:
    """Every active series with its metadata, count of stored values and first/last observation date."""
    series, obs = tables.macro_series, tables.macro_observations
    stats = (
        sa.select(
            obs.c.series_id,
            sa.func.count(obs.c.value).label("observations"),
            sa.func.min(obs.c.date).label("first_date"),
            sa.func.max(obs.c.date).label("last_date"),
        )
        .group_by(obs.c.series_id)
        .subquery()
    )
    query = (
        sa.select(
            series.c.series_id,
            series.c.title,
            series.c.units,
            series.c.frequency,
            series.c.seasonal_adjustment,
            series.c.last_updated,
            series.c.source,
            sa.func.coalesce(stats.c.observations, 0).label("observations"),
            stats.c.first_date,
            stats.c.last_date,
        )
        .outerjoin(stats, stats.c.series_id == series.c.series_id)
        .where(series.c.active)
        .order_by(series.c.series_id)
    )
    return pd.read_sql(query, conn)[CATALOG_COLUMNS]


def observations(conn: sa.Connection, series_id: str, start: date | None = None, end: date | None = None) -> pd.Series:
    """Stored values of one series by date (DatetimeIndex); NULL values (FRED's ".") are NaN gaps, not zeros."""
    obs = tables.macro_observations
    query = sa.select(obs.c.date, obs.c.value).where(obs.c.series_id == series_id).order_by(obs.c.date)
    if start is not None:
        query = query.where(obs.c.date >= start)
    if end is not None:
        query = query.where(obs.c.date <= end)
    rows = conn.execute(query).all()
    index = pd.DatetimeIndex([r.date for r in rows], name="date")
    values = [float("nan") if r.value is None else r.value for r in rows]
    return pd.Series(values, index=index, name=series_id, dtype="float64")


def wide_observations(
    conn: sa.Connection, series_ids: Sequence[str], start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Several series as columns by date (in the order given, stored ones only); NaN where one has no value."""
    obs = tables.macro_observations
    query = sa.select(obs.c.date, obs.c.series_id, obs.c.value).where(obs.c.series_id.in_(list(series_ids)))
    if start is not None:
        query = query.where(obs.c.date >= start)
    if end is not None:
        query = query.where(obs.c.date <= end)
    long = pd.read_sql(query.order_by(obs.c.date), conn)
    if long.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    wide = long.pivot(index="date", columns="series_id", values="value").astype("float64")
    wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index), name="date")
    wide.columns.name = None
    return wide[[s for s in series_ids if s in wide.columns]]


def closes(conn: sa.Connection, symbol: str) -> pd.Series:
    """Adjusted closes of one symbol by date (DatetimeIndex); empty when the symbol has no bars."""
    bars = tables.daily_bars
    query = sa.select(bars.c.date, bars.c.adj_close).where(bars.c.symbol == symbol).order_by(bars.c.date)
    rows = conn.execute(query).all()
    index = pd.DatetimeIndex([r.date for r in rows], name="date")
    return pd.Series([r.adj_close for r in rows], index=index, name=symbol, dtype="float64")
