"""Checks run on standard records before any write; rejected rows carry a reason and go to quarantine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import sqlalchemy as sa

from store import tables
from store.calendar import outside_calendar

# A day-on-day move of the adjusted close beyond this is kept but marked, for a human to look at.
JUMP_THRESHOLD = 0.5


@dataclass(frozen=True)
class Validated:
    valid: pd.DataFrame
    rejected: pd.DataFrame  # the same columns plus `reason`


def _split(frame: pd.DataFrame, reasons: pd.Series) -> Validated:
    bad = reasons.notna()
    rejected = frame[bad].assign(reason=reasons[bad])
    return Validated(valid=frame[~bad].reset_index(drop=True), rejected=rejected.reset_index(drop=True))


def _first_reason(checks: list[tuple[pd.Series, str]], index: pd.Index) -> pd.Series:
    """For each row the first failing check's reason, or NaN when all pass."""
    reasons = pd.Series(np.nan, index=index, dtype=object)
    for failed, reason in reversed(checks):
        reasons = reasons.mask(failed.fillna(True).astype(bool), reason)
    return reasons


# Split/dividend adjustment multiplies every price by a factor, which leaves ULP-level noise
# (a close 2e-15 above the high); a relative tolerance keeps such rows without letting real errors in.
OHLC_TOLERANCE = 1e-9


def flag_jumps(valid: pd.DataFrame, previous_close: dict[str, float] | None = None) -> pd.Series:
    """'jump' where the adjusted close moved more than 50% from the symbol's previous close, else None.

    The previous close of a symbol's first row comes from `previous_close` (the last stored bar before
    it), so a jump across two runs is caught as well as one inside a batch.
    """
    flags = pd.Series(None, index=valid.index, dtype=object)
    if valid.empty:
        return flags
    ordered = valid.sort_values(["symbol", "date"])
    prior = ordered.groupby("symbol", sort=False)["adj_close"].shift(1)
    if previous_close:
        first = prior.isna()
        prior = prior.where(~first, ordered["symbol"].map(previous_close))
    change = (ordered["adj_close"] / prior - 1).abs()
    flags.loc[change[change > JUMP_THRESHOLD].index] = tables.JUMP_FLAG
    return flags


def _known(failed: pd.Series) -> pd.Series:
    """A check over values that may be missing: a comparison with a missing value (NA) does not fail."""
    return failed.fillna(False).astype(bool)


INCOMPLETE_OHLC = "incomplete OHLC (open, high, low and close: all or none)"


def validate_daily_bars(
    bars: pd.DataFrame, previous_close: dict[str, float] | None = None, sessions_only: bool = True
) -> Validated:
    """OHLC consistency, positive prices, non-negative volume, no missing values, one row per symbol and date,
    sessions of the trading calendar only; valid rows get `flags` ('jump' for a move over 50%, kept).

    A bar whose open, high, low and close are all missing is an adjusted-close-only bar (a source that publishes
    nothing else): valid with its adjusted close, volume optional. Some but not all of the four missing is
    rejected (`INCOMPLETE_OHLC`); a full bar needs its volume.
    """
    prices = bars[["open", "high", "low", "close", "adj_close"]]
    missing_ohlc = bars[["open", "high", "low", "close"]].isna()
    adj_only = missing_ohlc.all(axis=1)
    slack = 1 + OHLC_TOLERANCE
    checks = [
        (
            bars[["symbol", "date", "adj_close"]].isna().any(axis=1) | (~adj_only & bars["volume"].isna()),
            "missing value",
        ),
        (missing_ohlc.any(axis=1) & ~adj_only, INCOMPLETE_OHLC),
        (
            outside_calendar(bars["date"]) if sessions_only else pd.Series(False, index=bars.index),
            "not a trading day",
        ),
        # A missing price or volume fails none of these (it was judged above): an adjusted-close-only bar passes.
        (_known((prices <= 0).any(axis=1)), "non-positive price"),
        (_known(bars["low"] > bars["high"] * slack), "low above high"),
        (_known(bars["low"] > bars[["open", "close"]].min(axis=1) * slack), "open or close below low"),
        (_known(bars["high"] * slack < bars[["open", "close"]].max(axis=1)), "open or close above high"),
        (_known(bars["volume"] < 0), "negative volume"),
        (bars.duplicated(["symbol", "date"], keep="first"), "duplicate date"),
    ]
    result = _split(bars, _first_reason(checks, bars.index))
    valid = result.valid.assign(flags=flag_jumps(result.valid, previous_close))
    return Validated(valid=valid, rejected=result.rejected)


def validate_macro_observations(observations: pd.DataFrame) -> Validated:
    """A missing value is a legitimate gap (FRED's "."); a missing key or a duplicate date is not."""
    checks = [
        (observations[["series_id", "date"]].isna().any(axis=1), "missing key"),
        (observations.duplicated(["series_id", "date"], keep="first"), "duplicate date"),
    ]
    return _split(observations, _first_reason(checks, observations.index))


