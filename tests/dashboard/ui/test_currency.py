"""Display currency: conversion at each day's FRED rate on the real sample, the picker, the Overview in GBP."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from analytics.overview import overview_table
from dashboard.ui import currency, loaders
from tests.conftest import ROOT
from tests.support.app import ROUTER, log_in, page, shown

SAMPLE = ROOT / "data" / "sample"


def csv_rate(series_id: str) -> pd.Series:
    frame = pd.read_csv(SAMPLE / "macro" / f"{series_id}.csv", parse_dates=["date"])
    return frame.set_index("date")["value"]


def csv_close(symbol: str) -> pd.Series:
    frame = pd.read_csv(SAMPLE / "prices" / f"{symbol}.csv", parse_dates=["Date"])
    return frame.set_index("Date")["Close"]


def test_aapl_in_gbp_uses_that_days_rate(ready_app):
    aapl = loaders.closes(0, "AAPL")
    gbp = currency.convert(aapl, None, "GBP")
    day = pd.Timestamp("2024-06-14")
    assert gbp[day] == pytest.approx(csv_close("AAPL")[day] / csv_rate("DEXUSUK")[day], rel=1e-12)
    assert csv_rate("DEXUSUK")[day] == 1.2685  # the rate this test is about, as FRED published it


def test_a_us_holiday_without_a_rate_uses_the_previous_one(ready_app):
    aapl = loaders.closes(0, "AAPL")
    columbus = pd.Timestamp("2024-10-14")  # NYSE open, no H.10 rate (Columbus Day)
    rates = csv_rate("DEXUSUK")
    assert columbus in aapl.index and columbus not in rates.index
    gbp = currency.convert(aapl, None, "GBP")
    assert gbp[columbus] == pytest.approx(aapl[columbus] / rates[pd.Timestamp("2024-10-11")], rel=1e-12)


def test_eur_divides_and_jpy_multiplies(ready_app):
    day = pd.Timestamp("2025-03-03")
    spy = loaders.closes(0, "SPY")
    assert currency.convert(spy, None, "EUR")[day] == pytest.approx(spy[day] / csv_rate("DEXUSEU")[day], rel=1e-12)
    assert currency.convert(spy, None, "JPY")[day] == pytest.approx(spy[day] * csv_rate("DEXJPUS")[day], rel=1e-12)
    usd = currency.convert(spy, None, "USD")
    pd.testing.assert_series_equal(usd, spy)
    assert usd is not spy


def test_long_frame_converts_only_the_value_columns(ready_app):
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-06-14", "2024-10-14", "1999-12-31"]),
            "symbol": ["AAPL", "AAPL", "OLD"],
            "close": [100.0, 200.0, 50.0],
            "chg": [0.01, -0.02, 0.0],
        }
    )
    out = currency.convert(frame, ["close"], "GBP", date_column="date")
    assert out["close"].iloc[0] == pytest.approx(100 / 1.2685)
    assert out["close"].iloc[1] == pytest.approx(200 / 1.307)
    assert math.isnan(out["close"].iloc[2])  # before the first DEXUSUK rate: no made-up value
    pd.testing.assert_series_equal(out["chg"], frame["chg"])
    assert frame["close"].iloc[0] == 100.0  # input untouched


def test_bad_arguments_say_what_is_wrong(ready_app):
    s = pd.Series([1.0], index=pd.to_datetime(["2024-01-02"]))
    with pytest.raises(ValueError, match="unsupported currency 'CHF'"):
        currency.convert(s, None, "CHF")
    with pytest.raises(ValueError, match="no column"):
        currency.convert(pd.DataFrame({"a": [1.0]}, index=s.index), ["b"], "GBP")
    with pytest.raises(ValueError, match="DatetimeIndex"):
        currency.convert(pd.Series([1.0]), None, "GBP")
    with pytest.raises(ValueError, match="value columns"):
        currency.convert(pd.DataFrame({"a": [1.0]}, index=s.index), None, "GBP")


def test_labels():
    assert currency.label("GBP") == "GBP £"
    assert currency.label("usd") == "USD $"
    assert currency.label("JPY") == "JPY ¥"
    with pytest.raises(ValueError):
        currency.label("XYZ")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    days=st.lists(st.integers(min_value=0, max_value=2700), min_size=1, max_size=20, unique=True),
    price=st.floats(min_value=0.01, max_value=1e6),
)
def test_any_day_uses_the_last_rate_on_or_before_it(ready_app, days, price):
    dates = pd.Timestamp("2019-01-01") + pd.to_timedelta(sorted(days), unit="D")
    values = pd.Series(price, index=dates)
    out = currency.convert(values, None, "GBP")
    rates = csv_rate("DEXUSUK").dropna()
    for when, converted in out.items():
        rate = rates.loc[:when].iloc[-1]
        assert converted == pytest.approx(price / rate, rel=1e-12)


def test_overview_prices_converted_and_returns_unchanged(ready_app):
    closes = loaders.recent_closes(0)
    usd = overview_table(closes)
    gbp = currency.convert_overview(usd, closes, "GBP")
    for column in ("chg_1d", "chg_1m", "chg_ytd", "symbol", "as_of"):
        pd.testing.assert_series_equal(gbp[column], usd[column])
    aapl = gbp.set_index("symbol").loc["AAPL"]
    last_usd = csv_close("AAPL")[pd.Timestamp("2026-06-25")]
    assert aapl["last"] == pytest.approx(last_usd / 1.3216, rel=1e-12)  # DEXUSUK on 2026-06-25
    # The 52-week high in GBP is the highest GBP close, not the USD high at today's rate.
    window = csv_close("AAPL").loc["2025-06-26":"2026-06-25"]
    rates = csv_rate("DEXUSUK").dropna()
    local = [price / rates.loc[:when].iloc[-1] for when, price in window.items()]
    assert aapl["high_52w"] == pytest.approx(max(local), rel=1e-12)
    assert aapl["low_52w"] == pytest.approx(min(local), rel=1e-12)
    assert aapl["trend"][-1] == pytest.approx(last_usd / 1.3216, abs=1e-4)
    assert currency.convert_overview(usd, closes, "USD") is usd


def sidebar_currency(at: AppTest):
    return next(s for s in at.sidebar.selectbox if s.label == "Display currency")


def test_picker_defaults_to_usd_and_keeps_the_choice_in_the_url(ready_app):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    picker = sidebar_currency(at)
    assert picker.value == "USD" and list(picker.options) == ["USD $", "GBP £", "EUR €", "JPY ¥"]
    assert "ccy" not in at.query_params
    sidebar_currency(at).set_value("JPY").run()
    assert not at.exception
    assert at.query_params["ccy"] == "JPY"
    at.switch_page(page("macro")).run()
    assert sidebar_currency(at).value == "JPY" and at.query_params["ccy"] == "JPY"


def test_a_link_with_ccy_opens_in_that_currency(ready_app):
    at = AppTest.from_file(ROUTER, default_timeout=30)
    at.query_params["ccy"] = "eur"
    at = log_in(at.run())
    assert sidebar_currency(at).value == "EUR"
    at = AppTest.from_file(ROUTER, default_timeout=30)
    at.query_params["ccy"] = "XYZ"
    at = log_in(at.run())
    assert sidebar_currency(at).value == "USD"
    assert any("Unknown currency 'XYZ'" in shown(w.value) for w in at.sidebar.warning)


def test_currency_picker_changes_the_overview_last_close_by_the_days_rate(ready_app):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    usd = at.dataframe[0].value.set_index("symbol")
    sidebar_currency(at).set_value("GBP").run()
    assert not at.exception
    gbp = at.dataframe[0].value.set_index("symbol")
    rate = csv_rate("DEXUSUK")[pd.Timestamp("2026-06-25")]
    np.testing.assert_allclose(gbp.loc["AAPL", "last"], usd.loc["AAPL", "last"] / rate, rtol=1e-9)
    np.testing.assert_allclose(gbp["chg_1d"].to_numpy(), usd["chg_1d"].to_numpy(), rtol=0, atol=0)
    assert (gbp["last"] < usd["last"]).all()  # the pound is above the dollar


def test_without_stored_rates_prices_stay_in_usd(ready_app):
    s = pd.Series([10.0], index=pd.to_datetime(["2024-01-02"]))
    with pytest.raises(ValueError, match="no DEXUSUK rates are stored"):
        currency.convert(s, None, "GBP", rates=pd.Series(dtype="float64"))
    assert currency.has_rates("GBP") and currency.has_rates("USD")


@pytest.fixture
def writable_sample_without_fx(app_on, make_sample_database):
    """The sample in a database of its own, with every DEXUSEU observation deleted."""
    import sqlalchemy as sa

    from store import tables

    engine = app_on(make_sample_database())
    with engine.begin() as conn:
        obs = tables.macro_observations
        conn.execute(sa.delete(obs).where(obs.c.series_id == "DEXUSEU"))


def test_selected_currency_falls_back_to_usd_when_no_rate_is_stored(writable_sample_without_fx):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    sidebar_currency(at).set_value("EUR").run()
    assert not at.exception
    assert any("No DEXUSEU rates are stored yet" in shown(w.value) for w in at.sidebar.warning)
    usd = csv_close("AAPL")[pd.Timestamp("2026-06-25")]
    assert at.dataframe[0].value.set_index("symbol").loc["AAPL", "last"] == pytest.approx(usd)
