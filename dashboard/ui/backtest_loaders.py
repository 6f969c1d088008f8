"""The Backtest page's strategy registry (label -> parameters and runner) and its cached runs over stored prices.

`STRATEGIES` maps the label shown on the page to a `Strategy`: its parameters (the widgets the page draws)
and a runner, `run(request) -> BacktestResult`. The named strategies of `analytics.backtest` run on the
adjusted closes of the chosen tickers; another entry (e.g. a saved index) only needs a label, its
parameters and a runner of its own (a sweeper too, if it has parameters worth sweeping).

Every cached function takes the data version (inside the request), so a new ingestion run invalidates it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from analytics import market
from analytics.backtest import BacktestResult, backtest, parameter_sweep, strategy_defaults
from dashboard.ui import loaders
from store import clock
from store.identifiers import SYMBOL

TTL = loaders.TTL
MAX_TICKERS = 100
MAX_SWEEP_COMBINATIONS = 400  # a 20 x 20 grid
EXECUTIONS = {"Next close": "close", "Next open": "open"}


# -- the registry -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One strategy parameter as the page asks for it (a number input, or a choice among `options`)."""

    name: str  # the keyword the runner takes; the widget's key is derived from it (url_state.param_key)
    label: str
    kind: str = "int"  # "int", "float" or "choice"
    low: float = 1
    high: float = 500
    step: float = 1
    options: Mapping[str, str] = field(default_factory=dict)  # choice: value -> what the page (and URL) shows
    help: str | None = None
    sweep: str = ""  # the values a sweep tries by default, comma-separated ("": the parameter's current value)

    @property
    def sweepable(self) -> bool:
        return self.kind in ("int", "float")

    def shown(self, value: Any) -> Any:
        """`value` as the page's widget shows it (and the URL carries it)."""
        return self.options.get(value, value) if self.kind == "choice" else value


@dataclass(frozen=True)
class BacktestRequest:
    """Everything one run depends on; hashable, so it is the cache key of a run."""

    version: int
    strategy: str  # a label in STRATEGIES
    tickers: tuple[str, ...]
    start: date
    end: date
    params: tuple[tuple[str, Any], ...] = ()
    benchmark: str | None = "SPY"
    cost_bps: float = 0.0
    spread_bps: float = 0.0
    execution: str = "close"  # "close" or "open"
    risk_free: float = 0.0  # annual, a fraction


Runner = Callable[[BacktestRequest], BacktestResult]
Sweeper = Callable[[BacktestRequest, Mapping[str, Sequence[Any]], float], pd.DataFrame]


@dataclass(frozen=True)
class Strategy:
    """A strategy the page offers: what it is, its parameters and how it runs (and sweeps)."""

    label: str
    description: str
    params: tuple[Param, ...]
    run: Runner
    sweep: Sweeper | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def default(self, name: str) -> Any:
        return self.defaults[name]

    @property
    def sweepable(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.sweepable)


@dataclass(frozen=True)
class PriceInputs:
    """Adjusted closes (sessions x tickers), adjusted opens when every ticker has them, and those that lack them."""

    closes: pd.DataFrame
    opens: pd.DataFrame | None
    lacking_opens: tuple[str, ...]


def price_inputs_from_bars(bars: pd.DataFrame, tickers: Sequence[str]) -> PriceInputs:
    """Wide adjusted closes and opens (open x adj_close / close) from long daily bars, columns in `tickers` order.

    A ticker whose bars lack an open or a raw close on any session (a source that stores adjusted closes
    only) cannot trade at the open: it is listed in `lacking_opens` and `opens` is None. A ticker without
    bars is an empty column (the backtest names it).
    """
    columns = pd.Index(list(tickers), name="symbol")
    if bars.empty:
        empty = pd.DataFrame(index=pd.DatetimeIndex([], name="date"), columns=columns, dtype="float64")
        return PriceInputs(empty, None, ())
    frame = bars.assign(date=pd.to_datetime(bars["date"]))
    numbers = {c: pd.to_numeric(frame[c], errors="coerce").astype("float64") for c in ("open", "close", "adj_close")}
    frame = frame.assign(**numbers, adj_open=numbers["open"] * numbers["adj_close"] / numbers["close"])
    closes = frame.pivot(index="date", columns="symbol", values="adj_close").sort_index()
    closes = closes.reindex(columns=columns).astype("float64")
    closes.index = pd.DatetimeIndex(closes.index, name="date")
    has_open = np.isfinite(frame["adj_open"]) & (frame["adj_open"] > 0)
    complete = has_open.groupby(frame["symbol"]).all()
    lacking = tuple(t for t in tickers if not bool(complete.get(t, True)))  # a ticker without bars lacks nothing
    if lacking:
        return PriceInputs(closes, None, lacking)
    opens = frame.pivot(index="date", columns="symbol", values="adj_open").reindex(index=closes.index, columns=columns)
    return PriceInputs(closes, opens.astype("float64"), ())


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def price_inputs(version: int, tickers: tuple[str, ...], start: date, end: date) -> PriceInputs:
    """The stored prices a backtest of `tickers` over [start, end] runs on."""
    return price_inputs_from_bars(loaders.bars(version, tickers, start, end), tickers)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def benchmark_closes(version: int, symbol: str, start: date, end: date) -> pd.Series | None:
    """The benchmark's adjusted closes over [start, end], or None when it has fewer than two."""
    wide = loaders.adjusted_closes(version, [symbol], start, end)
    if symbol not in wide or wide[symbol].notna().sum() < 2:
        return None
    return wide[symbol].dropna().rename(symbol)


