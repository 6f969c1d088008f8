"""FRED-style macro analytics: units transforms, frequency aggregation, yield curve, inversions, macro beta."""

from __future__ import annotations

import numbers
import re
from datetime import date

import numpy as np
import pandas as pd

__all__ = [
    "UnknownSeries",
    "search_catalog",
    "series_info",
    "clamp_date",
    "stored_span",
    "CHART_LOOKBACK",
    "chart_series",
    "frequency_code",
    "inversion_table",
    "recession_periods",
    "spreads",
    "yield_curves",
    "AGGREGATION_FREQUENCIES",
    "change_unit",
    "AGGREGATION_METHODS",
    "DAILY_YEAR_AGO_TOLERANCE",
    "FREQUENCIES",
    "N_OBS_PER_YEAR",
    "TENOR_SERIES",
    "UNITS",
    "aggregate_series",
    "infer_frequency",
    "needs_history",
    "rolling_macro_beta",
    "spread_inversions",
    "transform_series",
    "yield_curve_snapshot",
]

# Conventions (shared by every public function in this module)
# ------------------------------------------------------------
# * Inputs are ``pd.Series`` / ``pd.DataFrame`` with a DatetimeIndex of
#   observation dates (FRED dates: monthly/quarterly/annual observations are
#   dated on the first day of the period, weekly on the week's end date).
#   The index is sorted ascending on the way in; duplicate dates raise
#   ValueError.  Bad arguments always raise ValueError.
# * Frequencies: 'D' daily (business days, Mon-Fri), 'W' weekly, 'M' monthly,
#   'Q' quarterly, 'A' annual (FRED codes d/w/m/q/a and 'Y' are accepted too).
#   When not given, the frequency is inferred from the median spacing of the
#   dates (``infer_frequency``).
# * "One period earlier" is found BY DATE, never by row position:
#     D -> previous business day (Mon-Fri; Monday looks at Friday),
#     W -> date - 7 days, M -> date - 1 month, Q -> date - 3 months,
#     A -> date - 1 year.
#   If that date is absent or NaN the change is NaN, so a missing month never
#   shifts later values.  FRED's formulas index by period (x(t-1) is the
#   previous period, and its daily periods are weekdays: 260 a year), which is
#   what the date lookup reproduces; for daily series it means the day after
#   a holiday has no one-day change.
# * "One year earlier" (ch1, pc1) is also by date: M/Q/A -> date - 1 year
#   (exact match), W -> date - 52 weeks (exact; FRED's x(t - 52)).  D -> the
#   same calendar date one year earlier (29 Feb -> 28 Feb); if that date is a
#   weekend/holiday (absent or NaN) the last valid observation on or before it
#   and at most DAILY_YEAR_AGO_TOLERANCE (5 calendar days) earlier is used;
#   beyond that the value is NaN.  (FRED writes the daily formula as
#   x(t - 260); a calendar-date lookup keeps holidays from shifting it.)
# * Formulas are FRED's, verbatim
#   (https://fred.stlouisfed.org/docs/api/fred/series_observations.html#units,
#   https://fredhelp.stlouisfed.org/fred/data/understanding-the-data/formulas-calculate-growth-rates/),
#   with n_obs_per_yr = D 260 ("no values on weekends"), W 52, M 12, Q 4, A 1.
#   Results that are not finite (division by zero, log of a value <= 0) are NaN.

FREQUENCIES: tuple[str, ...] = ("D", "W", "M", "Q", "A")
N_OBS_PER_YEAR: dict[str, int] = {"D": 260, "W": 52, "M": 12, "Q": 4, "A": 1}
UNITS: dict[str, str] = {
    "lin": "Levels",
    "chg": "Change",
    "ch1": "Change from Year Ago",
    "pch": "Percent Change",
    "pc1": "Percent Change from Year Ago",
    "pca": "Compounded Annual Rate of Change",
    "cch": "Continuously Compounded Rate of Change",
    "cca": "Continuously Compounded Annual Rate of Change",
    "log": "Natural Log",
}
AGGREGATION_FREQUENCIES: tuple[str, ...] = ("W", "M", "Q", "A")
AGGREGATION_METHODS: tuple[str, ...] = ("avg", "eop", "sum")
DAILY_YEAR_AGO_TOLERANCE = pd.Timedelta(days=5)