def validate_intraday_quotes(quotes: pd.DataFrame) -> Validated:
    """A positive price and a timestamp, non-negative volume when given, one quote per symbol and time."""
    checks = [
        (quotes[["symbol", "ts", "price"]].isna().any(axis=1), "missing value"),
        (quotes["price"] <= 0, "non-positive price"),
        (quotes["volume"].fillna(0) < 0, "negative volume"),
        (quotes.duplicated(["symbol", "ts"], keep="first"), "duplicate time"),
    ]
    return _split(quotes, _first_reason(checks, quotes.index))


def validate_corporate_actions(actions: pd.DataFrame) -> Validated:
    """Splits and dividends with a positive value, one per symbol, date and kind."""
    checks = [
        (actions[["symbol", "date", "action", "value"]].isna().any(axis=1), "missing value"),
        (~actions["action"].isin(["split", "dividend"]), "unknown action"),
        (actions["value"] <= 0, "non-positive value"),
        (actions.duplicated(["symbol", "date", "action"], keep="first"), "duplicate action"),
    ]
    return _split(actions, _first_reason(checks, actions.index))


def validate_shares_outstanding(shares: pd.DataFrame) -> Validated:
    """A positive share count per symbol, period end and filing date; never filed before its period ended."""
    checks = [
        (shares[["symbol", "period_end", "filing_date", "shares"]].isna().any(axis=1), "missing value"),
        (shares["shares"] <= 0, "non-positive share count"),
        (shares["filing_date"] < shares["period_end"], "filed before its period ended"),
        (shares.duplicated(["symbol", "period_end", "filing_date"], keep="first"), "duplicate figure"),
    ]
    return _split(shares, _first_reason(checks, shares.index))


def validate_raw_closes(closes: pd.DataFrame) -> Validated:
    """A positive close per symbol and session, non-negative volume when given, one row per symbol and date."""
    checks = [
        (closes[["symbol", "date", "close"]].isna().any(axis=1), "missing value"),
        (outside_calendar(closes["date"]), "not a trading day"),
        (closes["close"] <= 0, "non-positive price"),
        (_known(closes["volume"] < 0), "negative volume"),
        (closes.duplicated(["symbol", "date"], keep="first"), "duplicate date"),
    ]
    return _split(closes, _first_reason(checks, closes.index))


def validate_index_members(members: pd.DataFrame) -> Validated:
    """An index code, a symbol and whether it is a current member; one row per index and symbol."""
    checks = [
        (members[["index_code", "symbol", "is_current"]].isna().any(axis=1), "missing value"),
        (members.duplicated(["index_code", "symbol"], keep="first"), "duplicate member"),
    ]
    return _split(members, _first_reason(checks, members.index))


def validate_instruments(instruments: pd.DataFrame) -> Validated:
    """A symbol, a name, an asset class and a three-letter currency."""
    checks = [
        (instruments[["symbol", "name", "asset_class", "currency"]].isna().any(axis=1), "missing value"),
        (instruments["currency"].astype(str).str.len() != 3, "currency is not a 3-letter code"),
        (instruments.duplicated(["symbol"], keep="first"), "duplicate symbol"),
    ]
    return _split(instruments, _first_reason(checks, instruments.index))


def validate_series_metadata(frame: pd.DataFrame) -> Validated:
    """A title, units and frequency per series (frequency fits its column), one row per series."""
    width = cast(sa.String, tables.macro_series.c.frequency.type).length or 0
    checks = [
        (frame[["series_id", "title", "units", "frequency"]].isna().any(axis=1), "missing value"),
        (frame["frequency"].astype(str).str.len() > width, f"frequency longer than {width} characters"),
        (frame.duplicated(["series_id"], keep="first"), "duplicate series"),
    ]
    return _split(frame, _first_reason(checks, frame.index))


def validate_option_quotes(quotes: pd.DataFrame) -> Validated:
    """Option chain rows as `store.tables.option_quotes` holds them (its CHECKs, said once more with reasons here):
    an underlying, a session, an expiry on or after it, a type C/P and a positive strike; no negative price; ask at
    least bid when both are quoted (0/0 is "not quoted" and kept: analytics reads it so, never as a price); one row
    per contract per session. A row without any price is kept too: the chain says the contract exists."""
    bid, ask = quotes["bid"], quotes["ask"]
    both = _known((bid > 0) & (ask > 0))
    negative = _known(bid < 0) | _known(ask < 0) | _known(quotes["last"] < 0)
    counts = quotes[["volume", "open_interest"]]
    checks = [
        (quotes[["symbol", "session_date", "expiration", "type", "strike"]].isna().any(axis=1), "missing value"),
        (~quotes["type"].isin(["C", "P"]), "type is not C or P"),
        (_known(quotes["strike"] <= 0), "non-positive strike"),
        (negative, "negative price"),
        (both & _known(ask < bid), "ask below bid"),
        (_known(counts.lt(0).any(axis=1)), "negative volume or open interest"),
        (_known(quotes["expiration"] < quotes["session_date"]), "expired before the session"),
        (
            quotes.duplicated(["symbol", "session_date", "expiration", "type", "strike"], keep="first"),
            "duplicate contract",
        ),
    ]
    return _split(quotes, _first_reason(checks, quotes.index))