def _benchmark(request: BacktestRequest) -> pd.Series | None:
    if not request.benchmark:
        return None
    return benchmark_closes(request.version, request.benchmark, request.start, request.end)


def _named(code: str) -> Runner:
    """A runner for `analytics.backtest`'s strategy `code` on the chosen tickers' adjusted closes."""

    def run(request: BacktestRequest) -> BacktestResult:
        inputs = price_inputs(request.version, request.tickers, request.start, request.end)
        return backtest(
            inputs.closes,
            code,
            cost_bps=request.cost_bps,
            spread_bps=request.spread_bps,
            execution=request.execution,
            opens=inputs.opens if request.execution == "open" else None,
            benchmark=_benchmark(request),
            risk_free=request.risk_free,
            **dict(request.params),
        )

    return run


def _named_sweep(code: str) -> Sweeper:
    def sweep(request: BacktestRequest, grid: Mapping[str, Sequence[Any]], split: float) -> pd.DataFrame:
        inputs = price_inputs(request.version, request.tickers, request.start, request.end)
        fixed = {k: v for k, v in request.params if k not in grid}
        return parameter_sweep(
            inputs.closes,
            code,
            dict(grid),
            split,
            cost_bps=request.cost_bps,
            spread_bps=request.spread_bps,
            execution=request.execution,
            opens=inputs.opens if request.execution == "open" else None,
            risk_free=request.risk_free,
            **fixed,
        )

    return sweep


# Parameters shared by two strategies are one object, so their widgets (and URL keys) are one too.
LOOKBACK = Param("lookback", "Lookback (months)", low=1, high=120, sweep="3,6,9,12")
SKIP = Param("skip", "Skip (most recent months)", low=0, high=119, help="12-1 momentum: lookback 12, skip 1.")


def _strategy(label: str, code: str, description: str, params: tuple[Param, ...] = ()) -> Strategy:
    return Strategy(
        label, description, params, _named(code), _named_sweep(code) if params else None, strategy_defaults(code)
    )


STRATEGIES: dict[str, Strategy] = {
    s.label: s
    for s in (
        _strategy(
            "Buy and hold",
            "buy_and_hold",
            "Each ticker gets an equal share of the capital at the first close (or open) and keeps it; no rebalancing.",
        ),
        _strategy(
            "SMA crossover",
            "sma_crossover",
            "Per ticker: long while the fast simple moving average is above the slow one, else in cash; equal "
            "sleeves of the capital, never rebalanced against each other.",
            (
                Param("fast", "Fast SMA (sessions)", low=1, high=400, sweep="5,10,20,30,50"),
                Param("slow", "Slow SMA (sessions)", low=2, high=500, sweep="50,100,150,200"),
            ),
        ),
        _strategy(
            "Time-series momentum (12-1)",
            "ts_momentum",
            "Per ticker: long while its return from `lookback` to `skip` months ago is positive, else in cash "
            "(a month is 21 sessions); decided at month ends (or daily).",
            (
                LOOKBACK,
                SKIP,
                Param("rebalance", "Decide", kind="choice", options={"M": "Monthly", "D": "Daily"}),
            ),
        ),
        _strategy(
            "Cross-sectional momentum",
            "xs_momentum",
            "Each month end, rank the tickers by their return from `lookback` to `skip` months ago and hold the "
            "top k equally weighted until the next month end.",
            (LOOKBACK, SKIP, Param("top_k", "Top k", low=1, high=600, sweep="1,2,3,5")),
        ),
        _strategy(
            "RSI mean reversion",
            "rsi_reversion",
            "Per ticker: buy when RSI (Wilder) falls below the lower band, sell when it rises above the upper band.",
            (
                Param("period", "RSI period", low=2, high=200),
                Param("lower", "Lower band", kind="float", low=1.0, high=99.0, sweep="20,25,30,35"),
                Param("upper", "Upper band", kind="float", low=1.0, high=99.0, sweep="65,70,75,80"),
            ),
        ),
    )
}
DEFAULT_STRATEGY = "SMA crossover"


