"""Formatting of numbers for display: prices, and which columns of a frame hold prices."""

from __future__ import annotations

import numpy as np
import pandas as pd


def price_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of a frame that hold prices in the quote currency (what a display-currency switch converts)."""
    names = {"open", "high", "low", "close", "adj_close", "last", "price", "high_52w", "low_52w"}
    prefixes = ("SMA", "EMA", "bb_")
    return [c for c in frame.columns if c in names or str(c).startswith(prefixes)]


def format_price(value: float | None, currency: str = "USD", digits: int = 2) -> str:
    """One place for price text, so a later display-currency conversion changes it everywhere."""
    if value is None or not np.isfinite(value):
        return "–"
    symbol = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}.get(currency, "")
    text = f"{value:,.{digits}f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency}"
