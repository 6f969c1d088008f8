"""Freshness against what is expected: daily bars against the NYSE sessions, FRED series against their release lags."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date

import numpy as np
import pandas as pd

from analytics.macro import frequency_code

__all__ = [
    "FRESH",
    "NO_DATA",
    "PENDING",
    "PUBLICATION_LAGS",
    "STALE",
    "STATUS_ORDER",
    "UNKNOWN",
    "bar_freshness",
    "due_date",
    "expected_observation",
    "observation_period",
    "publication_lag",
    "series_freshness",
    "stale_first",
]

FRESH, STALE, NO_DATA, PENDING, UNKNOWN = "fresh", "stale", "no data", "pending", "unknown"
# Worst first: late data, then items never stored, then what cannot be judged, then what is only waiting.
STATUS_ORDER: tuple[str, ...] = (STALE, NO_DATA, UNKNOWN, PENDING, FRESH)

# The placeholder frequency of a series added to the universe but not fetched yet (store.universe.PENDING;
# analytics may not import store, so the word is repeated here).
PENDING_FREQUENCY = "pending"

# How long after the END of an observation's period FRED normally has it and our daily macro run (18:00 New
# York) has stored it. Each value is the upper end of the normal schedule plus one holiday shift, so a
# release on its usual day is never flagged and "stale" means overdue, not early in the month.
PUBLICATION_LAGS: dict[str, pd.DateOffset] = {
    # H.15 yields (DGS*) are posted at 16:15 on the next business day, VIX closes the next morning, T10Y2Y is
    # derived from H.15: 1 business day, +1 for a Monday holiday, +1 for our run's timing.
    "D": pd.offsets.BDay(3),
    # Weekly releases come 0-5 days after the week ends (H.4.1 Thursday for Wednesday levels, H.15 averages
    # on Monday for the week ending Friday, initial claims on Thursday for the week ending Saturday), +2.
    "W": pd.DateOffset(days=7),
    # Monthly: FEDFUNDS on the next business day, UNRATE on the first Friday (up to ~10 days), CPI at 10-15
    # days, industrial production ~16, PCE/personal income ~30; 45 days covers the slowest plus a slip.
    "M": pd.DateOffset(days=45),
    # GDP's advance estimate comes ~30 days after the quarter (second and third estimates revise the same date,
    # they add none); 45 days leaves two weeks of slack.
    "Q": pd.DateOffset(days=45),
    # Annual averages of BLS/BEA data arrive within a month or two, international sources (World Bank, OECD)
    # take up to half a year; an annual series flagged late a few months on costs little.
    "A": pd.DateOffset(days=180),
}
# Daily series whose release is weekly: the Fed's H.10 (exchange rates DEX*, dollar indexes DTWEX*) is
# published on Mondays for the previous week, so Monday's rate appears 5 business days later (+1 for a Monday
# holiday, +1 for our run's timing).
H10_PREFIXES: tuple[str, ...] = ("DEX", "DTWEX")
H10_LAG = pd.offsets.BDay(7)

_STEP = {
    "D": pd.offsets.BDay(1),
    "W": pd.DateOffset(days=7),
    "M": pd.DateOffset(months=1),
    "Q": pd.DateOffset(months=3),
    "A": pd.DateOffset(years=1),
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_FRIDAY = 4


# --------------------------------------------------------------------------- daily bars


def bar_freshness(
    coverage: pd.DataFrame,
    expected_last_session: date,
    sessions: Iterable[date] | pd.DatetimeIndex,
    symbols: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Per symbol: last_date, expected_date, sessions_behind and status ("fresh", "stale", "no data").

    `coverage` has one row per symbol with `symbol` and `last_date` (its latest stored bar; NaT/None when none),
    e.g. store.reads.quality.bar_coverage. `expected_last_session` is the last completed NYSE session as of
    now (the caller asks the calendar, so this stays pure). `sessions` are the NYSE sessions from the
    earliest stale last date up to `expected_last_session` (more is fine); sessions_behind counts those in
    (last_date, expected_date]. `symbols` is the universe to judge (e.g. the active instruments): those
    without a row are "no data", rows of other symbols are left out; None judges every row of `coverage`.

    A symbol is fresh when its last bar is on or after the expected session. sessions_behind is 0 when
    fresh and NA when there is no data. The input's other columns are kept; rows are in symbol order.
    ValueError when `expected_last_session` is not among `sessions` or the sessions start too late to count.
    """
    _require_columns(coverage, ("symbol", "last_date"), "coverage")
    days = _sessions_index(sessions)
    expected = pd.Timestamp(expected_last_session)
    if expected not in days:
        raise ValueError(f"expected_last_session {expected.date()} is not among the sessions given")
    frame = coverage.copy()
    if symbols is not None:
        if isinstance(symbols, str):
            raise ValueError(f"expected a list of symbols, got the single string {symbols[:24]!r}")
        universe = pd.DataFrame({"symbol": list(dict.fromkeys(symbols))})
        frame = universe.merge(frame, on="symbol", how="left")
        # A symbol with no row gets NA in the other columns; keep integer columns integers (nullable).
        for column, dtype in coverage.dtypes.items():
            if column in frame and pd.api.types.is_integer_dtype(dtype):
                frame[column] = frame[column].astype("Int64")
    last = _as_datetimes(frame["last_date"])
    stale = last.notna() & (last < expected)
    if stale.any() and days[0] > last[stale].min():
        raise ValueError(
            f"the sessions start on {days[0].date()}, after the earliest stale last bar "
            f"({last[stale].min().date()}): pass the sessions from that date to the expected one"
        )
    known = last.notna().to_numpy()
    behind = pd.array([pd.NA] * len(frame), dtype="Int64")
    if known.any():
        upto = days.searchsorted(expected, side="right")
        after = days.searchsorted(pd.DatetimeIndex(last[known]), side="right")
        behind[known] = np.maximum(upto - after, 0)
    frame["last_date"] = last
    frame["expected_date"] = pd.Series(expected, index=frame.index).astype(last.dtype)
    frame["sessions_behind"] = behind
    frame["status"] = np.select([last.isna(), stale], [NO_DATA, STALE], FRESH)
    return frame.sort_values("symbol", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- FRED series


def publication_lag(
    series_id: str, frequency: str, series_lags: Mapping[str, pd.DateOffset] | None = None
) -> pd.DateOffset:
    """The lag after a period's end by which `series_id` should be stored: its entry in `series_lags`, else the
    H.10 rule for daily DEX*/DTWEX* series, else PUBLICATION_LAGS by frequency. ValueError on an unknown code."""
    code = _code(frequency)
    if series_lags and series_id in series_lags:
        return series_lags[series_id]
    if code == "D" and series_id.upper().startswith(H10_PREFIXES):
        return H10_LAG
    return PUBLICATION_LAGS[code]


def observation_period(frequency: str, day: date, weekday: int = _FRIDAY) -> pd.Timestamp:
    """FRED's date for the period holding `day`: the weekday itself for daily (a weekend rolls to Monday), the
    week's end for weekly (ending on `weekday`, Monday = 0), the first day of the month, quarter or year."""
    code = _code(frequency)
    stamp = pd.Timestamp(day).normalize()
    if code == "D":
        return pd.offsets.BDay().rollforward(stamp)
    if code == "W":
        return stamp + pd.Timedelta(days=(weekday - stamp.weekday()) % 7)
    if code == "M":
        return pd.Timestamp(stamp.year, stamp.month, 1)
    if code == "Q":
        return pd.Timestamp(stamp.year, 3 * ((stamp.month - 1) // 3) + 1, 1)
    return pd.Timestamp(stamp.year, 1, 1)


def due_date(frequency: str, observation: date, lag: pd.DateOffset) -> pd.Timestamp:
    """When the observation dated `observation` should be stored: the end of its period plus `lag`."""
    code = _code(frequency)
    label = pd.Timestamp(observation).normalize()
    # Daily and weekly observations are dated at their period's end, the others at its start.
    end = label if code in ("D", "W") else label + _STEP[code] - pd.Timedelta(days=1)
    return end + lag


def expected_observation(frequency: str, today: date, lag: pd.DateOffset, weekday: int = _FRIDAY) -> pd.Timestamp:
    """The date of the latest observation that should be stored by `today`: the last period whose due date
    (`due_date`) is on or before `today`."""
    code = _code(frequency)
    today_stamp = pd.Timestamp(today).normalize()
    label = observation_period(code, today, weekday)
    # A handful of steps at most: the lags are days to months, the periods a day to a year.
    while due_date(code, label, lag) > today_stamp:
        label = label - _STEP[code]
    return label


def series_freshness(
    series: pd.DataFrame,
    today: date,
    series_lags: Mapping[str, pd.DateOffset] | None = None,
) -> pd.DataFrame:
    """Per series: last_date, expected_date, days_late and status against the series' own release schedule.

    `series` has `series_id`, `frequency` (FRED's words: "Daily", "Weekly, Ending Friday", "Monthly",
    "Quarterly", "Annual", or the codes D/W/M/Q/A; "pending" before the first fetch) and `last_date` (latest
    observation with a value; NaT/None when none), e.g. store.reads.quality.series_last_observations.
    expected_date is the latest observation due by `today` (`expected_observation` with `publication_lag`);
    a series is fresh when its last observation's period is not before it. days_late counts from the due
    date of the first missing observation to `today` (0 when fresh, NA when it cannot be judged).
    `series_lags` sets the lag of named series, e.g. {"CPIAUCSL": pd.DateOffset(days=20)}.

    status: "fresh", "stale", "no data" (nothing stored), "pending" (not fetched yet), "unknown" (a frequency
    this module has no schedule for, e.g. "Biweekly" or "Semiannual"). The input's other columns are kept;
    rows are in series_id order.
    """
    _require_columns(series, ("series_id", "frequency", "last_date"), "series")
    frame = series.copy()
    last = _as_datetimes(frame["last_date"])
    today_stamp = pd.Timestamp(today).normalize()
    expected_dates: list[pd.Timestamp] = []
    days_late: list[object] = []
    statuses: list[str] = []
    for series_id, text, last_date in zip(frame["series_id"], frame["frequency"], last, strict=True):
        expected, late, status = _judge_series(str(series_id), text, last_date, today_stamp, series_lags)
        expected_dates.append(expected)
        days_late.append(late)
        statuses.append(status)
    frame["last_date"] = last
    frame["expected_date"] = pd.Series(pd.DatetimeIndex(expected_dates), index=frame.index).astype(last.dtype)
    frame["days_late"] = pd.array(days_late, dtype="Int64")
    frame["status"] = statuses
    return frame.sort_values("series_id", kind="stable").reset_index(drop=True)


def _judge_series(
    series_id: str,
    text: object,
    last: pd.Timestamp,
    today: pd.Timestamp,
    series_lags: Mapping[str, pd.DateOffset] | None,
) -> tuple[pd.Timestamp, object, str]:
    words = text if isinstance(text, str) else ""
    if words.strip().lower() == PENDING_FREQUENCY:
        return pd.NaT, pd.NA, PENDING
    code = _code_or_none(words)
    if code is None:
        return pd.NaT, pd.NA, UNKNOWN
    weekday = _week_end(words, last)
    lag = publication_lag(series_id, code, series_lags)
    expected = expected_observation(code, today, lag, weekday)
    if pd.isna(last):
        return expected, pd.NA, NO_DATA
    period = observation_period(code, last, weekday)
    if period >= expected:
        return expected, 0, FRESH
    first_missing = period + _STEP[code]
    return expected, (today - due_date(code, first_missing, lag)).days, STALE


def _week_end(words: str, last: pd.Timestamp) -> int:
    """The weekday a weekly series' weeks end on: named in FRED's words ("Weekly, Ending Friday"), else the
    weekday of its last observation, else Friday."""
    for number, name in enumerate(_WEEKDAYS):
        if re.search(rf"\b{name}\b", words, flags=re.IGNORECASE):
            return number
    return _FRIDAY if pd.isna(last) else int(last.weekday())


# --------------------------------------------------------------------------- ordering


def stale_first(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in STATUS_ORDER (stale, no data, unknown, pending, fresh), the most behind first within a status
    (`sessions_behind` or `days_late`), then by `symbol` or `series_id`; works on both freshness tables."""
    _require_columns(frame, ("status",), "frame")
    rank = frame["status"].map({status: i for i, status in enumerate(STATUS_ORDER)})
    rank = rank.astype("float64").fillna(len(STATUS_ORDER))
    lateness_column = next((c for c in ("sessions_behind", "days_late") if c in frame), None)
    lateness = (
        frame[lateness_column].astype("Float64").fillna(-1).astype("float64")
        if lateness_column
        else pd.Series(0.0, index=frame.index)
    )
    key_column = next((c for c in ("symbol", "series_id") if c in frame), None)
    keys = frame[key_column].astype(str) if key_column else pd.Series("", index=frame.index)
    order = pd.DataFrame({"rank": rank, "late": lateness, "key": keys}, index=frame.index)
    order = order.sort_values(["rank", "late", "key"], ascending=[True, False, True], kind="stable")
    return frame.loc[order.index].reset_index(drop=True)


# --------------------------------------------------------------------------- helpers


def _require_columns(frame: object, columns: tuple[str, ...], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {', '.join(missing)}")


def _as_datetimes(values: pd.Series) -> pd.Series:
    """Dates, datetimes or strings as tz-naive midnight timestamps (NaT for missing)."""
    stamps = pd.to_datetime(values, errors="raise")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    return stamps.dt.normalize()


def _sessions_index(sessions: Iterable[date] | pd.DatetimeIndex) -> pd.DatetimeIndex:
    days = sessions if isinstance(sessions, pd.DatetimeIndex) else pd.DatetimeIndex(pd.to_datetime(list(sessions)))
    if days.tz is not None:
        days = days.tz_localize(None)
    days = days.normalize().unique().sort_values()
    if len(days) == 0:
        raise ValueError("no sessions given")
    return days


def _code_or_none(frequency: object) -> str | None:
    """A frequency code (D/W/M/Q/A) from a code or FRED's words; None when it is neither."""
    text = frequency.strip() if isinstance(frequency, str) else ""
    return text.upper() if text.upper() in _STEP else frequency_code(text)


def _code(frequency: str) -> str:
    """A frequency code (D/W/M/Q/A) from a code or FRED's words; ValueError when it is neither."""
    code = _code_or_none(frequency)
    if code is None:
        raise ValueError(f"frequency must be D, W, M, Q, A or FRED's words for them; got {frequency!r}")
    return code
