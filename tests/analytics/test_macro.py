"""Tests for analytics.macro against independent loop computations on the bundled FRED series."""

from __future__ import annotations

import csv
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import macro

ROOT = Path(__file__).resolve().parents[2]
MACRO = ROOT / "data" / "sample" / "macro"
PRICES = ROOT / "data" / "sample" / "prices"


# --------------------------------------------------------------------------- independent helpers


def raw(name: str) -> dict[date, float | None]:
    """Read a bundled FRED csv with the csv module: {date: value or None}."""
    with open(MACRO / f"{name}.csv", newline="") as fh:
        return {
            date.fromisoformat(row["date"]): (float(row["value"]) if row["value"] not in ("", ".") else None)
            for row in csv.DictReader(fh)
        }


def load(name: str) -> pd.Series:
    """Read a bundled FRED csv as the Series the app would pass in."""
    frame = pd.read_csv(MACRO / f"{name}.csv", parse_dates=["date"], index_col="date")
    return frame["value"].rename(name)


def add_months(d: date, months: int) -> date:
    """Plain month arithmetic for first-of-period dates."""
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, d.day)


def year_before(d: date) -> date:
    """Same calendar date one year earlier (29 Feb -> 28 Feb)."""
    try:
        return d.replace(year=d.year - 1)
    except ValueError:
        return d.replace(year=d.year - 1, day=28)


def prev_weekday(d: date) -> date:
    """Previous Monday-Friday date."""
    d -= timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


def fred_formula(code: str, x: float | None, prev: float | None, n: int) -> float:
    """FRED's documented formula for one observation, NaN when an input is missing or invalid."""
    if code == "lin":
        return math.nan if x is None else x
    if code == "log":
        return math.nan if x is None or x <= 0 else math.log(x)
    if x is None or prev is None:
        return math.nan
    if code in ("chg", "ch1"):
        return x - prev
    if code in ("pch", "pc1"):
        return (x / prev - 1) * 100
    if code == "pca":
        return ((x / prev) ** n - 1) * 100
    if code == "cch":
        return (math.log(x) - math.log(prev)) * 100
    if code == "cca":
        return (math.log(x) - math.log(prev)) * 100 * n
    raise AssertionError(code)


def assert_matches(result: pd.Series, expected: dict[date, float]) -> None:
    """Compare a result with {date: value}, NaN-aware, same set of dates."""
    got = {ts.date(): v for ts, v in result.items()}
    assert got.keys() == expected.keys()
    for d, want in expected.items():
        have = got[d]
        if math.isnan(want):
            assert math.isnan(have), (d, have)
        else:
            assert have == pytest.approx(want, rel=1e-12, abs=1e-12), d


def at(result: pd.Series, day: str) -> float:
    return float(result.loc[pd.Timestamp(day)])


# --------------------------------------------------------------------------- transform_series: monthly CPI


def test_cpi_october_2025_gap_stays_a_gap():
    cpi = load("CPIAUCSL")
    r = raw("CPIAUCSL")
    assert r[date(2025, 10, 1)] is None
    pch = macro.transform_series(cpi, "pch")
    assert pch.index.equals(cpi.index)
    assert math.isnan(at(pch, "2025-10-01"))
    assert math.isnan(at(pch, "2025-11-01"))  # compared with the missing October, not with September
    assert at(pch, "2025-12-01") == pytest.approx((r[date(2025, 12, 1)] / r[date(2025, 11, 1)] - 1) * 100)
    assert at(pch, "2025-09-01") == pytest.approx((r[date(2025, 9, 1)] / r[date(2025, 8, 1)] - 1) * 100)


