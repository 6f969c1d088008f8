"""Tests for analytics.fx against plain-loop conversions with the bundled FRED exchange rates."""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import fx

ROOT = Path(__file__).resolve().parents[2]
MACRO = ROOT / "data" / "sample" / "macro"
PRICES = ROOT / "data" / "sample" / "prices"


def raw_rates(name: str) -> dict[date, float]:
    """Valid rates of a bundled FRED csv, read with the csv module."""
    with open(MACRO / f"{name}.csv", newline="") as fh:
        return {
            date.fromisoformat(r["date"]): float(r["value"]) for r in csv.DictReader(fh) if r["value"] not in ("", ".")
        }


def load_rates(name: str) -> pd.Series:
    return pd.read_csv(MACRO / f"{name}.csv", parse_dates=["date"], index_col="date")["value"].rename(name)


def load_close(ticker: str) -> pd.Series:
    return pd.read_csv(PRICES / f"{ticker}.csv", parse_dates=["Date"], index_col="Date")["Close"].rename(ticker)


def rate_on_or_before(rates: dict[date, float], day: date) -> float | None:
    """Last rate on or before ``day`` by a plain backwards scan."""
    best = None
    for d in sorted(rates):
        if d > day:
            break
        best = rates[d]
    return best


def expected_conversion(prices: pd.Series, rates: dict[date, float], multiply: bool) -> list[float]:
    """Loop conversion: previous available rate, NaN before the first one."""
    dates = sorted(rates)
    out, i, current = [], 0, None
    for ts, price in prices.sort_index().items():
        while i < len(dates) and dates[i] <= ts.date():
            current = rates[dates[i]]
            i += 1
        if current is None:
            out.append(math.nan)
        else:
            out.append(price * current if multiply else price / current)
    return out


# --------------------------------------------------------------------------- constants


def test_constants():
    assert fx.SUPPORTED_CURRENCIES == ("USD", "GBP", "EUR", "JPY")
    assert fx.FX_SERIES["GBP"] == ("DEXUSUK", fx.USD_PER_UNIT)
    assert fx.FX_SERIES["EUR"] == ("DEXUSEU", fx.USD_PER_UNIT)
    assert fx.FX_SERIES["JPY"] == ("DEXJPUS", fx.UNITS_PER_USD)
    assert fx.fx_series_id("usd") is None and fx.fx_series_id("jpy") == "DEXJPUS"


# --------------------------------------------------------------------------- direction of the quote


def test_gbp_divides_and_jpy_multiplies_on_a_day_with_rates():
    spy = load_close("SPY")
    day = pd.Timestamp("2024-03-15")
    price = float(spy.loc[day])
    uk, jp, eu = raw_rates("DEXUSUK"), raw_rates("DEXJPUS"), raw_rates("DEXUSEU")
    gbp = fx.convert_prices(spy, load_rates("DEXUSUK"), "GBP", fx.USD_PER_UNIT)
    jpy = fx.convert_prices(spy, load_rates("DEXJPUS"), "JPY", fx.UNITS_PER_USD)
    eur = fx.convert_prices(spy, load_rates("DEXUSEU"), "EUR")
    assert gbp.loc[day] == pytest.approx(price / uk[day.date()], rel=1e-14)
    assert jpy.loc[day] == pytest.approx(price * jp[day.date()], rel=1e-14)
    assert eur.loc[day] == pytest.approx(price / eu[day.date()], rel=1e-14)
    assert gbp.loc[day] < price < jpy.loc[day]  # a pound buys more than a dollar, a yen much less


def test_quote_defaults_to_fred_quote_and_can_be_overridden():
    spy = load_close("SPY")
    rates = load_rates("DEXUSUK")
    pd.testing.assert_series_equal(
        fx.convert_prices(spy, rates, "GBP"), fx.convert_prices(spy, rates, "GBP", fx.USD_PER_UNIT)
    )
    gbp_per_usd = 1.0 / rates
    pd.testing.assert_series_equal(
        fx.convert_prices(spy, gbp_per_usd, "GBP", fx.UNITS_PER_USD), fx.convert_prices(spy, rates, "GBP"), rtol=1e-12
    )


# --------------------------------------------------------------------------- alignment


@pytest.mark.parametrize(
    ("currency", "series", "multiply"), [("GBP", "DEXUSUK", False), ("EUR", "DEXUSEU", False), ("JPY", "DEXJPUS", True)]
)
def test_full_conversion_matches_loop(currency, series, multiply):
    spy = load_close("SPY")
    got = fx.convert_prices(spy, load_rates(series), currency)
    assert got.index.equals(spy.index) and got.name == "SPY"
    np.testing.assert_allclose(got.to_numpy(), expected_conversion(spy, raw_rates(series), multiply), rtol=1e-14)


def test_day_without_fx_value_uses_previous_days_rate():
    spy = load_close("SPY")
    uk = raw_rates("DEXUSUK")
    missing = [ts for ts in spy.index if ts.date() not in uk]
    assert pd.Timestamp("2019-10-14") in missing  # Columbus Day: stocks trade, no H.10 rate
    got = fx.convert_prices(spy, load_rates("DEXUSUK"), "GBP")
    assert got.loc["2019-10-14"] == pytest.approx(spy.loc["2019-10-14"] / uk[date(2019, 10, 11)], rel=1e-14)
    for ts in missing:
        assert got.loc[ts] == pytest.approx(spy.loc[ts] / rate_on_or_before(uk, ts.date()), rel=1e-14)


