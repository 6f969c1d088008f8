"""A page's view state <-> the URL query string, so a copied link reproduces the view."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from analytics.market import CUSTOM

# -- Ticker and Risk: each page's widget keys (and URL parameters) start with its own prefix, so a ticker typed on
# one page never shows up on the other and a range chosen on one never leaks into the other's link. --

TICKER_PREFIX = "tk_"
TICKER_KEYS = {
    "tickers": "tk_t",
    "range": "tk_range",
    "dates": "tk_dates",
    "chart": "tk_chart",
    "indicators": "tk_ind",
    "adjusted": "tk_adj",
    "log": "tk_log",
}
RISK_PREFIX = "rk_"
RISK_KEYS = {
    "tickers": "rk_t",
    "benchmark": "rk_bench",
    "range": "rk_range",
    "dates": "rk_dates",
    "window": "rk_window",
    "risk_free": "rk_rf",
    "focus": "rk_focus",
    "rolling": "rk_rolling",
    "distribution": "rk_dist",
    "weights": "rk_weights",  # the portfolio's weights: Equal or Custom
    "custom_weights": "rk_pw",  # Custom weights in percent, "AAPL:40,MSFT:60" (written by the page, not a widget)
}
WEIGHT_MODES = ("Equal", "Custom")
CURRENCY_PARAM = "ccy"  # the sidebar's display currency (dashboard.ui.currency), shared by every page
# Links copied before the pages had prefixes (?t=AAPL&range=1Y): the page they were opened on reads them.
LEGACY_TICKER_KEYS = {"t": "tk_t", "range": "tk_range", "dates": "tk_dates", "chart": "tk_chart", "ind": "tk_ind",
                      "adj": "tk_adj"}  # fmt: skip
LEGACY_RISK_KEYS = {"t": "rk_t", "bench": "rk_bench", "range": "rk_range", "window": "rk_window", "rf": "rk_rf",
                    "rolling": "rk_rolling"}  # fmt: skip


def legacy_renames(query: Mapping[str, Any], legacy: Mapping[str, str]) -> dict[str, list[str]]:
    """The new keys and values of a link's unprefixed parameters (`legacy`: old -> new), when it has none of the new
    keys (a link mixing both is a new one: its old-looking keys belong to no one)."""
    if any(new in query for new in legacy.values()):
        return {}
    out = {}
    for old, new in legacy.items():
        if old in query:
            got = query.get_all(old) if hasattr(query, "get_all") else query[old]
            out[new] = [got] if isinstance(got, str) else [str(v) for v in got]
    return out


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
    currency: str = "USD"
    log_scale: bool = False  # the price axis


def view_params(view: View) -> dict[str, str | list[str]]:
    """The query parameters that reproduce `view`, encoded as the Ticker page's URL-bound widgets read them.

    Keys (TICKER_KEYS): tk_t (comma-separated tickers), tk_range, tk_dates (two ISO dates, custom range only),
    tk_chart, tk_ind (one value per indicator), tk_adj ("false" for unadjusted), tk_log ("true" for a log price
    axis, else left out); ccy when not USD. The other defaults are still written, so a link is explicit.
    """
    k = TICKER_KEYS
    out: dict[str, str | list[str]] = {k["tickers"]: ",".join(view.tickers), k["range"]: view.range}
    if view.range == CUSTOM and view.start and view.end:
        out[k["dates"]] = [view.start.isoformat(), view.end.isoformat()]
    out[k["chart"]] = view.chart
    if view.indicators:
        out[k["indicators"]] = list(view.indicators)
    out[k["adjusted"]] = "true" if view.adjusted else "false"
    if view.log_scale:  # off unless the link says so: links copied before the toggle existed stay as they were
        out[k["log"]] = "true"
    if view.currency != "USD":
        out[CURRENCY_PARAM] = view.currency
    return out


@dataclass(frozen=True)
class RiskView:
    """What the Risk page shows; it round-trips through the URL query string."""

    tickers: tuple[str, ...]
    benchmark: str = "SPY"
    range: str = "5Y"
    start: date | None = None  # the URL carries them only for a custom range
    end: date | None = None
    window: int = 63
    risk_free_pct: float | None = None  # None: the average of DGS3MO over the range
    rolling: str = "Volatility"
    focus: str | None = None
    distribution: str | None = None
    currency: str = "USD"
    weights: str = "Equal"
    custom_weights: tuple[tuple[str, float], ...] = ()  # (symbol, percent), only with weights == "Custom"


def risk_params(view: RiskView) -> dict[str, str | list[str]]:
    """The query parameters that reproduce `view`, as the Risk page's URL-bound widgets (RISK_KEYS) read them."""
    k = RISK_KEYS
    out: dict[str, str | list[str]] = {
        k["tickers"]: ",".join(view.tickers),
        k["benchmark"]: view.benchmark,
        k["range"]: view.range,
    }
    if view.range == CUSTOM and view.start and view.end:
        out[k["dates"]] = [view.start.isoformat(), view.end.isoformat()]
    out[k["window"]] = str(view.window)
    if view.risk_free_pct is not None:
        out[k["risk_free"]] = _number(view.risk_free_pct)
    out[k["rolling"]] = view.rolling
    if view.focus:
        out[k["focus"]] = view.focus
    if view.distribution:
        out[k["distribution"]] = view.distribution
    out[k["weights"]] = view.weights
    if view.weights == "Custom" and view.custom_weights:
        out[k["custom_weights"]] = weights_text(dict(view.custom_weights))
    if view.currency != "USD":
        out[CURRENCY_PARAM] = view.currency
    return out


