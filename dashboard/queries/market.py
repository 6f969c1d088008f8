"""Cached reads for the market pages: bars over a date range, corporate actions, intraday quotes, watchlists."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from sqlalchemy.dialects.postgresql import distinct_on

from dashboard import market
from dashboard.analytics import risk
from dashboard.market import SYMBOL_RE
from dashboard.queries.core import TTL
from store import tables
from store.db import get_engine

BAR_COLUMNS = ["date", "symbol", "open", "high", "low", "close", "adj_close", "volume", "source"]
# Quotes change minute by minute and are written outside ingestion runs: a short TTL of their own.
QUOTES_TTL = 15
MAX_SYMBOLS = 200


def clean_symbols(symbols: Iterable[str]) -> tuple[str, ...]:
    """Validated, upper-cased, sorted, de-duplicated symbols (the cache key); ValueError on a malformed one."""
    out = set()
    for raw in symbols:
        if not isinstance(raw, str):
            raise ValueError(f"a symbol must be text, got {type(raw).__name__}")
        symbol = raw.strip().upper()
        if not SYMBOL_RE.match(symbol):
            raise ValueError(f"malformed symbol {raw[:24]!r}: use letters, digits and . - ^ = (at most 16)")
        out.add(symbol)
    if len(out) > MAX_SYMBOLS:
        raise ValueError(f"at most {MAX_SYMBOLS} symbols per query, got {len(out)}")
    return tuple(sorted(out))


def _check_dates(start: date | None, end: date | None) -> None:
    for name, value in (("start", start), ("end", end)):
        if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
            raise ValueError(f"{name} must be a date or None, got {type(value).__name__}")
    if start is not None and end is not None and start > end:
        raise ValueError(f"start {start} is after end {end}")


def bars(version: int, symbols: Iterable[str], start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Daily bars (date, symbol, open, high, low, close, adj_close, volume, source) sorted by symbol, date.

    `start`/`end` are inclusive; None means unbounded. Raises ValueError on malformed input.
    """
    _check_dates(start, end)
    return _bars(version, clean_symbols(symbols), start, end)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=64)
def _bars(version: int, symbols: tuple[str, ...], start: date | None, end: date | None) -> pd.DataFrame:
    if not symbols:
        return pd.DataFrame(columns=BAR_COLUMNS)
    t = tables.daily_bars
    query = sa.select(*(t.c[c] for c in BAR_COLUMNS)).where(t.c.symbol.in_(symbols))
    if start is not None:
        query = query.where(t.c.date >= start)
    if end is not None:
        query = query.where(t.c.date <= end)
    with get_engine().connect() as conn:
        frame = pd.read_sql(query.order_by(t.c.symbol, t.c.date), conn)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


@st.cache_data(ttl=TTL, show_spinner=False)
def symbol_spans(version: int) -> pd.DataFrame:
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
    with get_engine().connect() as conn:
        return pd.read_sql(query, conn)