def test_cpi_november_2025_yoy_is_against_november_2024():
    cpi = load("CPIAUCSL")
    r = raw("CPIAUCSL")
    pc1 = macro.transform_series(cpi, "pc1")
    expected = (r[date(2025, 11, 1)] / r[date(2024, 11, 1)] - 1) * 100
    assert at(pc1, "2025-11-01") == pytest.approx(expected, rel=1e-12)
    assert at(pc1, "2025-11-01") == pytest.approx((325.063 / 316.528 - 1) * 100, rel=1e-12)
    assert math.isnan(at(pc1, "2025-10-01"))
    # the year-ago value of October 2026 would be the gap; later months are not shifted
    assert at(pc1, "2025-12-01") == pytest.approx((r[date(2025, 12, 1)] / r[date(2024, 12, 1)] - 1) * 100)


def test_cpi_pc1_june_2024_matches_raw_file():
    r = raw("CPIAUCSL")
    pc1 = macro.transform_series(load("CPIAUCSL"), "pc1")
    assert at(pc1, "2024-06-01") == pytest.approx((r[date(2024, 6, 1)] / r[date(2023, 6, 1)] - 1) * 100, rel=1e-12)
    assert at(pc1, "2024-06-01") == pytest.approx((313.044 / 304.014 - 1) * 100, rel=1e-12)


@pytest.mark.parametrize("code", list(macro.UNITS))
def test_cpi_every_unit_matches_loop(code):
    r = raw("CPIAUCSL")
    expected = {}
    for d, x in r.items():
        back = add_months(d, -12) if code in ("ch1", "pc1") else add_months(d, -1)
        expected[d] = fred_formula(code, x, r.get(back), 12)
    assert_matches(macro.transform_series(load("CPIAUCSL"), code), expected)


@pytest.mark.parametrize("code", ["chg", "ch1", "pch", "pc1", "pca", "cch", "cca", "log"])
def test_nan_row_and_absent_row_give_same_values(code):
    cpi = load("CPIAUCSL")
    with_gap = macro.transform_series(cpi, code).drop(pd.Timestamp("2025-10-01"))
    without_row = macro.transform_series(cpi.dropna(), code)
    pd.testing.assert_series_equal(with_gap, without_row)


def test_unrate_missing_row_is_not_bridged():
    r = raw("UNRATE")
    assert date(2025, 10, 1) not in r
    un = load("UNRATE")
    chg = macro.transform_series(un, "chg")
    assert pd.Timestamp("2025-10-01") not in chg.index
    assert math.isnan(at(chg, "2025-11-01"))
    assert at(chg, "2025-12-01") == pytest.approx(r[date(2025, 12, 1)] - r[date(2025, 11, 1)])
    ch1 = macro.transform_series(un, "ch1")
    assert at(ch1, "2025-11-01") == pytest.approx(r[date(2025, 11, 1)] - r[date(2024, 11, 1)])
    assert len(chg) == len(un)


# --------------------------------------------------------------------------- quarterly GDP


def test_gdp_pca_matches_formula():
    r = raw("GDP")
    pca = macro.transform_series(load("GDP"), "pca")
    checked = 0
    for d, x in r.items():
        prev = r.get(add_months(d, -3))
        if prev is None:
            assert math.isnan(at(pca, d.isoformat()))
            continue
        assert at(pca, d.isoformat()) == pytest.approx(((x / prev) ** 4 - 1) * 100, rel=1e-12)
        checked += 1
    assert checked == len(r) - 1


@pytest.mark.parametrize("code", ["chg", "ch1", "pch", "pc1", "cch", "cca"])
def test_gdp_other_units_match_loop(code):
    r = raw("GDP")
    expected = {
        d: fred_formula(code, x, r.get(add_months(d, -12 if code in ("ch1", "pc1") else -3)), 4) for d, x in r.items()
    }
    assert_matches(macro.transform_series(load("GDP"), code), expected)


# --------------------------------------------------------------------------- daily DGS10


@pytest.mark.parametrize("code", ["chg", "pch", "pca", "cch", "cca"])
def test_dgs10_daily_changes_use_previous_weekday_by_date(code):
    r = raw("DGS10")
    expected = {d: fred_formula(code, x, r.get(prev_weekday(d)), 260) for d, x in r.items()}
    assert_matches(macro.transform_series(load("DGS10"), code), expected)


