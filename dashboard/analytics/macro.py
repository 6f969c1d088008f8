"""FRED-style macro analytics: units transforms, frequency aggregation, yield curve, inversions, macro beta."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

__all__ = [
    "AGGREGATION_FREQUENCIES",
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


def spread_inversions(spread: pd.Series) -> pd.DataFrame:
    """Return contiguous runs where ``spread < 0`` as rows of start, end, n_obs, min_spread.

    Missing observations (NaN or absent dates, e.g. holidays) are skipped, so
    they neither start nor break a run; a zero spread is not an inversion.
    ``start``/``end`` are the first/last observation dates inside the run (a
    run still open at the last observation ends there).  Sorted by start;
    empty frame (same columns) when the spread never goes negative.
    """
    s = _prepare(spread, "spread").dropna()
    negative = s < 0
    columns = ["start", "end", "n_obs", "min_spread"]
    if not negative.any():
        dtypes = (s.index.dtype, s.index.dtype, "int64", "float64")
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in zip(columns, dtypes, strict=True)})
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
    return out.reset_index(drop=True)


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
