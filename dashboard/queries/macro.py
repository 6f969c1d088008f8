"""Cached reads for the macro desk: series catalog, observations (NULL = gap), yields, closes."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from dashboard.analytics import macro
from dashboard.analytics.macro import TENOR_SERIES
from dashboard.queries.core import TTL
from store import tables
from store.db import get_engine

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


class UnknownSeries(LookupError):
    """The series id is not in the macro universe; the message says so."""


@st.cache_data(ttl=TTL, show_spinner=False)
def series_catalog(version: int) -> pd.DataFrame:
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
    with get_engine().connect() as conn:
        frame = pd.read_sql(query, conn)
    return frame[CATALOG_COLUMNS]


def search_catalog(catalog: pd.DataFrame, text: str | None) -> pd.DataFrame:
    """Rows whose id or title contains every word of `text` (case-insensitive); all rows when blank."""
    words = (text or "").split()
    if not words:
        return catalog
    haystack = (catalog["series_id"].fillna("") + " " + catalog["title"].fillna("")).str.lower()
    keep = pd.Series(True, index=catalog.index)
    for word in words:
        keep &= haystack.str.contains(re.escape(word.lower()), regex=True)
    return catalog[keep]


def series_info(catalog: pd.DataFrame, series_id: str) -> dict:
    """The catalog row of `series_id` as a dict; UnknownSeries with a clear message when it is not there."""
    rows = catalog[catalog["series_id"] == series_id]
    if rows.empty:
        raise UnknownSeries(f"Unknown series id {series_id!r}: it is not in the macro universe.")
    return rows.iloc[0].to_dict()


@st.cache_data(ttl=TTL, show_spinner=False)
def observations(version: int, series_id: str, start: date | None = None, end: date | None = None) -> pd.Series:
    """Stored values of one series by date (DatetimeIndex); NULL values (FRED's ".") are NaN gaps, not zeros."""
    obs = tables.macro_observations
    query = sa.select(obs.c.date, obs.c.value).where(obs.c.series_id == series_id).order_by(obs.c.date)
    if start is not None:
        query = query.where(obs.c.date >= start)
    if end is not None:
        query = query.where(obs.c.date <= end)
    with get_engine().connect() as conn:
        rows = conn.execute(query).all()
    index = pd.DatetimeIndex([r.date for r in rows], name="date")
    values = [float("nan") if r.value is None else r.value for r in rows]
    return pd.Series(values, index=index, name=series_id, dtype="float64")


@st.cache_data(ttl=TTL, show_spinner=False)
def yields(version: int, start: date | None = None) -> pd.DataFrame:
    """Every stored constant-maturity Treasury series (DGS1MO ... DGS30) as columns, by date."""
    obs = tables.macro_observations
    query = (
        sa.select(obs.c.date, obs.c.series_id, obs.c.value)
        .where(obs.c.series_id.in_(list(TENOR_SERIES)))
        .order_by(obs.c.date)
    )
    if start is not None:
        query = query.where(obs.c.date >= start)
    with get_engine().connect() as conn:
        long = pd.read_sql(query, conn)
    if long.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    wide = long.pivot(index="date", columns="series_id", values="value").astype("float64")
    wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index), name="date")
    wide.columns.name = None
    return wide[[s for s in TENOR_SERIES if s in wide.columns]]


@st.cache_data(ttl=TTL, show_spinner=False)
def closes(version: int, symbol: str) -> pd.Series:
    """Adjusted closes of one symbol by date (DatetimeIndex); empty when the symbol has no bars."""
    bars = tables.daily_bars
    query = sa.select(bars.c.date, bars.c.adj_close).where(bars.c.symbol == symbol).order_by(bars.c.date)
    with get_engine().connect() as conn:
        rows = conn.execute(query).all()
    index = pd.DatetimeIndex([r.date for r in rows], name="date")
    return pd.Series([r.adj_close for r in rows], index=index, name=symbol, dtype="float64")


# -- composed reads: stored data through the pure analytics, cached as one result --------------------

_FREQUENCY_WORDS = (("daily", "D"), ("weekly", "W"), ("monthly", "M"), ("quarterly", "Q"), ("annual", "A"))
# Loaded before the chosen start so changes and year-ago comparisons have their earlier values, and the
# first aggregated period is complete.
_LOOKBACK = pd.DateOffset(years=2)
CURVE_MAX_AGE = pd.Timedelta(days=10)


def frequency_code(text: str | None) -> str | None:
    """'Daily' -> 'D', 'Weekly, Ending Friday' -> 'W', ... as FRED words them; None when unknown (pending)."""
    lowered = (text or "").strip().lower()
    for word, code in _FREQUENCY_WORDS:
        if lowered.startswith(word):
            return code
    return None


