"""The read API's endpoints: the pages' reads and analytics, answered as tables (JSON or CSV) with where and when.

Each handler reads through `store.reads` and computes through `analytics`, as the pages' loaders do (the loaders
only add Streamlit's cache), so a number here is the number on the page for the same parameters.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from analytics import fx, macro, risk
from analytics import market as market_rules
from dashboard.web.api.framework import (
    Context,
    Endpoint,
    Param,
    Result,
    bad_request,
    date_range,
    not_found,
    unknown_symbols,
)
from store import clock
from store.db import get_engine
from store.reads import core, market
from store.reads import macro as macro_reads

PRICE_COLUMNS = ["open", "high", "low", "close"]
MAX_PRICE_SYMBOLS = 100
MAX_RISK_SYMBOLS = 30
MAX_SERIES = 10


def read(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with get_engine().connect() as conn:
        return fn(conn, *args, **kwargs)


_STORED = sa.text(
    "select s.symbol from unnest(cast(:symbols as text[])) as s(symbol)"
    " where exists (select 1 from daily_bars b where b.symbol = s.symbol)"
)


def _known_symbols(conn: sa.Connection, symbols: list[str]) -> None:
    """404 unless every symbol has a stored bar: one index probe each (the whole universe only to suggest names)."""
    found = set(conn.execute(_STORED, {"symbols": list(symbols)}).scalars())
    unknown = [s for s in symbols if s not in found]
    if unknown:
        raise unknown_symbols(unknown, core.symbol_spans(conn)["symbol"].tolist())


def _sources(values: Any) -> str | None:
    names = sorted({str(v) for v in pd.Series(values).dropna().unique()})  # the distinct values first
    return ", ".join(names) or None


# -- instruments, prices, quotes ------------------------------------------------------------------------------------


def instruments(ctx: Context) -> Result:
    with get_engine().connect() as conn:
        listed = core.instruments(conn)
        spans = core.symbol_spans(conn)
        sources = pd.read_sql(
            sa.text(
                "select symbol, string_agg(distinct source, ', ' order by source) as source from daily_bars group by 1"
            ),
            conn,
        )
    frame = listed.merge(spans, on="symbol", how="left").merge(sources, on="symbol", how="left")
    frame = frame.rename(columns={"first": "first_date", "last": "last_date"})
    as_of = frame["last_date"].max() if frame["last_date"].notna().any() else None
    return Result(frame, _sources(frame["source"]), as_of)


def _in_currency(frame: pd.DataFrame, columns: list[str], code: str, rates: pd.Series | None) -> pd.DataFrame:
    """The display-currency rule (analytics.fx.convert_prices, as the pages' currency.convert applies it): USD
    prices at each date's FRED rate, the last earlier rate on days without one, NaN before the first rate. The
    pages' wrapper is not imported: it reads through Streamlit's cache."""
    if rates is None or not rates.notna().any():
        raise bad_request(f"no {fx.fx_series_id(code)} rates are stored: prices cannot be given in {code}")
    values = frame[columns].astype("float64").set_axis(pd.DatetimeIndex(frame["date"]))
    out = frame.copy()
    out[columns] = fx.convert_prices(values, rates, code).to_numpy()
    return out


def prices(ctx: Context) -> Result:
    p = ctx.params
    start, end = date_range(p)
    with get_engine().connect() as conn:
        _known_symbols(conn, p["symbols"])
        bars = market.bars(conn, p["symbols"], start, end)
        rates = None
        series_id = fx.fx_series_id(p["currency"])  # None for USD
        if series_id is not None:
            rates = macro_reads.observations(conn, series_id)
    # As the Ticker page (analytics.market.ticker_frames): without as-traded prices, the adjusted ones.
    notes: list[str] = []
    fallback: dict[str, bool] = {}  # asked as traded: symbol -> shown adjusted all the same
    if not p["adjusted"]:
        for symbol, own in bars[["close", "adj_close"]].groupby(bars["symbol"], sort=False):
            fallback[symbol] = not market_rules.unadjusted_available(own)
            if fallback[symbol]:
                notes.append(f"{symbol}: no as-traded prices that differ from the adjusted ones; adjusted prices given")
    # The Ticker page's rule (analytics.market.display_prices: adjusted open/high/low scaled by adj_close/close) in
    # one call for all the symbols shown alike (it goes row by row; a call per symbol cost more than the read), on
    # rows in date order, which its sort by date keeps: symbol and source line up by position.
    ordered = bars.sort_values(["date", "symbol"], kind="stable")
    if any(fallback.values()):
        adjusted = ordered["symbol"].map(fallback).astype(bool)
        groups = [(True, ordered[adjusted]), (False, ordered[~adjusted])]
    else:
        groups = [(bool(p["adjusted"]), ordered)]
    parts = []
    for shown_adjusted, rows in groups:
        if not rows.empty:
            shown = market_rules.display_prices(rows, shown_adjusted).reset_index()
            shown.insert(1, "symbol", rows["symbol"].array)
            shown["source"] = rows["source"].array
            parts.append(shown)
    bars = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["date", "symbol", *PRICE_COLUMNS])
    columns = [c for c in PRICE_COLUMNS if c in bars.columns]
    if p["currency"] != "USD" and not bars.empty:
        bars = _in_currency(bars, columns, p["currency"], rates)
    if len(parts) > 1:  # adjusted and as-traded symbols back in date, symbol order
        bars = bars.sort_values(["date", "symbol"], kind="stable")
    bars = bars.reset_index(drop=True)
    bars.insert(2, "currency", p["currency"])
    as_of = bars["date"].max() if not bars.empty else None
    return Result(bars, _sources(bars.get("source", [])), as_of, date_column="date", notes=notes)


def quotes(ctx: Context) -> Result:
    since = clock.now() - timedelta(hours=ctx.params["hours"])
    with get_engine().connect() as conn:
        _known_symbols(conn, ctx.params["symbols"])
        latest = market.latest_quotes(conn, ctx.params["symbols"], since)
    as_of = latest["ts"].max() if not latest.empty else None
    return Result(latest, _sources(latest["source"]) if not latest.empty else None, as_of)


# -- macro ------------------------------------------------------------------------------------------------------------


def macro_series(ctx: Context) -> Result:
    catalog = read(macro_reads.series_catalog)
    as_of = catalog["last_date"].max() if catalog["last_date"].notna().any() else None
    return Result(catalog, _sources(catalog["source"]), as_of)


def macro_observations(ctx: Context) -> Result:
    p = ctx.params
    catalog = read(macro_reads.series_catalog).set_index("series_id")
    unknown = [s for s in p["ids"] if s not in catalog.index]
    if unknown:
        import difflib

        suggestions = {s: difflib.get_close_matches(s, list(catalog.index), n=3, cutoff=0.6) for s in unknown}
        raise not_found(f"unknown series id(s): {', '.join(unknown)}", suggestions=suggestions)
    start, end = date_range(p)
    frames, notes = [], []
    for series_id in p["ids"]:
        info = catalog.loc[series_id]
        first = start or (info["first_date"] if pd.notna(info["first_date"]) else date(1900, 1, 1))
        last = end or (info["last_date"] if pd.notna(info["last_date"]) else clock.utc_today())
        raw = read(macro_reads.observations, series_id, (pd.Timestamp(first) - macro.CHART_LOOKBACK).date(), last)
        frequency = p["frequency"].upper() if p["frequency"] else None
        values, said = macro.chart_series(
            raw, series_id, p["units"], first, last, frequency, p["aggregation"], info["frequency"]
        )
        notes.extend(said)
        frames.append(pd.DataFrame({"date": values.index, "series_id": series_id, "value": values.to_numpy()}))
    frame = pd.concat(frames, ignore_index=True).sort_values(["date", "series_id"], kind="stable")
    frame["units"] = p["units"]
    sources = _sources(catalog.loc[p["ids"], "source"])
    as_of = frame["date"].max() if not frame.empty else None
    return Result(frame.reset_index(drop=True), sources, as_of, date_column="date", notes=notes)


# -- risk -------------------------------------------------------------------------------------------------------------


def risk_metrics(ctx: Context) -> Result:
    p = ctx.params
    start, end = date_range(p)
    symbols = list(dict.fromkeys([*p["symbols"], p["benchmark"]]))
    with get_engine().connect() as conn:
        _known_symbols(conn, symbols)
        wide = market.adjusted_closes(conn, symbols, start, end)
        sources = market.sources(conn, symbols)
    report = risk.risk_report(wide, p["symbols"], p["benchmark"], p["rf"])
    metrics = report["metrics"]
    if metrics.empty:
        raise bad_request(
            "not enough prices in that range for the benchmark or any ticker (at least two closes are needed)"
        )
    as_of = wide.index.max() if not wide.empty else None
    return Result(metrics, ", ".join(sources) or None, as_of)


# -- freshness and operations ---------------------------------------------------------------------------------------


def freshness(ctx: Context) -> Result:
    with get_engine().connect() as conn:
        fresh = core.freshness(conn)
        coverage = core.coverage(conn)
        quotes_at = conn.execute(sa.text("select max(ts) from intraday_quotes")).scalar_one()
        options_at = conn.execute(sa.text("select max(session_date) from option_quotes")).scalar_one()
    rows = [
        {
            "dataset": r.dataset,
            "source": r.source,
            "items": int(r.instruments),
            "rows": int(r.rows),
            "first_date": r.first_date,
            "last_date": r.last_date,
            "last_written": r.last_written,
        }
        for r in coverage.itertuples(index=False)
    ]
    data = {
        "latest_bar": fresh.as_of,
        "latest_bar_sources": fresh.sources,
        "last_successful_run": fresh.last_success,
        "latest_quote": quotes_at,
        "latest_option_session": options_at,
        "datasets": rows,
    }
    return Result(data, ", ".join(fresh.sources) or None, fresh.as_of)


def runs(ctx: Context) -> Result:
    frame = read(core.ingestion_runs, limit=ctx.params["last"])
    as_of = frame["finished_at"].max() if not frame.empty else None
    return Result(frame, None, as_of)


SYMBOLS = Param(
    "symbols", "symbols", "Comma-separated tickers, e.g. `AAPL,MSFT`.", required=True, max_items=MAX_PRICE_SYMBOLS
)
START = Param("start", "date", "First date (inclusive), YYYY-MM-DD. Default: the first stored.")
END = Param("end", "date", "Last date (inclusive), YYYY-MM-DD. Default: the last stored.")

ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "/instruments",
        "Instruments",
        "The active universe: symbol, name, asset class, sector, currency, first and last stored bar, bar sources.",
        instruments,
        tag="market",
    ),
    Endpoint(
        "/prices",
        "Daily bars",
        "Daily bars by date and symbol. `adjusted=true` (default) scales open/high/low/close by each day's "
        "adjustment factor, as the Ticker page draws them; `currency` converts at each day's FRED H.10 rate (the "
        "last earlier rate on days without one). Paged by date.",
        prices,
        (
            SYMBOLS,
            START,
            END,
            Param("adjusted", "bool", "Split- and dividend-adjusted prices.", default=True),
            Param("currency", "choice", "Display currency.", default="USD", choices=tuple(fx.SUPPORTED_CURRENCIES)),
        ),
        tag="market",
    ),
    Endpoint(
        "/quotes",
        "Latest intraday quotes",
        "The latest stored intraday quote per symbol within the last `hours` (empty when none is stored).",
        quotes,
        (
            SYMBOLS,
            Param("hours", "number", "Look back this many hours.", default=24.0, minimum=0.1, maximum=24 * 14),
        ),
        tag="market",
    ),
    Endpoint(
        "/macro/series",
        "FRED series",
        "Every active series with title, units, frequency, seasonal adjustment, stored count and range, source.",
        macro_series,
        tag="macro",
    ),
    Endpoint(
        "/macro/observations",
        "FRED observations, transformed",
        "Observations as the Macro page charts them: aggregated to `frequency` with `aggregation` first, then "
        "FRED's `units` transform (lin, chg, ch1, pch, pc1, pca, cch, cca, log) by date; gaps stay null.",
        macro_observations,
        (
            Param(
                "ids", "series_ids", "Comma-separated FRED ids, e.g. `CPIAUCSL`.", required=True, max_items=MAX_SERIES
            ),
            START,
            END,
            Param("units", "choice", "FRED units transform.", default="lin", choices=tuple(macro.UNITS)),
            Param(
                "frequency",
                "choice",
                "Aggregate to this frequency (default: as stored).",
                choices=tuple(f.lower() for f in macro.AGGREGATION_FREQUENCIES),
            ),
            Param(
                "aggregation", "choice", "How to aggregate.", default="avg", choices=tuple(macro.AGGREGATION_METHODS)
            ),
        ),
        tag="macro",
    ),
    Endpoint(
        "/risk",
        "Risk metrics",
        "The Risk page's metrics table: total return, CAGR, volatility, Sharpe, Sortino, max drawdown, Calmar, "
        "VaR/CVaR, beta and correlation to the benchmark, per ticker and for the benchmark.",
        risk_metrics,
        (
            Param("symbols", "symbols", "Comma-separated tickers.", required=True, max_items=MAX_RISK_SYMBOLS),
            Param("benchmark", "symbol", "Benchmark ticker.", default="SPY"),
            START,
            END,
            Param(
                "rf", "number", "Annual risk-free rate, decimal (0.04 = 4%).", default=0.0, minimum=-0.05, maximum=0.5
            ),
        ),
        tag="analytics",
    ),
    Endpoint(
        "/freshness",
        "Data freshness",
        "What /healthz knows about data age: the latest bar and its sources, the last successful ingestion run, "
        "the latest quote and option session, and per dataset and source the items, rows and date range.",
        freshness,
        table=False,
        tag="operations",
    ),
    Endpoint(
        "/admin/runs",
        "Ingestion runs (admins)",
        "The ingestion ledger: job, source, status, times, rows, items ok and failed, failures.",
        runs,
        (Param("last", "integer", "How many of the latest runs.", default=50, minimum=1, maximum=1000),),
        admin=True,
        tag="operations",
    ),
]

from dashboard.web.api.indices import INDEX_ENDPOINTS  # noqa: E402 - the index endpoints live in their own module

ENDPOINTS.extend(INDEX_ENDPOINTS)
