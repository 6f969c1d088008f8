"""The series a rule is evaluated on, read from the store: a symbol's closes (then the day's intraday quotes), a FRED
series' observations, or a spread of two of them.

Price observations are timestamped at their session's close (16:00 New York), so the intraday quotes stored after
the last bar follow it on the same time axis and a watermark (timestamptz) orders both. Macro observations keep
their dates (tz-naive, as analytics.macro expects); their watermark is that date at midnight UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pandas as pd
import sqlalchemy as sa

from store.clock import NEW_YORK
from store.reads import alerts as reads
from store.reads.macro import wide_observations

SPREADS = {"10Y-2Y": ("DGS10", "DGS2"), "10Y-3M": ("DGS10", "DGS3MO")}
SESSION_CLOSE = time(16, 0)


def close_times(dates: pd.Series | pd.Index) -> pd.DatetimeIndex:
    """Bar dates as their session's close, in UTC."""
    days = pd.DatetimeIndex(pd.to_datetime(pd.Index(dates)))
    return (days + pd.Timedelta(hours=SESSION_CLOSE.hour)).tz_localize(NEW_YORK).tz_convert("UTC")


def price_series(closes: pd.DataFrame, quotes: pd.DataFrame | None = None) -> pd.Series:
    """One symbol's closes (date, close; dates ascending and unique, as stored) on the close-time axis, then its
    quotes (ts, price) after the last close."""
    series = pd.Series(closes["close"].to_numpy(dtype="float64"), index=close_times(closes["date"]), dtype="float64")
    return with_quotes(series, quotes)


def with_quotes(series: pd.Series, quotes: pd.DataFrame | None) -> pd.Series:
    """A symbol's closes on the close-time axis followed by its quotes (ts, price) stamped after the last close."""
    if quotes is None or not len(quotes):
        return series
    ts = pd.DatetimeIndex(pd.to_datetime(quotes["ts"], utc=True))
    later = ts > series.index[-1] if len(series) else slice(None)
    extra = pd.Series(quotes["price"].to_numpy(dtype="float64")[later], index=ts[later], dtype="float64")
    series = pd.concat([series, extra])
    return series[~series.index.duplicated(keep="last")].sort_index()


def spread_series(frame: pd.DataFrame, long: str, short: str) -> pd.Series:
    """long - short on the dates both have a value (a gap in either is a gap, not a zero)."""
    if long not in frame or short not in frame:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([]))
    return (frame[long] - frame[short]).dropna()


def observation_time(label: pd.Timestamp) -> datetime:
    """An index label as a timezone-aware UTC datetime (macro dates: midnight UTC)."""
    stamp = pd.Timestamp(label)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def index_label(moment: datetime | None, series: pd.Series) -> pd.Timestamp | None:
    """A watermark as a label comparable with `series`' index (tz-naive date for macro series)."""
    if moment is None:
        return None
    stamp = pd.Timestamp(moment).tz_convert("UTC")
    index = series.index
    if isinstance(index, pd.DatetimeIndex) and index.tz is None:
        return stamp.tz_localize(None)
    return stamp


def target_series(conn: sa.Connection, kind: str, target: str, *, start: date | None = None) -> pd.Series:
    """The observations of one rule target from `start` (all stored when None)."""
    if kind == "price":
        closes = reads.closes_since(conn, [target], start or date(1900, 1, 1))
        if closes.empty:
            return pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz="UTC"))
        last_close = close_times(closes["date"].iloc[-1:])[0].to_pydatetime()
        return price_series(closes, reads.quotes_since(conn, [target], last_close))
    if target in SPREADS:
        frame = wide_observations(conn, list(SPREADS[target]), start)
        return spread_series(frame, *SPREADS[target])
    frame = wide_observations(conn, [target], start)
    return frame[target].astype("float64") if target in frame else pd.Series(dtype="float64")
