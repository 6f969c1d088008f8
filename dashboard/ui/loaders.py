"""Cached loaders for the pages: store reads and analytics behind `st.cache_data`, keyed on the data version.

Every loader takes `version` (the id of the latest finished ingestion run, `data_version()`), so a new run
invalidates cached results at once; the TTL bounds staleness for anything else, and `max_entries` bounds
memory. Nothing here is computed that a read or an analytics function does not already define: this module
only decides what is cached and for how long.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import date
from typing import TypeVar

import pandas as pd
import streamlit as st

from analytics import formulas, macro, market, peers, portfolio, risk
from analytics import freshness as freshness_rules
from ingestion import queue_reads
from store import calendar, clock, saved_views, universe
from store import watchlists as watchlist_store
from store.db import get_engine
from store.reads import core, quality, workers
from store.reads import index as index_reads
from store.reads import macro as macro_reads
from store.reads import market as market_reads
from store.settings import get_settings

T = TypeVar("T")

TTL = get_settings().cache_ttl_seconds
# Quotes change minute by minute and are written outside ingestion runs: a short TTL of their own.
QUOTES_TTL = 15
SMALL, LARGE = 16, 64  # max_entries: few distinct keys for whole-universe reads, more for per-view ones


def read(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run a store read on a fresh connection from the process-wide engine."""
    with get_engine().connect() as conn:
        return fn(conn, *args, **kwargs)


def data_version() -> int:
    """Id of the latest finished ingestion run (0 when none); cheap, so it is not cached."""
    return read(core.data_version)


# -- core ---------------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def instruments(version: int) -> pd.DataFrame:
    return read(core.instruments)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def recent_closes(version: int, days: int = 400) -> pd.DataFrame:
    return read(core.recent_closes, days)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def freshness(version: int) -> dict:
    return read(core.freshness).as_dict()


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def coverage(version: int) -> pd.DataFrame:
    return read(core.coverage)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def ingestion_runs(
    version: int,
    limit: int = 50,
    job: str | None = None,
    provider: str | None = None,
    status: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    return read(core.ingestion_runs, limit, job=job, provider=provider, status=status, start=start, end=end)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def symbol_spans(version: int) -> pd.DataFrame:
    return read(core.symbol_spans)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def symbol_dates(version: int) -> pd.DataFrame:
    """store.reads.core.symbol_dates: symbol_spans' first and last dates without its pass over every bar."""
    return read(core.symbol_dates)


@st.cache_data(ttl=5, show_spinner=False, max_entries=4)
def worker_status() -> pd.DataFrame:
    """Workers seen in the last day, newest beat first (a short TTL: heartbeats are live state)."""
    states = read(workers.worker_states, get_settings().worker_heartbeat_seconds)
    rows = [
        {
            "worker": w.worker_id,
            "host": w.hostname,
            "pid": w.pid,
            "status": w.status,
            "current_job": w.current_job,
            "last_beat_s_ago": round(w.beat_age_seconds),
            "started_at": w.started_at,
            # One readable cell instead of a JSON object: "prices 2026-11-25T22:15:00+00:00, quotes ...".
            "next_runs": ", ".join(f"{job} {at}" for job, at in sorted((w.details.get("next_runs") or {}).items())),
        }
        for w in states
    ]
    columns = ["worker", "host", "pid", "status", "current_job", "last_beat_s_ago", "started_at", "next_runs"]
    return pd.DataFrame(rows, columns=columns)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=2)
def disabled_providers() -> dict[str, str]:
    """Provider name -> why it is off (a missing API key ...), from the settings; no secret is ever included."""
    from ingestion.providers.registry import disabled_providers as reasons

    return reasons(get_settings())


# -- market -------------------------------------------------------------------------------------------


