"""Return and risk analytics (performance ratios, drawdowns, VaR, beta, rolling stats) on price series."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from datetime import date
from typing import TypeVar

import numpy as np
import pandas as pd

__all__ = [
    "correlation_matrix",
    "drawdown_series",
    "returns",
    "risk_metrics",
    "rolling_beta",
    "rolling_sharpe",
    "rolling_volatility",
]

# Shared conventions (apply to every public function in this module):
#
# * Input prices are a ``pd.Series`` (normally DatetimeIndex, one row per
#   trading day).  The index is sorted ascending; duplicate labels, infinite
#   and non-positive prices raise ``ValueError``.
# * Missing prices (NaN) are dropped first, so a return spans from one
#   observed price to the next (a NaN gap does not create a NaN return).
# * Returns are simple returns ``p_t / p_{t-1} - 1``; outputs built on returns
#   are indexed by the return dates (the first observed date has no return).
# * ``periods`` = observations per year (252 for daily data).  ``risk_free`` is
#   an annual rate, converted to a per-period rate ``(1 + rf)**(1/periods) - 1``.
# * Ratios whose denominator is (numerically) zero are NaN, never +/-inf.

_ZERO = 1e-12  # per-period dispersion at or below this is treated as zero
_VAR_LEVEL = 0.05  # tail probability for var_95 / cvar_95


def _validate_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an int, or raise ValueError if it is not an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        # ValueError (not TypeError) on purpose: one exception type for bad arguments.
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _validate_periods(periods: object) -> float:
    if (
        isinstance(periods, bool)
        or not isinstance(periods, numbers.Real)
        or not np.isfinite(float(periods))
        or periods <= 0
    ):
        raise ValueError(f"periods must be a positive number, got {periods!r}")
    return float(periods)


def _per_period_rf(risk_free: object, periods: float) -> float:
    if (
        isinstance(risk_free, bool)
        or not isinstance(risk_free, numbers.Real)
        or not np.isfinite(float(risk_free))
        or risk_free <= -1
    ):
        raise ValueError(f"risk_free must be an annual rate > -1, got {risk_free!r}")
    return (1.0 + float(risk_free)) ** (1.0 / periods) - 1.0


PricesT = TypeVar("PricesT", pd.Series, pd.DataFrame)


def _checked(prices: PricesT, name: str) -> PricesT:
    """`prices` (a series, or a frame of series) as float, sorted by date; NaN is a day without a price. Raises
    ValueError on duplicate dates, non-numeric, infinite or non-positive prices."""
    if prices.index.has_duplicates:
        raise ValueError(f"{name} index has duplicate labels")
    try:
        values = prices.astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from exc
    if not values.index.is_monotonic_increasing:
        values = values.sort_index()
    arr = values.to_numpy()
    arr = arr[~np.isnan(arr)]
    if np.isinf(arr).any():
        raise ValueError(f"{name} contain infinite values")
    if (arr <= 0).any():
        raise ValueError(f"{name} must be strictly positive")
    return values


def _clean_prices(prices: pd.Series, name: str = "prices") -> pd.Series:
    """Validate and return the observed (non-NaN) prices as float, sorted by index."""
    if not isinstance(prices, pd.Series):
        raise TypeError(f"{name} must be a pandas Series, got {type(prices).__name__}")
    return _checked(prices, name).dropna()


def _simple_returns(clean: pd.Series) -> pd.Series:
    return (clean / clean.shift(1) - 1.0).iloc[1:]


def _ratio(num: float, den: float) -> float:
    """``num / den``, NaN when ``den`` is (numerically) zero or NaN."""
    if not np.isfinite(den) or abs(den) <= _ZERO:
        return float("nan")
    return float(num / den)


def returns(prices: pd.Series) -> pd.Series:
    """Simple periodic returns ``p_t / p_{t-1} - 1`` of the observed prices.

    NaN prices are dropped first (the return after a gap spans the gap); the
    first observation has no return and is dropped, so the result has one row
    fewer than the observed prices (empty if fewer than 2 prices).
    """
    return _simple_returns(_clean_prices(prices)).rename(prices.name)


def _aligned_returns(prices: pd.Series, benchmark: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Returns of both series, inner-joined on the return dates."""
    r = _simple_returns(_clean_prices(prices))
    b = _simple_returns(_clean_prices(benchmark, "benchmark"))
    idx = r.index.intersection(b.index, sort=True)
    return r.loc[idx], b.loc[idx]