def test_nan_before_first_rate_never_backfilled():
    idx = pd.to_datetime(["1999-12-30", "1999-12-31", "2000-01-03", "2000-01-04", "2000-01-08"])
    prices = pd.Series([10.0, 11.0, 12.0, 13.0, 14.0], index=idx)
    uk = raw_rates("DEXUSUK")
    got = fx.convert_prices(prices, load_rates("DEXUSUK"), "GBP")
    assert got.iloc[:2].isna().all()
    assert got.iloc[2] == pytest.approx(12.0 / uk[date(2000, 1, 3)])
    assert got.iloc[4] == pytest.approx(14.0 / rate_on_or_before(uk, date(2000, 1, 8)))  # Saturday


def test_missing_rates_in_the_rate_series_are_skipped():
    rates = pd.Series(
        [1.25, np.nan, 0.0, 1.30], index=pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    )
    prices = pd.Series(100.0, index=pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]))
    got = fx.convert_prices(prices, rates, "GBP")
    np.testing.assert_allclose(got.to_numpy(), [80.0, 80.0, 80.0, 100.0 / 1.30])


def test_dataframe_and_tz_aware_index():
    frame = pd.concat([load_close("SPY"), load_close("AAPL")], axis=1, sort=True)
    rates = load_rates("DEXJPUS")
    got = fx.convert_prices(frame, rates, "JPY")
    assert isinstance(got, pd.DataFrame) and list(got.columns) == ["SPY", "AAPL"]
    for col in frame.columns:
        pd.testing.assert_series_equal(got[col], fx.convert_prices(frame[col], rates, "JPY"))
    stamped = frame["SPY"].copy()
    stamped.index = stamped.index.tz_localize("America/New_York") + pd.Timedelta(hours=16)
    pd.testing.assert_series_equal(
        fx.convert_prices(stamped, rates, "JPY").reset_index(drop=True),
        got["SPY"].reset_index(drop=True),
    )


def test_align_rates_exposes_the_rate_used():
    uk = raw_rates("DEXUSUK")
    dates = pd.to_datetime(["1999-01-01", "2019-10-14", "2024-03-15"])
    aligned = fx.align_rates(load_rates("DEXUSUK"), pd.DatetimeIndex(dates))
    assert math.isnan(aligned.iloc[0])
    assert aligned.iloc[1] == uk[date(2019, 10, 11)] and aligned.iloc[2] == uk[date(2024, 3, 15)]


# --------------------------------------------------------------------------- USD, errors, immutability


def test_usd_returns_unchanged_copy():
    spy = load_close("SPY")
    out = fx.convert_prices(spy, load_rates("DEXUSUK"), "usd")
    pd.testing.assert_series_equal(out, spy)
    assert out is not spy


def test_bad_arguments():
    spy = load_close("SPY")
    rates = load_rates("DEXUSUK")
    for bad in ("CHF", "", None, 3):
        with pytest.raises(ValueError, match="USD, GBP, EUR, JPY"):
            fx.convert_prices(spy, rates, bad)
    with pytest.raises(ValueError, match="quote"):
        fx.convert_prices(spy, rates, "GBP", "GBP_PER_USD")
    with pytest.raises(ValueError):
        fx.convert_prices(spy.to_numpy(), rates, "GBP")
    with pytest.raises(ValueError):
        fx.convert_prices(spy.reset_index(drop=True), rates, "GBP")
    with pytest.raises(ValueError):
        fx.convert_prices(spy, rates.reset_index(drop=True), "GBP")
    dup = pd.concat([rates.iloc[:2], rates.iloc[:1]])
    with pytest.raises(ValueError, match="one date"):
        fx.convert_prices(spy, dup, "GBP")


def test_inputs_not_mutated():
    spy = load_close("SPY")
    rates = load_rates("DEXUSUK")
    spy_before, rates_before = spy.copy(), rates.copy()
    fx.convert_prices(spy, rates, "GBP")
    pd.testing.assert_series_equal(spy, spy_before)
    pd.testing.assert_series_equal(rates, rates_before)


# --------------------------------------------------------------------------- properties

_RATES = load_rates("DEXUSEU")


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 365 * 30), min_size=1, max_size=30, unique=True),
    prices=st.lists(st.floats(0.01, 1e6), min_size=30, max_size=30),
)
def test_property_round_trip_and_order_invariance(offsets, prices):
    idx = pd.DatetimeIndex([pd.Timestamp("1998-06-01") + pd.Timedelta(days=o) for o in offsets])
    values = pd.Series(prices[: len(idx)], index=idx)
    eur = fx.convert_prices(values, _RATES, "EUR")
    back = eur * fx.align_rates(_RATES, idx)
    known = back.notna()
    np.testing.assert_allclose(back[known].to_numpy(), values[known].to_numpy(), rtol=1e-12)
    assert eur[idx < pd.Timestamp("1999-01-04")].isna().all()  # DEXUSEU starts 1999-01-04
    assert eur[idx >= pd.Timestamp("1999-01-04")].notna().all()
    shuffled = fx.convert_prices(values.iloc[::-1], _RATES, "EUR")
    pd.testing.assert_series_equal(shuffled.iloc[::-1], eur)
