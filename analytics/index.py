"""Index tracker: equal- or cap-weighted portfolios of a universe or its point-in-time top N, with trading costs."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "REBALANCE_CODES",
    "IndexResult",
    "build_index",
    "cost_drag",
    "equal_weight_index",
    "rebalance_schedule",
    "simulate_weights",
    "spx_rebalance_calendar",
]

# Conventions (every public function of this module):
#
# * ``prices`` is a wide DataFrame: a DatetimeIndex of sessions (ascending, unique) x symbols, adjusted
#   closes, NaN where a symbol has no price.  The index *is* the session calendar: nothing here knows
#   about exchanges or holidays.
# * A rebalance has a reference date (membership and cap weights are decided from data up to its close)
#   and an effective date (weights are reset to target at its close).  Between rebalances the number of
#   units held is constant, so weights drift with prices.  ``weights.loc[t]`` are the weights at the close
#   of ``t`` after any rebalance that day, i.e. the weights that earn the return of the next session.
# * A period end ("D", "W", "M", "Q") is a session whose next session falls in another calendar period,
#   so the last session of the data is never one (the next session is unknown).
# * A price missing on a day is carried from the last observation (zero return) until the next
#   rebalance, where a symbol without a price on the effective date (or, when ranking, the reference
#   date) is not eligible and is dropped.
# * Costs: ``cost_bps`` per side on traded notional.  At each rebalance the index pays
#   ``cost_bps / 1e4 * sum|target - drifted|`` of its value (drifted = weights just before the trade),
#   so ``net = gross * prod(1 - cost_k)`` exactly.  The initial construction buys the whole portfolio
#   from cash (``sum|target - 0| = 1``) and is charged unless ``charge_initial=False``.
# * One-way turnover = ``max(total bought, total sold)`` as a fraction of the value, which is
#   ``1/2 * sum|target - drifted|`` for a fully invested portfolio and 1.0 for the initial construction
#   (S&P's convention: building the index from cash is a 100% one-way turnover).

REBALANCE_CODES = ("D", "W", "M", "Q", "SPX")
_PERIOD_FREQ = {"D": "D", "W": "W-SUN", "M": "M", "Q": "Q"}
_WEIGHTINGS = ("equal", "cap")
_MAX_COST_BPS = 1000.0  # 10% per side: beyond that the figure is surely a unit mistake
_CAP_TOL = 1e-12


# ---------------------------------------------------------------------------------------------------
# Result


@dataclass(frozen=True)
class IndexResult:
    """An index run: levels net and gross of costs, weights, rebalances, rankings and composition changes."""

    levels: pd.Series
    gross_levels: pd.Series
    weights: pd.DataFrame
    turnover: pd.Series
    costs: pd.Series
    rebalance_dates: pd.DatetimeIndex
    schedule: pd.DataFrame
    changes: pd.DataFrame
    ranks: pd.DataFrame
    base: float
    cost_bps: float
    notes: tuple[str, ...] = field(default=())

    @property
    def cost_points(self) -> pd.Series:
        """Cost of each rebalance in index points (``costs`` is the same as a fraction of the level)."""
        after = self.levels.loc[self.rebalance_dates].to_numpy()
        return pd.Series(after / (1.0 - self.costs.to_numpy()) * self.costs.to_numpy(), index=self.costs.index)

    @property
    def cost_drag(self) -> float:
        """Total cost drag: ``1 - net / gross`` at the last session (0 without costs)."""
        return cost_drag(self.levels, self.gross_levels)

    @property
    def annual_turnover(self) -> float:
        """One-way turnover a year (252 sessions), the initial construction left out."""
        return float(self.turnover.iloc[1:].sum() / max(len(self.levels) / 252.0, 1e-9))

    @property
    def annual_cost_drag(self) -> float:
        """Gross minus net annualised growth rate (252 sessions a year)."""
        n = len(self.levels) - 1
        if n < 1:
            return 0.0
        gross = (self.gross_levels.iloc[-1] / self.base) ** (252.0 / n)
        net = (self.levels.iloc[-1] / self.base) ** (252.0 / n)
        return float(gross - net)

    def composition(self, date: object) -> pd.DataFrame:
        """Members at the close of ``date`` (or the last session before it): weight, and rank/basis/value if ranked.

        Raises ``ValueError`` for a date outside the index's sessions.
        """
        try:
            when = pd.Timestamp(date)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a date: {date!r}") from exc
        sessions = self.levels.index
        if when < sessions[0] or when > sessions[-1]:
            raise ValueError(f"{when.date()} is outside the index ({sessions[0].date()} to {sessions[-1].date()})")
        day = sessions[sessions.searchsorted(when, side="right") - 1]
        row = self.weights.loc[day]
        held = row[row > 0].sort_values(ascending=False)
        out = pd.DataFrame({"weight": held})
        out.index.name = "symbol"
        out["date"] = day
        effective = self.rebalance_dates[self.rebalance_dates <= day]
        out["rebalanced"] = effective[-1] if len(effective) else pd.NaT
        if not self.ranks.empty and len(effective):
            ranked = self.ranks[self.ranks["effective_date"] == effective[-1]].set_index("symbol")
            for col in ("rank", "basis", "value"):
                out[col] = ranked[col].reindex(out.index)
        return out


def cost_drag(net: pd.Series, gross: pd.Series) -> float:
    """Total cost drag of net levels against gross ones: ``1 - net / gross`` at the last session."""
    return float(1.0 - net.iloc[-1] / gross.iloc[-1])


# ---------------------------------------------------------------------------------------------------
# Validation helpers


def _check_prices(prices: object, name: str = "prices") -> pd.DataFrame:
    if not isinstance(prices, pd.DataFrame):
        raise ValueError(f"{name} must be a wide DataFrame (dates x symbols), got {type(prices).__name__}")
    if prices.empty or prices.shape[1] == 0:
        raise ValueError(f"{name} are empty: no dates or no symbols")
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise ValueError(f"{name} must have a DatetimeIndex of sessions")
    index = prices.index.tz_localize(None) if prices.index.tz is not None else prices.index
    # Sessions are days: a time of day (or a time zone) must not make the calendars miss them.
    index = index.normalize()
    if index.has_duplicates:
        raise ValueError(f"{name} have duplicate dates")
    if prices.columns.has_duplicates:
        raise ValueError(f"{name} have duplicate symbols")
    if not index.is_monotonic_increasing:
        raise ValueError(f"{name} dates must be in ascending order")
    try:
        values = prices.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if np.isinf(values).any():
        raise ValueError(f"{name} contain infinite values")
    if (values <= 0).any():  # NaN compares False: missing prices pass
        raise ValueError(f"{name} must be strictly positive")
    return pd.DataFrame(values, index=index, columns=prices.columns.astype(str))


def _aligned(frame: object, name: str, like: pd.DataFrame) -> np.ndarray:
    """An optional wide frame (raw close, dollar volume) reindexed to ``like``'s dates and symbols."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a wide DataFrame (dates x symbols), got {type(frame).__name__}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ValueError(f"{name} must have a DatetimeIndex")
    try:
        values = frame.astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    index = values.index.tz_localize(None) if values.index.tz is not None else values.index
    values.index = index.normalize()
    if values.index.has_duplicates or values.columns.has_duplicates:
        raise ValueError(f"{name} have duplicate dates or symbols")
    values.columns = values.columns.astype(str)
    out = values.reindex(index=like.index, columns=like.columns).to_numpy()
    if np.isinf(out).any():
        raise ValueError(f"{name} contain infinite values")
    return out


