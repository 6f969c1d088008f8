"""overview_table against an independent computation from the raw sample CSV."""

import csv
from datetime import date, timedelta

import pandas as pd
import pytest

from analytics.overview import SPARK_POINTS, overview_table
from tests.conftest import ROOT


def raw_closes(symbol: str) -> list[tuple[date, float]]:
    with open(ROOT / "data" / "sample" / "prices" / f"{symbol}.csv") as fh:
        return [(date.fromisoformat(r["Date"]), float(r["Close"])) for r in csv.DictReader(fh)]


def long_frame(symbols):
    return pd.DataFrame([{"date": d, "symbol": s, "close": c} for s in symbols for d, c in raw_closes(s)])


@pytest.mark.parametrize("symbol", ["AAPL", "TLT", "NVDA"])
def test_matches_a_plain_computation(symbol):
    rows = raw_closes(symbol)
    last_day, last = rows[-1]
    prev = rows[-2][1]
    month_ago = [c for d, c in rows if d <= date(last_day.year, last_day.month - 1, last_day.day)][-1]
    year_end = [c for d, c in rows if d <= date(last_day.year - 1, 12, 31)][-1]
    window = [c for d, c in rows if d >= last_day - timedelta(days=364)]

    table = overview_table(long_frame(["AAPL", "TLT", "NVDA"])).set_index("symbol")
    got = table.loc[symbol]
    assert got["as_of"] == last_day == date(2026, 6, 25)
    assert got["last"] == last
    assert got["chg_1d"] == pytest.approx(last / prev - 1, rel=1e-12)
    assert got["chg_1m"] == pytest.approx(last / month_ago - 1, rel=1e-12)
    assert got["chg_ytd"] == pytest.approx(last / year_end - 1, rel=1e-12)
    assert got["high_52w"] == max(window) and got["low_52w"] == min(window)
    assert len(got["trend"]) == SPARK_POINTS and got["trend"][-1] == pytest.approx(last, abs=1e-4)


def test_each_symbol_is_measured_at_its_own_last_date():
    frame = long_frame(["SPY", "QQQ"])
    frame = frame[~((frame["symbol"] == "QQQ") & (frame["date"] > date(2026, 6, 20)))]
    table = overview_table(frame).set_index("symbol")
    assert table.loc["SPY", "as_of"] == date(2026, 6, 25)
    assert table.loc["QQQ", "as_of"] == date(2026, 6, 18)  # the last QQQ session kept


def test_short_history_gives_gaps_not_errors():
    frame = pd.DataFrame({"date": [date(2026, 6, 24), date(2026, 6, 25)], "symbol": ["X", "X"], "close": [10.0, 11.0]})
    row = overview_table(frame).iloc[0]
    assert row["chg_1d"] == pytest.approx(0.1)
    assert pd.isna(row["chg_1m"]) and pd.isna(row["chg_ytd"])
    assert overview_table(frame.iloc[:0]).empty


def test_quotes_vs_close_uses_the_last_close_as_traded_and_new_york_time():
    from analytics.overview import quotes_vs_close

    quotes = pd.DataFrame(
        {
            "symbol": ["A", "B"],
            "price": [11.0, 5.0],
            "ts": pd.to_datetime(["2026-06-26 14:30", "2026-06-26 15:00"], utc=True),
        }
    )
    bars = pd.DataFrame({"symbol": ["A", "A"], "date": [date(2026, 6, 24), date(2026, 6, 25)], "close": [9.0, 10.0]})
    out = quotes_vs_close(quotes, bars).set_index("symbol")
    assert out.loc["A", "change"] == pytest.approx(0.1)
    assert pd.isna(out.loc["B", "change"])  # no close stored for B
    assert out.loc["A", "ts"] == pd.Timestamp("2026-06-26 10:30")  # EDT = UTC-4
