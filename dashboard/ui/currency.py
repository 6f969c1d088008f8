"""Display currency: the sidebar choice (also in the URL as ?ccy=), FRED rates from the database, conversion."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from analytics import fx
from analytics.overview import overview_table
from dashboard.ui import loaders
from dashboard.ui.text import plain

log = logging.getLogger(__name__)

SESSION_KEY = "display_currency"
QUERY_PARAM = "ccy"
DEFAULT = "USD"
# Overview columns that are prices (converted); the change columns are returns and stay as they are.
OVERVIEW_PRICE_COLUMNS = ["last", "high_52w", "low_52w", "trend"]


def _from_url() -> str | None:
    """The currency in the link (?ccy=gbp works too), or None when absent or not supported."""
    raw = st.query_params.get(QUERY_PARAM)
    if raw is None:
        return None
    code = str(raw).strip().upper()
    return code if code in fx.SUPPORTED_CURRENCIES else None


def sidebar_picker() -> str:
    """Draw the display-currency choice (call inside `with st.sidebar`); keeps it in the session and the URL."""
    if SESSION_KEY not in st.session_state:
        raw = st.query_params.get(QUERY_PARAM)
        chosen = _from_url()
        if raw is not None and chosen is None:
            st.warning(plain(f"Unknown currency {str(raw)[:8]!r} in the link; showing {DEFAULT}."))
        st.session_state[SESSION_KEY] = chosen or DEFAULT
    code = st.selectbox(
        "Display currency",
        fx.SUPPORTED_CURRENCIES,
        key=SESSION_KEY,
        format_func=lambda c: f"{c} {fx.CURRENCY_SYMBOLS[c]}",
        help="Prices and levels are converted from USD at each day's FRED rate; returns are unchanged.",
    )
    if not has_rates(code):
        st.warning(f"No {fx.fx_series_id(code)} rates are stored yet, so prices stay in {DEFAULT}.")
    # Written back on every run so a shared link reproduces the choice (page switches drop the params);
    # USD is the default, so its links stay clean.
    if code == DEFAULT:
        if QUERY_PARAM in st.query_params:
            del st.query_params[QUERY_PARAM]
    elif st.query_params.get(QUERY_PARAM) != code:
        st.query_params[QUERY_PARAM] = code
    return code


def selected_currency() -> str:
    """The session's display currency: the picker's value, else the link's ?ccy=, else USD.

    USD as well when no rate of the chosen currency is stored yet (the picker says so).
    """
    code = st.session_state.get(SESSION_KEY)
    if code not in fx.SUPPORTED_CURRENCIES:
        code = _from_url() or DEFAULT
    return code if has_rates(code) else DEFAULT


def has_rates(currency: str) -> bool:
    """Whether at least one rate of `currency` is stored (always true for USD)."""
    code = fx._check_currency(currency)
    return code == DEFAULT or bool(fx_rates(loaders.data_version(), code).notna().any())


def label(currency: str) -> str:
    """Currency label for axis titles, column headers and export headers, e.g. 'GBP £'."""
    code = fx._check_currency(currency)
    return f"{code} {fx.CURRENCY_SYMBOLS[code]}"


def fx_rates(version: int, currency: str) -> pd.Series:
    """The FRED daily rate series for `currency` from the database (empty for USD)."""
    series_id = fx.fx_series_id(currency)
    if series_id is None:
        return pd.Series(dtype="float64")
    return loaders.observations(version, series_id)


def _dates_of(values: pd.Series | pd.DataFrame, date_column: str | None) -> pd.DatetimeIndex:
    if date_column is None:
        if not isinstance(values.index, pd.DatetimeIndex):
            raise ValueError("values need a DatetimeIndex, or name the column holding the dates (date_column)")
        return values.index
    if not isinstance(values, pd.DataFrame) or date_column not in values.columns:
        raise ValueError(f"no date column {date_column!r} to convert by")
    return pd.DatetimeIndex(pd.to_datetime(values[date_column]))


def convert(
    values: pd.Series | pd.DataFrame,
    value_columns: list[str] | None,
    currency: str,
    *,
    date_column: str | None = None,
    rates: pd.Series | None = None,
) -> pd.Series | pd.DataFrame:
    """Convert USD values to `currency` at each day's FRED rate (the last earlier rate on days without one).

    A Series (value_columns None) or the `value_columns` of a DataFrame are converted; the dates are the
    index, or `date_column` when given (e.g. a long frame of date, symbol, close). Other columns are
    copied unchanged, so compute returns and ratios before converting (they stay USD ones). Values
    before the first stored rate become NaN. `rates` defaults to the rate series stored in the database.
    USD returns an unchanged copy. Unsupported currencies and bad arguments raise ValueError.
    """
    code = fx._check_currency(currency)
    if isinstance(values, pd.Series):
        if value_columns:
            raise ValueError("value_columns applies to a DataFrame; pass None for a Series")
    elif isinstance(values, pd.DataFrame):
        if not value_columns:
            raise ValueError("name the value columns to convert")
        unknown = [c for c in value_columns if c not in values.columns]
        if unknown:
            raise ValueError(f"no column(s) {', '.join(unknown)} to convert")
    else:
        raise ValueError("values must be a pandas Series or DataFrame")
    dates = _dates_of(values, date_column)
    if code == "USD":
        return values.copy()
    if rates is None:
        rates = fx_rates(loaders.data_version(), code)
    if not rates.notna().any():
        raise ValueError(f"no {fx.fx_series_id(code)} rates are stored: values cannot be shown in {code}")
    if isinstance(values, pd.Series):
        converted = fx.convert_prices(values.set_axis(dates), rates, code)
        return converted.set_axis(values.index)
    frame = values[value_columns].astype("float64").set_axis(dates)
    converted = fx.convert_prices(frame, rates, code)
    out = values.copy()
    out[value_columns] = converted.to_numpy()
    return out


def convert_overview(table: pd.DataFrame, closes: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The Overview table with its price columns (last, 52W high/low, trend) in `currency`.

    Prices are recomputed from the long `closes` frame (date, symbol, close) converted day by day, so a
    52-week high in GBP is the highest GBP close; the change columns stay the USD ones.
    """
    code = fx._check_currency(currency)
    if code == "USD" or table.empty:
        return table
    local = overview_table(convert(closes, ["close"], code, date_column="date"))
    prices = local.set_index("symbol")[OVERVIEW_PRICE_COLUMNS]
    out = table.copy()
    for column in OVERVIEW_PRICE_COLUMNS:
        out[column] = out["symbol"].map(prices[column])
    return out