def default_value(strategy: Strategy, param: Param, n_tickers: int) -> Any:
    """The widget's default: the analytics default, with top k at most half the tickers (ranking must choose)."""
    value = strategy.default(param.name)
    if param.name == "top_k":
        value = min(int(value), max(1, n_tickers // 2))
    return value


# -- cached runs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A run as the page shows it: the result and the benchmark held over the same sessions."""

    result: BacktestResult
    benchmark: BacktestResult | None  # buy and hold of the benchmark, no costs, from the run's first session


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def run_backtest(request: BacktestRequest) -> Outcome:
    """The chosen strategy's runner on `request`; ValueError with the analytics' message on bad input."""
    result = STRATEGIES[request.strategy].run(request)
    bench = _benchmark(request)
    held = None
    if bench is not None:
        bench = bench.loc[result.equity.index[0] :]
        if len(bench) >= 2:
            held = backtest(bench, "buy_and_hold", benchmark=bench, risk_free=request.risk_free)
    return Outcome(result, held)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=16)
def run_sweep(request: BacktestRequest, grid: tuple[tuple[str, tuple[Any, ...]], ...], split: float) -> pd.DataFrame:
    """In- and out-of-sample Sharpe ratios over `grid` (see analytics.backtest.parameter_sweep)."""
    sweeper = STRATEGIES[request.strategy].sweep
    if sweeper is None:
        raise ValueError(f"{request.strategy} has no parameters to sweep")
    return sweeper(request, dict(grid), split)


# -- a saved index as a strategy ----------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=32)
def saved_index_run(request: BacktestRequest, definition_id: int, updated: str) -> BacktestResult | None:
    """A saved index's stored net levels over the request's sessions, held as one asset (analytics.backtest's
    "index" strategy: bought at the first close with the request's costs, no look-ahead); None without levels.
    `updated` (its levels_computed_at) keys the cache, so a new computation is read at once."""
    from dashboard.ui import index_loaders

    levels = index_loaders.stored_levels(request.version, definition_id, updated)
    levels = levels.loc[pd.Timestamp(request.start) : pd.Timestamp(request.end)]
    if len(levels) < 2:
        return None
    return backtest(
        levels["level_net"].rename("index"),
        "index",
        cost_bps=request.cost_bps,
        spread_bps=request.spread_bps,
        benchmark=_benchmark(request),
        risk_free=request.risk_free,
    )


# -- input checks -------------------------------------------------------------------------------------------


def check_tickers(text: str | None, stored: Sequence[str], universe: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """Tickers from free text that have stored prices, and one message per one that cannot be used.

    Malformed symbols are named with the one symbol rule (`store.identifiers`); symbols in the universe
    without stored prices are said to have no history; unknown ones get close-match suggestions.
    """
    valid, problems = [], []
    for wanted in market.split_symbols(text):
        try:
            valid.append(SYMBOL.normalise(wanted))
        except ValueError as exc:
            problems.append(str(exc))
    known = set(universe)
    no_history = [s for s in valid if s in known and s not in set(stored)]
    problems += [f"{s} has no stored price history." for s in no_history]
    good, unknown = market.check_symbols([s for s in valid if s not in no_history], stored)
    if unknown:
        problems.append(market.unknown_message(unknown))
    return good, problems


def parse_values(text: str | None, param: Param) -> list[Any]:
    """Sweep values typed as `5,10,20` (or spaces): numbers of the parameter's kind, in order, de-duplicated."""
    out: list[Any] = []
    for part in re.split(r"[,;\s]+", (text or "").strip()):
        if not part:
            continue
        try:
            number = float(part)
        except ValueError:
            raise ValueError(f"{param.label}: “{part[:24]}” is not a number") from None
        if not np.isfinite(number):
            raise ValueError(f"{param.label}: “{part[:24]}” is not a number")
        if param.kind == "int":
            if number != int(number):
                raise ValueError(f"{param.label}: {part[:24]} is not a whole number")
            value: Any = int(number)
        else:
            value = number
        if value not in out:
            out.append(value)
    return out


def sweep_grid(
    strategy: Strategy, texts: Mapping[str, str], current: Mapping[str, Any]
) -> tuple[dict[str, list[Any]], list[str]]:
    """The grid to sweep from each sweepable parameter's typed values, and the (one or two) swept axes.

    A parameter left empty keeps its `current` value. ValueError when more than two parameters have
    several values or when the grid is larger than MAX_SWEEP_COMBINATIONS.
    """
    grid: dict[str, list[Any]] = {}
    for param in strategy.sweepable:
        grid[param.name] = parse_values(texts.get(param.name), param) or [current[param.name]]
    axes = [name for name, values in grid.items() if len(values) > 1]
    if len(axes) > 2:
        labels = ", ".join(p.label for p in strategy.sweepable if p.name in axes)
        raise ValueError(f"Sweep at most two parameters at once ({labels} have several values): empty the others.")
    size = int(np.prod([len(v) for v in grid.values()])) if grid else 0
    if size > MAX_SWEEP_COMBINATIONS:
        raise ValueError(f"The grid has {size} combinations; at most {MAX_SWEEP_COMBINATIONS} are run at once.")
    return grid, axes


# -- what the page shows and exports ------------------------------------------------------------------------


def drawdown(equity: pd.Series) -> pd.Series:
    """Drawdown from the running peak of an equity curve (<= 0)."""
    return equity / equity.cummax() - 1.0


def equity_table(outcome: Outcome) -> pd.DataFrame:
    """Per session: equity, daily return, drawdown, exposure, turnover, and the benchmark's equity."""
    r = outcome.result
    out = pd.DataFrame(
        {
            "equity": r.equity,
            "return": r.returns,
            "drawdown": drawdown(r.equity),
            "exposure": r.exposure,
            "turnover": r.turnover,
        }
    )
    if outcome.benchmark is not None:
        out["benchmark_equity"] = outcome.benchmark.equity.reindex(out.index)
    out.index = pd.DatetimeIndex(out.index).date
    return out.rename_axis("date").reset_index()


def metrics_table(
    outcome: Outcome, label: str, benchmark: str | None, others: Mapping[str, BacktestResult] | None = None
) -> pd.DataFrame:
    """One row for the strategy, one per other run compared (a saved index), and one for the benchmark (held, no
    costs), one column per metric."""
    rows = [{"portfolio": label, **outcome.result.metrics}]
    rows += [{"portfolio": name, **run.metrics} for name, run in (others or {}).items()]
    if outcome.benchmark is not None:
        rows.append({"portfolio": f"{benchmark} (buy and hold, no costs)", **outcome.benchmark.metrics})
    return pd.DataFrame(rows)


def positions_table(result: BacktestResult) -> pd.DataFrame:
    """Weights held at each close (after that day's trades), the total exposure and the cash."""
    out = result.positions.copy()
    out["exposure"] = result.exposure
    out["cash"] = 1.0 - result.exposure
    out.index = pd.DatetimeIndex(out.index).date
    return out.rename_axis("date").reset_index()


def trades_table(result: BacktestResult) -> pd.DataFrame:
    out = result.trades.copy()
    out["date"] = pd.DatetimeIndex(out["date"]).date
    return out


def export_sheets(outcome: Outcome, label: str, benchmark: str | None) -> dict[str, pd.DataFrame]:
    """The sheets of a run's workbook: equity, trades, positions, monthly returns, metrics."""
    return {
        "equity": equity_table(outcome),
        "trades": trades_table(outcome.result),
        "positions": positions_table(outcome.result),
        "monthly_returns": outcome.result.monthly_returns.reset_index(),
        "metrics": metrics_table(outcome, label, benchmark),
    }


def sweep_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """A sweep's rows, best in-sample Sharpe first, without its attrs (the split date is shown beside it)."""
    out = sweep.sort_values("sharpe_is", ascending=False, na_position="last").reset_index(drop=True)
    out.attrs = {}
    return out


def export_parameters(
    request: BacktestRequest, params: Mapping[str, Any], as_of: date | None, sources: Sequence[str], link: str
) -> dict[str, str]:
    """The parameters written into every export of a run (a CSV header block, an XLSX sheet)."""
    execution = next((k for k, v in EXECUTIONS.items() if v == request.execution), request.execution)
    return {
        "exported_by": "Market Desk",
        "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
        "data_as_of": as_of.isoformat() if as_of else "",
        "source": ", ".join(sources),
        "strategy": request.strategy,
        "parameters": ", ".join(f"{k}={v}" for k, v in params.items()) or "none",
        "tickers": ",".join(request.tickers),
        "benchmark": request.benchmark or "none",
        "start": request.start.isoformat(),
        "end": request.end.isoformat(),
        "prices": "adjusted closes (splits and dividends)",
        "execution": f"{execution} (a signal at the close of day t trades at day t+1)",
        "cost_bps_per_side": f"{request.cost_bps:g}",
        "spread_bps": f"{request.spread_bps:g} (half paid per side)",
        "risk_free_annual": f"{request.risk_free:g}",
        "starting_capital": "1.0",
        "link": link,
    }
