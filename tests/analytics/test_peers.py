"""Tests for analytics.peers: each stock against the average of the others, by hand on the bundled closes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import peers
from analytics.peers import PeersError

PRICES = Path(__file__).resolve().parents[2] / "data" / "sample" / "prices"


def sample(symbols: list[str], start: str, end: str) -> pd.DataFrame:
    closes = {s: pd.read_csv(PRICES / f"{s}.csv", parse_dates=["Date"]).set_index("Date")["Close"] for s in symbols}
    return pd.DataFrame(closes).loc[start:end]


def test_each_stock_against_the_average_of_the_others_by_hand():
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN"]
    wide = sample(symbols, "2025-01-01", "2025-06-30")
    got = peers.compare(wide)
    for symbol in symbols:
        others = [s for s in symbols if s != symbol]
        for day in (wide.index[0], wide.index[40], wide.index[-1]):
            own = wide.loc[day, symbol] / wide[symbol].iloc[0] * 100
            average = sum(wide.loc[day, o] / wide[o].iloc[0] * 100 for o in others) / len(others)
            assert got.normalised.loc[day, symbol] == pytest.approx(own, rel=1e-12)
            assert got.peer_average.loc[day, symbol] == pytest.approx(average, rel=1e-12)
            assert got.difference.loc[day, symbol] == pytest.approx(own - average, rel=1e-9, abs=1e-9)
        ret = wide[symbol].iloc[-1] / wide[symbol].iloc[0] - 1
        peer_ret = np.mean([wide[o].iloc[-1] / wide[o].iloc[0] - 1 for o in others])
        row = got.returns.loc[symbol]
        assert row["return"] == pytest.approx(ret, rel=1e-12)
        assert row["peer_average"] == pytest.approx(peer_ret, rel=1e-12)
        assert row["difference"] == pytest.approx(ret - peer_ret, rel=1e-9)
    returns = {s: wide[s].iloc[-1] / wide[s].iloc[0] - 1 for s in symbols}
    assert got.best == max(returns, key=returns.get) and got.worst == min(returns, key=returns.get)
    assert got.normalised.iloc[0].tolist() == [100.0] * 4


def test_two_stocks_are_each_others_peer_average():
    wide = sample(["XOM", "CVX"], "2024-01-01", "2024-12-31")
    got = peers.compare(wide)
    assert got.peer_average["XOM"].to_numpy() == pytest.approx(got.normalised["CVX"].to_numpy(), rel=1e-13)
    assert got.difference["XOM"].to_numpy() == pytest.approx(-got.difference["CVX"].to_numpy())


def test_days_without_every_close_are_left_out_and_the_base_is_the_first_common_day():
    wide = sample(["AAPL", "MSFT", "NVDA"], "2024-03-01", "2024-03-15")
    wide.iloc[0, 2] = np.nan  # NVDA's first close missing: the base moves to the second day for all
    got = peers.compare(wide)
    assert got.normalised.index[0] == wide.index[1]
    assert got.normalised.loc[wide.index[-1], "AAPL"] == pytest.approx(
        wide["AAPL"].iloc[-1] / wide["AAPL"].iloc[1] * 100, rel=1e-12
    )


def test_one_stock_or_too_few_days_is_an_error():
    with pytest.raises(PeersError, match="2 or more stocks"):
        peers.compare(sample(["AAPL"], "2024-01-01", "2024-12-31"))
    with pytest.raises(PeersError, match="fewer than 2 days"):
        peers.compare(sample(["AAPL", "MSFT"], "2024-03-01", "2024-03-01"))
