"""Pure market-page helpers: ranges, symbol checks, adjusted/unadjusted prices, exports, URL parameters."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from analytics import market
from tests.support.market_data import yahoo_bars_and_actions

LAST = date(2026, 6, 25)


@pytest.mark.parametrize(
    ("preset", "start"),
    [
        ("1M", date(2026, 5, 25)),
        ("3M", date(2026, 3, 25)),
        ("6M", date(2025, 12, 25)),
        ("YTD", date(2026, 1, 1)),
        ("1Y", date(2025, 6, 25)),
        ("5Y", date(2021, 6, 25)),
        ("Max", date(2019, 1, 2)),
    ],
)
def test_range_presets_count_back_from_the_last_bar(preset, start):
    assert market.resolve_range(preset, LAST, date(2019, 1, 2)) == (start, LAST)


def test_custom_range_and_bad_presets():
    assert market.resolve_range("Custom", LAST, start=date(2024, 3, 1), end=date(2024, 1, 1)) == (
        date(2024, 1, 1),
        date(2024, 3, 1),
    )
    with pytest.raises(ValueError, match="start and an end"):
        market.resolve_range("Custom", LAST)
    with pytest.raises(ValueError, match="unknown range"):
        market.resolve_range("2W", LAST)
    # Month ends: 1M back from 31 March is the last day of February.
    assert market.resolve_range("1M", date(2024, 3, 31))[0] == date(2024, 2, 29)


def test_symbols_are_split_normalised_and_checked_with_suggestions():
    assert market.split_symbols(" aapl, msft;spy  AAPL ") == ["AAPL", "MSFT", "SPY"]
    good, unknown = market.check_symbols(["AAPL", "APPL", "MSTF", "QQQQ", "<script>"], ["AAPL", "MSFT", "QQQ"])
    assert good == ["AAPL"]
    assert unknown["APPL"] == ["AAPL"] and unknown["MSTF"][0] == "MSFT" and unknown["QQQQ"] == ["QQQ"]
    assert unknown["<script>"] == []
    message = market.unknown_message(unknown)
    assert "Unknown ticker “APPL”. Did you mean AAPL?" in message
    assert "Unknown ticker “<script>”. No similar symbol is stored." in message


@settings(max_examples=200, deadline=None)
@given(text=hs.text(max_size=200), known=hs.lists(hs.text(min_size=1, max_size=8), max_size=20))
def test_symbol_checks_never_fail(text, known):
    wanted = market.split_symbols(text)
    good, unknown = market.check_symbols(wanted, known)
    assert set(good) <= set(known) and len(good) + len(unknown) <= len(wanted)
    assert isinstance(market.unknown_message(unknown), str)


@settings(max_examples=200, deadline=None)
@given(
    preset=hs.sampled_from([*market.RANGES, market.CUSTOM]),
    last=hs.dates(min_value=date(1901, 1, 1)),
    start=hs.dates(),
    end=hs.dates(),
)
def test_ranges_never_fail_and_are_ordered(preset, last, start, end):
    lo, hi = market.resolve_range(preset, last, date(1900, 6, 1), start, end)
    assert lo <= hi


def test_adjusted_and_unadjusted_prices_from_a_source_that_keeps_both():
    bars, _ = yahoo_bars_and_actions()
    assert market.unadjusted_available(bars)
    raw = market.display_prices(bars, adjusted=False)
    adj = market.display_prices(bars, adjusted=True)
    day = pd.Timestamp("2020-08-31")
    assert raw.loc[day, "close"] == pytest.approx(129.04, abs=0.005)
    assert adj.loc[day, "close"] == pytest.approx(125.8267, abs=1e-3)
    factor = adj.loc[day, "close"] / raw.loc[day, "close"]
    assert adj.loc[day, ["open", "high", "low"]].to_numpy() == pytest.approx(
        raw.loc[day, ["open", "high", "low"]].to_numpy() * factor
    )
    assert (adj["volume"] == raw["volume"]).all()


def test_unadjusted_request_on_an_adjusted_only_source_falls_back_with_a_note():
    bars, _ = yahoo_bars_and_actions()
    sample_like = bars.assign(close=bars["adj_close"], source="sample")
    frames, notes = market.ticker_frames(sample_like, ["AAPL"], False, date(2020, 1, 1), date(2020, 12, 31))
    assert notes == {
        "AAPL": "Unadjusted prices are not available for AAPL: the bundled sample dataset stores split- and "
        "dividend-adjusted prices only. Showing adjusted prices."
    }
    assert market.price_basis(False, notes) == (
        "unadjusted (as traded); adjusted for AAPL (source stores adjusted prices only)"
    )
    # Every symbol shown fell back: the prices are simply adjusted, and the caption says so without contradiction.
    assert market.price_basis(False, notes, ["AAPL"]) == (
        "adjusted (splits and dividends): the sources store adjusted prices only"
    )
    assert market.price_basis(False, notes, ["AAPL", "MSFT"]).startswith("unadjusted (as traded); adjusted for AAPL")
    assert frames["AAPL"]["close"].to_numpy() == pytest.approx(bars["adj_close"].to_numpy())
    frames, notes = market.ticker_frames(bars, ["AAPL"], False, date(2020, 1, 1), date(2020, 12, 31))
    assert notes == {} and frames["AAPL"]["close"].to_numpy() == pytest.approx(bars["close"].to_numpy())


def test_adjusted_close_only_bars_are_displayed_as_closes_without_ohlc():
    """Bars with only an adjusted close (the S&P 500 demo dataset): the close is the adjusted close whichever way is
    asked, open/high/low stay missing, volume is NaN (not a made-up 0), and has_ohlc says so."""
    bars, _ = yahoo_bars_and_actions()
    only = bars.assign(open=np.nan, high=np.nan, low=np.nan, close=np.nan, volume=np.nan, source="sample-sp500")
    for adjusted in (True, False):
        frames, notes = market.ticker_frames(only, ["AAPL"], adjusted, date(2020, 1, 1), date(2020, 12, 31), ["SMA20"])
        shown = frames["AAPL"]
        adj = bars.set_index(pd.DatetimeIndex(pd.to_datetime(bars["date"])))["adj_close"]
        assert shown["close"].to_numpy() == pytest.approx(adj.reindex(shown.index).to_numpy())
        assert shown[["open", "high", "low", "volume"]].isna().all().all() and shown["SMA20"].notna().any()
        assert not market.has_ohlc(shown)
        assert notes == ({} if adjusted else {"AAPL": notes["AAPL"]})
    assert "the S&P 500 demo dataset stores split- and dividend-adjusted prices only" in notes["AAPL"]
    full, _ = market.ticker_frames(bars, ["AAPL"], True, date(2020, 1, 1), date(2020, 12, 31))
    assert market.has_ohlc(full["AAPL"]) and full["AAPL"]["volume"].dtype == "int64"
    assert not market.has_ohlc(full["AAPL"].iloc[0:0])


def test_the_ticker_view_is_ticker_frames_with_the_sources_and_the_quote_of_the_first_shown():
    """ticker_view: the frames and notes of ticker_frames, each symbol's sources, and the first symbol with prices in
    range quoted over the year or so to its latest bar, whatever the range shown."""
    bars, _ = yahoo_bars_and_actions()
    other = bars.assign(symbol="MSFT", source="sample", close=bars["adj_close"])  # adjusted-only: a fallback note
    both = pd.concat([bars, other[pd.to_datetime(other["date"]) < "2020-10-01"]], ignore_index=True)
    chosen = ["SMA20", "RSI"]
    for adjusted in (True, False):
        for start, end in ((date(2020, 1, 1), date(2020, 12, 31)), (date(2020, 10, 15), date(2020, 11, 30))):
            view = market.ticker_view(both, ["MSFT", "AAPL", "NOPE"], adjusted, start, end, chosen, quote_days=30)
            frames, notes = market.ticker_frames(both, ["MSFT", "AAPL", "NOPE"], adjusted, start, end, chosen)
            assert view.frames.keys() == frames.keys() and view.notes == notes
            for symbol, frame in frames.items():
                pd.testing.assert_frame_equal(view.frames[symbol], frame)
            assert view.sources == {"MSFT": ["sample"], "AAPL": sorted(set(bars["source"])), "NOPE": []}
            primary = "MSFT" if start.month == 1 else "AAPL"  # MSFT has no bar after September 2020
            own = both[both["symbol"] == primary]
            last = pd.Timestamp(own["date"].max())
            quoted, _ = market.ticker_frames(own, [primary], adjusted, (last - pd.Timedelta(days=30)).date(), last)
            assert view.primary == primary
            pd.testing.assert_frame_equal(view.quote, quoted[primary][["open", "high", "low", "close", "volume"]])
    nothing = market.ticker_view(bars, ["AAPL"], True, date(2030, 1, 1), date(2030, 12, 31))
    assert nothing.primary is None and nothing.frames["AAPL"].empty and nothing.quote.empty
    empty = market.ticker_view(bars.iloc[:0], ["AAPL"], True, date(2020, 1, 1), date(2020, 12, 31))
    assert empty.primary is None and empty.sources == {"AAPL": []}


def test_indicators_are_warm_at_the_start_of_a_range():
    bars, _ = yahoo_bars_and_actions()
    frames, _ = market.ticker_frames(bars, ["AAPL"], True, date(2020, 10, 1), date(2020, 11, 6), ["SMA20", "RSI"])
    shown = frames["AAPL"]
    assert shown.index[0] == pd.Timestamp("2020-10-01")
    assert not np.isnan(shown["SMA20"].iloc[0]) and not np.isnan(shown["rsi"].iloc[0])


def test_one_notice_for_every_symbol_without_unadjusted_prices():
    one = {"AAPL": "Unadjusted prices are not available for AAPL: x. Showing adjusted prices."}
    assert market.unadjusted_notice({}) is None
    assert market.unadjusted_notice(one) == one["AAPL"]
    sample = "the bundled sample dataset stores split- and dividend-adjusted prices only."
    demo = "the S&P 500 demo dataset stores split- and dividend-adjusted prices only."
    several = {
        s: f"Unadjusted prices are not available for {s}: {label} Showing adjusted prices."
        for s, label in (("NVDA", sample), ("AAPL", sample), ("NFLX", demo), ("MSFT", sample))
    }
    assert market.unadjusted_notice(several) == (
        f"Unadjusted prices are not available for AAPL, MSFT and NVDA: {sample} "
        f"Unadjusted prices are not available for NFLX: {demo} Showing adjusted prices."
    )


# -- the quote header: hand-computed on the bundled AAPL (data/sample/prices/AAPL.csv, last rows 2026-06-24/25) --


@pytest.fixture(scope="module")
def aapl_prices() -> pd.DataFrame:
    from ingestion.providers.sample import SampleProvider
    from tests.conftest import SAMPLE

    return market.display_prices(SampleProvider(SAMPLE).daily_bars(["AAPL"]), adjusted=True)


def test_the_quote_of_aapl_on_the_sample(aapl_prices):
    q = market.quote(aapl_prices)
    assert q.as_of == LAST
    # 2026-06-25: O 287.399994 H 288.799988 L 273.75 C 275.149994; 2026-06-24: C 293.079987.
    assert q.last == pytest.approx(275.149994, abs=1e-6) and q.previous == pytest.approx(293.079987, abs=1e-6)
    assert q.change == pytest.approx(-17.929993, abs=1e-6)
    assert q.change_pct == pytest.approx(-17.929993 / 293.079987, rel=1e-7)  # -6.1178% (prices to 6 decimals)
    assert (q.day_low, q.day_high) == (pytest.approx(273.75), pytest.approx(288.799988, abs=1e-6))
    # 52 weeks: the 251 sessions 2025-06-26 ... 2026-06-25; lowest low 2025-06-30, highest high 2026-06-08.
    assert q.low_52w == pytest.approx(198.472618, abs=1e-6) and q.high_52w == pytest.approx(317.399994, abs=1e-6)
    assert q.position_52w == pytest.approx((275.149994 - 198.472618) / (317.399994 - 198.472618), abs=1e-8)  # 0.6447
    # 63 sessions 2026-03-26 ... 2026-06-25 traded 3,075,673,300 shares.
    assert q.volume_sessions == 63 and q.average_volume == pytest.approx(3_075_673_300 / 63)


def test_the_52_weeks_start_after_the_same_day_a_year_before():
    days = pd.bdate_range("2024-06-20", "2025-06-25")
    prices = pd.DataFrame({"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.0, "volume": 100}, index=days)
    prices.loc["2024-06-25", ["low", "high"]] = (1.0, 50.0)  # exactly a year before the last bar: outside
    prices.loc["2024-06-26", "low"] = 5.0  # the day after: inside
    q = market.quote(prices)
    assert (q.low_52w, q.high_52w) == (5.0, 11.0) and q.position_52w == pytest.approx(5 / 6)


def test_range_position_and_average_volume_by_hand():
    assert market.range_position(150.0, 100.0, 200.0) == 0.5
    assert market.range_position(100.0, 100.0, 200.0) == 0.0 and market.range_position(200.0, 100.0, 200.0) == 1.0
    assert market.range_position(5.0, 5.0, 5.0) is None  # no range to sit in
    volume = pd.Series([10.0, np.nan, 20.0, 30.0, 40.0], index=pd.bdate_range("2026-01-05", periods=5))
    assert market.average_volume(volume, sessions=3) == (30.0, 3)  # the last 3 stored: 20, 30, 40
    assert market.average_volume(volume, sessions=10) == (25.0, 4)  # fewer stored than asked: all of them
    assert market.average_volume(pd.Series([np.nan]), 3) == (None, 0)
    with pytest.raises(ValueError, match="at least 1"):
        market.average_volume(volume, sessions=0)


def test_a_quote_from_closes_only_has_no_day_range():
    days = pd.bdate_range("2026-01-05", periods=3)
    closes = pd.DataFrame({"open": np.nan, "high": np.nan, "low": np.nan, "close": [10.0, 12.0, 11.0],
                           "volume": np.nan}, index=days)  # fmt: skip
    q = market.quote(closes)
    assert (q.day_low, q.day_high, q.average_volume, q.volume_sessions) == (None, None, None, 0)
    assert (q.low_52w, q.high_52w) == (10.0, 12.0) and q.change_pct == pytest.approx(-1 / 12)
    with pytest.raises(ValueError, match="no close"):
        market.quote(closes.assign(close=np.nan))


def test_market_cap_uses_the_latest_count_public_by_the_close(aapl_prices):
    from ingestion.providers.sample import SampleProvider
    from tests.conftest import SAMPLE

    shares = SampleProvider(SAMPLE).shares_outstanding(["AAPL"]).rename(columns={"filing_date": "published"})
    shares = shares.assign(source="sample")
    cap = market.market_cap(shares, 275.149994, LAST)
    # Yahoo's snapshot read 2026-06-26 02:06 UTC (22:06 in New York on the 25th): 14,687,355,252 shares, and its own
    # market cap then, at the 275.15 close, 4,041,225,797,632 (reference/shares_outstanding.csv).
    assert cap is not None and cap.shares == 14_687_355_252 and cap.filed == LAST and cap.source == "sample"
    assert cap.value == pytest.approx(4_041_225_797_632, rel=1e-7)  # Yahoo multiplied by 275.15, not 275.149994
    # Point in time: a count seen later (2026-06-26 and after, in the file) is never used for an earlier close.
    earlier = market.market_cap(shares, 293.079987, date(2026, 6, 24))
    assert earlier is not None and earlier.shares == 14_687_355_517 and earlier.filed == date(2026, 6, 24)
    assert market.market_cap(shares, 100.0, date(2024, 1, 2)) is None  # nothing public yet
    assert market.market_cap(shares.iloc[:0], 100.0, LAST) is None


def test_market_cap_prefers_the_latest_period_among_same_day_filings():
    shares = pd.DataFrame(
        {
            "published": pd.to_datetime(["2026-05-01", "2026-05-01", "2026-06-30"]),
            "period_end": pd.to_datetime(["2025-12-31", "2026-03-31", "2026-06-30"]),
            "shares": [100.0, 90.0, 80.0],
            "source": ["fmp", "fmp", "fmp"],
        }
    )
    cap = market.market_cap(shares, 2.0, date(2026, 6, 1))
    assert cap is not None and (cap.shares, cap.value, cap.filed) == (90.0, 180.0, date(2026, 5, 1))


def test_downsampling_a_strided_column_works():
    """A column of a wider array is a strided view (the Peers page's frames): tsdownsample needs contiguous input."""
    from analytics.market import downsample_line

    wide = np.random.default_rng(0).normal(size=(3000, 2)).cumsum(axis=0)
    series = pd.Series(wide[:, 1], index=pd.bdate_range("2015-01-01", periods=3000), copy=False)
    assert not series.to_numpy().flags["C_CONTIGUOUS"]
    out = downsample_line(series, 500)
    assert len(out) == 500 and out.index.is_monotonic_increasing
    contiguous = downsample_line(series.copy(), 500)  # the same points as from a contiguous copy
    pd.testing.assert_series_equal(out, contiguous)