def test_dgs10_independence_day_2024():
    chg = macro.transform_series(load("DGS10"), "chg")
    assert math.isnan(at(chg, "2024-07-05"))  # 2024-07-04 has no observation
    assert at(chg, "2024-07-08") == pytest.approx(4.28 - 4.28)  # Monday vs Friday
    assert at(chg, "2024-07-09") == pytest.approx(4.30 - 4.28)


@pytest.mark.parametrize("code", ["ch1", "pc1"])
def test_dgs10_daily_year_ago_uses_same_date_or_up_to_5_days_earlier(code):
    r = raw("DGS10")
    expected = {}
    for d, x in r.items():
        prev = None
        target = year_before(d)
        for back in range(6):
            candidate = r.get(target - timedelta(days=back))
            if candidate is not None:
                prev = candidate
                break
        expected[d] = fred_formula(code, x, prev, 260)
    assert_matches(macro.transform_series(load("DGS10"), code), expected)


def test_weekly_series_year_ago_is_52_weeks():
    weekly = macro.aggregate_series(load("DGS10"), "W", "eop")
    assert macro.infer_frequency(weekly.index) == "W"
    values = {ts.date(): (None if math.isnan(v) else v) for ts, v in weekly.items()}
    expected_pc1 = {d: fred_formula("pc1", x, values.get(d - timedelta(weeks=52)), 52) for d, x in values.items()}
    expected_pca = {d: fred_formula("pca", x, values.get(d - timedelta(weeks=1)), 52) for d, x in values.items()}
    assert_matches(macro.transform_series(weekly, "pc1"), expected_pc1)
    assert_matches(macro.transform_series(weekly, "pca"), expected_pca)


def test_annual_series_pch():
    annual = macro.aggregate_series(load("CPIAUCSL"), "A")
    values = {ts.date(): v for ts, v in annual.items()}
    expected = {d: fred_formula("pch", x, values.get(date(d.year - 1, 1, 1)), 1) for d, x in values.items()}
    assert_matches(macro.transform_series(annual, "pch"), expected)


# --------------------------------------------------------------------------- frequency, validation, history


@pytest.mark.parametrize(
    ("name", "freq"),
    [
        ("CPIAUCSL", "M"),
        ("UNRATE", "M"),
        ("USREC", "M"),
        ("FEDFUNDS", "M"),
        ("GDP", "Q"),
        ("GDPC1", "Q"),
        ("DGS10", "D"),
        ("DGS2", "D"),
        ("DGS3MO", "D"),
        ("T10Y2Y", "D"),
        ("DEXUSUK", "D"),
        ("DEXJPUS", "D"),
        ("VIXCLS", "D"),
    ],
)
def test_infer_frequency_on_bundled_series(name, freq):
    assert macro.infer_frequency(load(name).index) == freq


def test_explicit_frequency_matches_inferred_and_accepts_fred_codes():
    cpi = load("CPIAUCSL")
    pd.testing.assert_series_equal(macro.transform_series(cpi, "pca"), macro.transform_series(cpi, "pca", "m"))
    with pytest.raises(ValueError, match="frequency"):
        macro.transform_series(cpi, "pch", "X")


def test_unknown_units_lists_valid_codes():
    with pytest.raises(ValueError) as err:
        macro.transform_series(load("GDP"), "yoy")
    for code in macro.UNITS:
        assert code in str(err.value)
    with pytest.raises(ValueError):
        macro.needs_history("yoy")


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError):
        macro.transform_series(pd.Series([1.0, 2.0]), "chg")
    dup = pd.Series([1.0, 2.0], index=pd.to_datetime(["2024-01-01", "2024-01-01"]))
    with pytest.raises(ValueError, match="duplicate"):
        macro.transform_series(dup, "chg")
    with pytest.raises(ValueError):
        macro.transform_series([1.0, 2.0], "chg")
    with pytest.raises(ValueError):
        macro.infer_frequency(pd.DatetimeIndex(["2024-01-01"]))
    with pytest.raises(ValueError):  # biweekly is not one of D/W/M/Q/A
        macro.infer_frequency(pd.date_range("2024-01-05", periods=10, freq="14D"))