def risk_metrics(
    prices: pd.Series,
    benchmark: pd.Series | None = None,
    risk_free: float = 0.0,
    periods: float = 252,
) -> dict[str, float]:
    """Summary performance and risk statistics of a price series.

    Follows empyrical's conventions (``r`` = simple returns, ``n`` = number of
    returns, ``rf`` = per-period risk-free rate, ``x = r - rf``):

    * ``total_return``: ``p_last / p_first - 1``.
    * ``cagr``: ``(1 + total_return) ** (periods / n) - 1`` -- years are
      counted as ``n / periods`` (empyrical ``annual_return``), *not* calendar
      days / 365.25 (quantstats uses calendar days / 365).
    * ``volatility``: ``std(r, ddof=1) * sqrt(periods)``.
    * ``sharpe``: ``mean(x) / std(x, ddof=1) * sqrt(periods)``; NaN if the
      volatility is zero.
    * ``sortino``: ``mean(x) * periods / (sqrt(mean(min(x, 0)**2)) * sqrt(periods))``;
      NaN if there is no downside (empyrical returns inf there).
    * ``max_drawdown``: most negative ``p_t / max_{s<=t} p_s - 1`` (<= 0).
    * ``calmar``: ``cagr / |max_drawdown|``; NaN if there is no drawdown.
    * ``var_95``: historical 5% quantile of ``r`` (numpy linear
      interpolation, as empyrical ``value_at_risk``); a negative fraction.
    * ``cvar_95``: mean of the returns ``<= var_95``.  Equal to empyrical's
      ``conditional_value_at_risk`` (mean of the ``floor((n-1)*0.05) + 1``
      smallest returns) except when returns tie with the quantile.
    * ``beta``: ``cov(r, b) / var(b)`` on the benchmark-aligned returns.
    * ``alpha``: ``(1 + mean(x - beta * (b - rf))) ** periods - 1``.
    * ``correlation``: Pearson correlation of ``r`` and ``b``.

    Own metrics use every return of ``prices``.  Benchmark metrics use the
    return dates present in both series (inner join of the two return series,
    each computed on its own observed prices, as empyrical aligns returns);
    they are NaN without a benchmark, with fewer than 2 common returns, or
    with a constant benchmark.  ``risk_free`` is an annual rate.

    Raises ``ValueError`` if ``prices`` has fewer than 2 non-NaN values
    (including all-NaN) or invalid arguments.
    """
    periods = _validate_periods(periods)
    rf = _per_period_rf(risk_free, periods)
    clean = _clean_prices(prices)
    if clean.empty:
        raise ValueError("prices contain no valid (non-NaN) values")
    if len(clean) < 2:
        raise ValueError(f"at least 2 non-NaN prices are required, got {len(clean)}")

    r = _simple_returns(clean)
    n = len(r)
    x = r - rf
    sqrt_p = np.sqrt(periods)

    total_return = float(clean.iloc[-1] / clean.iloc[0] - 1.0)
    cagr = float((1.0 + total_return) ** (periods / n) - 1.0)

    std_r = float(r.std(ddof=1)) if n > 1 else float("nan")
    std_x = float(x.std(ddof=1)) if n > 1 else float("nan")
    volatility = std_r * sqrt_p
    sharpe = _ratio(float(x.mean()), std_x) * sqrt_p

    downside = float(np.sqrt(np.mean(np.minimum(x.to_numpy(), 0.0) ** 2)))
    sortino = _ratio(float(x.mean()), downside) * sqrt_p

    max_drawdown = float((clean / clean.cummax() - 1.0).min())
    calmar = float(cagr / abs(max_drawdown)) if max_drawdown < 0 else float("nan")

    arr = r.to_numpy()
    var_95 = float(np.quantile(arr, _VAR_LEVEL))
    cvar_95 = float(arr[arr <= var_95].mean())

    beta = alpha = correlation = float("nan")
    if benchmark is not None:
        b = _simple_returns(_clean_prices(benchmark, "benchmark"))
        common = r.index.intersection(b.index, sort=True)
        if len(common) >= 2:
            xa = r.loc[common].to_numpy() - rf
            xb = b.loc[common].to_numpy() - rf
            xa_dev, xb_dev = xa - xa.mean(), xb - xb.mean()
            cov = float(np.mean(xa_dev * xb_dev))
            var_a, var_b = float(np.mean(xa_dev**2)), float(np.mean(xb_dev**2))
            if var_b > _ZERO**2:  # population moments: the ddof cancels in the ratio
                beta = cov / var_b
                alpha = float((1.0 + np.mean(xa - beta * xb)) ** periods - 1.0)
                if var_a > _ZERO**2:
                    correlation = float(np.clip(cov / np.sqrt(var_a * var_b), -1.0, 1.0))

    return {
        "total_return": total_return,
        "cagr": cagr,
        "volatility": volatility,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": max_drawdown,
        "calmar": calmar,
        "var_95": var_95,
        "cvar_95": cvar_95,
        "beta": beta,
        "alpha": alpha,
        "correlation": correlation,
    }


