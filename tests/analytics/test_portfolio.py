"""Tests for analytics.portfolio: the fixed-weight portfolio against bt, volatility contributions by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import portfolio, risk
from analytics.portfolio import PortfolioError

PRICES = Path(__file__).resolve().parents[2] / "data" / "sample" / "prices"


def sample(symbols: list[str], start: str = "2024-01-01", end: str = "2024-12-31") -> pd.DataFrame:
    closes = {s: pd.read_csv(PRICES / f"{s}.csv", parse_dates=["Date"]).set_index("Date")["Close"] for s in symbols}
    return pd.DataFrame(closes).loc[start:end]


def test_the_daily_rebalanced_portfolio_matches_a_bt_backtest():
    """bt (an independent backtester) holding the same target weights, rebalanced at every close, no costs."""
    import bt

    wide = sample(["AAPL", "MSFT", "XOM", "TLT"], "2022-01-01", "2024-12-31")
    weights = portfolio.check_weights({"AAPL": 40, "MSFT": 30, "XOM": 20, "TLT": 10})
    strategy = bt.Strategy(
        "fixed",
        [bt.algos.RunDaily(), bt.algos.SelectAll(), bt.algos.WeighSpecified(**weights.to_dict()), bt.algos.Rebalance()],
    )
    test = bt.Backtest(strategy, wide, integer_positions=False, initial_capital=1e6, progress_bar=False)
    oracle = bt.run(test).prices["fixed"]
    oracle = oracle.loc[wide.index[0] :]  # bt adds a day before the first close, at 100
    ours = portfolio.portfolio_values(wide, weights)
    assert ours.index.equals(oracle.index)
    assert ours.to_numpy() == pytest.approx((oracle / oracle.iloc[0]).to_numpy(), rel=1e-12)
    returns = portfolio.portfolio_returns(wide, weights)
    assert returns.to_numpy() == pytest.approx(oracle.pct_change().dropna().to_numpy(), abs=1e-14)


def test_the_portfolio_return_is_the_weighted_sum_of_each_days_returns():
    wide = sample(["AAPL", "MSFT"], "2024-03-01", "2024-03-08")
    weights = portfolio.check_weights({"AAPL": 3, "MSFT": 1})
    got = portfolio.portfolio_returns(wide, weights)
    a, m = wide["AAPL"].to_numpy(), wide["MSFT"].to_numpy()
    expected = [0.75 * (a[i] / a[i - 1] - 1) + 0.25 * (m[i] / m[i - 1] - 1) for i in range(1, len(a))]
    assert list(got.index) == list(wide.index[1:])
    assert got.to_numpy() == pytest.approx(expected, rel=1e-12)


def test_a_day_one_holding_misses_is_skipped_for_all():
    wide = sample(["AAPL", "MSFT"], "2024-03-01", "2024-03-08")
    wide.iloc[2, 1] = np.nan
    got = portfolio.portfolio_returns(wide, portfolio.equal_weights(["AAPL", "MSFT"]))
    assert wide.index[2] not in got.index and len(got) == len(wide) - 2
    a, m = wide["AAPL"], wide["MSFT"]
    spanning = 0.5 * (a.iloc[3] / a.iloc[1] - 1) + 0.5 * (m.iloc[3] / m.iloc[1] - 1)
    assert got.loc[wide.index[3]] == pytest.approx(spanning, rel=1e-12)


def hand_contributions(wide: pd.DataFrame, w: list[float]) -> tuple[list[float], float]:
    """Euler contributions w_i (S w)_i / sigma_p with every sum written out (S: annualised sample covariance)."""
    symbols = list(wide.columns)
    closes = {s: wide[s].tolist() for s in symbols}
    returns = {s: [closes[s][t] / closes[s][t - 1] - 1 for t in range(1, len(wide))] for s in symbols}
    n = len(wide) - 1
    means = {s: sum(returns[s]) / n for s in symbols}

    def cov_ab(a: str, b: str) -> float:
        return sum((returns[a][t] - means[a]) * (returns[b][t] - means[b]) for t in range(n)) / (n - 1) * 252

    cov = [[cov_ab(a, b) for b in symbols] for a in symbols]
    k = len(symbols)
    sw = [sum(cov[i][j] * w[j] for j in range(k)) for i in range(k)]
    sigma = math.sqrt(sum(w[i] * sw[i] for i in range(k)))
    return [w[i] * sw[i] / sigma for i in range(k)], sigma


def test_volatility_contributions_match_a_hand_computation_on_three_assets():
    wide = sample(["AAPL", "XOM", "TLT"])
    weights = portfolio.check_weights({"AAPL": 50, "XOM": 30, "TLT": 20})
    table = portfolio.risk_contributions(wide, weights).set_index("symbol")
    expected, sigma = hand_contributions(wide, [0.5, 0.3, 0.2])
    assert table["contribution"].tolist() == pytest.approx(expected, rel=1e-10)
    assert table["contribution"].sum() == pytest.approx(sigma, rel=1e-12)
    assert table["share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert table["weight"].tolist() == pytest.approx([0.5, 0.3, 0.2])
    # Each holding's own volatility is the Risk page's (analytics.risk.risk_metrics).
    for symbol in wide.columns:
        own = risk.risk_metrics(wide[symbol])["volatility"]
        assert table.loc[symbol, "volatility"] == pytest.approx(own, rel=1e-10)


def test_contributions_add_up_to_the_volatility_of_the_portfolios_return_series():
    wide = sample(["AAPL", "MSFT", "NVDA", "JPM", "GLD"], "2021-01-01", "2025-12-31")
    weights = portfolio.check_weights({"AAPL": 10, "MSFT": 25, "NVDA": 5, "JPM": 40, "GLD": 20})
    series_vol = risk.risk_metrics(portfolio.portfolio_values(wide, weights))["volatility"]
    assert portfolio.risk_contributions(wide, weights)["contribution"].sum() == pytest.approx(series_vol, rel=1e-10)
    assert portfolio.portfolio_volatility(wide, weights) == pytest.approx(series_vol, rel=1e-10)


def test_textbook_two_asset_case():
    """Two uncorrelated assets of equal volatility, equally weighted: each contributes half, sigma_p = sigma/sqrt(2)."""
    days = pd.bdate_range("2024-01-01", periods=5)
    # Returns +1%, -1%, +1%, -1% and +1%, +1%, -1%, -1%: zero sample covariance, equal variances.
    a = 100 * np.cumprod([1, 1.01, 0.99, 1.01, 0.99])
    b = 100 * np.cumprod([1, 1.01, 1.01, 0.99, 0.99])
    wide = pd.DataFrame({"A": a, "B": b}, index=days)
    table = portfolio.risk_contributions(wide, portfolio.equal_weights(["A", "B"]))
    assert table["share"].tolist() == pytest.approx([0.5, 0.5])
    own = table["volatility"].iloc[0]
    assert own == pytest.approx(table["volatility"].iloc[1])
    assert table["contribution"].sum() == pytest.approx(own / math.sqrt(2), rel=1e-12)


def test_portfolio_report_metrics_reuse_the_risk_metrics():
    wide = sample(["AAPL", "MSFT", "SPY"], "2023-01-01", "2024-12-31")
    weights = portfolio.equal_weights(["AAPL", "MSFT"])
    report = portfolio.portfolio_report(wide, weights, "SPY", risk_free=0.04)
    metrics = report["metrics"].set_index("symbol")
    assert list(metrics.index) == ["Portfolio", "SPY"]
    r = 0.5 * wide["AAPL"].pct_change() + 0.5 * wide["MSFT"].pct_change()
    b = wide["SPY"].pct_change()
    r, b = r.dropna().to_numpy(), b.dropna().to_numpy()
    assert metrics.loc["Portfolio", "total_return"] == pytest.approx(np.prod(1 + r) - 1, rel=1e-12)
    assert metrics.loc["Portfolio", "volatility"] == pytest.approx(np.std(r, ddof=1) * np.sqrt(252), rel=1e-12)
    assert metrics.loc["Portfolio", "beta"] == pytest.approx(np.cov(r, b)[0, 1] / np.var(b, ddof=1), rel=1e-10)
    assert metrics.loc["SPY", "total_return"] == pytest.approx(wide["SPY"].iloc[-1] / wide["SPY"].iloc[0] - 1)
    values = report["values"]
    assert values.iloc[0].tolist() == [1.0, 1.0] and list(values.columns) == ["Portfolio", "SPY"]
    assert report["drawdown"]["Portfolio"].max() == 0.0


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({}, "at least one holding"),
        ({"AAPL": -10, "MSFT": 110}, "weight of AAPL must be a number of 0 or more"),
        ({"AAPL": 0, "MSFT": 0}, "add up to 0"),
        ({"AAPL": float("nan")}, "weight of AAPL"),
        ({"AAPL": "ten"}, "weight of AAPL is not a number"),
        ({"AAPL": 1e308, "MSFT": 1e308}, "too large to add up"),
    ],
)
def test_bad_weights_are_refused_with_a_reason(weights, message):
    with pytest.raises(PortfolioError, match=message):
        portfolio.check_weights(weights)


def test_weights_are_normalised_and_round_trip_through_a_saved_definition():
    weights = portfolio.check_weights({"AAPL": 60, "MSFT": 20, "XOM": 20})
    assert weights.to_dict() == pytest.approx({"AAPL": 0.6, "MSFT": 0.2, "XOM": 0.2})
    saved = portfolio.definition(weights)
    assert saved == {"holdings": [{"symbol": "AAPL", "weight": 0.6}, {"symbol": "MSFT", "weight": 0.2},
                                  {"symbol": "XOM", "weight": 0.2}]}  # fmt: skip
    assert portfolio.weights_from_definition(saved).equals(weights)
    with pytest.raises(PortfolioError, match="no holdings"):
        portfolio.weights_from_definition({"holdings": "AAPL"})


def test_too_few_common_days_is_an_error():
    wide = sample(["AAPL", "MSFT"], "2024-03-01", "2024-03-01")
    with pytest.raises(PortfolioError, match="fewer than 2 days"):
        portfolio.portfolio_values(wide, portfolio.equal_weights(["AAPL", "MSFT"]))