def corporate_actions(
    version: int, symbols: Iterable[str], start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Splits and dividends (symbol, date, action, value, source); split value = new shares per old share."""
    _check_dates(start, end)
    return _corporate_actions(version, clean_symbols(symbols), start, end)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=64)
def _corporate_actions(version: int, symbols: tuple[str, ...], start: date | None, end: date | None) -> pd.DataFrame:
    t = tables.corporate_actions
    columns = [t.c.symbol, t.c.date, t.c.action, t.c.value, t.c.source]
    if not symbols:
        return pd.DataFrame(columns=[c.name for c in columns])
    query = sa.select(*columns).where(t.c.symbol.in_(symbols))
    if start is not None:
        query = query.where(t.c.date >= start)
    if end is not None:
        query = query.where(t.c.date <= end)
    with get_engine().connect() as conn:
        frame = pd.read_sql(query.order_by(t.c.symbol, t.c.date, t.c.action), conn)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def latest_quotes(symbols: Iterable[str], since_hours: float = 24.0) -> pd.DataFrame:
    """The latest intraday quote per symbol within the last `since_hours` (symbol, ts, price, volume, source)."""
    if not (0 < since_hours <= 24 * 14):
        raise ValueError(f"since_hours must be in (0, 336], got {since_hours!r}")
    return _latest_quotes(clean_symbols(symbols), float(since_hours))


@st.cache_data(ttl=QUOTES_TTL, show_spinner=False, max_entries=32)
def _latest_quotes(symbols: tuple[str, ...], since_hours: float) -> pd.DataFrame:
    t = tables.intraday_quotes
    columns = ["symbol", "ts", "price", "volume", "source"]
    if not symbols:
        return pd.DataFrame(columns=columns)
    since = sa.func.now() - timedelta(hours=since_hours)
    query = (
        sa.select(*(t.c[c] for c in columns))
        .where(t.c.symbol.in_(symbols), t.c.ts >= since)
        .ext(distinct_on(t.c.symbol))
        .order_by(t.c.symbol, t.c.ts.desc())
    )
    with get_engine().connect() as conn:
        return pd.read_sql(query, conn)


def quotes_stored() -> bool:
    """Whether any intraday quote is stored at all (decides if the live panel is shown)."""
    t = tables.intraday_quotes
    with get_engine().connect() as conn:
        return conn.execute(sa.select(sa.exists().select_from(t))).scalar_one()


def watchlist_rows(owner: str | None) -> pd.DataFrame:
    """Watchlists of `owner` (None: the default lists), newest first; not cached: they change on a click."""
    t = tables.watchlists
    owner_match = t.c.owner.is_(None) if owner is None else t.c.owner == owner
    query = sa.select(t.c.id, t.c.owner, t.c.name, t.c.symbols, t.c.updated_at).where(owner_match)
    with get_engine().connect() as conn:
        return pd.read_sql(query.order_by(t.c.name), conn)


def adjusted_closes(
    version: int, symbols: Iterable[str], start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Adjusted closes, one column per symbol (date index, ascending); NaN where a symbol has no bar."""
    _check_dates(start, end)
    return _adjusted_closes(version, clean_symbols(symbols), start, end)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def _adjusted_closes(version: int, symbols: tuple[str, ...], start: date | None, end: date | None) -> pd.DataFrame:
    frame = _bars(version, symbols, start, end)
    return frame.pivot_table(index="date", columns="symbol", values="adj_close").sort_index()


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=64)
def _sources(version: int, symbols: tuple[str, ...]) -> list[str]:
    t = tables.daily_bars
    query = sa.select(t.c.source).where(t.c.symbol.in_(symbols)).distinct().order_by(t.c.source)
    with get_engine().connect() as conn:
        return list(conn.execute(query).scalars())


def sources(version: int, symbols: Iterable[str]) -> list[str]:
    """The distinct sources of the stored bars of `symbols`."""
    cleaned = clean_symbols(symbols)
    return _sources(version, cleaned) if cleaned else []


# -- cached page computations: the same inputs give the same frames, so reruns skip the analytics ------


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def ticker_frames(
    version: int,
    tickers: tuple[str, ...],
    adjusted: bool,
    start: date,
    end: date,
    chosen: tuple[str, ...],
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """market.ticker_frames over the whole stored history of `tickers` (validated as in `bars`)."""
    return market.ticker_frames(bars(version, tickers), tickers, adjusted, start, end, chosen)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def risk_tables(
    version: int, tickers: tuple[str, ...], benchmark: str, start: date, end: date, risk_free: float
) -> dict[str, pd.DataFrame]:
    """Risk page numbers: `prices` (adjusted closes), `metrics` (one row per ticker, then the benchmark),
    `drawdowns` and `correlation` (tickers and benchmark)."""
    symbols = list(dict.fromkeys([*tickers, benchmark]))
    wide = adjusted_closes(version, symbols, start, end)
    bench = wide[benchmark]
    metrics = pd.DataFrame([{"symbol": s, **risk.risk_metrics(wide[s], bench, risk_free=risk_free)} for s in symbols])
    return {
        "prices": wide,
        "metrics": metrics,
        "drawdowns": pd.DataFrame({t: risk.drawdown_series(wide[t]) for t in tickers}),
        "correlation": risk.correlation_matrix(wide[symbols]),
    }


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def rolling_stats(
    version: int,
    kind: str,
    tickers: tuple[str, ...],
    benchmark: str,
    start: date,
    end: date,
    window: int,
    risk_free: float,
) -> pd.DataFrame:
    """Rolling `volatility`, `beta` (vs benchmark, benchmark itself left out) or `sharpe`, one column per ticker."""
    wide = adjusted_closes(version, list(dict.fromkeys([*tickers, benchmark])), start, end)
    if kind == "volatility":
        return pd.DataFrame({t: risk.rolling_volatility(wide[t], window) for t in tickers})
    if kind == "beta":
        return pd.DataFrame({t: risk.rolling_beta(wide[t], wide[benchmark], window) for t in tickers if t != benchmark})
    if kind == "sharpe":
        return pd.DataFrame({t: risk.rolling_sharpe(wide[t], window, risk_free=risk_free) for t in tickers})
    raise ValueError(f"unknown rolling statistic {kind!r}; expected volatility, beta or sharpe")