def weights_text(percents: Mapping[str, float]) -> str:
    """Portfolio weights (symbol -> percent) as a link carries them: "AAPL:40,MSFT:35.5"."""
    return ",".join(f"{symbol}:{_number(float(value))}" for symbol, value in percents.items())


_WEIGHT_SYMBOL = re.compile(r"[A-Z0-9.=^-]{1,16}")


def parse_weights(text: str | None) -> tuple[dict[str, float], list[str]]:
    """`weights_text` read back: (symbol -> percent, the entries that are not SYMBOL:number with a finite number of 0
    or more, cut to 24 characters). Symbols are upper-cased (letters, digits and . = ^ -, at most 16); a repeated
    symbol keeps its last weight."""
    weights: dict[str, float] = {}
    bad: list[str] = []
    for entry in (text or "").split(","):
        if not entry.strip():
            continue
        symbol, sep, value = entry.partition(":")
        try:
            number = float(value) if sep else math.nan
        except ValueError:
            number = math.nan
        if not _WEIGHT_SYMBOL.fullmatch(symbol.strip().upper()) or not math.isfinite(number) or number < 0:
            bad.append(entry.strip()[:24])
            continue
        weights[symbol.strip().upper()] = number
    return weights, bad


# -- Peers page: keyed pe_* and bound to the URL. --

PEERS_PREFIX = "pe_"
PEERS_KEYS = {"tickers": "pe_t", "range": "pe_range", "dates": "pe_dates"}


@dataclass(frozen=True)
class PeersView:
    """What the Peers page shows; it round-trips through the URL query string."""

    tickers: tuple[str, ...]
    range: str = "1Y"
    start: date | None = None  # the URL carries them only for a custom range
    end: date | None = None
    currency: str = "USD"


def peers_params(view: PeersView) -> dict[str, str | list[str]]:
    """The query parameters that reproduce `view`, as the Peers page's URL-bound widgets (PEERS_KEYS) read them."""
    k = PEERS_KEYS
    out: dict[str, str | list[str]] = {k["tickers"]: ",".join(view.tickers), k["range"]: view.range}
    if view.range == CUSTOM and view.start and view.end:
        out[k["dates"]] = [view.start.isoformat(), view.end.isoformat()]
    if view.currency != "USD":
        out[CURRENCY_PARAM] = view.currency
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


