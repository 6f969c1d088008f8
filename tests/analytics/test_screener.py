"""analytics.screener against independent computations: hand-read closes of the bundled sample, pandas rolling
windows, a plain-loop Wilder RSI, a plain-loop market cap, and pandas boolean masks for the filters."""

import csv
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics import indicators, screener
from analytics.overview import overview_table
from tests.conftest import ROOT

SYMBOLS = ["AAPL", "NVDA", "TLT", "XOM"]


def raw_closes(symbol: str) -> list[tuple[date, float]]:
    with open(ROOT / "data" / "sample" / "prices" / f"{symbol}.csv") as fh:
        return [(date.fromisoformat(r["Date"]), float(r["Close"])) for r in csv.DictReader(fh)]


def long_frame(symbols: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{"date": d, "symbol": s, "close": c} for s in symbols for d, c in raw_closes(s)])


@pytest.fixture(scope="module")
def sample_metrics() -> pd.DataFrame:
    return screener.metrics_table(screener.wide_closes(long_frame(SYMBOLS))).set_index("symbol")


def close_on(symbol: str, day: date) -> float:
    return dict(raw_closes(symbol))[day]


def test_changes_by_hand_on_the_sample(sample_metrics):
    got = sample_metrics.loc["AAPL"]
    last = 275.1499938964844  # AAPL's close on 2026-06-25, the sample's last day (read from the CSV)
    assert got["as_of"] == date(2026, 6, 25) and got["last"] == last
    assert got["chg_1d"] == pytest.approx(last / 293.0799865722656 - 1, rel=1e-12)  # 2026-06-24
    # A month before 2026-06-25 is 2026-05-25, Memorial Day: the last close on or before it is Friday 2026-05-22.
    assert got["chg_1m"] == pytest.approx(last / 308.82000732421875 - 1, rel=1e-12)
    assert got["chg_ytd"] == pytest.approx(last / 271.3558349609375 - 1, rel=1e-12)  # 2025-12-31
    assert close_on("AAPL", date(2026, 5, 22)) == 308.82000732421875


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_rolling_metrics_match_pandas(sample_metrics, symbol):
    series = pd.Series(dict(raw_closes(symbol)))
    series.index = pd.to_datetime(series.index)
    got = sample_metrics.loc[symbol]
    last = series.iloc[-1]
    high = series[series.index >= pd.Timestamp("2025-06-26")].max()  # the 365 days to 2026-06-25, both ends in
    assert got["high_52w"] == high
    assert got["from_high_52w"] == pytest.approx(last / high - 1, rel=1e-12)
    assert got["from_high_52w"] <= 0
    vol = series.pct_change().rolling(63).std().iloc[-1] * math.sqrt(252)
    assert got["volatility_3m"] == pytest.approx(vol, rel=1e-9)
    for n in (50, 200):
        sma = series.rolling(n).mean().iloc[-1]
        assert got[f"sma_{n}"] == pytest.approx(sma, rel=1e-12)
        assert got[f"vs_sma_{n}"] == pytest.approx(last / sma - 1, rel=1e-9)


def wilder_rsi_loop(closes: list[float], period: int = 14) -> float:
    """Wilder (1978): seed with the simple mean of the first `period` gains and losses, then smooth by 1/period."""
    gains = [max(b - a, 0.0) for a, b in zip(closes, closes[1:], strict=False)]
    losses = [max(a - b, 0.0) for a, b in zip(closes, closes[1:], strict=False)]
    avg_gain, avg_loss = sum(gains[:period]) / period, sum(losses[:period]) / period
    for gain, loss in zip(gains[period:], losses[period:], strict=True):
        avg_gain = (avg_gain * (period - 1) + gain) / period
        avg_loss = (avg_loss * (period - 1) + loss) / period
    return 100.0 if avg_loss == 0 else 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_rsi_matches_a_plain_wilder_loop(sample_metrics, symbol):
    closes = [c for _, c in raw_closes(symbol)]
    assert sample_metrics.loc[symbol, "rsi_14"] == pytest.approx(wilder_rsi_loop(closes), rel=1e-9)
    assert 0 <= sample_metrics.loc[symbol, "rsi_14"] <= 100


def test_rsi_is_the_indicator_modules_on_every_symbol_with_gaps_flats_and_short_histories():
    symbols = sorted(p.stem for p in (ROOT / "data" / "sample" / "prices").glob("*.csv"))
    wide = screener.wide_closes(long_frame(symbols)).iloc[-280:].copy()
    wide.iloc[::17, 0] = np.nan  # gaps: the RSI runs over the observed closes only
    wide.iloc[-3:, 1] = np.nan  # stale: measured at its own last close
    wide["FLAT"] = 50.0
    wide["UP15"], wide["UP14"] = np.nan, np.nan
    wide.iloc[-15:, wide.columns.get_loc("UP15")] = np.arange(15.0) + 1  # 14 changes: just enough
    wide.iloc[-14:, wide.columns.get_loc("UP14")] = np.arange(14.0) + 1  # 13 changes: not enough
    got = screener.metrics_table(wide).set_index("symbol")["rsi_14"]
    for symbol in wide.columns:
        expected = indicators.rsi(wide[symbol].dropna(), 14).iloc[-1]
        assert got[symbol] == pytest.approx(expected, rel=1e-12, nan_ok=True), symbol
    assert got["FLAT"] == 50.0 and got["UP15"] == 100.0 and np.isnan(got["UP14"])


