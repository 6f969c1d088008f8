"""Strategy backtests without look-ahead (signals at a close trade at the next close or open) and parameter sweeps."""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.index import _carry_forward, _check_prices, simulate_weights
from analytics.indicators import rsi
from analytics.risk import risk_metrics

__all__ = ["STRATEGIES", "BacktestResult", "backtest", "parameter_sweep", "strategy_defaults"]

# Conventions:
#
# * ``prices``: a Series (one asset) or a wide DataFrame (sessions x symbols) of adjusted closes.  Missing
#   prices are carried (zero return) and nothing can be traded in a symbol on a day without its price.
# * Timing: a strategy's decision at row t uses data up to the close of t only; it is executed at the
#   close of t+1 (``execution="close"``) or the open of t+1 (``execution="open"`` with ``opens``) and earns
#   returns from then on.  ``buy_and_hold`` and ``index`` need no data to decide, so they buy at the
#   first close (or open).
# * ``positions.loc[t]``: portfolio weights at the close of t, after any trade that day.
# * Per-asset signal strategies (buy_and_hold, sma_crossover, ts_momentum, rsi_reversion, index) give
#   each symbol an equal sleeve of the starting capital that is either fully in its asset or in cash;
#   sleeves are never rebalanced against each other.  ``xs_momentum`` (and a callable strategy) hold
#   a whole-portfolio target that is reset at each rebalance and drifts in between.
# * Costs: ``cost_bps`` per side plus half of ``spread_bps``, on traded notional; a trade's ``cost`` and
#   ``weight_change`` are fractions of the portfolio value just before it.
# * One-way turnover per day = max(bought, sold) as a fraction of the value.
# * A "month" in momentum lookbacks is 21 sessions; decisions are taken at month ends (a session whose
#   next session is in another month).

SESSIONS_PER_MONTH = 21
_MAX_BPS = 1000.0
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

STRATEGIES: dict[str, dict[str, Any]] = {
    "buy_and_hold": {},
    "sma_crossover": {"fast": 20, "slow": 50},
    "ts_momentum": {"lookback": 12, "skip": 1, "rebalance": "M"},
    "xs_momentum": {"lookback": 12, "skip": 1, "top_k": 10},
    "rsi_reversion": {"period": 14, "lower": 30.0, "upper": 70.0},
    "index": {},
}