# FRED constant-maturity Treasury series -> tenor label, in maturity order.
TENOR_SERIES: dict[str, str] = {
    "DGS1MO": "1M",
    "DGS3MO": "3M",
    "DGS4MO": "4M",
    "DGS6MO": "6M",
    "DGS1": "1Y",
    "DGS2": "2Y",
    "DGS3": "3Y",
    "DGS5": "5Y",
    "DGS7": "7Y",
    "DGS10": "10Y",
    "DGS20": "20Y",
    "DGS30": "30Y",
}
_TENOR_ORDER: tuple[str, ...] = tuple(TENOR_SERIES.values())

_YEAR_AGO_UNITS = frozenset({"ch1", "pc1"})
_RANK = {f: i for i, f in enumerate(FREQUENCIES)}
_FREQ_ALIASES = {"D": "D", "W": "W", "M": "M", "Q": "Q", "A": "A", "Y": "A"}
_RESAMPLE_RULE = {"W": "W-FRI", "M": "MS", "Q": "QS", "A": "YS"}
# Minimum number of valid observations FRED requires in the FIRST and LAST
# aggregated period (fredhelp: "How are Missing Values Determined for
# First/Last Observations?").  Same-frequency pairs need 1.
_EDGE_THRESHOLD = {
    ("D", "W"): 4,
    ("D", "M"): 17,
    ("D", "Q"): 52,
    ("D", "A"): 208,
    ("W", "M"): 3,
    ("W", "Q"): 10,
    ("W", "A"): 39,
    ("M", "Q"): 3,
    ("M", "A"): 12,
    ("Q", "A"): 4,
}


# --------------------------------------------------------------------------- helpers


def _prepare(series: object, name: str = "series") -> pd.Series:
    """Return ``series`` as a float Series sorted by a duplicate-free DatetimeIndex, or raise ValueError."""
    if not isinstance(series, pd.Series):
        raise ValueError(f"{name} must be a pandas Series, got {type(series).__name__}")
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError(f"{name} must have a DatetimeIndex")
    if series.index.has_duplicates:
        raise ValueError(f"{name} has duplicate dates")
    try:
        out = series.astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric") from exc
    return out.sort_index()


def _normalise_frequency(frequency: object, allowed: tuple[str, ...] = FREQUENCIES) -> str:
    """Map a frequency code (case-insensitive, 'Y' = 'A') to one of ``allowed`` or raise ValueError."""
    code = _FREQ_ALIASES.get(str(frequency).strip().upper()) if isinstance(frequency, str) else None
    if code not in allowed:
        raise ValueError(f"frequency must be one of {', '.join(allowed)}; got {frequency!r}")
    return code


