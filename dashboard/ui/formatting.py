"""The one place that decides how numbers look: prices, numbers, percentages, signed changes, currency axes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pandas.io.formats.style import Styler

from analytics.fx import CURRENCY_SYMBOLS

MISSING = "–"
NUMBER_DIGITS = 2
PERCENT_DIGITS = 2
# Text colours of signed changes in tables (the figures' candle colours, readable on the dark theme).
GAIN, LOSS = "#26a69a", "#ef5350"


def price_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of a frame that hold prices in the quote currency (what a display-currency switch converts)."""
    names = {"open", "high", "low", "close", "adj_close", "last", "price", "high_52w", "low_52w"}
    prefixes = ("SMA", "EMA", "bb_")
    return [c for c in frame.columns if c in names or str(c).startswith(prefixes)]


def _number(value: object) -> float | None:
    """`value` as a finite float, else None (missing, NaN, infinite or not a number)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _finite(value: object) -> bool:
    return _number(value) is not None


def format_price(value: float | None, currency: str = "USD", digits: int = 2) -> str:
    """One place for price text, so a later display-currency conversion changes it everywhere."""
    if not _finite(value):
        return MISSING
    symbol = CURRENCY_SYMBOLS.get(currency, "")
    text = f"{value:,.{digits}f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def format_number(value: object, digits: int = NUMBER_DIGITS) -> str:
    """A number with thousands separators and fixed decimals: 1057.0123 -> '1,057.01'."""
    number = _number(value)
    return MISSING if number is None else f"{number:,.{digits}f}"


def format_percent(value: object, digits: int = PERCENT_DIGITS, signed: bool = False) -> str:
    """A fraction as a percentage with fixed decimals and separators: 27.2831 -> '2,728.31%' (+ sign if `signed`)."""
    number = _number(value)
    return MISSING if number is None else f"{number * 100:{'+' if signed else ''},.{digits}f}%"


def change_colour(value: object) -> str:
    """CSS for a signed change: green above zero, red below, nothing for zero or missing values."""
    number = _number(value)
    if not number:
        return ""
    return f"color: {GAIN if number > 0 else LOSS}"


def format_timestamp(value: object) -> str:
    """A date or time as ISO text without the noise: '2026-06-25' at midnight, else '2026-06-25 14:30:00'."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return MISSING
    stamp = pd.Timestamp(value)  # dates, datetimes, numpy datetimes
    if stamp is pd.NaT:
        return MISSING
    zone = f" {stamp.tzname()}" if stamp.tzinfo is not None else ""
    text = f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() and not zone else f"{stamp:%Y-%m-%d %H:%M:%S}"
    return text + zone


def _default_text(values: pd.Series) -> Callable[[object], str]:
    """The text of a column `styled` was not told about: numbers with separators, '–' when missing."""
    if values.dtype.kind == "f":
        return format_number
    if values.dtype.kind in "iu":
        return partial(format_number, digits=0)
    if values.dtype.kind == "M":
        return format_timestamp
    return lambda v: MISSING if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def styled(
    frame: pd.DataFrame,
    *,
    percent: Iterable[str] = (),
    numbers: Iterable[str] = (),
    integers: Iterable[str] = (),
    signed: Iterable[str] = (),
    digits: Mapping[str, int] | None = None,
) -> Styler:
    """The frame for st.dataframe with its display text decided here (the values stay numbers, so sorting works).

    `percent`: fractions shown as percentages; `numbers`: decimals with separators; `integers`: counts with
    separators; `signed`: the change columns coloured green/red (and given a + sign when also in `percent`).
    `digits` overrides the decimals per column. Other columns: two decimals with separators, '–' when missing.
    Leave `format` out of the column_config of these columns: a column_config format wins over the Styler's text.
    """
    digits = dict(digits or {})
    present = set(frame.columns)
    signed = [c for c in signed if c in present]
    formats: dict[object, Callable[[object], str]] = {}
    for column in (c for c in percent if c in present):
        formats[column] = partial(format_percent, digits=digits.get(column, PERCENT_DIGITS), signed=column in signed)
    for column in (c for c in numbers if c in present):
        formats[column] = partial(format_number, digits=digits.get(column, NUMBER_DIGITS))
    for column in (c for c in integers if c in present):
        formats[column] = partial(format_number, digits=0)
    # Streamlit shows a Styler's text in every number and text cell that has no column_config format, so the
    # columns not named get the house defaults too (pandas' own would print six decimals and 'nan').
    for column in frame.columns:
        if column not in formats:
            formats[column] = _default_text(frame[column])
    styler = frame.style.format(formats)
    if signed:
        styler = styler.map(change_colour, subset=signed)
    return styler


def currency_axis(fig: go.Figure, currency: str, axis: str = "y", **selector: object) -> go.Figure:
    """Name the currency on a price axis: '¥120k' or '$250' ticks instead of a bare '120k'.

    A currency without a symbol is written after the number. `axis`: "y" or "x"; `selector` narrows the
    axes as plotly's update_yaxes does (e.g. row=1, col=1).
    """
    code = currency.upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    ticks = {"tickprefix": symbol} if symbol else {"ticksuffix": f" {code}"}
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    update(**ticks, separatethousands=True, **selector)
    return fig
