"""The Risk page's cached loaders, per symbol: what every list holding a symbol shares is computed once.

Cached per list of tickers, a list that differs by one ticker (another session, a ticker added) would compute all
thirty again. Here a symbol's metrics against the benchmark and its
rolling statistics are cached on their own, keyed by the data version and the days the symbol has prices in the
range (lists with other Max ranges share them too), and computed from the list's closes (one read per list,
loaders.adjusted_closes): the same functions on the same closes, so the same numbers as analytics.risk's
risk_report / rolling_table on the whole list. The tables of a list are assembled from them (analytics.risk's
`*_of` arguments) and cached in turn.
The page's figures are shared the same way (dashboard.ui.shared_figures): built once per view, not at every run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics import risk
from dashboard.ui import risk_figures
from dashboard.ui.loaders import SMALL, TTL, adjusted_closes, symbol_spans

PER_SYMBOL = 512  # small entries (a dict, or a series of a few thousand days, ~30 KB): symbols x ranges x windows
PER_LIST = 32


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def _spans(version: int) -> dict[str, tuple[date, date]]:
    """Per stored symbol, its first and last bar date."""
    rows = symbol_spans(version)
    return {
        str(s): (pd.Timestamp(first).date(), pd.Timestamp(last).date())
        for s, first, last in zip(rows["symbol"], rows["first"], rows["last"], strict=True)
    }


def _keys(version: int, start: date, end: date) -> Callable[[str], str]:
    """symbol -> "first..last": [start, end] narrowed to the days the symbol has bars (none lies outside them, so
    its closes, and all computed from them, are the same for any list holding it). A string: hashed 10x faster."""
    spans = _spans(version)

    def key(symbol: str) -> str:
        first, last = spans.get(symbol, (start, end))
        lo, hi = max(start, first), min(end, last)
        return f"{lo}..{hi}" if lo <= hi else f"{start}..{end}"

    return key


# Per symbol: `_wide` (underscore: not hashed) holds the symbol's closes over its keyed days, and the benchmark's.


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=PER_SYMBOL)
def _metrics(
    version: int, symbol: str, days: str, benchmark: str, bench_days: str, risk_free: float, _wide: pd.DataFrame
) -> dict[str, float]:
    return risk.risk_metrics(_wide[symbol], _wide[benchmark], risk_free=risk_free)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=PER_SYMBOL)
def _rolling(
    version: int,
    kind: str,
    symbol: str,
    days: str,
    benchmark: str,
    bench_days: str,
    window: int,
    risk_free: float,
    _wide: pd.DataFrame,
) -> pd.Series:
    bench = _wide[benchmark] if benchmark else pd.Series(dtype="float64")
    return risk.rolling_column(kind, _wide[symbol], bench, window, risk_free)


# What list_tables gives risk_report for a ticker's drawdowns: it keeps their columns only (`drawdowns` computes them
# when the chart is built).
_NO_DRAWDOWNS = pd.Series(dtype="float64")


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=PER_LIST)
def list_tables(
    version: int, tickers: tuple[str, ...], benchmark: str, start: date, end: date, risk_free: float
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """analytics.risk.risk_report of the list: its small tables (metrics, correlation), from the per-symbol metrics,
    and the columns of its large ones (prices, drawdowns). Those two, each as large as the list's history, are not
    cached a second time per list (0.8 MiB of each list's 30 tickers over seven years, measured): the list's prices
    are its columns of the cached closes, its drawdowns `drawdowns` of them, computed only when a figure needs them
    (`drawdown_figure`), not at every run."""
    wide, key = adjusted_closes(version, [*tickers, benchmark], start, end), _keys(version, start, end)
    report = risk.risk_report(
        wide,
        list(tickers),
        benchmark,
        risk_free,
        metrics_of=lambda s: _metrics(version, s, key(s), benchmark, key(benchmark), risk_free, wide),
        drawdown_of=lambda t: _NO_DRAWDOWNS,
    )
    return report["metrics"], report["correlation"], list(report["prices"].columns), list(report["drawdowns"].columns)


def drawdowns(wide: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """risk_report's drawdowns of `columns` (list_tables' last item) from the list's closes `wide`."""
    return pd.DataFrame({t: risk.drawdown_series(wide[t]) for t in columns}) if columns else pd.DataFrame()


def drawdown_figure(wide: pd.DataFrame, columns: list[str], focus: str | None = None) -> go.Figure:
    """risk_figures.drawdown_figure of `drawdowns(wide, columns)`: for a shared figure, the drawdowns are computed
    when it is built."""
    return risk_figures.drawdown_figure(drawdowns(wide, columns), focus=focus)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=PER_LIST)
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
    """analytics.risk.rolling_table of the list, from the per-symbol rolling statistics."""
    wide, key = adjusted_closes(version, [*tickers, benchmark], start, end), _keys(version, start, end)
    # Only beta reads the benchmark and only Sharpe the rate: the others' entries are shared across both.
    bench = benchmark if kind == "beta" else ""
    rf = risk_free if kind == "sharpe" else 0.0
    return risk.rolling_table(
        kind,
        wide,
        list(tickers),
        benchmark,
        window,
        risk_free,
        column_of=lambda t: _rolling(version, kind, t, key(t), bench, key(bench) if bench else "", window, rf, wide),
    )