@st.cache_data(ttl=TTL, show_spinner=False)
def chart_series(
    version: int,
    series_id: str,
    units: str,
    start: date,
    end: date,
    frequency: str | None = None,
    how: str = "avg",
    stored_frequency: str | None = None,
) -> tuple[pd.Series, list[str]]:
    """One series ready to plot over [start, end], and notes for the reader.

    FRED's order: aggregate to `frequency` (None = as stored) with `how`, then apply the `units`
    transformation by date on history loaded from before `start`, then cut to the range. Gaps stay NaN.
    Notes say when a series has no data yet, cannot be aggregated to a higher frequency, or has too
    little history for a year-ago transformation (see `needs_history`). Bad codes raise ValueError.
    """
    needed = macro.needs_history(units)
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    raw = observations(version, series_id, (first - _LOOKBACK).date(), end)
    notes: list[str] = []
    if raw.dropna().empty:
        notes.append(
            f"{series_id} has no observations in this range yet; a series just added is fetched on the next "
            "macro ingestion run."
        )
        return raw.iloc[0:0], notes
    source = frequency_code(stored_frequency)
    if source is None:
        try:
            source = macro.infer_frequency(raw.dropna().index)
        except ValueError:
            source = None
    values, used = raw, source
    if frequency is not None and frequency != source:
        if source is not None and macro.FREQUENCIES.index(frequency) < macro.FREQUENCIES.index(source):
            notes.append(
                f"{series_id} is stored {stored_frequency or source}; it cannot be shown at a higher frequency, "
                "so it is shown as stored."
            )
        else:
            values = macro.aggregate_series(raw, frequency, how, source_frequency=source)
            used = frequency
    result = macro.transform_series(values, units, used)
    result = result[(result.index >= first) & (result.index <= last)]
    if result.empty:
        notes.append(f"{series_id} has no observations between {first:%Y-%m-%d} and {last:%Y-%m-%d}.")
        return result, notes
    if needed is not None:
        first_valid = values.first_valid_index()
        available = first_valid + needed
        if available > first:
            label = macro.UNITS[units]
            if result.notna().any():
                notes.append(
                    f"{label} needs a year of history: {series_id} starts on {first_valid:%Y-%m-%d}, so its values "
                    f"begin on {available:%Y-%m-%d}."
                )
            else:
                notes.append(
                    f"{label} needs a year of history before its first value; {series_id} has none in this range "
                    f"(it starts on {first_valid:%Y-%m-%d}). Choose a longer range."
                )
    return result, notes


@st.cache_data(ttl=TTL, show_spinner=False)
def yield_curves(version: int, months_back: tuple[int, ...] = (0, 6, 12)) -> pd.DataFrame:
    """Yield curves across every stored tenor: the latest date on which all stored tenors have a value, and
    `months_back` months before it (each tenor's last value on or before that date, at most 10 days old).

    Columns are labelled 'YYYY-MM-DD (latest | N months earlier)'; index is the tenor in maturity order.
    Empty frame when no tenor is stored.
    """
    frame = yields(version)
    complete = frame.dropna(how="any")
    if frame.empty or complete.empty:
        return pd.DataFrame()
    latest = complete.index.max()
    curves = {}
    for months in months_back:
        when = latest - pd.DateOffset(months=months)
        name = "latest" if months == 0 else f"{months} months earlier"
        curves[f"{when:%Y-%m-%d} ({name})"] = macro.yield_curve_snapshot(frame, when, max_age=CURVE_MAX_AGE)
    return pd.DataFrame(curves)


@st.cache_data(ttl=TTL, show_spinner=False)
def spreads(version: int, start: date | None = None) -> dict[str, pd.Series]:
    """10Y-2Y (FRED's T10Y2Y when stored, else DGS10 - DGS2) and 10Y-3M (DGS10 - DGS3MO, by date)."""
    out: dict[str, pd.Series] = {}
    stored = observations(version, "T10Y2Y", start)
    frame = yields(version, start)
    if not stored.dropna().empty:
        out["10Y-2Y"] = stored.rename("10Y-2Y")
    elif {"DGS10", "DGS2"} <= set(frame.columns):
        out["10Y-2Y"] = (frame["DGS10"] - frame["DGS2"]).dropna().round(4).rename("10Y-2Y")
    if {"DGS10", "DGS3MO"} <= set(frame.columns):
        # Both legs on the same date only; a date missing in either is no observation, not a zero.
        out["10Y-3M"] = (frame["DGS10"] - frame["DGS3MO"]).dropna().round(4).rename("10Y-3M")
    return out


def inversion_table(spread_by_name: dict[str, pd.Series]) -> pd.DataFrame:
    """Every inversion run (spread < 0) of each spread, newest first, with its length in observations."""
    parts = []
    for name, spread in spread_by_name.items():
        runs = macro.spread_inversions(spread)
        if not runs.empty:
            parts.append(runs.assign(spread=name))
    if not parts:
        return pd.DataFrame(columns=["spread", "start", "end", "n_obs", "min_spread"])
    table = pd.concat(parts, ignore_index=True)[["spread", "start", "end", "n_obs", "min_spread"]]
    return table.sort_values(["start", "spread"], ascending=[False, True], ignore_index=True)


@st.cache_data(ttl=TTL, show_spinner=False)
def macro_beta(version: int, symbol: str, series_id: str, window: int) -> pd.DataFrame:
    """Rolling correlation and beta of `symbol`'s daily returns on daily changes of `series_id`."""
    return macro.rolling_macro_beta(closes(version, symbol), observations(version, series_id), window)
