"""Technical indicators (SMA, EMA, Bollinger Bands, Wilder RSI, MACD) on price series."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

__all__ = ["bollinger", "ema", "macd", "rsi", "sma"]

# Shared conventions (apply to every public function in this module):
#
# * Input is a ``pd.Series`` of prices, normally with a DatetimeIndex.  Rows are
#   used in the given order (pass it sorted ascending).  Output has exactly the
#   input index (same order, same length).
# * Missing prices (NaN) are skipped: the indicator is computed on the observed
#   prices only, so a window of ``n`` means the last ``n`` *observations*, and
#   the result is re-aligned to the input index.  Dates whose price is NaN get
#   a NaN indicator value.
# * The first values, until enough observations exist, are NaN (warm-up).
# * Window-like arguments must be positive ``int``s, otherwise ``ValueError``.


def _validate_int(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise ValueError if it is not an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        # ValueError (not TypeError) on purpose: one exception type for bad arguments.
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _observed(prices: pd.Series) -> pd.Series:
    """Validate ``prices`` and return its non-NaN values as a float Series."""
    if not isinstance(prices, pd.Series):
        raise TypeError(f"prices must be a pandas Series, got {type(prices).__name__}")
    if prices.index.has_duplicates:
        raise ValueError("prices index has duplicate labels")
    try:
        values = prices.astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"prices must be numeric: {exc}") from exc
    if np.isinf(values.to_numpy()).any():
        raise ValueError("prices contain infinite values")
    return values.dropna()


def _ewm_full(values: pd.Series, span: int) -> pd.Series:
    """EMA recursion ``y0 = x0; y_t = a*x_t + (1-a)*y_{t-1}`` with ``a = 2/(span+1)``, no warm-up mask."""
    return values.ewm(span=span, adjust=False).mean()


def _mask_head(values: pd.Series, n: int) -> pd.Series:
    """Set the first ``n`` positions to NaN (warm-up)."""
    out = values.copy()
    out.iloc[:n] = np.nan
    return out


def _wilder_average(x: pd.Series, period: int) -> pd.Series:
    """Wilder smoothing of ``x[1:]``: seed = mean of ``x[1:period+1]``, then EMA with alpha=1/period."""
    seeded = x.iloc[period:].copy()
    seeded.iloc[0] = x.iloc[1 : period + 1].mean()
    return seeded.ewm(alpha=1.0 / period, adjust=False).mean()


def sma(prices: pd.Series, window: int) -> pd.Series:
    """Simple moving average: arithmetic mean of the last ``window`` observed prices.

    NaN for the first ``window - 1`` observations.  Same index as ``prices``.
    """
    window = _validate_int("window", window)
    obs = _observed(prices)
    out = obs.rolling(window, min_periods=window).mean()
    return out.reindex(prices.index).rename(prices.name)


def ema(prices: pd.Series, span: int) -> pd.Series:
    """Exponential moving average, pandas ``ewm(span=span, adjust=False)``.

    Recursion: ``a = 2 / (span + 1)``, ``ema_0 = p_0``,
    ``ema_t = a * p_t + (1 - a) * ema_{t-1}`` (seeded with the first observed
    price, *not* with an SMA as TA-Lib does).  The first ``span - 1`` values are
    reported as NaN (warm-up); values afterwards are the unmodified recursion.
    Same index as ``prices``.
    """
    span = _validate_int("span", span)
    obs = _observed(prices)
    out = _mask_head(_ewm_full(obs, span), span - 1)
    return out.reindex(prices.index).rename(prices.name)


def bollinger(prices: pd.Series, window: int = 20, num_std: float = 2.0) -> pd.DataFrame:
    """Bollinger Bands: columns ``middle``, ``upper``, ``lower``.

    ``middle = SMA(window)``; ``upper/lower = middle +/- num_std * sigma`` where
    ``sigma`` is the rolling **population** standard deviation (``ddof=0``) of
    the last ``window`` observed prices, as in Bollinger's definition and
    TA-Lib.  NaN for the first ``window - 1`` observations.  ``num_std`` must be
    a finite number >= 0.
    """
    window = _validate_int("window", window)
    if isinstance(num_std, bool) or not isinstance(num_std, numbers.Real) or not np.isfinite(num_std) or num_std < 0:
        raise ValueError(f"num_std must be a finite number >= 0, got {num_std!r}")
    obs = _observed(prices)
    roll = obs.rolling(window, min_periods=window)
    middle = roll.mean()
    width = float(num_std) * roll.std(ddof=0)
    out = pd.DataFrame({"middle": middle, "upper": middle + width, "lower": middle - width})
    return out.reindex(prices.index)


def rsi(prices: pd.Series, period: int = 14) -> pd.Series:
    """Relative Strength Index (0..100) with Wilder's smoothing.

    With price changes ``d_t = p_t - p_{t-1}``, gains ``max(d, 0)`` and losses
    ``max(-d, 0)``:

    * seed (at the ``period``-th change): ``avg = mean`` of the first
      ``period`` gains (resp. losses), as in Wilder (1978) and TA-Lib;
    * then ``avg_t = avg_{t-1} + (x_t - avg_{t-1}) / period``
      (an EMA with ``alpha = 1/period``);
    * ``RSI = 100 - 100 / (1 + avg_gain / avg_loss)``.

    If ``avg_loss == 0`` the RSI is 100 (only gains); if both averages are 0
    (flat prices) the RSI is 50 (neutral; TA-Lib returns 0 there).  The first
    ``period`` observations are NaN (the first value is at observation
    ``period``, i.e. after ``period`` price changes).  Same index as ``prices``.
    """
    period = _validate_int("period", period)
    obs = _observed(prices)
    if len(obs) <= period:
        return pd.Series(np.nan, index=prices.index, dtype="float64", name=prices.name)
    delta = obs.diff()
    avg_gain = _wilder_average(delta.clip(lower=0.0), period)
    avg_loss = _wilder_average((-delta).clip(lower=0.0), period)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    values = values.mask(avg_loss == 0.0, 100.0)
    values = values.mask((avg_loss == 0.0) & (avg_gain == 0.0), 50.0)
    return values.reindex(prices.index).rename(prices.name)


def macd(prices: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9) -> pd.DataFrame:
    """MACD: columns ``macd``, ``signal``, ``histogram``.

    ``macd = EMA(fast) - EMA(slow)``, ``signal = EMA(macd, signal)``,
    ``histogram = macd - signal``.  Every EMA is pandas
    ``ewm(span, adjust=False)`` seeded at the first observation (the usual
    pandas recipe, not TA-Lib's SMA seeding); the signal line runs over the
    whole MACD line from the first observation.  Warm-up NaNs: ``macd`` for the
    first ``slow - 1`` observations, ``signal`` and ``histogram`` for the first
    ``slow + signal - 2``.  Requires ``fast < slow``.  Same index as ``prices``.
    """
    fast = _validate_int("fast", fast)
    slow = _validate_int("slow", slow)
    signal = _validate_int("signal", signal)
    if fast >= slow:
        raise ValueError(f"fast ({fast}) must be smaller than slow ({slow})")
    obs = _observed(prices)
    line = _ewm_full(obs, fast) - _ewm_full(obs, slow)
    sig = _ewm_full(line, signal)
    warm_line = slow - 1
    warm_sig = slow + signal - 2
    out = pd.DataFrame(
        {
            "macd": _mask_head(line, warm_line),
            "signal": _mask_head(sig, warm_sig),
            "histogram": _mask_head(line - sig, warm_sig),
        }
    )
    return out.reindex(prices.index)