def test_needs_history():
    assert macro.needs_history("pc1") == pd.DateOffset(years=1)
    assert macro.needs_history("ch1") == pd.DateOffset(years=1)
    for code in ("lin", "chg", "pch", "pca", "cch", "cca", "log"):
        assert macro.needs_history(code) is None


def test_year_ago_on_less_than_a_year_is_all_nan_without_error():
    cpi = load("CPIAUCSL").loc["2025-01-01":"2025-12-01"]
    for code in ("pc1", "ch1"):
        out = macro.transform_series(cpi, code)
        assert out.isna().all() and len(out) == len(cpi)
    assert macro.transform_series(cpi, "pch").notna().sum() == 9  # Oct and Nov missing, Jan has no December
    single = load("DGS10").iloc[[-1]]
    assert macro.transform_series(single, "pc1").isna().all()
    assert macro.transform_series(single, "lin").iloc[0] == single.iloc[0]


def test_non_finite_results_are_nan():
    s = pd.Series([0.0, 1.0, -1.0, 2.0], index=pd.date_range("2024-01-01", periods=4, freq="MS"))
    pch = macro.transform_series(s, "pch")
    assert math.isnan(pch.iloc[1])  # 1/0
    assert macro.transform_series(s, "log").iloc[[0, 2]].isna().all()
    assert macro.transform_series(s, "cch").iloc[[1, 2, 3]].isna().all()
    assert not np.isinf(pch).any()


def test_input_not_mutated_and_unsorted_input_is_sorted():
    cpi = load("CPIAUCSL")
    shuffled = cpi.sample(frac=1.0, random_state=7)
    before = shuffled.copy()
    out = macro.transform_series(shuffled, "pc1")
    pd.testing.assert_series_equal(shuffled, before)
    pd.testing.assert_series_equal(out, macro.transform_series(cpi, "pc1"))


# --------------------------------------------------------------------------- aggregate_series


def manual_groups(r: dict[date, float | None], key) -> dict[date, list[float]]:
    """Group valid values by period key, keeping empty lists for periods that only hold missing values."""
    groups: dict[date, list[float]] = {}
    for d in sorted(r):
        groups.setdefault(key(d), [])
        if r[d] is not None:
            groups[key(d)].append(r[d])
    return groups


def manual_aggregate(groups: dict[date, list[float]], how: str, threshold: int) -> dict[date, float]:
    keys = sorted(groups)
    out = {}
    for k in keys:
        vals = groups[k]
        if k in (keys[0], keys[-1]) and len(vals) < threshold:
            continue
        if not vals:
            out[k] = math.nan
        elif how == "avg":
            out[k] = sum(vals) / len(vals)
        elif how == "sum":
            out[k] = sum(vals)
        else:
            out[k] = vals[-1]
    return out


@pytest.mark.parametrize("how", ["avg", "sum", "eop"])
def test_dgs10_monthly_matches_manual_groupby(how):
    r = raw("DGS10")
    groups = manual_groups(r, lambda d: date(d.year, d.month, 1))
    expected = manual_aggregate(groups, how, 17)
    got = macro.aggregate_series(load("DGS10"), "M", how)
    assert_matches(got, expected)
    assert got.index[0] == pd.Timestamp("1962-01-01")
    assert got.index[-1] == pd.Timestamp("2026-07-01")  # August 2026 has only 14 observations (< 17)