def test_changes_agree_with_the_overview(sample_metrics):
    overview = overview_table(long_frame(SYMBOLS)).set_index("symbol")
    for column in ("last", "chg_1d", "chg_1m", "chg_ytd", "high_52w"):
        np.testing.assert_allclose(sample_metrics[column], overview.loc[sample_metrics.index, column], rtol=1e-12)


def test_each_symbol_at_its_own_last_date_and_short_histories():
    days = pd.bdate_range("2026-01-02", periods=80)
    wide = pd.DataFrame({"OLD": np.linspace(100, 120, 80), "NEW": np.nan}, index=days)
    wide.loc[days[-30:], "NEW"] = np.linspace(10, 13, 30)
    wide.loc[days[-5:], "OLD"] = np.nan  # stale: its last five sessions are missing
    got = screener.metrics_table(wide).set_index("symbol")
    assert got.loc["OLD", "as_of"] == days[-6].date()
    assert got.loc["OLD", "chg_1d"] == pytest.approx(wide["OLD"].iloc[-6] / wide["OLD"].iloc[-7] - 1)
    # 30 closes: no 3-month volatility, no SMA 50 or 200, no close before the year began; RSI 14 is defined.
    new = got.loc["NEW"]
    assert np.isnan(new["volatility_3m"]) and np.isnan(new["sma_50"]) and np.isnan(new["vs_sma_200"])
    assert np.isnan(new["chg_ytd"]) and not np.isnan(new["rsi_14"])
    assert new["rsi_14"] == 100.0  # only gains
    assert screener.metrics_table(pd.DataFrame(dtype="float64")).empty


def test_market_cap_uses_the_latest_share_count_published_by_the_last_date():
    metrics = pd.DataFrame({"symbol": ["A", "B", "C"], "as_of": [date(2026, 6, 25)] * 3, "last": [10.0, 20.0, 30.0]})
    shares = pd.DataFrame(
        {
            "symbol": ["A", "A", "A", "B", "B", "C"],
            "published": pd.to_datetime(
                ["2026-02-01", "2026-05-01", "2026-07-01", "2026-05-01", "2026-05-01", "2026-07-01"]
            ),
            "period_end": pd.to_datetime(
                ["2025-12-31", "2026-03-31", "2026-06-30", "2026-03-31", "2026-04-30", "2026-06-30"]
            ),
            "shares": [100.0, 110.0, 999.0, 50.0, 55.0, 7.0],
        }
    )
    got = screener.market_caps(metrics, shares)

    def by_hand(symbol: str, as_of: date, last: float) -> float:
        usable = [r for r in shares.itertuples() if r.symbol == symbol and r.published.date() <= as_of]
        if not usable:
            return math.nan
        latest = max(usable, key=lambda r: (r.published, r.period_end))
        return last * latest.shares

    expected = [by_hand(r.symbol, r.as_of, r.last) for r in metrics.itertuples()]
    np.testing.assert_array_equal(got.to_numpy(), expected)
    assert list(got[:2]) == [1100.0, 1100.0]  # A: not the count published after 2026-06-25; B: the later period
    assert np.isnan(got.iloc[2])
    assert screener.market_caps(metrics, shares.iloc[0:0]).isna().all()


def test_market_cap_against_yahoos_own_figure():
    """Yahoo's snapshot gives price, shares and its market cap on the same day: ours from the same inputs agrees."""
    snap = pd.read_csv(ROOT / "data" / "sample" / "reference" / "shares_outstanding.csv").head(20)
    metrics = pd.DataFrame(
        {"symbol": snap["ticker"], "as_of": pd.to_datetime(snap["date"]).dt.date, "last": snap["price"]}
    )
    shares = pd.DataFrame(
        {"symbol": snap["ticker"], "published": pd.to_datetime(snap["date"]), "shares": snap["shares_outstanding"]}
    )
    got = screener.market_caps(
        metrics.drop_duplicates(["symbol", "as_of"]), shares.drop_duplicates(["symbol", "published"])
    )
    want = snap.drop_duplicates(["ticker", "date"])["market_cap"].to_numpy(dtype=float)
    np.testing.assert_allclose(got.to_numpy(), want, rtol=5e-3)


# -- filters --------------------------------------------------------------------------------------------------------


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": ["A", "B", "C", "D", "E"],
            "sector": ["Energy", "Energy", "Financials", "ETF", None],
            "rsi_14": [25.0, 55.0, 71.0, np.nan, 30.0],
            "chg_1m": [-0.05, 0.02, 0.10, 0.01, np.nan],
            "market_cap": [1e9, 5e10, np.nan, 2e11, 3e9],
        }
    )


