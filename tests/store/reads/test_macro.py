"""Macro queries on the real sample: catalog, gaps kept as NaN, FRED transforms by date, curves, spreads, beta."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import macro
from analytics.macro import rolling_macro_beta, transform_series
from dashboard.ui import loaders
from tests.conftest import ROOT

MACRO = ROOT / "data" / "sample" / "macro"


def csv_series(series_id: str) -> pd.Series:
    """Read straight from the bundled file, independently of the database."""
    frame = pd.read_csv(MACRO / f"{series_id}.csv", parse_dates=["date"])
    return frame.set_index("date")["value"].astype("float64").rename(series_id)


def test_catalog_lists_every_series_with_metadata_and_counts(ready_app):
    catalog = loaders.series_catalog(0)
    assert len(catalog) == 15
    cpi = macro.series_info(catalog, "CPIAUCSL")
    assert cpi["title"].startswith("Consumer Price Index") and cpi["units"] == "Index 1982-1984=100"
    assert cpi["frequency"] == "Monthly" and cpi["seasonal_adjustment"] == "Seasonally Adjusted"
    assert cpi["source"] == "sample"
    # Values counted, gaps not: 355 rows, one of them FRED's "." (2025-10-01).
    assert cpi["observations"] == 354
    assert str(cpi["first_date"]) == "1997-01-01" and str(cpi["last_date"]) == "2026-07-01"


def test_unknown_series_id_gets_a_clear_message(ready_app):
    with pytest.raises(macro.UnknownSeries, match="Unknown series id 'NOPE': it is not in the macro universe"):
        macro.series_info(loaders.series_catalog(0), "NOPE")


def test_missing_observations_are_gaps_not_zeros(ready_app):
    cpi = loaders.observations(0, "CPIAUCSL")
    assert math.isnan(cpi[pd.Timestamp("2025-10-01")])
    assert (cpi.dropna() > 0).all()
    unrate = loaders.observations(0, "UNRATE")
    assert pd.Timestamp("2025-10-01") not in unrate.index  # this source drops the row instead
    pd.testing.assert_series_equal(
        cpi, csv_series("CPIAUCSL"), check_names=False, check_index_type=False, check_freq=False
    )


def test_search_by_id_or_title(ready_app):
    catalog = loaders.series_catalog(0)
    assert set(macro.search_catalog(catalog, "treasury")["series_id"]) == {"DGS10", "DGS2", "DGS3MO", "T10Y2Y"}
    assert list(macro.search_catalog(catalog, "dgs3")["series_id"]) == ["DGS3MO"]
    assert list(macro.search_catalog(catalog, "yen dollar")["series_id"]) == ["DEXJPUS"]
    assert len(macro.search_catalog(catalog, "  ")) == 15
    assert macro.search_catalog(catalog, "no such thing").empty


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=30))
def test_search_never_fails_and_only_returns_matches(ready_app, text):
    catalog = loaders.series_catalog(0)
    found = macro.search_catalog(catalog, text)
    for row in found.itertuples():
        haystack = f"{row.series_id} {row.title}".lower()
        assert all(word.lower() in haystack for word in text.split())


def test_year_over_year_cpi_by_date_with_the_shutdown_gap(ready_app):
    values, notes = loaders.chart_series(
        0, "CPIAUCSL", "pc1", pd.Timestamp("2024-01-01").date(), pd.Timestamp("2026-07-01").date()
    )
    assert notes == []
    cpi = csv_series("CPIAUCSL")
    expected = (cpi[pd.Timestamp("2024-06-01")] / cpi[pd.Timestamp("2023-06-01")] - 1) * 100
    assert values[pd.Timestamp("2024-06-01")] == pytest.approx(expected, rel=1e-12)
    assert math.isnan(values[pd.Timestamp("2025-10-01")])  # no October 2025 CPI
    nov = (cpi[pd.Timestamp("2025-11-01")] / cpi[pd.Timestamp("2024-11-01")] - 1) * 100
    assert values[pd.Timestamp("2025-11-01")] == pytest.approx(nov, rel=1e-12)  # not shifted by the gap
    assert values.index.min() == pd.Timestamp("2024-01-01") and values.index.max() == pd.Timestamp("2026-07-01")
    change, _ = loaders.chart_series(
        0, "CPIAUCSL", "chg", pd.Timestamp("2025-01-01").date(), pd.Timestamp("2026-01-01").date()
    )
    assert math.isnan(change[pd.Timestamp("2025-11-01")])  # October is missing: no one-month change


def test_aggregation_then_transformation_like_fred(ready_app):
    start, end = pd.Timestamp("2023-01-01").date(), pd.Timestamp("2024-12-31").date()
    monthly, _ = loaders.chart_series(0, "DGS10", "lin", start, end, "M", "avg", "Daily")
    dgs10 = csv_series("DGS10")
    assert monthly[pd.Timestamp("2024-03-01")] == pytest.approx(dgs10.loc["2024-03"].mean(), rel=1e-12)
    eop, _ = loaders.chart_series(0, "DGS10", "chg", start, end, "Q", "eop", "Daily")
    expected = dgs10.loc["2024-06"].dropna().iloc[-1] - dgs10.loc["2024-03"].dropna().iloc[-1]
    assert eop[pd.Timestamp("2024-04-01")] == pytest.approx(expected, abs=1e-12)


def test_notes_for_short_history_no_data_and_higher_frequency(ready_app):
    day = lambda s: pd.Timestamp(s).date()  # noqa: E731
    values, notes = loaders.chart_series(
        0, "GDPC1", "pc1", day("2000-01-01"), day("2002-12-31"), None, "avg", "Quarterly"
    )
    assert any("needs a year of history" in n and "2001-01-01" in n for n in notes)
    assert values.loc[:"2000-12-31"].isna().all() and values.loc["2001-01-01":].notna().all()
    values, notes = loaders.chart_series(
        0, "GDPC1", "pc1", day("2000-01-01"), day("2000-09-30"), None, "avg", "Quarterly"
    )
    assert values.notna().sum() == 0 and any("Choose a longer range" in n for n in notes)
    values, notes = loaders.chart_series(0, "GDP", "lin", day("1950-01-01"), day("1960-01-01"))
    assert values.empty and any("no observations" in n for n in notes)
    values, notes = loaders.chart_series(0, "GDP", "lin", day("2020-01-01"), day("2021-01-01"), "W", "avg", "Quarterly")
    assert any("cannot be shown at a higher frequency" in n for n in notes)
    assert values[pd.Timestamp("2020-04-01")] == csv_series("GDP")[pd.Timestamp("2020-04-01")]


def test_yield_curves_latest_and_six_and_twelve_months_earlier(ready_app):
    curves = loaders.yield_curves(0)
    # DGS3MO ends first (2026-07-22): the latest date on which every stored tenor has a value.
    assert list(curves.columns) == [
        "2026-07-22 (latest)",
        "2026-01-22 (6 months earlier)",
        "2025-07-22 (12 months earlier)",
    ]
    assert list(curves.index) == ["3M", "2Y", "10Y"]
    for column, when in zip(curves.columns, ["2026-07-22", "2026-01-22", "2025-07-22"], strict=True):
        for tenor, series_id in (("3M", "DGS3MO"), ("2Y", "DGS2"), ("10Y", "DGS10")):
            expected = csv_series(series_id).loc[:when].dropna().iloc[-1]
            assert curves.loc[tenor, column] == expected


def test_spreads_and_inversions(ready_app):
    spreads = loaders.spreads(0, pd.Timestamp("2019-01-01").date())
    assert set(spreads) == {"10Y-2Y", "10Y-3M"}
    dgs10, dgs3mo = csv_series("DGS10"), csv_series("DGS3MO")
    day = pd.Timestamp("2023-05-31")
    assert spreads["10Y-3M"][day] == pytest.approx(dgs10[day] - dgs3mo[day], abs=1e-9)
    table = macro.inversion_table(spreads)
    # Independent run detection on the file: the long 10Y-2Y inversion of 2022-2024.
    t10y2y = csv_series("T10Y2Y").loc["2019":].dropna()
    runs, current = [], None
    for when, value in t10y2y.items():
        if value < 0:
            current = [when, when] if current is None else [current[0], when]
        elif current is not None:
            runs.append(tuple(current))
            current = None
    longest = max(runs, key=lambda r: r[1] - r[0])
    assert longest[0].year == 2022 and longest[1].year == 2024
    ours = table[table["spread"] == "10Y-2Y"]
    assert {(pd.Timestamp(s), pd.Timestamp(e)) for s, e in zip(ours["start"], ours["end"], strict=True)} == set(runs)


def test_macro_beta_is_rolling_macro_beta_on_stored_data(ready_app):
    stats = loaders.macro_beta(0, "SPY", "DGS10", 63)
    prices = pd.read_csv(ROOT / "data" / "sample" / "prices" / "SPY.csv", parse_dates=["Date"]).set_index("Date")[
        "Close"
    ]
    expected = rolling_macro_beta(prices, csv_series("DGS10"), 63)
    np.testing.assert_allclose(stats.to_numpy(), expected.to_numpy(), rtol=1e-12, equal_nan=True)
    assert stats["correlation"].dropna().between(-1, 1).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    series_id=st.sampled_from(["CPIAUCSL", "DGS10", "GDPC1", "UNRATE", "DEXUSUK"]),
    units=st.sampled_from(["lin", "chg", "ch1", "pch", "pc1", "pca", "cch", "cca", "log"]),
    start_day=st.integers(min_value=0, max_value=14000),
    length=st.integers(min_value=0, max_value=4000),
)
def test_any_range_equals_the_transform_of_the_whole_stored_history(ready_app, series_id, units, start_day, length):
    """Loading only the range (plus look-back) never changes a value: by-date transforms on the full file agree."""
    start = pd.Timestamp("1988-01-01") + pd.Timedelta(days=start_day)
    end = start + pd.Timedelta(days=length)
    frequency = macro.series_info(loaders.series_catalog(0), series_id)["frequency"]
    values, notes = loaders.chart_series(0, series_id, units, start.date(), end.date(), None, "avg", frequency)
    expected = transform_series(csv_series(series_id), units, macro.frequency_code(frequency)).loc[start:end]
    if values.empty:  # nothing stored in the range: the file has no value there either
        assert expected.dropna().empty and any("no observations" in n for n in notes)
        return
    pd.testing.assert_series_equal(values, expected, check_names=False, check_freq=False, check_index_type=False)