def bars(version: int, symbols: Iterable[str], start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Daily bars of `symbols` (validated: ValueError on a malformed symbol or range)."""
    market_reads.check_dates(start, end)
    return _bars(version, market_reads.clean_symbols(symbols), start, end)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def _bars(version: int, symbols: tuple[str, ...], start: date | None, end: date | None) -> pd.DataFrame:
    return read(market_reads.bars, symbols, start, end)


def adjusted_closes(
    version: int, symbols: Iterable[str], start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    market_reads.check_dates(start, end)
    return _adjusted_closes(version, market_reads.clean_symbols(symbols), start, end)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def _adjusted_closes(version: int, symbols: tuple[str, ...], start: date | None, end: date | None) -> pd.DataFrame:
    return read(market_reads.adjusted_closes, symbols, start, end)


def corporate_actions(
    version: int, symbols: Iterable[str], start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    market_reads.check_dates(start, end)
    return _corporate_actions(version, market_reads.clean_symbols(symbols), start, end)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def _corporate_actions(version: int, symbols: tuple[str, ...], start: date | None, end: date | None) -> pd.DataFrame:
    return read(market_reads.corporate_actions, symbols, start, end)


def latest_quotes(symbols: Iterable[str], since_hours: float = 24.0) -> pd.DataFrame:
    """The latest intraday quote per symbol within the last `since_hours`."""
    since = market_reads.quote_window_start(clock.now(), float(since_hours))
    return _latest_quotes(market_reads.clean_symbols(symbols), since.replace(second=0, microsecond=0))


@st.cache_data(ttl=QUOTES_TTL, show_spinner=False, max_entries=SMALL)
def _latest_quotes(symbols: tuple[str, ...], since) -> pd.DataFrame:  # noqa: ANN001 - a datetime, cache key
    return read(market_reads.latest_quotes, symbols, since)


@st.cache_data(ttl=QUOTES_TTL, show_spinner=False, max_entries=2)
def quotes_stored() -> bool:
    return read(market_reads.quotes_stored)


def sources(version: int, symbols: Iterable[str]) -> list[str]:
    """The distinct sources of the stored bars of `symbols` (market_reads.sources), remembered per symbol: a list
    that shares most of its symbols with one read before (another session's, a ticker added) reads only the others.
    Reading a list's sources scans its bars (about 50 ms for 30 symbols)."""
    cleaned = market_reads.clean_symbols(symbols)
    known = _sources_by_symbol(version)
    missing = [s for s in cleaned if s not in known]
    if missing:
        found = read(market_reads.sources_by_symbol, missing)
        known.update({s: found.get(s, ()) for s in missing})  # one update: atomic for the other sessions' threads
    return sorted({source for s in cleaned for source in known[s]})


@st.cache_resource(ttl=TTL, show_spinner=False, max_entries=SMALL)
def _sources_by_symbol(version: int) -> dict[str, tuple[str, ...]]:
    """Per data version, the sources found so far, by symbol (filled by `sources`; one dict every session shares)."""
    return {}


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def ticker_frames(
    version: int, tickers: tuple[str, ...], adjusted: bool, start: date, end: date, chosen: tuple[str, ...]
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """analytics.market.ticker_frames over the whole stored history of `tickers`."""
    return market.ticker_frames(bars(version, tickers), tickers, adjusted, start, end, chosen)


class _NotCached(Exception):
    """A symbol's whole view is not in the cache (ticker_view asks the cache first, reading nothing)."""


def _not_cached(symbol: str) -> pd.DataFrame:
    raise _NotCached(symbol)


# Per symbol (not per list of tickers): sessions comparing overlapping lists share each symbol's entry. `_bars`
# gives the symbol's bars on a cache miss (not part of the key).
@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def _whole_view(
    version: int, symbol: str, adjusted: bool, chosen: tuple[str, ...], _bars: Callable[[str], pd.DataFrame]
) -> market.TickerView:
    return market.whole_view(_bars(symbol), symbol, adjusted, chosen, QUOTE_HISTORY_DAYS)


def ticker_view(
    version: int, tickers: tuple[str, ...], adjusted: bool, start: date, end: date, chosen: tuple[str, ...]
) -> market.TickerView:
    """analytics.market.ticker_view over the whole stored history of `tickers`: each symbol's whole view (its bars
    and its indicators) cached on its own, so another range, or another list sharing the symbol, reads and computes
    nothing; the views are joined and sliced to the range per run. The symbols not in the cache are read together,
    in one COPY (one read per symbol took twice as long on a first view of 5 tickers)."""
    symbols = tuple(dict.fromkeys(tickers))
    views: dict[str, market.TickerView] = {}
    for t in symbols:
        with contextlib.suppress(_NotCached):
            views[t] = _whole_view(version, t, adjusted, chosen, _not_cached)
    missing = tuple(t for t in symbols if t not in views)
    if missing:
        bars = read(market_reads.bars_through_copy, missing)
        own = {s: f.reset_index(drop=True) for s, f in bars.groupby("symbol", sort=False)}
        none = bars.iloc[:0]
        for t in missing:
            views[t] = _whole_view(version, t, adjusted, chosen, lambda s: own.get(s, none))
    return market.join_views(views, tickers, start, end)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def portfolio_tables(
    version: int,
    weights: tuple[tuple[str, float], ...],
    benchmark: str,
    start: date,
    end: date,
    risk_free: float,
) -> dict:
    """analytics.portfolio.portfolio_report of the holdings (`weights`: symbol, fraction) against the benchmark.

    PortfolioError (a ValueError) when the weights or the holdings' common days do not make a portfolio."""
    checked = portfolio.check_weights(dict(weights))
    wide = adjusted_closes(version, [*checked.index, benchmark], start, end)
    return portfolio.portfolio_report(wide, checked, benchmark, risk_free)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def peer_comparison(version: int, symbols: tuple[str, ...], start: date, end: date) -> peers.Peers:
    """analytics.peers.compare on the adjusted closes of `symbols` (PeersError when they cannot be compared)."""
    return peers.compare(adjusted_closes(version, symbols, start, end).reindex(columns=list(symbols)))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def risk_free_rate(version: int, start: date, end: date) -> float | None:
    """The Risk page's default risk-free rate: the average of DGS3MO from `start` to `end` as an annual fraction
    (analytics.risk.average_rate); None when no observation of it is stored in the range."""
    return risk.average_rate(observations(version, risk.RISK_FREE_SERIES, start, end), start, end)


# The calendar is fixed for an installed exchange_calendars, but a day bounds how long an entry outlives its use.
@st.cache_data(ttl=24 * 3600, show_spinner=False, max_entries=LARGE)
def market_holidays(start: date, end: date) -> tuple[date, ...]:
    """Weekdays from `start` to `end` on which the NYSE did not trade (store.calendar): what a daily chart skips.

    From the exchange calendar, not the database, so no data version: a holiday does not change after a run.
    Days before the calendar's first session are not judged (it would call every one of them a holiday).
    """
    weekdays = pd.bdate_range(max(pd.Timestamp(start), calendar.trading_calendar().first_session), end)
    return tuple(d.date() for d in weekdays.difference(calendar.sessions_between(start, end)))


# -- the Ticker page's quote header ----------------------------------------------------------------------
# A year of bars for the 52-week range, plus room for the average volume and holidays.
QUOTE_HISTORY_DAYS = 400


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def quote_prices(version: int, symbol: str, adjusted: bool, last: date) -> tuple[pd.DataFrame, dict[str, str]]:
    """`symbol`'s displayed daily prices over the QUOTE_HISTORY_DAYS to `last` (its latest stored bar), whatever range
    the chart shows, and the unadjusted-fallback note (analytics.market.ticker_frames)."""
    start = date.fromordinal(last.toordinal() - QUOTE_HISTORY_DAYS)
    frames, notes = market.ticker_frames(bars(version, [symbol], start, last), (symbol,), adjusted, start, last)
    return frames[symbol], notes


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def published_shares(version: int, symbol: str, as_of: date) -> pd.DataFrame:
    """`symbol`'s share counts public on or before `as_of` (store.reads.index.shares_published), every source."""
    return read(index_reads.shares_published, [symbol], as_of)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def key_statistics(version: int, symbol: str, as_of: date) -> dict | None:
    """`symbol`'s latest key statistics seen on or before `as_of` (store.reads.market.key_statistics) as a dict,
    None when none are stored."""
    frame = read(market_reads.key_statistics, [symbol], as_of)
    return None if frame.empty else frame.iloc[0].to_dict()


# -- macro --------------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def series_catalog(version: int) -> pd.DataFrame:
    return read(macro_reads.series_catalog)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def observations(version: int, series_id: str, start: date | None = None, end: date | None = None) -> pd.Series:
    return read(macro_reads.observations, series_id, start, end)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def yields(version: int, start: date | None = None) -> pd.DataFrame:
    """Every stored constant-maturity Treasury series (DGS1MO ... DGS30) as columns, by date."""
    return read(macro_reads.wide_observations, list(macro.TENOR_SERIES), start)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def closes(version: int, symbol: str) -> pd.Series:
    return read(macro_reads.closes, symbol)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
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
    """analytics.macro.chart_series on the stored values from CHART_LOOKBACK before `start`."""
    raw = observations(version, series_id, (pd.Timestamp(start) - macro.CHART_LOOKBACK).date(), end)
    return macro.chart_series(raw, series_id, units, start, end, frequency, how, stored_frequency)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def formula_series(
    version: int,
    text: str,
    units: str,
    start: date,
    end: date,
    frequency: str | None = None,
    how: str = "avg",
) -> tuple[pd.Series, list[str]]:
    """analytics.formulas.chart_formula of `text` on every stored value (to `end`) of the series it names.

    FormulaError (a ValueError) for a bad formula or a series id that is not stored."""
    node = formulas.parse(text)
    catalog = series_catalog(version)
    stored = dict(zip(catalog["series_id"], catalog["frequency"], strict=True))
    data = {sid: observations(version, sid, None, end) for sid in formulas.series_ids(node) if sid in stored}
    return formulas.chart_formula(node, data, text.strip(), units, start, end, frequency, how, stored)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def yield_curves(version: int, months_back: tuple[int, ...] = (0, 6, 12)) -> pd.DataFrame:
    return macro.yield_curves(yields(version), months_back)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def spreads(version: int, start: date | None = None) -> dict[str, pd.Series]:
    return macro.spreads(observations(version, "T10Y2Y", start), yields(version, start))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def inversions(version: int, start: date | None, min_sessions: int) -> pd.DataFrame:
    """analytics.macro.inversion_table of the spreads since `start` (see `spreads`)."""
    return macro.inversion_table(spreads(version, start), min_sessions)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def macro_beta(version: int, symbol: str, series_id: str, window: int) -> pd.DataFrame:
    """Rolling correlation and beta of `symbol`'s daily returns on daily changes of `series_id`."""
    return macro.rolling_macro_beta(closes(version, symbol), observations(version, series_id), window)


# -- watchlists (per-user state: not cached, they change on a click) ----------------------------------


def watchlists(username: str | None) -> list[watchlist_store.Watchlist]:
    return watchlist_store.lists_for(get_engine(), username)


def save_watchlist(
    username: str, name: str, symbols: Iterable[str], known: Iterable[str] | None = None
) -> watchlist_store.Watchlist:
    return watchlist_store.save(get_engine(), username, name, symbols, known)


def delete_watchlist(username: str, name: str) -> bool:
    return watchlist_store.delete(get_engine(), username, name)


# -- saved portfolios (per-user state in saved_views, kind "portfolio": not cached, they change on a click) ----------

PORTFOLIO_KIND = "portfolio"


def portfolio_names(username: str) -> list[str]:
    return read(saved_views.names, username, PORTFOLIO_KIND)


def saved_portfolio(username: str, name: str) -> pd.Series:
    """The weights (fractions, in the saved order) of `username`'s portfolio `name`; PortfolioError when it is gone
    or malformed."""
    found = read(saved_views.get, username, PORTFOLIO_KIND, name)
    if found is None:
        raise portfolio.PortfolioError(f"no saved portfolio named {name}")
    return portfolio.weights_from_definition(found)


def save_portfolio(username: str, name: str, weights: pd.Series) -> str:
    """Save (or replace) `username`'s portfolio `name`; returns the name as saved. SavedViewError (a ValueError)
    when it cannot be saved."""
    definition = portfolio.definition(portfolio.check_weights(weights.to_dict()))
    with get_engine().begin() as conn:
        return saved_views.save(conn, username, PORTFOLIO_KIND, name, definition)


def delete_portfolio(username: str, name: str) -> bool:
    with get_engine().begin() as conn:
        return saved_views.delete(conn, username, PORTFOLIO_KIND, name)


# -- data health (a short TTL where the state is live: the queue, progress) ---------------------------------


def expected_session() -> date:
    """The NYSE session whose bars should be stored by now (BARS_GRACE_HOURS after its close)."""
    return quality.expected_session(clock.now(), get_settings().bars_grace_hours)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def bar_freshness(version: int, expected: date) -> pd.DataFrame:
    """Per active symbol: last bar, expected session, sessions behind, status; stale first."""
    coverage, symbols = read(quality.bar_coverage), read(core.active_symbols)
    first = coverage["last_date"].min() if not coverage.empty else pd.NaT
    start = min(first.date(), expected) if not pd.isna(first) else expected
    sessions = calendar.sessions_between(start, expected)
    return freshness_rules.stale_first(freshness_rules.bar_freshness(coverage, expected, sessions, symbols))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def series_freshness(version: int, today: date) -> pd.DataFrame:
    """Per active FRED series: last observation, the one expected by now, days late, status; stale first."""
    return freshness_rules.stale_first(freshness_rules.series_freshness(read(quality.series_last_observations), today))


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def missing_sessions(
    version: int, symbols: tuple[str, ...] | None = None, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    return read(quality.missing_sessions, list(symbols) if symbols else None, start, end)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def quarantined(version: int, limit: int = 500) -> pd.DataFrame:
    return read(quality.quarantined, limit)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def flagged_jumps(version: int, limit: int = 500) -> pd.DataFrame:
    return read(quality.flagged_jumps, limit)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def symbols_without_data(version: int) -> list[str]:
    return read(quality.symbols_without_data)


@st.cache_data(ttl=5, show_spinner=False, max_entries=4)
def universe_entries(kind: str) -> pd.DataFrame:
    return pd.DataFrame(read(universe.entries, kind), columns=["id", "name", "active", "source", "updated_at"])


@st.cache_data(ttl=2, show_spinner=False, max_entries=4)
def queue_depth() -> pd.DataFrame:
    return pd.DataFrame(read(queue_reads.queue_depth), columns=["task_name", "status", "tasks", "oldest_seconds"])


@st.cache_data(ttl=2, show_spinner=False, max_entries=4)
def failed_tasks(limit: int = 50) -> pd.DataFrame:
    columns = ["queue_job_id", "task_name", "attempts", "failed_at", "task_id", "message", "requested_by"]
    return pd.DataFrame(read(queue_reads.failed_tasks, limit), columns=columns)


@st.cache_data(ttl=2, show_spinner=False, max_entries=4)
def recent_tasks(limit: int = 100) -> pd.DataFrame:
    columns = [
        "id", "task", "state", "queue_status", "requested_by", "done", "total", "rows_written", "step", "message",
        "created_at", "started_at", "finished_at", "attempts", "queue_job_id", "run_id", "params",
    ]  # fmt: skip
    return pd.DataFrame(read(queue_reads.recent_tasks, limit), columns=columns)


def task(task_id: int) -> dict | None:
    """One task's progress record, read fresh (a page polls it every second)."""
    found = read(queue_reads.recent_tasks, 1, task_id=task_id)
    return found[0] if found else None


def clear_all() -> None:
    """Drop every cached result (tests; after an admin change that data_version does not see)."""
    st.cache_data.clear()