def drawdown_series(prices: pd.Series) -> pd.Series:
    """Drawdown ``p_t / max_{s<=t} p_s - 1`` (<= 0, 0 at new highs), indexed by observed dates."""
    clean = _clean_prices(prices)
    return (clean / clean.cummax() - 1.0).rename(prices.name)


def rolling_volatility(prices: pd.Series, window: int = 63, periods: float = 252) -> pd.Series:
    """Annualised rolling volatility ``std(r, ddof=1) * sqrt(periods)`` over ``window`` returns.

    Indexed by return dates; NaN for the first ``window - 1`` returns.
    """
    window = _validate_int("window", window, 2)
    periods = _validate_periods(periods)
    r = _simple_returns(_clean_prices(prices))
    out = r.rolling(window, min_periods=window).std(ddof=1) * np.sqrt(periods)
    return out.rename(prices.name)


def rolling_sharpe(
    prices: pd.Series,
    window: int = 63,
    risk_free: float = 0.0,
    periods: float = 252,
) -> pd.Series:
    """Rolling annualised Sharpe ``mean(x) / std(x, ddof=1) * sqrt(periods)``, ``x = r - rf``.

    Same formula as ``risk_metrics()['sharpe']`` over each trailing window of
    ``window`` returns (``risk_free`` annual).  NaN during warm-up and where
    the window's volatility is zero.  Indexed by return dates.
    """
    window = _validate_int("window", window, 2)
    periods = _validate_periods(periods)
    rf = _per_period_rf(risk_free, periods)
    x = _simple_returns(_clean_prices(prices)) - rf
    roll = x.rolling(window, min_periods=window)
    std = roll.std(ddof=1)
    out = roll.mean() / std.where(std > _ZERO) * np.sqrt(periods)
    return out.rename(prices.name)


def rolling_beta(prices: pd.Series, benchmark: pd.Series, window: int = 63) -> pd.Series:
    """Rolling beta ``cov(r, b) / var(b)`` over ``window`` aligned returns.

    Returns are aligned as in ``risk_metrics`` (inner join on return dates);
    the window counts common return dates.  NaN during warm-up and where the
    benchmark is constant over the window.  Indexed by the common return dates.
    """
    window = _validate_int("window", window, 2)
    r, b = _aligned_returns(prices, benchmark)
    cov = r.rolling(window, min_periods=window).cov(b)
    var = b.rolling(window, min_periods=window).var()
    out = cov / var.where(var > _ZERO**2)
    return out.rename(prices.name)