def test_dgs10_monthly_avg_keeps_partial_last_month_when_asked():
    r = raw("DGS10")
    aug = [v for d, v in r.items() if d >= date(2026, 8, 1) and v is not None]
    got = macro.aggregate_series(load("DGS10"), "M", drop_incomplete_edges=False)
    assert at(got, "2026-08-01") == pytest.approx(sum(aug) / len(aug))


def test_dgs10_weekly_ending_friday_labels_and_values():
    r = raw("DGS10")
    groups = manual_groups(r, lambda d: d + timedelta(days=(4 - d.weekday()) % 7))
    expected = manual_aggregate(groups, "avg", 4)
    got = macro.aggregate_series(load("DGS10"), "W")
    assert (got.index.day_of_week == 4).all()
    assert_matches(got, expected)
    week = [r[date(2024, 7, d)] for d in (1, 2, 3, 5)]  # 4 July missing: 4 values, not 5
    assert at(got, "2024-07-05") == pytest.approx(sum(week) / 4)
    eop = macro.aggregate_series(load("DGS10"), "W", "eop")
    assert at(eop, "2024-07-05") == r[date(2024, 7, 5)]


def test_cpi_quarterly_and_annual_with_october_gap():
    r = raw("CPIAUCSL")
    q = macro.aggregate_series(load("CPIAUCSL"), "Q")
    expected_q = manual_aggregate(manual_groups(r, lambda d: date(d.year, (d.month - 1) // 3 * 3 + 1, 1)), "avg", 3)
    assert_matches(q, expected_q)
    assert at(q, "2025-10-01") == pytest.approx((r[date(2025, 11, 1)] + r[date(2025, 12, 1)]) / 2)
    assert q.index[-1] == pd.Timestamp("2026-04-01")  # Q3 2026 holds only July
    a = macro.aggregate_series(load("CPIAUCSL"), "A")
    assert_matches(a, manual_aggregate(manual_groups(r, lambda d: date(d.year, 1, 1)), "avg", 12))
    assert a.index[0] == pd.Timestamp("1997-01-01") and a.index[-1] == pd.Timestamp("2025-01-01")


def test_gdp_annual_eop_and_usrec_annual_sum():
    r = raw("GDP")
    got = macro.aggregate_series(load("GDP"), "A", "eop")
    assert_matches(got, manual_aggregate(manual_groups(r, lambda d: date(d.year, 1, 1)), "eop", 4))
    rec = raw("USREC")
    months_in_recession = macro.aggregate_series(load("USREC"), "A", "sum")
    assert_matches(months_in_recession, manual_aggregate(manual_groups(rec, lambda d: date(d.year, 1, 1)), "sum", 12))
    assert at(months_in_recession, "2009-01-01") == 6.0


def test_empty_middle_period_is_nan_not_zero():
    dgs10 = load("DGS10")
    holed = dgs10[(dgs10.index < "2024-03-01") | (dgs10.index >= "2024-04-01")]
    for how in ("avg", "sum", "eop"):
        out = macro.aggregate_series(holed, "M", how)
        assert pd.Timestamp("2024-03-01") in out.index
        assert math.isnan(at(out, "2024-03-01"))
    nan_month = dgs10.copy()
    nan_month.loc["2024-03-01":"2024-03-31"] = np.nan
    assert math.isnan(at(macro.aggregate_series(nan_month, "M", "sum"), "2024-03-01"))


def test_aggregate_bad_arguments():
    dgs10 = load("DGS10")
    for freq in ("D", "X", None, 7):
        with pytest.raises(ValueError):
            macro.aggregate_series(dgs10, freq)
    with pytest.raises(ValueError):
        macro.aggregate_series(dgs10, "M", "mean")
    with pytest.raises(ValueError, match="higher frequency"):
        macro.aggregate_series(load("GDP"), "M")
    with pytest.raises(ValueError):
        macro.aggregate_series(dgs10.iloc[:1], "M")  # cannot infer the source frequency
    assert (
        macro.aggregate_series(dgs10.iloc[:1], "M", source_frequency="D", drop_incomplete_edges=False).iloc[0]
        == (dgs10.iloc[0])
    )
    assert macro.aggregate_series(dgs10.iloc[:0], "M").empty


# --------------------------------------------------------------------------- yield curve and inversions


def test_yield_curve_snapshot_last_value_on_or_before():
    names = ["DGS10", "DGS3MO", "DGS2"]  # deliberately not in maturity order
    frame = pd.concat([load(n) for n in names], axis=1, sort=True)
    as_of = date(2026, 8, 1)  # a Saturday; DGS3MO stops on 2026-07-22
    expected = {}
    for n in names:
        r = raw(n)
        last = max(d for d, v in r.items() if d <= as_of and v is not None)
        expected[macro.TENOR_SERIES[n]] = r[last]
    snap = macro.yield_curve_snapshot(frame, "2026-08-01")
    assert list(snap.index) == ["3M", "2Y", "10Y"]
    assert snap.to_dict() == expected
    assert snap.name == pd.Timestamp("2026-08-01")
    fresh = macro.yield_curve_snapshot(frame, as_of, max_age=pd.Timedelta(days=5))
    assert math.isnan(fresh["3M"]) and fresh["10Y"] == expected["10Y"]


def test_yield_curve_snapshot_labels_and_errors():
    frame = pd.concat([load("DGS2").rename("2y"), load("DGS10").rename("10Y")], axis=1, sort=True)
    early = macro.yield_curve_snapshot(frame, "1970-01-02")
    assert math.isnan(early["2Y"]) and early["10Y"] == raw("DGS10")[date(1970, 1, 2)]
    assert macro.yield_curve_snapshot(frame, "1900-01-01").isna().all()
    with pytest.raises(ValueError, match="unknown tenor"):
        macro.yield_curve_snapshot(frame.assign(T10Y2Y=0.0), "2024-01-02")
    with pytest.raises(ValueError):
        macro.yield_curve_snapshot(frame.assign(DGS10=0.0), "2024-01-02")  # two 10Y columns
    with pytest.raises(ValueError):
        macro.yield_curve_snapshot(frame, "not a date")


def test_spread_inversions_match_loop():
    r = raw("T10Y2Y")
    runs = []
    current = None
    for d in sorted(r):
        v = r[d]
        if v is None:
            continue
        if v < 0:
            if current is None:
                current = [d, d, 0, v]
            current[1] = d
            current[2] += 1
            current[3] = min(current[3], v)
        elif current is not None:
            runs.append(tuple(current))
            current = None
    if current is not None:
        runs.append(tuple(current))
    got = macro.spread_inversions(load("T10Y2Y"))
    assert list(got.columns) == ["start", "end", "n_obs", "min_spread"]
    assert [(s.date(), e.date(), n, m) for s, e, n, m in got.itertuples(index=False)] == runs
    longest = got.loc[got["n_obs"].idxmax()]
    assert longest["start"] == pd.Timestamp("2022-07-06") and longest["end"] == pd.Timestamp("2024-08-26")


def test_spread_inversions_edge_cases():
    idx = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"])
    s = pd.Series([0.1, -0.2, np.nan, -0.1, 0.0, -0.3], index=idx)
    got = macro.spread_inversions(s)
    assert got["start"].tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-08")]
    assert got["end"].tolist() == [pd.Timestamp("2024-01-04"), pd.Timestamp("2024-01-08")]
    assert got["n_obs"].tolist() == [2, 1]
    empty = macro.spread_inversions(s.abs())
    assert empty.empty and list(empty.columns) == ["start", "end", "n_obs", "min_spread"]


def brute_force_inversions(a: dict[date, float | None], b: dict[date, float | None], min_sessions: int) -> list:
    """Scan a - b day by day (dates where both are published) and keep negative runs of min_sessions or more."""
    runs, current = [], None
    for d in sorted(set(a) & set(b)):
        if a[d] is None or b[d] is None:
            continue
        v = round(a[d] - b[d], 4)
        if v < 0:
            current = [d, d, 1, v] if current is None else [current[0], d, current[2] + 1, min(current[3], v)]
        else:
            if current is not None and current[2] >= min_sessions:
                runs.append(tuple(current))
            current = None
    if current is not None and current[2] >= min_sessions:
        runs.append(tuple(current))
    return runs


@pytest.mark.parametrize("min_sessions", [1, 2, 5, 20])
def test_inversions_of_at_least_n_sessions_match_a_brute_force_scan_of_dgs10_minus_dgs2(min_sessions):
    dgs10, dgs2 = raw("DGS10"), raw("DGS2")
    spread = macro.spreads(pd.Series(dtype="float64"), pd.concat([load("DGS10"), load("DGS2")], axis=1))["10Y-2Y"]
    got = macro.spread_inversions(spread, min_sessions)
    expected = brute_force_inversions(dgs10, dgs2, min_sessions)
    assert [(s.date(), e.date(), n, round(m, 4)) for s, e, n, m in got.itertuples(index=False)] == expected
    assert (got["n_obs"] >= min_sessions).all()
    table = macro.inversion_table({"10Y-2Y": spread}, min_sessions)
    assert len(table) == len(expected) and table["start"].is_monotonic_decreasing


def test_a_one_day_blip_is_not_an_inversion_by_default_on_the_page_setting():
    dgs10, dgs2 = raw("DGS10"), raw("DGS2")
    every_run = brute_force_inversions(dgs10, dgs2, 1)
    assert any(n < 5 for _, _, n, _ in every_run)  # the bundled data has blips: the setting changes the answer
    spread = macro.spreads(pd.Series(dtype="float64"), pd.concat([load("DGS10"), load("DGS2")], axis=1))["10Y-2Y"]
    assert len(macro.spread_inversions(spread, 5)) == len([r for r in every_run if r[2] >= 5]) < len(every_run)


def test_min_sessions_must_be_a_positive_integer():
    s = pd.Series([-1.0, -1.0], index=pd.to_datetime(["2024-01-01", "2024-01-02"]))
    for bad in (0, -3, 1.5, True, "5"):
        with pytest.raises(ValueError, match="min_sessions"):
            macro.spread_inversions(s, bad)
    empty = macro.spread_inversions(s, 3)
    assert empty.empty and list(empty.columns) == ["start", "end", "n_obs", "min_spread"]


def test_stored_span_and_clamp_date():
    catalog = pd.DataFrame(
        {
            "series_id": ["A", "B", "C"],
            "first_date": [pd.Timestamp("2001-02-03"), pd.Timestamp("1990-01-01"), pd.NaT],
            "last_date": [pd.Timestamp("2026-07-22"), pd.Timestamp("2020-01-01"), pd.NaT],
        }
    )
    assert macro.stored_span(catalog) == (date(1990, 1, 1), date(2026, 7, 22))
    assert macro.stored_span(catalog, ["A"]) == (date(2001, 2, 3), date(2026, 7, 22))
    assert macro.stored_span(catalog, ["C"]) is None and macro.stored_span(catalog, []) is None
    bounds = (date(2001, 2, 3), date(2026, 7, 22))
    assert macro.clamp_date(date(2000, 1, 1), bounds) == date(2001, 2, 3)
    assert macro.clamp_date(date(2030, 1, 1), bounds) == date(2026, 7, 22)
    assert macro.clamp_date(date(2022, 1, 1), bounds) == date(2022, 1, 1)


# --------------------------------------------------------------------------- rolling_macro_beta


def load_close(ticker: str) -> pd.Series:
    return pd.read_csv(PRICES / f"{ticker}.csv", parse_dates=["Date"], index_col="Date")["Close"].rename(ticker)


def test_rolling_macro_beta_matches_loop_tlt_vs_dgs10():
    window = 63
    tlt = load_close("TLT")
    prices = {ts.date(): float(v) for ts, v in tlt.items()}
    rates = {d: v for d, v in raw("DGS10").items() if v is not None}
    pairs = []
    for d in sorted(set(prices) & set(rates)):
        prev = prev_weekday(d)
        if prev in prices and prev in rates:
            pairs.append((d, prices[d] / prices[prev] - 1, rates[d] - rates[prev]))
    expected_beta, expected_corr = [], []
    for i in range(len(pairs)):
        if i < window - 1:
            expected_beta.append(math.nan)
            expected_corr.append(math.nan)
            continue
        chunk = pairs[i - window + 1 : i + 1]
        mr = sum(p[1] for p in chunk) / window
        mm = sum(p[2] for p in chunk) / window
        cov = sum((p[1] - mr) * (p[2] - mm) for p in chunk) / (window - 1)
        vr = sum((p[1] - mr) ** 2 for p in chunk) / (window - 1)
        vm = sum((p[2] - mm) ** 2 for p in chunk) / (window - 1)
        expected_beta.append(cov / vm)
        expected_corr.append(cov / math.sqrt(vr * vm))
    got = macro.rolling_macro_beta(tlt, load("DGS10"), window=window)
    assert list(got.columns) == ["correlation", "beta"]
    assert [ts.date() for ts in got.index] == [p[0] for p in pairs]
    np.testing.assert_allclose(got["beta"].to_numpy(), expected_beta, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(got["correlation"].to_numpy(), expected_corr, rtol=1e-7, atol=1e-10)
    assert got["beta"].mean() < 0 and got["correlation"].mean() < -0.5  # long bonds fall when yields rise


def test_rolling_macro_beta_zero_variance_and_bad_window():
    idx = pd.bdate_range("2024-01-01", periods=10)
    prices = pd.Series(np.linspace(100, 110, 10), index=idx)
    flat = pd.Series(4.0, index=idx)
    out = macro.rolling_macro_beta(prices, flat, window=3)
    assert out.isna().all().all() and len(out) == 9
    for bad in (1, 0, 2.5, True, "63"):
        with pytest.raises(ValueError):
            macro.rolling_macro_beta(prices, flat, window=bad)


# --------------------------------------------------------------------------- property tests

month_values = st.lists(st.one_of(st.none(), st.floats(1.0, 1000.0)), min_size=2, max_size=40)


@settings(max_examples=80, deadline=None)
@given(values=month_values, drop=st.lists(st.booleans(), min_size=40, max_size=40))
def test_property_monthly_changes_by_date(values, drop):
    dates = [add_months(date(2000, 1, 1), i) for i in range(len(values))]
    kept = [(d, v) for d, v, gone in zip(dates, values, drop, strict=False) if not gone]
    if len(kept) < 2:
        return
    s = pd.Series(
        [np.nan if v is None else v for _, v in kept], index=pd.DatetimeIndex([pd.Timestamp(d) for d, _ in kept])
    )
    lookup = {d: v for d, v in kept}
    for code in ("chg", "pc1", "cca"):
        back = -12 if code == "pc1" else -1
        expected = {d: fred_formula(code, v, lookup.get(add_months(d, back)), 12) for d, v in kept}
        assert_matches(macro.transform_series(s, code, "M"), expected)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.floats(-100.0, 100.0)), min_size=3, max_size=120))
def test_property_daily_sum_aggregation_preserves_total_and_never_invents_zero(values):
    idx = pd.bdate_range("2023-12-20", periods=len(values))
    s = pd.Series([np.nan if v is None else v for v in values], index=idx)
    out = macro.aggregate_series(s, "M", "sum", source_frequency="D", drop_incomplete_edges=False)
    valid = [v for v in values if v is not None]
    assert out.sum() == pytest.approx(sum(valid), abs=1e-9)
    counts = s.resample("MS").count()
    assert out[counts.reindex(out.index) == 0].isna().all()