def _number(name: str, value: object, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if value > high or value < low or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low:g}, {high:g}], got {value:g}")
    return value


def _integer(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _timestamp(name: str, value: object) -> pd.Timestamp:
    try:
        out = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not a date: {value!r}") from exc
    if out is pd.NaT:
        raise ValueError(f"{name} is not a date: {value!r}")
    return out


def _check_sessions(sessions: object) -> pd.DatetimeIndex:
    try:
        idx = pd.DatetimeIndex(sessions)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sessions must be dates: {exc}") from exc
    if len(idx) == 0:
        raise ValueError("sessions are empty")
    if idx.has_duplicates or not idx.is_monotonic_increasing:
        raise ValueError("sessions must be unique and in ascending order")
    return idx


# ---------------------------------------------------------------------------------------------------
# Calendars


def spx_rebalance_calendar(sessions: Iterable[object]) -> pd.DataFrame:
    """S&P's quarterly rebalance dates within ``sessions``: columns ``reference_date``, ``effective_date``.

    For March, June, September and December: the reference date is the second Friday and the
    effective date (weights change after its close) is the third Friday, each moved to the previous
    session when it is not one of ``sessions`` (a holiday).  Quarters whose second Friday is before the
    first session or whose third Friday is after the last session are left out (unknowable from the
    given sessions).
    """
    idx = _check_sessions(sessions).normalize()
    first, last = idx[0], idx[-1]
    rows = []
    for year in range(first.year, last.year + 1):
        for month in (3, 6, 9, 12):
            day1 = pd.Timestamp(year=year, month=month, day=1)
            friday1 = day1 + pd.Timedelta(days=(4 - day1.weekday()) % 7)
            second, third = friday1 + pd.Timedelta(days=7), friday1 + pd.Timedelta(days=14)
            if second < first or third > last:
                continue
            ref = idx[idx.searchsorted(second, side="right") - 1]
            eff = idx[idx.searchsorted(third, side="right") - 1]
            rows.append((ref, eff))
    return pd.DataFrame(rows, columns=["reference_date", "effective_date"]).astype("datetime64[ns]")


def rebalance_schedule(sessions: Iterable[object], rebalance: str) -> pd.DataFrame:
    """Rebalances for a code ("D", "W", "M", "Q", "SPX") over ``sessions``: ``reference_date``, ``effective_date``.

    "D"/"W"/"M"/"Q": the last session of each calendar day/week (Mon-Sun)/month/quarter, recognised by
    the next session falling in a new period (so never the last session); the reference date is the
    effective date.  "SPX": see ``spx_rebalance_calendar``.
    """
    idx = _check_sessions(sessions)
    code = _check_code(rebalance)
    if code == "SPX":
        return spx_rebalance_calendar(idx)
    periods = idx.to_period(_PERIOD_FREQ[code])
    ends = idx[:-1][periods[:-1] != periods[1:]]
    return pd.DataFrame({"reference_date": ends, "effective_date": ends}).astype("datetime64[ns]")


def _check_code(rebalance: object) -> str:
    if not isinstance(rebalance, str) or rebalance.upper() not in REBALANCE_CODES:
        raise ValueError(f"rebalance must be one of {', '.join(REBALANCE_CODES)}; got {rebalance!r}")
    return rebalance.upper()


# ---------------------------------------------------------------------------------------------------
# Simulation (shared with analytics.backtest)


@dataclass(frozen=True)
class _Simulation:
    value: np.ndarray  # (T,) value per unit of starting capital, net of costs
    gross: np.ndarray  # (T,) the same without costs
    weights: np.ndarray  # (T, N) end-of-day weights
    traded: np.ndarray  # (K,) sum |target - drifted| at each rebalance
    turnover: np.ndarray  # (K,) one-way: max(bought, sold)
    cost: np.ndarray  # (K,) fraction of the value paid
    drifted: np.ndarray  # (K, N) weights just before each rebalance


# Rows of the between-rebalance products at a time: their temporaries are a block, not three more T x N arrays
# (the S&P 500 list over 7 years: 37 -> 30 MiB traced above the prices for build_index, measured).
BLOCK_ROWS = 256


def simulate_weights(
    prices: np.ndarray,
    positions: Sequence[int] | np.ndarray,
    targets: np.ndarray,
    cost_rate: float = 0.0,
    *,
    charge_initial: bool = True,
) -> _Simulation:
    """Value of a portfolio reset to ``targets[k]`` at the close of row ``positions[k]``, drifting in between.

    ``prices`` (T x N) must be carried forward (no NaN where a target is held; use 0 where a symbol has
    never traded); ``positions`` are ascending row numbers, the first one 0; ``targets`` (K x N) are
    weights >= 0 summing to <= 1 (the rest is cash at zero return).  Vectorised: the units bought at each
    rebalance are constant until the next, so every day's value is one gather and one row sum.
    """
    prices = np.asarray(prices, dtype="float64")
    pos = np.asarray(positions, dtype="int64")
    targets = np.asarray(targets, dtype="float64")
    n_days = prices.shape[0]
    if pos.size == 0 or pos[0] != 0:
        raise ValueError("the first rebalance must be on the first row")
    at_rebalance = prices[pos]
    units = np.zeros_like(targets)
    np.divide(targets, at_rebalance, out=units, where=targets > 0)
    cash = 1.0 - targets.sum(axis=1)
    # Row t is held from the latest rebalance at or before t; on a rebalance row the weights are the
    # targets and the value is 1 per unit of post-rebalance value by definition, so only the rows in
    # between need the units x prices product (none but the last with a daily rebalance).
    anchor = np.searchsorted(pos, np.arange(n_days), side="right") - 1
    between = np.ones(n_days, dtype=bool)
    between[pos] = False
    rows = np.flatnonzero(between)
    weights = np.empty_like(prices)
    weights[pos] = targets
    growth = np.ones(n_days)
    for lo in range(0, rows.size, BLOCK_ROWS):  # row by row, so blocks give the same numbers as one pass
        part = rows[lo : lo + BLOCK_ROWS]
        held_now = units[anchor[part]]
        np.multiply(held_now, prices[part], out=held_now)
        growth[part] = held_now.sum(axis=1) + cash[anchor[part]]
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(held_now, growth[part, None], out=held_now)
        weights[part] = held_now
    # Just before rebalance k >= 1 the portfolio of rebalance k - 1 has drifted.
    drifted = np.empty_like(targets)
    drifted[0] = 0.0
    np.multiply(units[:-1], at_rebalance[1:], out=drifted[1:])
    pre_value = drifted[1:].sum(axis=1) + cash[:-1]
    drifted[1:] /= pre_value[:, None]
    trade = targets - drifted
    net_bought = trade.sum(axis=1)
    np.abs(trade, out=trade)
    traded = trade.sum(axis=1)
    # bought + sold = traded and bought - sold = net_bought, so max(bought, sold) is:
    turnover = 0.5 * (traded + np.abs(net_bought))
    cost = cost_rate * traded
    if not charge_initial:
        cost[0] = 0.0
    step = np.concatenate(([1.0], pre_value))
    gross_post = np.cumprod(step)
    net_post = np.cumprod(step * (1.0 - cost))
    return _Simulation(
        value=net_post[anchor] * growth,
        gross=gross_post[anchor] * growth,
        weights=weights,
        traded=traded,
        turnover=turnover,
        cost=cost,
        drifted=drifted,
    )


def _window_means(values: np.ndarray, rows: np.ndarray, window: int, min_obs: int) -> np.ndarray:
    """Per column, the mean of the finite values among the `window` rows ending at each of `rows` (NaN with fewer
    than `min_obs`): pandas' rolling(window, min_periods).mean() at those rows only, not at every session."""
    out = np.full((len(rows), values.shape[1]), np.nan)
    for k, row in enumerate(rows):
        block = values[max(row - window + 1, 0) : row + 1]
        finite = np.isfinite(block)
        count = finite.sum(axis=0)
        total = np.where(finite, block, 0.0).sum(axis=0)
        enough = count >= min_obs
        out[k, enough] = total[enough] / count[enough]
    return out


def _carry_forward(values: np.ndarray) -> np.ndarray:
    """Each column's last observed value carried forward, 0 before the first (the input itself if complete)."""
    finite = np.isfinite(values)
    if finite.all():
        return values
    rows = np.where(finite, np.arange(values.shape[0])[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    out = np.take_along_axis(values, rows, axis=0)
    out[~np.maximum.accumulate(finite, axis=0)] = 0.0
    return out


# ---------------------------------------------------------------------------------------------------
# Ranking inputs


def _shares_asof(shares: object, symbols: pd.Index, dates: pd.DatetimeIndex) -> np.ndarray:
    """(len(dates) x len(symbols)) latest shares figure *published* on or before each date, NaN if none."""
    if not isinstance(shares, pd.DataFrame):
        raise ValueError(f"shares must be a DataFrame with columns symbol, published, shares; got {type(shares)}")
    frame = shares.rename(columns={"filing_date": "published"}) if "published" not in shares else shares
    missing = {"symbol", "published", "shares"} - set(frame.columns)
    if missing:
        raise ValueError(f"shares lacks column(s): {', '.join(sorted(missing))} (need symbol, published, shares)")
    cols = ["symbol", "published", "shares"] + (["period_end"] if "period_end" in frame else [])
    frame = frame[cols].copy()
    try:
        published = pd.to_datetime(frame["published"])
        if published.dt.tz is not None:
            published = published.dt.tz_localize(None)
        frame["published"] = published.dt.normalize()
        frame["shares"] = pd.to_numeric(frame["shares"]).astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"shares has a bad published date or share count: {exc}") from exc
    frame["symbol"] = frame["symbol"].astype(str)
    # Zero/negative counts are data errors, not information: they must not mask an older good figure.
    frame = frame[frame["published"].notna() & np.isfinite(frame["shares"]) & (frame["shares"] > 0)]
    frame = frame[frame["symbol"].isin(symbols)]
    out = np.full((len(dates), len(symbols)), np.nan)
    if frame.empty:
        return out
    # Two figures published the same day: the later period wins (a late 10-Q filed with the next one).
    order = ["published", "period_end"] if "period_end" in frame else ["published"]
    frame = frame.sort_values(order, kind="stable")
    wide = frame.groupby(["published", "symbol"], sort=True)["shares"].last().unstack("symbol")
    wide = wide.reindex(columns=symbols).ffill()
    rows = wide.index.searchsorted(dates, side="right") - 1
    found = rows >= 0
    out[found] = wide.to_numpy()[rows[found]]
    return out


# ---------------------------------------------------------------------------------------------------
# Builder


def build_index(
    prices: pd.DataFrame,
    shares: pd.DataFrame | None = None,
    top_n: int | None = None,
    weighting: str = "equal",
    cap: float | None = None,
    rebalance: str = "Q",
    base: float = 1000.0,
    cost_bps: float = 0.0,
    universe: Sequence[str] | None = None,
    dollar_volume: pd.DataFrame | None = None,
    raw_close: pd.DataFrame | None = None,
    *,
    start: object = None,
    end: object = None,
    charge_initial: bool = True,
    adv_window: int = 60,
    min_adv_obs: int = 20,
) -> IndexResult:
    """Build an index of ``prices`` (wide, adjusted closes) rebalanced on ``rebalance``; see the module notes.

    * Universe: ``universe`` (tickers; each must have prices in the window), else every column with a
      price in the window.  With ``top_n``, the members at each rebalance are the ``top_n`` eligible
      symbols by market cap on the *reference date*: close x the latest ``shares`` figure published on
      or before that date (``shares`` is long: symbol, published (or filing_date), shares; optional
      period_end only breaks ties between figures published the same day and is never used as a date).
      The close is ``raw_close`` where it has a value that day, else the adjusted close (biased low for
      the past: adjusted closes are lowered by later dividends).  A symbol without shares but with a
      ``dollar_volume`` history (wide, close x volume) is ranked by its ``adv_window``-session average
      dollar volume (at least ``min_adv_obs`` sessions), scaled into market-cap units by the median
      cap/ADV ratio of the symbols having both that day; without any such pair it ranks after every
      market-cap-ranked symbol.  A symbol with neither is listed as "unrankable" in ``ranks``.
      Eligible = rankable, with an observed price on the reference and effective dates.
      ``top_n`` larger than the universe is a ValueError; fewer eligible symbols than ``top_n`` on a
      date is allowed (all eligible are held) and reported in ``notes``.
    * Weighting: "equal", or "cap" (reference-date market cap carried to the effective date by the
      adjusted price change).  ``cap`` (0 < cap <= 1) limits any weight, the excess going to the other
      members in proportion to their weights, repeated until none exceeds it; when ``cap x members < 1``
      it cannot hold and the members are equally weighted (reported in ``notes``).
    * Rebalance: "D", "W", "M", "Q" or "SPX" (see ``rebalance_schedule``); weights are also set at the
      first session (reference date = that session, unless a scheduled rebalance falls on it).
    * ``start``/``end`` (inclusive) must lie within the data; rankings may use data before ``start``.

    Raises ``ValueError`` with a message fit for a page on any bad input.
    """
    full = _check_prices(prices)
    code = _check_code(rebalance)
    base = _number("base", base, 0.0, 1e12, low_open=True)
    cost_bps = _number("cost_bps", cost_bps, 0.0, _MAX_COST_BPS)
    if weighting not in _WEIGHTINGS:
        raise ValueError(f"weighting must be 'equal' or 'cap', got {weighting!r}")
    if cap is not None:
        cap = _number("cap", cap, 0.0, 1.0, low_open=True)
    adv_window = _integer("adv_window", adv_window, 1)
    min_adv_obs = _integer("min_adv_obs", min_adv_obs, 1)
    if min_adv_obs > adv_window:
        raise ValueError(f"min_adv_obs ({min_adv_obs}) cannot exceed adv_window ({adv_window})")
    if top_n is not None:
        top_n = _integer("top_n", top_n, 1)
    ranked = top_n is not None or weighting == "cap"
    if ranked and shares is None and dollar_volume is None:
        what = f"top_n={top_n}" if top_n is not None else "cap weighting"
        raise ValueError(f"{what} needs shares outstanding or dollar volume to rank by market cap")

    first, last = full.index[0], full.index[-1]
    lo = first if start is None else _timestamp("start", start)
    hi = last if end is None else _timestamp("end", end)
    for name, when in (("start", lo), ("end", hi)):
        if when < first or when > last:
            raise ValueError(f"{name} {when.date()} is outside the data ({first.date()} to {last.date()})")
    if lo > hi:
        raise ValueError(f"start {lo.date()} is after end {hi.date()}")
    i0, i1 = full.index.searchsorted(lo, side="left"), full.index.searchsorted(hi, side="right")
    if i1 - i0 < 2:
        raise ValueError(f"fewer than 2 sessions between {lo.date()} and {hi.date()}")

    window_observed = np.isfinite(full.to_numpy()[i0:i1])
    has_history = window_observed.any(axis=0)
    if universe is not None:
        if isinstance(universe, str) or not isinstance(universe, Iterable):
            raise ValueError("universe must be a list of tickers")
        tickers = list(dict.fromkeys(str(t) for t in universe))
        if not tickers:
            raise ValueError("universe is empty: choose at least one ticker")
        unknown = [t for t in tickers if t not in full.columns]
        if unknown:
            raise ValueError(f"no price history for: {', '.join(unknown)}")
        empty = [t for t in tickers if not has_history[full.columns.get_loc(t)]]
        if empty:
            raise ValueError(f"no prices between {lo.date()} and {hi.date()} for: {', '.join(empty)}")
    else:
        if not has_history.any():
            raise ValueError(f"no symbol has a price between {lo.date()} and {hi.date()}")
        tickers = full.columns if has_history.all() else full.columns[has_history]
    if top_n is not None and top_n > len(tickers):
        raise ValueError(f"top_n={top_n} is larger than the universe ({len(tickers)} symbols)")

    observed = window_observed
    if len(tickers) != full.shape[1] or not full.columns.equals(pd.Index(tickers)):
        full = full[tickers]
        observed = np.isfinite(full.to_numpy()[i0:i1])
    symbols = full.columns
    adj_all = full.to_numpy()
    sessions = full.index[i0:i1]
    adj = adj_all[i0:i1]
    carried = _carry_forward(adj)

    # Schedule on the full calendar (knowing that a session ends a period is calendar knowledge).
    sched = rebalance_schedule(full.index, code)
    sched = sched[(sched["effective_date"] >= sessions[0]) & (sched["effective_date"] <= sessions[-1])]
    if sched.empty or sched["effective_date"].iloc[0] != sessions[0]:
        start_row = pd.DataFrame({"reference_date": [sessions[0]], "effective_date": [sessions[0]]})
        sched = pd.concat([start_row.astype("datetime64[ns]"), sched], ignore_index=True)
    sched = sched.reset_index(drop=True)
    eff_pos = sessions.get_indexer(sched["effective_date"])
    ref_full = full.index.get_indexer(sched["reference_date"])
    n_reb, n_sym = len(sched), len(symbols)
    notes: list[str] = []

    eligible = observed[eff_pos].copy()
    priced = eligible.copy() if ranked else eligible  # for the reasons of removals (ranking narrows eligible)
    rankable = ref_priced = None
    rank_frame = pd.DataFrame()
    scores = None
    if ranked:
        ref_dates = full.index[ref_full]
        adj_ref = adj_all[ref_full]
        price = adj_ref.copy()
        price_source = np.where(np.isfinite(adj_ref), "adjusted", "")
        if raw_close is not None:
            raw_ref = _aligned(raw_close, "raw_close", full)[ref_full]
            raw_ok = np.isfinite(raw_ref) & (raw_ref > 0)
            price = np.where(raw_ok, raw_ref, price)
            price_source = np.where(raw_ok, "raw", price_source)
        shares_ref = _shares_asof(shares, symbols, ref_dates) if shares is not None else np.full((n_reb, n_sym), np.nan)
        mcap = price * shares_ref
        if dollar_volume is not None:
            adv = _window_means(_aligned(dollar_volume, "dollar_volume", full), ref_full, adv_window, min_adv_obs)
        else:
            adv = np.full((n_reb, n_sym), np.nan)
        has_cap = np.isfinite(mcap) & (mcap > 0)
        has_adv = ~has_cap & np.isfinite(adv) & (adv > 0)
        basis = np.where(has_cap, "market_cap", np.where(has_adv, "dollar_volume", "unrankable"))
        both = has_cap & np.isfinite(adv) & (adv > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(both, mcap / np.where(both, adv, 1.0), np.nan)
        scale = np.full(n_reb, np.nan)
        any_both = both.any(axis=1)
        if any_both.any():
            scale[any_both] = np.nanmedian(ratio[any_both], axis=1)
        score = np.where(has_cap, mcap, np.nan)
        # Without a cap/ADV pair the two bases cannot be compared: dollar-volume names rank last.
        dv_score = np.where(any_both[:, None], adv * scale[:, None], adv * 1e-30)
        score = np.where(has_adv, dv_score, score)
        rankable = has_cap | has_adv
        ref_priced = np.isfinite(adj_ref)
        eligible &= rankable & ref_priced
        masked = np.where(eligible, score, -np.inf)
        # Descending score, ties by symbol order (columns are in the caller's order).
        order = np.argsort(-masked, axis=1, kind="stable")
        rank = np.empty_like(order)
        rank[np.arange(n_reb)[:, None], order] = np.arange(1, n_sym + 1)
        rank = np.where(eligible, rank, 0)
        if top_n is not None:
            eligible &= rank <= top_n
            short = eligible.sum(axis=1) < top_n
            for k in np.flatnonzero(short):
                notes.append(
                    f"{sched['reference_date'].iloc[k].date()}: only {int(eligible[k].sum())} symbols "
                    f"could be ranked, fewer than top_n={top_n}; all of them are held"
                )
        if raw_close is not None:
            adjusted_used = (price_source == "adjusted") & has_cap & eligible
            if adjusted_used.any():
                notes.append(
                    f"{int(adjusted_used.sum())} member-rebalances ranked on the adjusted close (no raw close "
                    "that day): their market caps are understated by later dividends"
                )
        elif has_cap.any():
            notes.append("market caps use adjusted closes (no raw close given): past caps are understated")
        value = np.where(has_cap, mcap, np.where(has_adv, adv, np.nan))
        scores = score
        listed = np.isfinite(adj_ref) | observed[eff_pos]
        kk, ss = np.nonzero(listed)
        rank_frame = pd.DataFrame(
            {
                "reference_date": sched["reference_date"].to_numpy()[kk],
                "effective_date": sched["effective_date"].to_numpy()[kk],
                "symbol": symbols.to_numpy()[ss],
                "basis": basis[kk, ss],
                "price": price[kk, ss],
                "price_source": price_source[kk, ss],
                "shares": shares_ref[kk, ss],
                "market_cap": mcap[kk, ss],
                "dollar_volume": adv[kk, ss],
                "value": value[kk, ss],
                "score": score[kk, ss],
                "rank": np.where(rank[kk, ss] > 0, rank[kk, ss], np.nan),
                "selected": eligible[kk, ss],
            }
        )

    targets = _targets(eligible, weighting, scores, adj_all[ref_full] if ranked else None, carried[eff_pos])
    if cap is not None:
        targets, infeasible = _apply_cap(targets, cap)
        for k in np.flatnonzero(infeasible):
            notes.append(
                f"{sched['effective_date'].iloc[k].date()}: a {cap:.2%} cap cannot hold with "
                f"{int(eligible[k].sum())} members; they are equally weighted"
            )
    empty_rebalances = ~eligible.any(axis=1)
    for k in np.flatnonzero(empty_rebalances):
        notes.append(f"{sched['effective_date'].iloc[k].date()}: no eligible symbol; the index holds cash")

    sim = simulate_weights(carried, eff_pos, targets, cost_bps / 1e4, charge_initial=charge_initial)
    eff_dates = pd.DatetimeIndex(sched["effective_date"])
    return IndexResult(
        levels=pd.Series(base * sim.value, index=sessions, name="level"),
        gross_levels=pd.Series(base * sim.gross, index=sessions, name="gross_level"),
        weights=pd.DataFrame(sim.weights, index=sessions, columns=symbols),
        turnover=pd.Series(sim.turnover, index=eff_dates, name="turnover"),
        costs=pd.Series(sim.cost, index=eff_dates, name="cost"),
        rebalance_dates=eff_dates,
        schedule=sched,
        changes=_changes(sched, symbols, eligible, (priced, ref_priced, rankable), rank_frame, top_n),
        ranks=rank_frame,
        base=base,
        cost_bps=cost_bps,
        notes=tuple(notes),
    )


def equal_weight_index(
    prices: pd.DataFrame,
    rebalance: str = "Q",
    base: float = 1000.0,
    cost_bps: float = 0.0,
    **kwargs: Any,
) -> IndexResult:
    """Equal-weighted index of every column of ``prices`` (see ``build_index`` for ``kwargs``)."""
    return build_index(prices, rebalance=rebalance, base=base, cost_bps=cost_bps, weighting="equal", **kwargs)


def _targets(
    members: np.ndarray,
    weighting: str,
    scores: np.ndarray | None,
    adj_ref: np.ndarray | None,
    price_eff: np.ndarray,
) -> np.ndarray:
    """(K x N) target weights of the members at each effective date."""
    counts = members.sum(axis=1, keepdims=True)
    if weighting == "equal":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(members, 1.0 / np.maximum(counts, 1), 0.0)
    # Reference-date cap carried to the effective date by the price change in between.
    if scores is None or adj_ref is None:
        raise ValueError("cap weighting needs market caps at the reference date")
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(members, scores * price_eff / np.where(members, adj_ref, 1.0), 0.0)
    total = raw.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, raw / np.where(total > 0, total, 1.0), 0.0)


def _apply_cap(weights: np.ndarray, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """Cap every weight at ``cap``, giving the excess to uncapped names pro rata; rows that cannot -> equal."""
    w = weights.copy()
    held = w > 0
    counts = held.sum(axis=1)
    infeasible = (counts > 0) & (counts * cap < 1.0 - _CAP_TOL)
    w[infeasible] = np.where(held[infeasible], 1.0 / counts[infeasible, None], 0.0)
    fixed = np.zeros_like(held)
    for _ in range(w.shape[1]):
        over = held & ~fixed & (w > cap * (1 + _CAP_TOL))
        over[infeasible] = False
        if not over.any():
            break
        fixed |= over
        free = held & ~fixed
        free_sum = np.where(free, w, 0.0).sum(axis=1)
        room = 1.0 - cap * fixed.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(free_sum > 0, room / free_sum, 1.0)
        w = np.where(fixed, cap, np.where(free, w * scale[:, None], w))
    return w, infeasible


def _changes(
    sched: pd.DataFrame,
    symbols: pd.Index,
    members: np.ndarray,
    why: tuple[np.ndarray, np.ndarray | None, np.ndarray | None],
    ranks: pd.DataFrame,
    top_n: int | None,
) -> pd.DataFrame:
    """Additions and removals at each rebalance (the first one adds every initial member).

    ``why`` = (priced on the effective date, priced on the reference date, rankable) for the reasons of
    removals; the last two are None when nothing is ranked.
    """
    columns = ["date", "reference_date", "symbol", "change", "reason", "rank", "value", "basis"]
    differs = np.flatnonzero(np.any(members[1:] != members[:-1], axis=1)) + 1
    rows = np.concatenate(([0], differs))  # only rows whose membership changed need a closer look
    now = members[rows]
    previous = np.where((rows > 0)[:, None], members[np.maximum(rows - 1, 0)], False)
    k_add, j_add = np.nonzero(now & ~previous)
    k_rem, j_rem = np.nonzero(previous & ~now)
    k_add, k_rem = rows[k_add], rows[k_rem]
    if len(k_add) + len(k_rem) == 0:
        return pd.DataFrame(columns=columns)
    priced, ref_priced, rankable = why
    out_reason = np.where(priced[k_rem, j_rem], "rank", "no price").astype(object)
    if ref_priced is not None and rankable is not None:
        out_reason[~ref_priced[k_rem, j_rem]] = "no price"
        out_reason[(out_reason != "no price") & ~rankable[k_rem, j_rem]] = "unrankable"
    kk = np.concatenate([k_add, k_rem])
    jj = np.concatenate([j_add, j_rem])
    change = np.array(["added"] * len(k_add) + ["removed"] * len(k_rem), dtype=object)
    added_reason = np.where(kk == 0, "start", "rank" if top_n is not None else "price")
    out = pd.DataFrame(
        {
            "date": sched["effective_date"].to_numpy()[kk],
            "reference_date": sched["reference_date"].to_numpy()[kk],
            "symbol": symbols.to_numpy()[jj],
            "change": change,
            "reason": np.concatenate([added_reason[: len(k_add)], out_reason]),
        }
    )
    if not ranks.empty:
        info = ranks.set_index(["effective_date", "symbol"])[["rank", "value", "basis"]]
        looked = info.reindex(pd.MultiIndex.from_arrays([out["date"], out["symbol"]]))
        out["rank"] = looked["rank"].to_numpy()
        out["value"] = looked["value"].to_numpy()
        out["basis"] = looked["basis"].fillna("unrankable").to_numpy()
    else:
        out["rank"] = np.nan
        out["value"] = np.nan
        out["basis"] = ""
    out = out.sort_values(["date", "change", "symbol"], kind="stable", ignore_index=True)
    return out[columns]