def unbounded_number(text: object) -> bool:
    """True for a URL value that reads as an infinite or NaN number ("inf", "-Infinity", "nan"): Streamlit's integer
    number_input raises on such a bound value (OverflowError) rather than refusing it."""
    try:
        return not math.isfinite(float(str(text)))
    except ValueError:
        return False


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


# -- Macro page: its widgets are keyed macro_* (beta_* on the stock-vs-macro tab) and all bound to the URL. --

MACRO_PREFIXES = ("macro_", "beta_")
MACRO_FORMULA_SLOTS = 4


def macro_units_key(line: str) -> str:
    """The widget (and URL) key of a chart line's transformation: `line` is a series id or a formula key."""
    return f"macro_u_{line}"


def macro_axis_key(line: str) -> str:
    """The widget (and URL) key of a chart line's axis (auto, left, right)."""
    return f"macro_ax_{line}"


def macro_formula_key(slot: int) -> str:
    """The widget (and URL) key of formula line `slot` (1-based)."""
    return f"macro_f{slot}"


def url_text(value: object) -> str | list[str]:
    """A widget's value as a bound URL parameter carries it (dates ISO, booleans true/false, lists repeated)."""
    if isinstance(value, tuple | list):
        # An empty parameter is how a link clears a multi-choice widget (no parameter would mean its default).
        return [str(url_text(item)) for item in value] if value else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return _number(value)
    return "" if value is None else str(value)


def link_params(values: Mapping[str, object], prefixes: Sequence[str]) -> dict[str, str | list[str]]:
    """The query parameters that reproduce a page whose bound widgets took `values` (widget key -> value, as
    `url_text` writes it); only keys with one of `prefixes`. Defaults are written too, so a link is explicit."""
    return {key: url_text(value) for key, value in values.items() if key.startswith(tuple(prefixes))}


def link_values_of(query: Mapping[str, Any], prefixes: Sequence[str]) -> dict[str, list[str]]:
    """`link_values` for a page whose keys have several prefixes."""
    out: dict[str, list[str]] = {}
    for prefix in prefixes:
        out.update(link_values(query, prefix))
    return out


# -- Overview page: filters and sort, keyed ov_* and bound to the URL. --

OVERVIEW_PREFIX = "ov_"
OVERVIEW_KEYS = {"asset_classes": "ov_ac", "sectors": "ov_sector", "sort": "ov_sort", "descending": "ov_desc"}


# -- Screener page: filters, sort and the extra filter rows, keyed sc_* and bound to the URL. --

SCREENER_PREFIX = "sc_"
SCREENER_KEYS = {
    "sectors": "sc_sector",
    "sma_50": "sc_sma50",
    "sma_200": "sc_sma200",
    "sort": "sc_sort",
    "descending": "sc_desc",
}
# The columns filtered by a minimum and a maximum (analytics.screener's names), each with two bound number inputs.
SCREENER_RANGES = ("market_cap", "chg_1d", "chg_1m", "chg_ytd", "from_high_52w", "volatility_3m", "rsi_14")
SCREENER_EXTRA_SLOTS = 3  # "More filters": rows of (any numeric column, operator, typed value)


def screener_range_keys(column: str) -> tuple[str, str]:
    """The widget (and URL) keys of a range filter's minimum and maximum."""
    return f"sc_{column}_min", f"sc_{column}_max"


def screener_extra_keys(slot: int) -> tuple[str, str, str]:
    """The widget (and URL) keys of extra filter row `slot` (1-based): column, operator, value."""
    return f"sc_x{slot}_col", f"sc_x{slot}_op", f"sc_x{slot}_val"


def page_link(page_url: str | None, query: Mapping[str, str | Sequence[str]]) -> str:
    """The address to share: the page's URL (any query it had replaced by `query`); relative when unknown."""
    base = (page_url or "").split("?", 1)[0].split("#", 1)[0]
    return base + (query_string(query) if query else "")
