"""Convert USD-denominated values into a display currency using FRED daily exchange rates."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "CURRENCY_SYMBOLS",
    "FX_SERIES",
    "SUPPORTED_CURRENCIES",
    "UNITS_PER_USD",
    "USD_PER_UNIT",
    "align_rates",
    "convert_prices",
    "fx_series_id",
]

# Conventions
# -----------
# * FRED H.10 daily rates (noon buying rates in New York) come in two quotes:
#     USD_PER_UNIT  -- US dollars per one unit of the currency (DEXUSUK: USD
#                      per GBP, DEXUSEU: USD per EUR): value = USD / rate;
#     UNITS_PER_USD -- units of the currency per one US dollar (DEXJPUS: JPY
#                      per USD): value = USD * rate.
# * Each value is converted at the rate of its own calendar date; when that
#   date has no rate (weekend, FX holiday, rate not yet published) the last
#   earlier rate is used (forward fill, no limit).  Before the first rate the
#   result is NaN -- rates are never back-filled.  Value timestamps are
#   compared as calendar dates (intraday time and time zone dropped), so a
#   price stamped 2024-01-05 uses the 2024-01-05 rate.
# * Missing, non-finite and non-positive rates are ignored (treated as absent).
# * Conversion is a per-date rescaling of levels.  Returns, drawdowns and
#   ratios computed from converted prices include the FX moves (they are the
#   returns of a holder in that currency) and differ from the USD ones;
#   compute USD returns/risk from USD prices, before conversion.
# * Bad arguments raise ValueError.

USD_PER_UNIT = "USD_PER_UNIT"
UNITS_PER_USD = "UNITS_PER_USD"
FX_SERIES: dict[str, tuple[str, str]] = {
    "GBP": ("DEXUSUK", USD_PER_UNIT),
    "EUR": ("DEXUSEU", USD_PER_UNIT),
    "JPY": ("DEXJPUS", UNITS_PER_USD),
}
SUPPORTED_CURRENCIES: tuple[str, ...] = ("USD", "GBP", "EUR", "JPY")
CURRENCY_SYMBOLS: dict[str, str] = {"USD": "$", "GBP": "£", "EUR": "€", "JPY": "¥"}
_QUOTES = (USD_PER_UNIT, UNITS_PER_USD)


def _check_currency(currency: object) -> str:
    """Return the upper-case currency code or raise ValueError listing the supported ones."""
    code = currency.strip().upper() if isinstance(currency, str) else None
    if code not in SUPPORTED_CURRENCIES:
        raise ValueError(f"unsupported currency {currency!r}; supported: {', '.join(SUPPORTED_CURRENCIES)}")
    return code


def _calendar_dates(index: pd.Index, name: str) -> pd.DatetimeIndex:
    """Return ``index`` as tz-naive midnight dates, or raise ValueError if it is not a DatetimeIndex."""
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(f"{name} must have a DatetimeIndex")
    if index.tz is not None:
        index = index.tz_localize(None)
    return index.normalize()


def fx_series_id(currency: str) -> str | None:
    """Return the FRED series id holding ``currency``'s rate (None for USD); ValueError if unsupported."""
    code = _check_currency(currency)
    return None if code == "USD" else FX_SERIES[code][0]


def align_rates(fx_rates: pd.Series, dates: pd.DatetimeIndex) -> pd.Series:
    """Return the rate that applies on each of ``dates``: the last valid rate on or before that date, else NaN."""
    if not isinstance(fx_rates, pd.Series):
        raise ValueError("fx_rates must be a pandas Series")
    try:
        rates = pd.Series(fx_rates.to_numpy(dtype="float64"), index=_calendar_dates(fx_rates.index, "fx_rates"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"fx_rates must be numeric with a DatetimeIndex: {exc}") from exc
    rates = rates[np.isfinite(rates.to_numpy()) & (rates.to_numpy() > 0)].sort_index()
    if rates.index.has_duplicates:
        raise ValueError("fx_rates has several rates on one date")
    targets = _calendar_dates(dates, "dates")
    position = rates.index.searchsorted(targets, side="right") - 1
    aligned = np.full(len(targets), np.nan)
    found = position >= 0
    aligned[found] = rates.to_numpy()[position[found]]
    return pd.Series(aligned, index=dates, name=fx_rates.name, dtype="float64")


def convert_prices(
    values: pd.Series | pd.DataFrame,
    fx_rates: pd.Series,
    currency: str,
    quote: str | None = None,
) -> pd.Series | pd.DataFrame:
    """Convert USD ``values`` (Series or DataFrame by date) to ``currency`` at each date's FRED rate.

    ``fx_rates`` is the FRED series for ``currency`` (see FX_SERIES);
    ``quote`` is USD_PER_UNIT (divide) or UNITS_PER_USD (multiply) and
    defaults to the FRED quote of ``currency``.  Days without a rate use the
    last earlier rate; values before the first rate become NaN.  'USD'
    returns an unchanged copy (``fx_rates`` and ``quote`` are ignored).
    Returns the same type, index, columns and name as ``values``.
    """
    code = _check_currency(currency)
    if not isinstance(values, (pd.Series, pd.DataFrame)):
        raise ValueError("values must be a pandas Series or DataFrame")
    _calendar_dates(values.index, "values")
    if code == "USD":
        return values.copy()
    quote = FX_SERIES[code][1] if quote is None else quote
    if quote not in _QUOTES:
        raise ValueError(f"quote must be one of {', '.join(_QUOTES)}; got {quote!r}")
    rate = align_rates(fx_rates, values.index).to_numpy()
    factor = 1.0 / rate if quote == USD_PER_UNIT else rate
    if isinstance(values, pd.DataFrame):
        return values.mul(factor, axis=0)
    return values * factor