def test_filters_select_what_a_pandas_mask_selects(table):
    filters = [("rsi_14", ">=", 30), ("chg_1m", ">", "0"), ("sector", "in", ["Energy", "Financials"])]
    got = screener.apply_filters(table, filters)
    t = table
    expected = t[(t["rsi_14"] >= 30) & (t["chg_1m"] > 0) & t["sector"].isin(["Energy", "Financials"])]
    assert list(got["symbol"]) == list(expected["symbol"]) == ["B", "C"]
    assert list(screener.apply_filters(table, [])["symbol"]) == list("ABCDE")


def test_a_missing_value_matches_no_condition(table):
    # D has no RSI: it is neither above, below nor different from 50.
    for op in (">", "<", "!=", "<=", ">="):
        assert "D" not in set(screener.apply_filters(table, [("rsi_14", op, 50)])["symbol"])
    assert list(screener.apply_filters(table, [("market_cap", ">", 0)])["symbol"]) == ["A", "B", "D", "E"]
    assert list(screener.apply_filters(table, [("sector", "not in", ["Energy"])])["symbol"]) == ["C", "D"]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (("pe_ratio", ">", 10), "unknown column 'pe_ratio'"),
        (("rsi_14", ">", "abc"), "'abc' is not a number"),
        (("rsi_14", ">", "nan"), "not a finite number"),
        (("rsi_14", "=>", 10), "unknown operator"),
        (("rsi_14", "in", [1, 2]), "rsi_14 is a number"),
        (("sector", ">", "Energy"), "sector is text"),
        (("sector", "in", []), "name at least one value"),
        (("rsi_14", ">", True), "True is not a number"),
    ],
)
def test_bad_filters_are_refused_with_a_reason(table, bad, reason):
    good, refused = screener.check_filters(table, [("rsi_14", "<", 50), bad])
    assert good == [screener.Filter("rsi_14", "<", 50.0)]
    assert len(refused) == 1 and reason in refused[0]
    with pytest.raises(screener.FilterError, match=reason.split("'")[0] or reason):
        screener.apply_filters(table, [bad])


def test_numbers_as_typed():
    assert screener.parse_number(" 1,200.5 ") == 1200.5
    assert screener.parse_number(3) == 3.0


def test_ranges_and_their_contradiction():
    assert screener.range_filters("rsi_14", 30, None) == [("rsi_14", ">=", 30.0)]
    assert screener.range_filters("rsi_14", None, None) == []
    assert screener.range_filters("rsi_14", 30, 70) == [("rsi_14", ">=", 30.0), ("rsi_14", "<=", 70.0)]
    with pytest.raises(screener.FilterError, match="minimum 70 is above the maximum 30"):
        screener.range_filters("rsi_14", 70, 30)


def test_sort_puts_missing_values_last_either_way(table):
    assert list(screener.sort_table(table, "rsi_14")["symbol"]) == ["A", "E", "B", "C", "D"]
    assert list(screener.sort_table(table, "rsi_14", descending=True)["symbol"]) == ["C", "B", "E", "A", "D"]
    with pytest.raises(screener.FilterError):
        screener.sort_table(table, "nope")


def test_screen_table_adds_names_caps_and_key_statistics():
    metrics = pd.DataFrame({"symbol": ["SPY", "XOM"], "last": [1.0, 2.0]})
    instruments = pd.DataFrame(
        {
            "symbol": ["SPY", "XOM"],
            "name": ["SPDR", "Exxon"],
            "asset_class": ["etf", "stock"],
            "sector": [None, "Energy"],
        }
    )
    stats = pd.DataFrame({"symbol": ["XOM"], "pe_ratio": [12.5], "last": [99.0]})
    got = screener.screen_table(metrics, instruments, pd.Series([np.nan, 4e11]), stats)
    assert list(got["sector"]) == ["ETF", "Energy"]
    assert list(got["last"]) == [1.0, 2.0]  # a statistic never replaces a computed column
    assert got["pe_ratio"].iloc[1] == 12.5 and np.isnan(got["pe_ratio"].iloc[0])
    assert got["market_cap"].iloc[1] == 4e11
    assert screener.check_filters(got, [("pe_ratio", "<", 15)])[1] == []  # a stored statistic is filterable


def test_the_52_week_high_covers_365_days_with_both_ends():
    days = pd.to_datetime(["2025-06-24", "2025-06-25", "2025-06-26", "2026-03-02", "2026-06-25"])
    wide = pd.DataFrame({"A": [500.0, 400.0, 90.0, 95.0, 80.0], "B": [500.0, 90.0, 300.0, 95.0, 80.0]}, index=days)
    got = screener.metrics_table(wide).set_index("symbol")
    # 2025-06-26 is 364 days before 2026-06-25 (in); 2025-06-25 is a year before (out), like the Overview's low/high.
    assert got.loc["A", "high_52w"] == 95.0 and got.loc["B", "high_52w"] == 300.0
    assert got.loc["B", "from_high_52w"] == pytest.approx(80 / 300 - 1)