def strategy_defaults(strategy: str) -> dict[str, Any]:
    """Default parameters of a named strategy (a copy)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    return dict(STRATEGIES[strategy])


@dataclass(frozen=True)
class BacktestResult:
    """A backtest: equity (starting capital 1.0), positions, trades, turnover, exposure and metrics."""

    equity: pd.Series
    returns: pd.Series
    positions: pd.DataFrame
    trades: pd.DataFrame
    turnover: pd.Series
    exposure: pd.Series
    metrics: dict[str, float]
    monthly_returns: pd.DataFrame
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# Parameters


def _int_param(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if high is not None and int(value) > high:
        raise ValueError(f"{name} must be an integer <= {high}, got {value!r}")
    return int(value)


def _real_param(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not low < float(value) < high:
        raise ValueError(f"{name} must be between {low:g} and {high:g} (exclusive), got {value!r}")
    return float(value)


def _params(strategy: str, given: Mapping[str, Any], n_symbols: int) -> dict[str, Any]:
    """Defaults overlaid with ``given``, validated; ValueError names the strategy and the parameter."""
    params = strategy_defaults(strategy)
    unknown = sorted(set(given) - set(params))
    if unknown:
        allowed = ", ".join(params) or "none"
        raise ValueError(f"unknown parameter(s) for {strategy}: {', '.join(unknown)} (allowed: {allowed})")
    params.update(given)
    if strategy == "sma_crossover":
        params["fast"] = _int_param("fast", params["fast"], 1)
        params["slow"] = _int_param("slow", params["slow"], 2)
        if params["fast"] >= params["slow"]:
            raise ValueError(f"fast ({params['fast']}) must be shorter than slow ({params['slow']})")
    elif strategy in ("ts_momentum", "xs_momentum"):
        params["lookback"] = _int_param("lookback", params["lookback"], 1, 120)
        params["skip"] = _int_param("skip", params["skip"], 0)
        if params["skip"] >= params["lookback"]:
            raise ValueError(f"skip ({params['skip']}) must be less than lookback ({params['lookback']}) months")
        if strategy == "xs_momentum":
            params["top_k"] = _int_param("top_k", params["top_k"], 1)
            if params["top_k"] > n_symbols:
                raise ValueError(f"top_k={params['top_k']} is larger than the number of symbols ({n_symbols})")
        elif params["rebalance"] not in ("D", "M"):
            raise ValueError(f"rebalance must be 'D' or 'M', got {params['rebalance']!r}")
    elif strategy == "rsi_reversion":
        params["period"] = _int_param("period", params["period"], 2)
        params["lower"] = _real_param("lower", params["lower"], 0.0, 100.0)
        params["upper"] = _real_param("upper", params["upper"], 0.0, 100.0)
        if params["lower"] >= params["upper"]:
            raise ValueError(f"lower ({params['lower']:g}) must be below upper ({params['upper']:g})")
    elif strategy == "index" and n_symbols != 1:
        raise ValueError(f"the index strategy holds one level series; got {n_symbols} columns")
    return params


# ---------------------------------------------------------------------------------------------------
# Signals: decision at the close of each row, from data up to that close only


def _rolling_mean(prices: pd.DataFrame, window: int, cache: dict | None) -> np.ndarray:
    """Mean of the last ``window`` observed prices per column (as ``analytics.indicators.sma``)."""
    key = ("sma", window)
    if cache is not None and key in cache:
        return cache[key]
    values = prices.to_numpy()
    obs = np.isfinite(values)
    seen_before = np.maximum.accumulate(obs, axis=0)
    seen_after = np.maximum.accumulate(obs[::-1], axis=0)[::-1]
    if (~obs & seen_before & seen_after).any():
        # Interior gaps: windows count observations, so each column is rolled over its own observed rows.
        out = np.full(values.shape, np.nan)
        for j, col in enumerate(prices.columns):
            series = prices[col].dropna()
            rolled = series.rolling(window, min_periods=window).mean()
            out[:, j] = rolled.reindex(prices.index).to_numpy()
    else:
        out = prices.rolling(window, min_periods=window).mean().to_numpy()
    if cache is not None:
        cache[key] = out
    return out


def _month_end_rows(index: pd.DatetimeIndex) -> np.ndarray:
    """Rows whose next session is in another month (as ``rebalance_schedule(index, "M")``)."""
    code = _month_codes(index)
    return np.flatnonzero(code[:-1] != code[1:])


def _month_codes(index: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(index.year, dtype="int64") * 12 + np.asarray(index.month, dtype="int64") - 1


def _momentum_score(carried: np.ndarray, first_obs: np.ndarray, lookback: int, skip: int) -> np.ndarray:
    """Return from ``lookback`` months ago to ``skip`` months ago at each row (NaN without that history)."""
    n_days = carried.shape[0]
    far, near = lookback * SESSIONS_PER_MONTH, skip * SESSIONS_PER_MONTH
    score = np.full(carried.shape, np.nan)
    if n_days > far:
        then = carried[:-far]
        recent = carried[far - near : n_days - near]
        with np.errstate(divide="ignore", invalid="ignore"):
            score[far:] = recent / then - 1.0
        rows = np.arange(n_days)[:, None]
        score[(rows - far) < first_obs[None, :]] = np.nan
    return score


def _signals(
    strategy: str, prices: pd.DataFrame, params: dict[str, Any], cache: dict | None = None
) -> tuple[np.ndarray, bool]:
    """(T x N) decisions at each close and whether they are targets (True) or per-sleeve 0/1 holdings."""
    values = prices.to_numpy()
    n_days, n_sym = values.shape
    if strategy in ("buy_and_hold", "index"):
        return np.ones((n_days, n_sym)), False
    if strategy == "sma_crossover":
        fast = _rolling_mean(prices, params["fast"], cache)
        slow = _rolling_mean(prices, params["slow"], cache)
        return (fast > slow).astype("float64"), False
    if strategy == "rsi_reversion":
        out = np.zeros((n_days, n_sym))
        for j, col in enumerate(prices.columns):
            key = ("rsi", params["period"], j)
            level = cache.get(key) if cache is not None else None
            if level is None:
                level = rsi(prices[col], params["period"]).to_numpy()
                if cache is not None:
                    cache[key] = level
            event = np.where(level < params["lower"], 1.0, np.where(level > params["upper"], 0.0, np.nan))
            out[:, j] = pd.Series(event).ffill().fillna(0.0).to_numpy()
        return out, False
    # Momentum: decisions at month ends (or daily), held until the next decision.
    carried = _carry_forward(values)
    observed = np.isfinite(values)
    first_obs = np.where(observed.any(axis=0), observed.argmax(axis=0), n_days)
    key = ("momentum", params["lookback"], params["skip"])
    score = cache.get(key) if cache is not None else None
    if score is None:
        score = _momentum_score(carried, first_obs, params["lookback"], params["skip"])
        if cache is not None:
            cache[key] = score
    decide = (
        np.arange(n_days) if strategy == "ts_momentum" and params["rebalance"] == "D" else _month_end_rows(prices.index)
    )
    if strategy == "ts_momentum":
        held = np.full((n_days, n_sym), np.nan)
        held[decide] = np.where(np.isfinite(score[decide]), (score[decide] > 0).astype("float64"), 0.0)
        return pd.DataFrame(held).ffill().fillna(0.0).to_numpy(), False
    # xs_momentum: equal weights on the top_k scores at each month end (NaN rows: no decision).
    targets = np.full((n_days, n_sym), np.nan)
    sub = score[decide]
    valid = np.isfinite(sub) & observed[decide]
    masked = np.where(valid, sub, -np.inf)
    order = np.argsort(-masked, axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(len(decide))[:, None], order] = np.arange(n_sym)
    chosen = valid & (rank < params["top_k"])
    counts = chosen.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        targets[decide] = np.where(chosen, 1.0 / np.maximum(counts, 1), 0.0)
    # Before the first full lookback there is nothing to rank: no decision (stay in cash).
    targets[decide[counts[:, 0] == 0]] = np.nan
    return targets, True


# ---------------------------------------------------------------------------------------------------
# Engines


@dataclass(frozen=True)
class _Run:
    equity: np.ndarray  # (T,)
    weights: np.ndarray  # (T, N)
    trade_rows: np.ndarray
    trade_cols: np.ndarray
    trade_change: np.ndarray
    turnover: np.ndarray  # (T,)


def _sleeves(
    held: np.ndarray,
    closes: np.ndarray,
    opens: np.ndarray | None,
    rate: float,
    upfront: bool,
) -> _Run:
    """Independent equal sleeves, each all-in or all-out of its asset; ``held`` = decisions at each close."""
    n_days, n_sym = closes.shape
    observed = np.isfinite(closes)
    carried = _carry_forward(closes)
    # Executed holding: yesterday's decision (today's for upfront strategies), unchanged on days without
    # a price (nothing can be traded then) and zero before the first price.
    executed = held.copy() if upfront else np.vstack([np.zeros((1, n_sym)), held[:-1]])
    executed = pd.DataFrame(np.where(observed, executed, np.nan)).ffill().fillna(0.0).to_numpy()
    before = np.vstack([np.zeros((1, n_sym)), executed[:-1]])
    change = executed - before
    prev_close = np.vstack([carried[:1], carried[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        if opens is None:
            pre = 1.0 + before * np.where(prev_close > 0, carried / prev_close - 1.0, 0.0)
            post = np.ones_like(pre)
        else:
            # Trade at the open: the old holding earns close(t-1) -> open(t), the new one open(t) -> close(t).
            op = np.where(np.isfinite(opens) & (opens > 0), opens, prev_close)
            op = np.where(op > 0, op, carried)
            pre = 1.0 + before * np.where(prev_close > 0, op / prev_close - 1.0, 0.0)
            post = 1.0 + executed * np.where(op > 0, carried / op - 1.0, 0.0)
    factor = pre * (1.0 - rate * np.abs(change)) * post
    sleeve = np.cumprod(factor, axis=0)
    equity = sleeve.mean(axis=1)
    weights = sleeve * executed / (n_sym * equity[:, None])
    sleeve_prev = np.vstack([np.ones((1, n_sym)), sleeve[:-1]])
    at_trade = sleeve_prev * pre  # each sleeve's value just before the trade
    value_at_trade = at_trade.mean(axis=1)
    rows, cols = np.nonzero(change)
    weight_change = change[rows, cols] * at_trade[rows, cols] / (n_sym * value_at_trade[rows])
    bought = np.bincount(rows, np.clip(weight_change, 0, None), minlength=n_days)
    sold = np.bincount(rows, np.clip(-weight_change, 0, None), minlength=n_days)
    return _Run(equity, weights, rows, cols, weight_change, np.maximum(bought, sold))


def _rebalanced(
    decisions: np.ndarray,
    closes: np.ndarray,
    opens: np.ndarray | None,
    rate: float,
) -> _Run:
    """Whole-portfolio targets decided at a close (rows without NaN), set at the next close or open."""
    n_days, n_sym = closes.shape
    carried = _carry_forward(closes)
    decided = np.flatnonzero(~np.isnan(decisions).all(axis=1))
    decided = decided[decided < n_days - 1]
    exec_rows = decided + 1
    targets = np.nan_to_num(decisions[decided])
    if exec_rows.size == 0 or exec_rows[0] != 0:
        exec_rows = np.concatenate(([0], exec_rows))
        targets = np.vstack([np.zeros((1, n_sym)), targets])
    if opens is None:
        sim = simulate_weights(carried, exec_rows, targets, rate)
        equity, weights = sim.value, sim.weights
    else:
        # Interleave opens and closes into one timeline; trades happen on the open ticks.
        prev_close = np.vstack([carried[:1], carried[:-1]])
        op = np.where(np.isfinite(opens) & (opens > 0), opens, prev_close)
        op = np.where(op > 0, op, carried)
        ticks = np.empty((2 * n_days, n_sym))
        ticks[0::2], ticks[1::2] = op, carried
        sim = simulate_weights(ticks, 2 * exec_rows, targets, rate)
        equity, weights = sim.value[1::2], sim.weights[1::2]
    change = targets - sim.drifted
    k, cols = np.nonzero(np.abs(change) > 1e-15)
    rows = exec_rows[k]
    turnover = np.zeros(n_days)
    turnover[exec_rows] = sim.turnover
    return _Run(equity, weights, rows, cols, change[k, cols], turnover)


# ---------------------------------------------------------------------------------------------------
# Public API


def _frame(prices: object) -> tuple[pd.DataFrame, bool]:
    if isinstance(prices, pd.Series):
        name = prices.name if prices.name is not None else "asset"
        return _check_prices(prices.to_frame(name=str(name))), True
    return _check_prices(prices), False


def _prepare(prices: object, opens: object, execution: str) -> tuple[pd.DataFrame, np.ndarray | None]:
    frame, _ = _frame(prices)
    if len(frame) < 2:
        raise ValueError("at least 2 sessions of prices are needed for a backtest")
    empty = frame.columns[~np.isfinite(frame.to_numpy()).any(axis=0)]
    if len(empty):
        raise ValueError(f"no price history for: {', '.join(map(str, empty))}")
    if execution not in ("close", "open"):
        raise ValueError(f"execution must be 'close' or 'open', got {execution!r}")
    if execution == "close":
        return frame, None
    if opens is None:
        raise ValueError("execution='open' needs opens (open prices, same dates and symbols as prices)")
    open_frame, _ = _frame(opens)
    if isinstance(opens, pd.Series) and frame.shape[1] == 1:
        open_frame.columns = frame.columns
    missing = [c for c in frame.columns if c not in open_frame.columns]
    if missing:
        raise ValueError(f"opens lack symbol(s): {', '.join(map(str, missing))}")
    return frame, open_frame.reindex(index=frame.index, columns=frame.columns).to_numpy()


def _rate(cost_bps: object, spread_bps: object) -> float:
    out = 0.0
    for name, value in (("cost_bps", cost_bps), ("spread_bps", spread_bps)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) <= _MAX_BPS:
            raise ValueError(f"{name} must be a number between 0 and {_MAX_BPS:g}, got {value!r}")
        out += float(value) / 1e4 * (1.0 if name == "cost_bps" else 0.5)
    return out


def _run(
    frame: pd.DataFrame,
    opens: np.ndarray | None,
    strategy: str | Callable[..., pd.DataFrame],
    params: dict[str, Any],
    rate: float,
    cache: dict | None = None,
) -> _Run:
    closes = frame.to_numpy()
    if callable(strategy):
        decisions = strategy(frame, **params)
        if not isinstance(decisions, pd.DataFrame):
            raise ValueError("a strategy function must return a DataFrame of target weights")
        decisions = decisions.reindex(index=frame.index, columns=frame.columns).to_numpy(dtype="float64")
        return _rebalanced(decisions, closes, opens, rate)
    decisions, is_target = _signals(strategy, frame, params, cache)
    if is_target:
        return _rebalanced(decisions, closes, opens, rate)
    return _sleeves(decisions, closes, opens, rate, upfront=strategy in ("buy_and_hold", "index"))


def backtest(
    prices: pd.Series | pd.DataFrame,
    strategy: str | Callable[..., pd.DataFrame],
    *,
    cost_bps: float = 0.0,
    spread_bps: float = 0.0,
    execution: str = "close",
    opens: pd.Series | pd.DataFrame | None = None,
    benchmark: pd.Series | None = None,
    risk_free: float = 0.0,
    **params: Any,
) -> BacktestResult:
    """Backtest a named strategy (see ``STRATEGIES``) or a callable on ``prices``; see the module notes.

    A callable ``strategy(prices_frame, **params)`` returns target weights decided at each close (rows of
    NaN: no decision), executed like ``xs_momentum``; it sees the whole frame, so unlike the named
    strategies it is trusted (not made) to use only data up to each row.

    ``metrics`` = ``analytics.risk.risk_metrics`` of the equity (with ``benchmark``, ``risk_free``) plus
    ``hit_rate``, ``avg_win``, ``avg_loss``, ``profit_factor`` (over the days invested at the previous
    close), ``exposure`` (mean gross weight),
    ``time_in_market``, ``turnover`` (one-way, annualised), ``trades`` and ``total_cost``.
    """
    frame, open_values = _prepare(prices, opens, execution)
    rate = _rate(cost_bps, spread_bps)
    if callable(strategy):
        name = getattr(strategy, "__name__", "custom")
        checked = dict(params)
    else:
        if not isinstance(strategy, str) or strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        name = strategy
        checked = _params(strategy, params, frame.shape[1])
    run = _run(frame, open_values, strategy, checked, rate)
    index = frame.index
    equity = pd.Series(run.equity, index=index, name="equity")
    positions = pd.DataFrame(run.weights, index=index, columns=frame.columns)
    exposure = positions.sum(axis=1).rename("exposure")
    turnover = pd.Series(run.turnover, index=index, name="turnover")
    trades = pd.DataFrame(
        {
            "date": index[run.trade_rows],
            "symbol": frame.columns[run.trade_cols],
            "side": np.where(run.trade_change > 0, "buy", "sell"),
            "weight_change": run.trade_change,
            "cost": rate * np.abs(run.trade_change),
        }
    )  # already in (date, column) order
    daily = equity.pct_change()
    daily.iloc[0] = equity.iloc[0] - 1.0  # against the starting capital of 1.0
    # Measured from the starting capital, as `returns` and `monthly_returns` are: a strategy that trades on the
    # first session (buy_and_hold, index) pays its entry cost (and, at the open, earns the open-to-close move)
    # there, which metrics taken from equity[0] would not see. Other runs start at exactly 1.0: unchanged.
    measured = equity
    if equity.iloc[0] != 1.0:
        before = pd.Series([1.0], index=pd.DatetimeIndex([index[0] - pd.Timedelta(days=1)]))
        measured = pd.concat([before, equity])
    metrics = dict(risk_metrics(measured, benchmark, risk_free=risk_free))
    metrics.update(_trade_metrics(daily, exposure, turnover, trades))
    return BacktestResult(
        equity=equity,
        returns=daily.rename("return"),
        positions=positions,
        trades=trades,
        turnover=turnover,
        exposure=exposure,
        metrics=metrics,
        monthly_returns=monthly_returns(equity),
        strategy=name,
        params=checked,
    )


def _trade_metrics(
    daily: pd.Series, exposure: pd.Series, turnover: pd.Series, trades: pd.DataFrame
) -> dict[str, float]:
    invested = exposure.shift(1, fill_value=0.0).to_numpy() > 1e-12
    r = daily.to_numpy()[invested]
    wins, losses = r[r > 0], r[r < 0]
    decided = len(wins) + len(losses)
    years = max(len(daily) - 1, 1) / 252.0
    return {
        "hit_rate": len(wins) / decided if decided else float("nan"),
        "avg_win": float(wins.mean()) if len(wins) else float("nan"),
        "avg_loss": float(losses.mean()) if len(losses) else float("nan"),
        "profit_factor": float(wins.sum() / -losses.sum()) if len(losses) else float("nan"),
        "exposure": float(exposure.mean()),
        "time_in_market": float((exposure > 1e-12).mean()),
        "turnover": float(turnover.sum() / years),
        "trades": float(len(trades)),
        "total_cost": float(trades["cost"].sum()),
    }


def monthly_returns(equity: pd.Series, capital: float = 1.0) -> pd.DataFrame:
    """Compounded returns by year (rows) and month (Jan..Dec), plus the calendar year ("Year").

    The first month is measured from ``capital`` (the value before the first session).
    """
    values = equity.to_numpy(dtype="float64")
    code = _month_codes(pd.DatetimeIndex(equity.index))
    last = np.flatnonzero(np.append(code[:-1] != code[1:], True))  # last row of each month
    ends = values[last]
    monthly = ends / np.concatenate(([capital], ends[:-1])) - 1.0
    years = code[last] // 12
    first_year = years[0]
    table = np.full((years[-1] - first_year + 1, 12), np.nan)
    table[years - first_year, code[last] % 12] = monthly
    year_last = np.flatnonzero(np.append(years[:-1] != years[1:], True))
    year_ends = ends[year_last]
    out = pd.DataFrame(table, index=pd.RangeIndex(first_year, years[-1] + 1, name="year"), columns=_MONTHS)
    out = out.loc[np.isin(out.index, years)]
    out["Year"] = year_ends / np.concatenate(([capital], year_ends[:-1])) - 1.0
    return out


def _split_row(index: pd.DatetimeIndex, split: object) -> int:
    """Number of in-sample sessions: a fraction of the sessions, or the sessions before a date."""
    if isinstance(split, numbers.Real) and not isinstance(split, bool):
        if not 0 < float(split) < 1:
            raise ValueError(f"split must be a fraction between 0 and 1 or a date, got {split!r}")
        row = int(round(len(index) * float(split)))
    else:
        try:
            when = pd.Timestamp(split)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"split must be a fraction between 0 and 1 or a date, got {split!r}") from exc
        if not index[0] < when <= index[-1]:
            raise ValueError(f"split date {when.date()} is outside the data ({index[0].date()} to {index[-1].date()})")
        row = int(index.searchsorted(when, side="left"))
    if row < 3 or len(index) - row < 2:
        raise ValueError("split leaves fewer than 3 sessions in-sample or 2 out-of-sample")
    return row


def _sharpe(returns: np.ndarray, rf: float) -> np.ndarray:
    """Columnwise ``mean(x) / std(x, ddof=1) * sqrt(252)``, ``x = r - rf`` (as ``risk_metrics``)."""
    x = returns - rf
    std = x.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(std > 1e-12, x.mean(axis=0) / std * np.sqrt(252.0), np.nan)


def parameter_sweep(
    prices: pd.Series | pd.DataFrame,
    strategy: str,
    grid: Mapping[str, Sequence[Any]],
    split: float | object = 0.7,
    *,
    cost_bps: float = 0.0,
    spread_bps: float = 0.0,
    execution: str = "close",
    opens: pd.Series | pd.DataFrame | None = None,
    risk_free: float = 0.0,
    **fixed: Any,
) -> pd.DataFrame:
    """In- and out-of-sample Sharpe ratios of ``strategy`` for every combination in ``grid``.

    Each combination is backtested once over all the data (so indicators warm up in-sample and the
    out-of-sample trades still use only past data); the daily returns are then split: in-sample = the
    first ``split`` fraction of the sessions, or the sessions before the date ``split``.  Sharpe as in
    ``risk_metrics`` (annual ``risk_free``).  Invalid combinations (e.g. fast >= slow) are left out and
    counted in ``attrs["skipped"]``; a ValueError if none is valid.  Columns: the grid's parameters,
    ``sharpe_is``, ``sharpe_oos``, ``return_is``, ``return_oos``.
    """
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty mapping of parameter -> list of values")
    frame, open_values = _prepare(prices, opens, execution)
    rate = _rate(cost_bps, spread_bps)
    names = list(grid)
    allowed = set(STRATEGIES[strategy])
    unknown = sorted((set(names) | set(fixed)) - allowed)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) for {strategy}: {', '.join(unknown)} (allowed: {', '.join(allowed) or 'none'})"
        )
    for name in names:
        if isinstance(grid[name], str) or not isinstance(grid[name], Sequence) or len(grid[name]) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values")
    combos, skipped = [], 0
    for values in itertools.product(*(grid[n] for n in names)):
        given = {**fixed, **dict(zip(names, values, strict=True))}
        try:
            combos.append((values, _params(strategy, given, frame.shape[1])))
        except ValueError:
            skipped += 1
    if not combos:
        raise ValueError(f"no valid parameter combination in the grid for {strategy}")
    row = _split_row(frame.index, split)
    rf = (1.0 + _real_param("risk_free", risk_free, -1.0, 1e6)) ** (1.0 / 252.0) - 1.0
    cache: dict = {}
    equities = np.empty((len(frame), len(combos)))
    for i, (_, params) in enumerate(combos):
        equities[:, i] = _run(frame, open_values, strategy, params, rate, cache).equity
    daily = equities[1:] / equities[:-1] - 1.0
    is_r, oos_r = daily[: row - 1], daily[row - 1 :]
    out = pd.DataFrame([values for values, _ in combos], columns=names)
    out["sharpe_is"] = _sharpe(is_r, rf)
    out["sharpe_oos"] = _sharpe(oos_r, rf)
    out["return_is"] = equities[row - 1] / equities[0] - 1.0
    out["return_oos"] = equities[-1] / equities[row - 1] - 1.0
    out.attrs["skipped"] = skipped
    out.attrs["split_date"] = frame.index[row]
    return out
