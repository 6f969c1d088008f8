"""Reject anything that is not a ticker or a FRED series id before a request is made."""

from __future__ import annotations

import re

MAX_SYMBOL_LENGTH = 15
MAX_SERIES_ID_LENGTH = 30

# Yahoo/Alpha Vantage tickers: AAPL, BRK-B, BRK.B, ^GSPC, EURUSD=X, GC=F.
_SYMBOL = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-=]*$")
# FRED ids: DGS10, BAMLH0A0HYM2, T10Y2Y, CPIAUCSL ... letters, digits and underscores.
_SERIES_ID = re.compile(r"^[A-Z0-9][A-Z0-9_]*$")


def _reason(value: object, pattern: re.Pattern[str], max_length: int, allowed: str) -> tuple[str | None, str]:
    if not isinstance(value, str):
        return f"is a {type(value).__name__}, not text", ""
    cleaned = value.strip().upper()
    if not cleaned:
        return "is empty", ""
    if len(cleaned) > max_length:
        return f"is {len(cleaned)} characters long (at most {max_length})", ""
    if not pattern.match(cleaned):
        return f"may contain only {allowed}", ""
    return None, cleaned


def _validated(values: list[str], kind: str, pattern: re.Pattern[str], max_length: int, allowed: str) -> list[str]:
    if isinstance(values, str):
        raise ValueError(f"expected a list of {kind}s, got the single string {values!r}")
    problems, cleaned = [], []
    for value in values:
        problem, clean = _reason(value, pattern, max_length, allowed)
        if problem:
            shown = value if not isinstance(value, str) or len(value) <= 40 else value[:37] + "..."
            problems.append(f"{shown!r} {problem}")
        elif clean not in cleaned:
            cleaned.append(clean)
    if problems:
        raise ValueError(f"invalid {kind}(s): " + "; ".join(problems))
    return cleaned


def validate_symbols(symbols: list[str]) -> list[str]:
    """Upper-cased, de-duplicated tickers in input order; ValueError naming every value that is not a ticker."""
    return _validated(symbols, "symbol", _SYMBOL, MAX_SYMBOL_LENGTH, "letters, digits, '.', '-', '=' and a leading '^'")


def validate_series_ids(series_ids: list[str]) -> list[str]:
    """Upper-cased, de-duplicated FRED series ids; ValueError naming every value that is not one."""
    return _validated(series_ids, "FRED series id", _SERIES_ID, MAX_SERIES_ID_LENGTH, "letters, digits and '_'")