def correlation_matrix(prices_wide: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation matrix of daily returns, one column per asset.

    Each column's returns are computed on its own observed prices (see
    ``returns``); pairs are then correlated over their common return dates
    (pandas pairwise-complete ``DataFrame.corr``).  NaN for a pair with fewer
    than 2 common returns or a constant column.
    """
    if not isinstance(prices_wide, pd.DataFrame):
        raise TypeError(f"prices_wide must be a pandas DataFrame, got {type(prices_wide).__name__}")
    if prices_wide.columns.has_duplicates:
        raise ValueError("prices_wide has duplicate column names")
    values = _checked(prices_wide, "prices_wide")
    # Every column's `returns` at once: on a day with a close, that close over the column's previous one (the last
    # close before the day, across any gap), minus one; NaN on the first close and on days without one. The same
    # arithmetic on the same pairs as column by column, so the same numbers, in one pass over the frame.
    wide = values / values.ffill().shift(1) - 1.0
    return wide.corr(method="pearson", min_periods=2)


# -- page-level tables: several tickers against a benchmark ---------------------------------------------

MIN_PRICES = 3  # fewer closes than this give no return statistics worth showing


def usable_symbols(wide: pd.DataFrame, symbols: list[str]) -> list[str]:
    """Symbols of `symbols` with at least MIN_PRICES closes in `wide` (absent columns count as none)."""
    closes = wide.notna().sum()  # per column, in one pass over the frame (column by column is 30x the overhead)
    return [s for s in symbols if closes.get(s, 0) >= MIN_PRICES]


# Annualising fewer returns than about three months' sessions extrapolates noise (22 days give a CAGR of -74%).
MIN_ANNUALISED_RETURNS = 63


def return_counts(wide: pd.DataFrame, symbols: list[str]) -> pd.Series:
    """Daily returns each symbol has in `wide` (observed closes minus one; 0 when absent), indexed by symbol."""
    closes = wide.notna().sum()
    counts = [max(int(closes.get(s, 0)) - 1, 0) for s in symbols]
    return pd.Series(counts, index=pd.Index(symbols, name="symbol"), dtype="int64", name="returns")


def short_for_annualising(counts: pd.Series, minimum: int = MIN_ANNUALISED_RETURNS) -> pd.Series:
    """The entries of `return_counts` below `minimum`: symbols whose annualised figures rest on too little data."""
    return counts[counts < minimum]


RISK_FREE_SERIES = "DGS3MO"  # FRED: 3-month Treasury bill, secondary market, percent a year


def average_rate(rates_pct: pd.Series, start: date, end: date) -> float | None:
    """The mean of a percent-a-year rate series (e.g. DGS3MO) over the days from `start` to `end`, as an annual
    fraction (4.5 -> 0.045); each stored observation weighs the same. None when none falls in the range."""
    if rates_pct.empty:
        return None
    index = pd.DatetimeIndex(rates_pct.index)
    inside = rates_pct.to_numpy(dtype="float64")[(index >= pd.Timestamp(start)) & (index <= pd.Timestamp(end))]
    inside = inside[np.isfinite(inside)]
    return float(inside.mean()) / 100.0 if inside.size else None


def risk_report(
    wide: pd.DataFrame,
    tickers: list[str],
    benchmark: str,
    risk_free: float = 0.0,
    *,
    metrics_of: Callable[[str], dict[str, float]] | None = None,
    drawdown_of: Callable[[str], pd.Series] | None = None,
) -> dict[str, pd.DataFrame]:
    """The Risk page's numbers from adjusted closes (`wide`, one column per symbol).

    Returns `prices` (the closes used), `metrics` (one row per usable ticker, then the benchmark), `drawdowns`
    and `correlation` (tickers and benchmark). Tickers without enough prices are left out; with no usable
    benchmark or ticker the tables are empty (never a KeyError: the API calls this with any range).
    `metrics_of(symbol)` and `drawdown_of(ticker)` may give a symbol's `risk_metrics` (against the benchmark, with
    `risk_free`) and `drawdown_series` from elsewhere (a cache shared by every list holding the symbol); by default
    they are computed from `wide`.
    """
    symbols = list(dict.fromkeys([*tickers, benchmark]))
    usable = usable_symbols(wide, symbols)
    kept = [t for t in tickers if t in usable]
    if benchmark not in usable or not kept:
        empty = pd.DataFrame()
        return {"prices": wide.reindex(columns=usable), "metrics": empty, "drawdowns": empty, "correlation": empty}
    symbols = list(dict.fromkeys([*kept, benchmark]))
    bench = wide[benchmark]
    metrics_of = metrics_of or (lambda s: risk_metrics(wide[s], bench, risk_free=risk_free))
    drawdown_of = drawdown_of or (lambda t: drawdown_series(wide[t]))
    return {
        "prices": wide[symbols],
        "metrics": pd.DataFrame([{"symbol": s, **metrics_of(s)} for s in symbols]),
        "drawdowns": pd.DataFrame({t: drawdown_of(t) for t in kept}),
        "correlation": correlation_matrix(wide[symbols]),
    }


ROLLING_KINDS = ("volatility", "beta", "sharpe")


def rolling_column(
    kind: str, prices: pd.Series, benchmark: pd.Series, window: int, risk_free: float = 0.0
) -> pd.Series:
    """One ticker's rolling `volatility`, `beta` (against `benchmark`'s closes) or `sharpe` (see rolling_table)."""
    if kind == "volatility":
        return rolling_volatility(prices, window)
    if kind == "beta":
        return rolling_beta(prices, benchmark, window)
    return rolling_sharpe(prices, window, risk_free=risk_free)


def rolling_table(
    kind: str,
    wide: pd.DataFrame,
    tickers: list[str],
    benchmark: str,
    window: int,
    risk_free: float = 0.0,
    *,
    column_of: Callable[[str], pd.Series] | None = None,
) -> pd.DataFrame:
    """Rolling `volatility`, `beta` (vs the benchmark; the benchmark itself left out) or `sharpe`, a column per ticker.

    Tickers without enough prices are left out (empty frame when none is left); unknown kinds raise ValueError.
    `column_of(ticker)` may give a ticker's `rolling_column` from elsewhere (a shared cache); by default it is
    computed from `wide`.
    """
    if kind not in ROLLING_KINDS:
        raise ValueError(f"unknown rolling statistic {kind!r}; expected one of {', '.join(ROLLING_KINDS)}")
    kept = usable_symbols(wide, list(tickers))
    if kind == "beta":
        if benchmark not in usable_symbols(wide, [benchmark]):
            return pd.DataFrame()
        kept = [t for t in kept if t != benchmark]
    bench = wide[benchmark] if benchmark in wide.columns else pd.Series(dtype="float64")
    column_of = column_of or (lambda t: rolling_column(kind, wide[t], bench, window, risk_free))
    return pd.DataFrame({t: column_of(t) for t in kept})
