"""Checks run on standard records before any write; rejected rows carry a reason and go to quarantine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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


def validate_daily_bars(bars: pd.DataFrame) -> Validated:
    """OHLC consistency, positive prices, non-negative volume, no missing values, one row per symbol and date."""
    prices = bars[["open", "high", "low", "close", "adj_close"]]
    slack = 1 + OHLC_TOLERANCE
    checks = [
        (
            bars[["symbol", "date", "open", "high", "low", "close", "adj_close", "volume"]].isna().any(axis=1),
            "missing value",
        ),
        ((prices <= 0).any(axis=1), "non-positive price"),
        (bars["low"] > bars["high"] * slack, "low above high"),
        (bars["low"] > bars[["open", "close"]].min(axis=1) * slack, "open or close below low"),
        (bars["high"] * slack < bars[["open", "close"]].max(axis=1), "open or close above high"),
        (bars["volume"] < 0, "negative volume"),
        (bars.duplicated(["symbol", "date"], keep="first"), "duplicate date"),
    ]
    return _split(bars, _first_reason(checks, bars.index))


def validate_macro_observations(observations: pd.DataFrame) -> Validated:
    """A missing value is a legitimate gap (FRED's "."); a missing key or a duplicate date is not."""
    checks = [
        (observations[["series_id", "date"]].isna().any(axis=1), "missing key"),
        (observations.duplicated(["series_id", "date"], keep="first"), "duplicate date"),
    ]
    return _split(observations, _first_reason(checks, observations.index))