def _naive_dates(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Return the calendar dates of ``index`` as a tz-naive, midnight-normalised DatetimeIndex."""
    if index.tz is not None:
        index = index.tz_localize(None)
    return index.normalize()


def _previous_business_day(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Return, for each timestamp, the same time on the previous Mon-Fri day (Sat/Sun/Mon -> Friday)."""
    days = _naive_dates(index).to_numpy().astype("datetime64[D]")
    prev = np.busday_offset(days, -1, roll="forward")
    return index - pd.to_timedelta(days - prev)


def _period_earlier(index: pd.DatetimeIndex, frequency: str) -> pd.DatetimeIndex:
    """Return the date one period before each date of ``index`` (see module conventions)."""
    if frequency == "D":
        return _previous_business_day(index)
    if frequency == "W":
        return index - pd.Timedelta(days=7)
    months = {"M": 1, "Q": 3, "A": 12}[frequency]
    return index - pd.DateOffset(months=months)


def _year_earlier(index: pd.DatetimeIndex, frequency: str) -> pd.DatetimeIndex:
    """Return the date one year before each date of ``index`` (W: 52 weeks, else one calendar year)."""
    if frequency == "W":
        return index - pd.Timedelta(weeks=52)
    return index - pd.DateOffset(years=1)


def _values_at(series: pd.Series, targets: pd.DatetimeIndex, tolerance: pd.Timedelta | None = None) -> np.ndarray:
    """Look up ``series`` at ``targets``: exact date match, or with ``tolerance`` the last valid value on/before."""
    if tolerance is None:
        return series.reindex(targets).to_numpy(dtype="float64")
    valid = series.dropna()
    return valid.reindex(targets, method="ffill", tolerance=tolerance).to_numpy(dtype="float64")


def _finite(values: np.ndarray) -> np.ndarray:
    """Replace +/-inf with NaN."""
    values = np.asarray(values, dtype="float64")
    values[~np.isfinite(values)] = np.nan
    return values


def _check_units(units: object) -> str:
    """Return the lower-case FRED units code or raise ValueError listing the valid codes."""
    code = units.strip().lower() if isinstance(units, str) else None
    if code not in UNITS:
        valid = ", ".join(f"{k} ({v})" for k, v in UNITS.items())
        raise ValueError(f"unknown units code {units!r}; valid codes: {valid}")
    return code


# --------------------------------------------------------------------------- public API


def infer_frequency(index: pd.DatetimeIndex) -> str:
    """Infer 'D', 'W', 'M', 'Q' or 'A' from the median spacing of the dates; ValueError if impossible.

    Median spacing in days: <= 4 -> D, 4-10 -> W, 26-35 -> M, 80-100 -> Q,
    350-380 -> A.  Anything else (e.g. biweekly, semiannual) or fewer than two
    dates raises ValueError; pass the frequency explicitly in that case.
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("index must be a DatetimeIndex")
    dates = index.unique().sort_values()
    if len(dates) < 2:
        raise ValueError("need at least two dates to infer the frequency")
    spacing = (dates[1:] - dates[:-1]).median() / pd.Timedelta(days=1)
    for low, high, code in ((0, 4, "D"), (4, 10, "W"), (26, 35, "M"), (80, 100, "Q"), (350, 380, "A")):
        if low <= spacing <= high:
            return code
    raise ValueError(f"cannot infer a D/W/M/Q/A frequency from a median spacing of {spacing:g} days")


def needs_history(units: str) -> pd.DateOffset | None:
    """Return the history a units code needs before its first value (one year for ch1/pc1), else None.

    Lets the UI say "needs a year of history" instead of showing an all-NaN
    chart.  Unknown codes raise ValueError like ``transform_series``.
    """
    return pd.DateOffset(years=1) if _check_units(units) in _YEAR_AGO_UNITS else None


def transform_series(series: pd.Series, units: str, frequency: str | None = None) -> pd.Series:
    """Apply a FRED ``units`` transformation (lin, chg, ch1, pch, pc1, pca, cch, cca, log) by date.

    Formulas (x(t-1) = value one period earlier BY DATE, x(t-n) = value one
    year earlier BY DATE, n = N_OBS_PER_YEAR[frequency]; see module notes):
      lin x(t); chg x(t)-x(t-1); ch1 x(t)-x(t-n); pch (x(t)/x(t-1)-1)*100;
      pc1 (x(t)/x(t-n)-1)*100; pca ((x(t)/x(t-1))**n-1)*100;
      cch (ln x(t)-ln x(t-1))*100; cca (ln x(t)-ln x(t-1))*100*n; log ln x(t).

    The result has exactly the input's (sorted) dates and name; missing inputs
    stay missing and never shift other values.  A year-ago transform on less
    than a year of data is all-NaN (see ``needs_history``), as is any change
    transform on fewer than two observations when ``frequency`` is not given.
    Unknown units or frequency codes raise ValueError.
    """
    code = _check_units(units)
    s = _prepare(series)
    freq = _normalise_frequency(frequency) if frequency is not None else None
    x = s.to_numpy()
    with np.errstate(all="ignore"):
        if code == "lin":
            return s.copy()
        if code == "log":
            return pd.Series(_finite(np.log(x)), index=s.index, name=s.name)
        if freq is None:
            if s.index.nunique() < 2:
                return pd.Series(np.nan, index=s.index, name=s.name, dtype="float64")
            freq = infer_frequency(s.index)
        n = N_OBS_PER_YEAR[freq]
        if code in _YEAR_AGO_UNITS:
            tolerance = DAILY_YEAR_AGO_TOLERANCE if freq == "D" else None
            prev = _values_at(s, _year_earlier(s.index, freq), tolerance)
        else:
            prev = _values_at(s, _period_earlier(s.index, freq))
        if code in ("chg", "ch1"):
            out = x - prev
        elif code in ("pch", "pc1"):
            out = (x / prev - 1.0) * 100.0
        elif code == "pca":
            out = ((x / prev) ** n - 1.0) * 100.0
        elif code == "cch":
            out = (np.log(x) - np.log(prev)) * 100.0
        else:  # cca
            out = (np.log(x) - np.log(prev)) * 100.0 * n
    return pd.Series(_finite(out), index=s.index, name=s.name)


def aggregate_series(
    series: pd.Series,
    frequency: str,
    how: str = "avg",
    *,
    source_frequency: str | None = None,
    drop_incomplete_edges: bool = True,
) -> pd.Series:
    """Aggregate to a lower frequency like FRED's ``frequency`` + ``aggregation_method`` parameters.

    frequency: 'W' (weekly, ending Friday), 'M', 'Q' or 'A'.  how: 'avg'
    (mean), 'sum' or 'eop' (last non-missing value in the period).
    Conventions (FRED, fredhelp.stlouisfed.org "Understanding the Data"):
    * Labels: M/Q/A periods are labelled by their first day (2024-04-01 =
      Q2 2024); weekly periods Saturday..Friday are labelled by the
      week-ending Friday, which is how FRED dates "Weekly, Ending Friday"
      series.  An observation belongs to the period containing its own date.
    * Missing values inside a period are ignored; a period with no valid
      observation is NaN (never 0, also for 'sum').
    * With ``drop_incomplete_edges`` (default) the first and last periods are
      dropped when they hold fewer valid observations than FRED's threshold
      for the source->target pair (e.g. daily->monthly 17, monthly->quarterly
      3, monthly->annual 12, quarterly->annual 4); leading/trailing NaNs are
      trimmed first.
    ``source_frequency`` defaults to ``infer_frequency``; aggregating to a
    higher frequency than the source, or any other bad argument, raises
    ValueError.
    """
    target = _normalise_frequency(frequency, AGGREGATION_FREQUENCIES)
    if how not in AGGREGATION_METHODS:
        raise ValueError(f"how must be one of {', '.join(AGGREGATION_METHODS)}; got {how!r}")
    s = _prepare(series)
    first, last = s.first_valid_index(), s.last_valid_index()
    if first is None:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz=s.index.tz), name=s.name)
    source = _normalise_frequency(source_frequency) if source_frequency is not None else infer_frequency(s.index)
    if _RANK[target] < _RANK[source]:
        raise ValueError(f"cannot aggregate a {source} series to the higher frequency {target}")
    resampled = s.loc[first:last].resample(_RESAMPLE_RULE[target])
    if how == "avg":
        out = resampled.mean()
    elif how == "sum":
        out = resampled.sum(min_count=1)
    else:
        out = resampled.last()
    if drop_incomplete_edges and len(out):
        counts = resampled.count().to_numpy()
        threshold = _EDGE_THRESHOLD.get((source, target), 1)
        keep = np.ones(len(out), dtype=bool)
        keep[0] &= counts[0] >= threshold
        keep[-1] &= counts[-1] >= threshold
        out = out[keep]
    return out.rename(s.name)


def yield_curve_snapshot(yields: pd.DataFrame, as_of: object, *, max_age: pd.Timedelta | None = None) -> pd.Series:
    """Return the yield curve on ``as_of``: per tenor, the last valid value on or before ``as_of``.

    Columns are FRED series ids (DGS1MO ... DGS30, see TENOR_SERIES) or tenor
    labels ('1M' ... '30Y'); the result is indexed by tenor label in maturity
    order (only tenors present in ``yields``) and named ``as_of``.  Tenors with
    no value on or before ``as_of`` -- or, if ``max_age`` is given, whose last
    value is older than ``as_of - max_age`` (e.g. DGS30 in 2002-2006) -- are
    NaN.  Unknown or duplicated tenor columns raise ValueError.
    """
    if not isinstance(yields, pd.DataFrame) or not isinstance(yields.index, pd.DatetimeIndex):
        raise ValueError("yields must be a DataFrame with a DatetimeIndex")
    if yields.index.has_duplicates:
        raise ValueError("yields has duplicate dates")
    try:
        when = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"as_of is not a date: {as_of!r}") from exc
    if pd.isna(when):
        raise ValueError("as_of is missing")
    labels: list[str] = []
    for column in yields.columns:
        key = str(column).strip().upper()
        label = TENOR_SERIES.get(key, key if key in _TENOR_ORDER else None)
        if label is None:
            raise ValueError(f"unknown tenor column {column!r}; expected one of {', '.join(TENOR_SERIES)}")
        labels.append(label)
    if len(set(labels)) != len(labels):
        raise ValueError("yields has two columns for the same tenor")
    frame = yields.set_axis(labels, axis=1).astype("float64").sort_index()
    frame = frame.loc[frame.index <= when]
    order = [t for t in _TENOR_ORDER if t in labels]
    if frame.empty:
        return pd.Series(np.nan, index=pd.Index(order, name="tenor"), name=when, dtype="float64")
    values = frame.ffill().iloc[-1]
    if max_age is not None:
        seen = pd.to_datetime(pd.Series({c: frame[c].last_valid_index() for c in frame.columns}))
        values = values.where(seen >= when - pd.Timedelta(max_age))
    out = values.reindex(order)
    out.index.name = "tenor"
    return out.rename(when)


def spread_inversions(spread: pd.Series, min_sessions: int = 1) -> pd.DataFrame:
    """Return contiguous runs where ``spread < 0`` as rows of start, end, n_obs, min_spread.

    Missing observations (NaN or absent dates, e.g. holidays) are skipped, so
    they neither start nor break a run; a zero spread is not an inversion.
    ``start``/``end`` are the first/last observation dates inside the run (a
    run still open at the last observation ends there).  Runs of fewer than
    ``min_sessions`` observations (a one-day blip) are left out; they do not
    join their neighbours either.  Sorted by start; empty frame (same columns)
    when no run is long enough.  ``min_sessions`` must be an int >= 1.
    """
    if isinstance(min_sessions, bool) or not isinstance(min_sessions, numbers.Integral) or min_sessions < 1:
        raise ValueError(f"min_sessions must be an integer >= 1; got {min_sessions!r}")
    s = _prepare(spread, "spread").dropna()
    negative = s < 0
    if not negative.any():
        return _no_inversions(s.index.dtype)
    run_id = (negative != negative.shift()).cumsum()[negative]
    dates = pd.Series(s.index[negative.to_numpy()], index=run_id.index)
    grouped_dates = dates.groupby(run_id.to_numpy())
    out = pd.DataFrame(
        {
            "start": grouped_dates.min(),
            "end": grouped_dates.max(),
            "n_obs": grouped_dates.size().astype("int64"),
            "min_spread": s[negative].groupby(run_id.to_numpy()).min(),
        }
    )
    out = out[out["n_obs"] >= min_sessions]
    if out.empty:
        return _no_inversions(s.index.dtype)
    return out.reset_index(drop=True)


def _no_inversions(dtype: object) -> pd.DataFrame:
    columns = ["start", "end", "n_obs", "min_spread"]
    dtypes = (dtype, dtype, "int64", "float64")
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in zip(columns, dtypes, strict=True)})


def rolling_macro_beta(stock_prices: pd.Series, macro_levels: pd.Series, window: int = 63) -> pd.DataFrame:
    """Rolling correlation and beta of daily stock returns on daily first differences of a macro series.

    Both legs are measured by date over the same interval, previous business
    day (Mon-Fri) -> t: r(t) = P(t)/P(prev bday) - 1 and dm(t) = m(t) - m(prev
    bday); a leg is NaN when either date is missing (e.g. the day after a
    holiday).  Timestamps are compared as calendar dates (tz dropped).  Pairs
    are aligned on common dates, NaN pairs dropped, and each statistic uses
    the last ``window`` pairs (NaN until ``window`` pairs exist):
    beta = cov(r, dm) / var(dm) (return per one unit of macro change, e.g.
    per 1 percentage point of yield), correlation = cov / (sd(r) sd(dm)).
    Zero variance gives NaN.  Returns columns ['correlation', 'beta'] indexed
    by the pair dates.  ``window`` must be an int >= 2 (ValueError otherwise).
    """
    if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 2:
        raise ValueError(f"window must be an integer >= 2; got {window!r}")
    window = int(window)
    legs = {}
    for key, raw, name in (("ret", stock_prices, "stock_prices"), ("dm", macro_levels, "macro_levels")):
        s = _prepare(raw, name)
        s.index = _naive_dates(s.index)
        if s.index.has_duplicates:
            raise ValueError(f"{name} has several observations on one date")
        prev = _values_at(s, _previous_business_day(s.index))
        with np.errstate(all="ignore"):
            leg = s.to_numpy() / prev - 1.0 if key == "ret" else s.to_numpy() - prev
        legs[key] = pd.Series(_finite(leg), index=s.index)
    pairs = pd.concat(legs, axis=1, join="inner").dropna()
    ret, dm = pairs["ret"], pairs["dm"]
    cov = ret.rolling(window, min_periods=window).cov(dm)
    var_dm = dm.rolling(window, min_periods=window).var()
    var_ret = ret.rolling(window, min_periods=window).var()
    beta = cov / var_dm.where(var_dm > 0)
    corr = (cov / np.sqrt(var_ret.where(var_ret > 0) * var_dm.where(var_dm > 0))).clip(-1.0, 1.0)
    return pd.DataFrame({"correlation": corr, "beta": beta}, index=pairs.index)


# -- chart preparation (FRED's order: aggregate, transform, cut) and the yield-curve views --------------

_FREQUENCY_WORDS = (("daily", "D"), ("weekly", "W"), ("monthly", "M"), ("quarterly", "Q"), ("annual", "A"))
# Loaded before the chosen start so changes and year-ago comparisons have their earlier values, and the
# first aggregated period is complete.
CHART_LOOKBACK = pd.DateOffset(years=2)
CURVE_MAX_AGE = pd.Timedelta(days=10)


def frequency_code(text: str | None) -> str | None:
    """'Daily' -> 'D', 'Weekly, Ending Friday' -> 'W', ... as FRED words them; None when unknown (pending)."""
    lowered = (text or "").strip().lower()
    for word, code in _FREQUENCY_WORDS:
        if lowered.startswith(word):
            return code
    return None


def chart_series(
    raw: pd.Series,
    series_id: str,
    units: str,
    start: date,
    end: date,
    frequency: str | None = None,
    how: str = "avg",
    stored_frequency: str | None = None,
) -> tuple[pd.Series, list[str]]:
    """One series ready to plot over [start, end], and notes for the reader.

    FRED's order: aggregate to `frequency` (None = as stored) with `how`, then apply the `units`
    transformation by date on `raw` (the stored values from CHART_LOOKBACK before `start` to `end`), then cut
    to the range. Gaps stay NaN.
    Notes say when a series has no data yet, cannot be aggregated to a higher frequency, or has too
    little history for a year-ago transformation (see `needs_history`). Bad codes raise ValueError.
    """
    needed = needs_history(units)
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    notes: list[str] = []
    if raw.dropna().empty:
        notes.append(
            f"{series_id} has no observations in this range yet; a series just added is fetched on the next "
            "macro ingestion run."
        )
        return raw.iloc[0:0], notes
    source = frequency_code(stored_frequency)
    if source is None:
        try:
            source = infer_frequency(raw.dropna().index)
        except ValueError:
            source = None
    values, used = raw, source
    if frequency is not None and frequency != source:
        if source is not None and FREQUENCIES.index(frequency) < FREQUENCIES.index(source):
            notes.append(
                f"{series_id} is stored {stored_frequency or source}; it cannot be shown at a higher frequency, "
                "so it is shown as stored."
            )
        else:
            values = aggregate_series(raw, frequency, how, source_frequency=source)
            used = frequency
    result = transform_series(values, units, used)
    result = result[(result.index >= first) & (result.index <= last)]
    if result.empty:
        notes.append(f"{series_id} has no observations between {first:%Y-%m-%d} and {last:%Y-%m-%d}.")
        return result, notes
    if needed is not None:
        first_valid = values.first_valid_index()
        available = first_valid + needed
        if available > first:
            label = UNITS[units]
            if result.notna().any():
                notes.append(
                    f"{label} needs a year of history: {series_id} starts on {first_valid:%Y-%m-%d}, so its values "
                    f"begin on {available:%Y-%m-%d}."
                )
            else:
                notes.append(
                    f"{label} needs a year of history before its first value; {series_id} has none in this range "
                    f"(it starts on {first_valid:%Y-%m-%d}). Choose a longer range."
                )
    return result, notes


def yield_curves(frame: pd.DataFrame, months_back: tuple[int, ...] = (0, 6, 12)) -> pd.DataFrame:
    """Yield curves across every stored tenor: the latest date on which all stored tenors have a value, and
    `months_back` months before it (each tenor's last value on or before that date, at most 10 days old).

    Columns are labelled 'YYYY-MM-DD (latest | N months earlier)'; index is the tenor in maturity order.
    `frame`: the stored tenors as columns by date (TENOR_SERIES order). Empty frame when no tenor is stored.
    """
    complete = frame.dropna(how="any")
    if frame.empty or complete.empty:
        return pd.DataFrame()
    latest = complete.index.max()
    curves = {}
    for months in months_back:
        when = latest - pd.DateOffset(months=months)
        name = "latest" if months == 0 else f"{months} months earlier"
        curves[f"{when:%Y-%m-%d} ({name})"] = yield_curve_snapshot(frame, when, max_age=CURVE_MAX_AGE)
    return pd.DataFrame(curves)


def spreads(stored: pd.Series, frame: pd.DataFrame) -> dict[str, pd.Series]:
    """10Y-2Y (FRED's T10Y2Y `stored` when it has values, else DGS10 - DGS2) and 10Y-3M (DGS10 - DGS3MO, by date).

    `frame`: Treasury yields as columns by date.
    """
    out: dict[str, pd.Series] = {}
    if not stored.dropna().empty:
        out["10Y-2Y"] = stored.rename("10Y-2Y")
    elif {"DGS10", "DGS2"} <= set(frame.columns):
        out["10Y-2Y"] = (frame["DGS10"] - frame["DGS2"]).dropna().round(4).rename("10Y-2Y")
    if {"DGS10", "DGS3MO"} <= set(frame.columns):
        # Both legs on the same date only; a date missing in either is no observation, not a zero.
        out["10Y-3M"] = (frame["DGS10"] - frame["DGS3MO"]).dropna().round(4).rename("10Y-3M")
    return out


def inversion_table(spread_by_name: dict[str, pd.Series], min_sessions: int = 1) -> pd.DataFrame:
    """Every inversion run (spread < 0 for at least `min_sessions` observations) of each spread, newest first,
    with its length in observations."""
    parts = []
    for name, spread in spread_by_name.items():
        runs = spread_inversions(spread, min_sessions)
        if not runs.empty:
            parts.append(runs.assign(spread=name))
    if not parts:
        return pd.DataFrame(columns=["spread", "start", "end", "n_obs", "min_spread"])
    table = pd.concat(parts, ignore_index=True)[["spread", "start", "end", "n_obs", "min_spread"]]
    return table.sort_values(["start", "spread"], ascending=[False, True], ignore_index=True)


def recession_periods(usrec: pd.Series) -> pd.DataFrame:
    """Runs of USREC == 1 as rows of start (first recession month) and end (the first day after its last month).

    USREC is monthly, dated on the first day of the month; missing months (NaN) end a run. Empty frame
    with the same columns when there is no recession.
    """
    s = usrec.dropna().sort_index()
    columns = ["start", "end"]
    flag = s >= 0.5
    if not flag.any():
        return pd.DataFrame(columns=columns)
    # A new run starts at a recession month whose previous month is not a stored recession month.
    months = s.index[flag.to_numpy()]
    previous = months - pd.DateOffset(months=1)
    new_run = ~pd.Index(previous).isin(months)
    run_id = new_run.cumsum()
    frame = pd.DataFrame({"month": months, "run": run_id})
    grouped = frame.groupby("run")["month"]
    out = pd.DataFrame({"start": grouped.min(), "end": grouped.max() + pd.DateOffset(months=1)})
    return out.reset_index(drop=True)[columns]


# -- the series catalog (a frame of stored series with their metadata) ----------------------------------


class UnknownSeries(LookupError):
    """The series id is not in the macro universe; the message says so."""


def search_catalog(catalog: pd.DataFrame, text: str | None) -> pd.DataFrame:
    """Rows whose id or title contains every word of `text` (case-insensitive); all rows when blank."""
    words = (text or "").split()
    if not words:
        return catalog
    haystack = (catalog["series_id"].fillna("") + " " + catalog["title"].fillna("")).str.lower()
    keep = pd.Series(True, index=catalog.index)
    for word in words:
        keep &= haystack.str.contains(re.escape(word.lower()), regex=True)
    return catalog[keep]


def change_unit(series_id: str, units: str | None) -> str:
    """What "one unit of change" of a series is, in words: a series in percent (FRED's "Percent", "Percent Change
    at Annual Rate" ...) moves in percentage points, so a beta on it is "per 1 percentage point change in DGS10";
    any other, per one of its own units ("per 1 change in DEXJPUS (Japanese Yen to One U.S. Dollar)")."""
    text = (units or "").strip()
    if text.lower().startswith("percent"):
        return f"1 percentage point change in {series_id}"
    return f"1 change in {series_id}" + (f" ({text})" if text and text.lower() != "pending" else "")


def series_info(catalog: pd.DataFrame, series_id: str) -> dict:
    """The catalog row of `series_id` as a dict; UnknownSeries with a clear message when it is not there."""
    # By position: a page looks up a dozen series per run, and a boolean mask copies the frame each time.
    at = np.flatnonzero(catalog["series_id"].to_numpy() == series_id)
    if not len(at):
        raise UnknownSeries(f"Unknown series id {series_id!r}: it is not in the macro universe.")
    return catalog.iloc[at[0]].to_dict()


def stored_span(catalog: pd.DataFrame, series_ids: list[str] | None = None) -> tuple[date, date] | None:
    """The first and last stored observation dates of `series_ids` (every series when None), as a date input's
    bounds; None when none of them has an observation yet."""
    rows = catalog if series_ids is None else catalog[catalog["series_id"].isin(series_ids)]
    first, last = pd.to_datetime(rows["first_date"]).min(), pd.to_datetime(rows["last_date"]).max()
    if pd.isna(first) or pd.isna(last):
        return None
    return first.date(), last.date()


def clamp_date(value: date, bounds: tuple[date, date]) -> date:
    """`value` moved inside `bounds` (a default date must lie within a date input's min and max)."""
    return min(max(value, bounds[0]), bounds[1])
