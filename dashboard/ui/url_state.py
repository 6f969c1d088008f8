"""A page's view state <-> the URL query string, so a copied link reproduces the view."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from analytics.market import CUSTOM


@dataclass(frozen=True)
class View:
    """What the Ticker page shows; it round-trips through the URL query string."""

    tickers: tuple[str, ...] = ("SPY",)
    range: str = "1Y"
    start: date | None = None  # the resolved dates; the URL carries them only for a custom range
    end: date | None = None
    chart: str = "Candlestick"
    indicators: tuple[str, ...] = ()
    adjusted: bool = True


def view_params(view: View) -> dict[str, str | list[str]]:
    """The query parameters that reproduce `view`, encoded as the pages' URL-bound widgets read them.

    Keys: t (comma-separated tickers), range, dates (two ISO dates, custom range only), chart, ind (one
    value per indicator), adj ("false" for unadjusted). Defaults are still written, so a link is explicit.
    """
    out: dict[str, str | list[str]] = {"t": ",".join(view.tickers), "range": view.range, "chart": view.chart}
    if view.range == CUSTOM and view.start and view.end:
        out["dates"] = [view.start.isoformat(), view.end.isoformat()]
    if view.indicators:
        out["ind"] = list(view.indicators)
    out["adj"] = "true" if view.adjusted else "false"
    return out


def query_string(params: Mapping[str, str | Sequence[str]]) -> str:
    """`?a=1&b=x&b=y` from view_params output (repeated keys for lists)."""
    return "?" + urlencode(params, doseq=True)


# -- Backtest page: every widget key starts with the page's prefix, so no other page's state collides. --

BACKTEST_PREFIX = "bt_"
BACKTEST_KEYS = {
    "strategy": "bt_strategy",
    "tickers": "bt_t",
    "benchmark": "bt_bench",
    "dates": "bt_dates",
    "cost": "bt_cost",
    "spread": "bt_spread",
    "risk_free": "bt_rf",
    "execution": "bt_exec",
    "sweep": "bt_sweep",
    "split": "bt_split",
}
BACKTEST_DEFAULT_TICKERS = "AAPL,MSFT,NVDA,AMZN,GOOGL,META,JPM,XOM,JNJ,UNH"


def param_key(name: str) -> str:
    """The widget (and URL) key of a strategy parameter."""
    return f"{BACKTEST_PREFIX}{name}"


def sweep_key(name: str) -> str:
    """The widget (and URL) key of the values a sweep tries for a parameter."""
    return f"{BACKTEST_PREFIX}sw_{name}"


@dataclass(frozen=True)
class BacktestView:
    """What the Backtest page runs; it round-trips through the URL query string."""

    strategy: str
    tickers: tuple[str, ...]
    start: date
    end: date
    params: tuple[tuple[str, Any], ...] = ()
    benchmark: str = "SPY"
    cost_bps: float = 5.0
    spread_bps: float = 0.0
    risk_free_pct: float = 0.0
    execution: str = "Next close"
    sweep: tuple[tuple[str, str], ...] | None = None  # parameter -> the values typed, when the sweep is on
    split_pct: int = 70


def _number(value: float) -> str:
    return str(int(value)) if isinstance(value, int) else f"{value:g}"


def backtest_params(view: BacktestView) -> dict[str, str | list[str]]:
    """The query parameters that reproduce `view`, as the Backtest page's URL-bound widgets read them."""
    k = BACKTEST_KEYS
    out: dict[str, str | list[str]] = {
        k["strategy"]: view.strategy,
        k["tickers"]: ",".join(view.tickers),
        k["benchmark"]: view.benchmark,
        k["dates"]: [view.start.isoformat(), view.end.isoformat()],
    }
    for name, value in view.params:
        out[param_key(name)] = _number(value) if isinstance(value, int | float) else str(value)
    out[k["cost"]] = _number(view.cost_bps)
    out[k["spread"]] = _number(view.spread_bps)
    out[k["risk_free"]] = _number(view.risk_free_pct)
    out[k["execution"]] = view.execution
    if view.sweep is not None:
        out[k["sweep"]] = "true"
        for name, values in view.sweep:
            out[sweep_key(name)] = values
        out[k["split"]] = str(view.split_pct)
    return out


def link_values(query: Mapping[str, Any], prefix: str) -> dict[str, list[str]]:
    """The values a link carries for one page's keys (`query`: st.query_params or a dict of lists)."""
    out = {}
    for key in list(query):
        if key.startswith(prefix):
            got = query.get_all(key) if hasattr(query, "get_all") else query[key]
            out[key] = [got] if isinstance(got, str) else [str(v) for v in got]
    return out


def _taken(raw: list[str], value: object) -> bool:
    """Whether a widget's value is what the link said (in the link's text form)."""
    if isinstance(value, tuple | list):
        return [v.isoformat() if isinstance(v, date) else str(v) for v in value] == raw
    if len(raw) != 1:
        return False
    text = raw[0]
    if isinstance(value, bool):
        return text.strip().lower() == str(value).lower()
    if isinstance(value, int | float):
        try:
            return math.isclose(float(text), float(value), rel_tol=1e-12, abs_tol=1e-12)
        except ValueError:
            return False
    if value is None:
        return text == ""
    return text == str(value)


def refused(link: Mapping[str, list[str]], values: Mapping[str, object]) -> dict[str, list[str]]:
    """The link's values that the widgets did not take (out of range, not an option, malformed)."""
    return {key: raw for key, raw in link.items() if key in values and not _taken(raw, values[key])}
