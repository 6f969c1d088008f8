"""Tests for analytics.backtest: hand-computed cases, backtesting.py and bt as oracles, loop oracles, no look-ahead."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.backtest import STRATEGIES, backtest, monthly_returns, parameter_sweep
from analytics.index import build_index, rebalance_schedule
from analytics.indicators import rsi
from analytics.risk import risk_metrics

BUNDLE = Path(__file__).resolve().parents[2] / "data" / "sp500"
SIX = pd.bdate_range("2024-01-02", periods=6)


@cache
def bundle_prices() -> pd.DataFrame:
    adj = pd.read_parquet(BUNDLE / "adj_close_daily_2019_2026.parquet")
    wide = adj.pivot(index="date", columns="symbol", values="adj_close").astype("float64")
    wide.index = pd.DatetimeIndex(wide.index)
    return wide


def real(*symbols: str, end: str = "2024-12-31") -> pd.DataFrame:
    return bundle_prices().loc[:end, list(symbols)]


def synthetic(n_days: int = 320, n_sym: int = 4, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n_days, n_sym)), axis=0))
    return pd.DataFrame(values, index=pd.bdate_range("2022-01-03", periods=n_days), columns=list("ABCDEFGH")[:n_sym])


# ---------------------------------------------------------------------------------------------------
# Hand-computed


def updown() -> pd.Series:
    # fast=1, slow=2: long after a close above the previous one. Decisions 0,1,1,0,0,1 -> held 0,0,1,1,0,0.
    return pd.Series([100.0, 110, 121, 110, 100, 105], index=SIX, name="X")


def test_signal_trades_at_the_next_close_by_hand() -> None:
    r = backtest(updown(), "sma_crossover", fast=1, slow=2)
    np.testing.assert_allclose(r.equity.to_numpy(), [1, 1, 1, 110 / 121, 100 / 121, 100 / 121], rtol=1e-15)
    np.testing.assert_allclose(r.positions["X"].to_numpy(), [0, 0, 1, 1, 0, 0])
    assert r.trades[["side", "weight_change"]].values.tolist() == [["buy", 1.0], ["sell", -1.0]]
    assert list(r.trades["date"]) == [SIX[2], SIX[4]]


def test_costs_and_half_spread_by_hand() -> None:
    c = 10 / 1e4 + 20 / 1e4 / 2
    r = backtest(updown(), "sma_crossover", fast=1, slow=2, cost_bps=10, spread_bps=20)
    expected = [1, 1, 1 - c, (1 - c) * 110 / 121, (1 - c) ** 2 * 100 / 121, (1 - c) ** 2 * 100 / 121]
    np.testing.assert_allclose(r.equity.to_numpy(), expected, rtol=1e-15)
    np.testing.assert_allclose(r.trades["cost"].to_numpy(), [c, c])
    np.testing.assert_allclose(r.turnover.to_numpy(), [0, 0, 1, 0, 1, 0])
    assert r.metrics["total_cost"] == pytest.approx(2 * c)
    assert r.metrics["trades"] == 2


def test_open_execution_by_hand() -> None:
    opens = pd.Series([100.0, 105, 120, 115, 104, 100], index=SIX, name="X")
    r = backtest(updown(), "sma_crossover", fast=1, slow=2, execution="open", opens=opens)
    # Buy at the open of day 2 (120), sell at the open of day 4 (104).
    bought = 121 / 120
    expected = [1, 1, bought, bought * 110 / 121, 104 / 120, 104 / 120]
    np.testing.assert_allclose(r.equity.to_numpy(), expected, rtol=1e-14)


def test_hit_rate_and_profit_factor_by_hand() -> None:
    r = backtest(updown(), "sma_crossover", fast=1, slow=2)
    # Invested at the close before days 3 and 4: returns -10/121 and -10/110 -> no wins.
    assert r.metrics["hit_rate"] == 0.0
    assert r.metrics["avg_loss"] == pytest.approx(np.mean([110 / 121 - 1, 100 / 110 - 1]))
    assert np.isnan(r.metrics["avg_win"]) and r.metrics["profit_factor"] == 0.0
    assert r.metrics["exposure"] == pytest.approx(2 / 6) and r.metrics["time_in_market"] == pytest.approx(2 / 6)
    for key in risk_metrics(r.equity):
        assert key in r.metrics


def test_buy_and_hold_equals_the_assets_own_return() -> None:
    prices = real("AAPL", "MSFT", "XOM")
    one = backtest(prices["AAPL"], "buy_and_hold")
    np.testing.assert_allclose(one.equity.to_numpy(), (prices["AAPL"] / prices["AAPL"].iloc[0]).to_numpy(), rtol=1e-12)
    assert one.metrics["total_return"] == pytest.approx(prices["AAPL"].iloc[-1] / prices["AAPL"].iloc[0] - 1, 1e-12)
    many = backtest(prices, "buy_and_hold")  # equal sleeves, never rebalanced
    np.testing.assert_allclose(many.equity.to_numpy(), (prices / prices.iloc[0]).mean(axis=1).to_numpy(), rtol=1e-12)
    costly = backtest(prices["AAPL"], "buy_and_hold", cost_bps=5)
    np.testing.assert_allclose(costly.equity.to_numpy(), one.equity.to_numpy() * (1 - 5e-4), rtol=1e-12)


def test_metrics_count_the_entry_cost_of_a_first_session_buy() -> None:
    # buy_and_hold buys at the first close: its cost (and, at the open, the first open-to-close move) is part of
    # the result, as in the equity, the returns and the monthly table.
    prices = updown()
    free = backtest(prices, "buy_and_hold")
    costly = backtest(prices, "buy_and_hold", cost_bps=50)
    assert free.metrics["total_return"] == pytest.approx(105 / 100 - 1, rel=1e-12)
    assert costly.metrics["total_return"] == pytest.approx((1 - 50e-4) * 105 / 100 - 1, rel=1e-12)
    assert costly.metrics["total_return"] == pytest.approx(costly.equity.iloc[-1] - 1.0, rel=1e-12)
    assert costly.metrics["total_return"] == pytest.approx(costly.monthly_returns.loc[2024, "Year"], rel=1e-12)
    opens = pd.Series([98.0, 105, 120, 115, 104, 100], index=SIX, name="X")
    at_open = backtest(prices, "buy_and_hold", execution="open", opens=opens)
    assert at_open.metrics["total_return"] == pytest.approx(105 / 98 - 1, rel=1e-12)
    assert at_open.metrics["max_drawdown"] == pytest.approx(100 / 121 - 1, rel=1e-12)


def test_benchmark_and_risk_free_reach_the_metrics() -> None:
    prices = real("AAPL", "MSFT")
    r = backtest(prices["AAPL"], "buy_and_hold", benchmark=prices["AAPL"], risk_free=0.02)
    assert r.metrics["beta"] == pytest.approx(1.0) and r.metrics["correlation"] == pytest.approx(1.0)
    expected = risk_metrics(r.equity, prices["AAPL"], risk_free=0.02)
    assert {k: r.metrics[k] for k in expected} == pytest.approx(expected, nan_ok=True)


def test_index_strategy_holds_a_level_series() -> None:
    levels = build_index(real("AAPL", "MSFT", "XOM"), rebalance="M").levels
    r = backtest(levels, "index")
    np.testing.assert_allclose(r.equity.to_numpy(), (levels / levels.iloc[0]).to_numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="one level series"):
        backtest(real("AAPL", "MSFT"), "index")


def test_monthly_returns_table_compounds_to_the_year() -> None:
    r = backtest(real("AAPL"), "sma_crossover", fast=10, slow=40, cost_bps=5)
    table = r.monthly_returns
    assert list(table.columns)[::6] == ["Jan", "Jul", "Year"] and len(table.columns) == 13
    compounded = (1 + table.drop(columns="Year")).prod(axis=1, skipna=True) - 1
    np.testing.assert_allclose(compounded.to_numpy(), table["Year"].to_numpy(), rtol=1e-12)
    assert table.loc[2019, "Jan"] == pytest.approx(r.equity.loc["2019-01"].iloc[-1] - 1.0)
    eq = pd.Series([1.0, 1.1, 1.21], index=pd.DatetimeIndex(["2024-01-31", "2024-02-29", "2025-01-02"]))
    assert monthly_returns(eq).loc[2025, "Year"] == pytest.approx(0.1)


# ---------------------------------------------------------------------------------------------------
# backtesting.py and bt as oracles (zero costs)

FAST, SLOW = 10, 30


def backtesting_py_equity(close: pd.Series, opens: pd.Series | None) -> pd.Series:
    bt_lib = pytest.importorskip("backtesting")

    class SmaCross(bt_lib.Strategy):
        def init(self) -> None:
            # Filled warm-up (flat) so that backtesting.py decides from the first bar, as ours does.
            self.fast = self.I(lambda x: pd.Series(x).rolling(FAST).mean().fillna(0.0).to_numpy(), self.data.Close)
            self.slow = self.I(lambda x: pd.Series(x).rolling(SLOW).mean().fillna(np.inf).to_numpy(), self.data.Close)

        def next(self) -> None:
            if self.fast[-1] > self.slow[-1]:
                if not self.position:
                    self.buy()
            elif self.position:
                self.position.close()

    o = close if opens is None else opens
    data = pd.DataFrame({"Open": o, "High": np.maximum(o, close), "Low": np.minimum(o, close), "Close": close})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Huge cash: backtesting.py buys whole shares; at 1e13 the rounding is ~1e-11 of the equity.
        stats = bt_lib.Backtest(data, SmaCross, cash=1e13, commission=0.0).run()
    equity = stats["_equity_curve"]["Equity"]
    return equity / equity.iloc[0]


def test_sma_crossover_matches_backtesting_py_at_the_next_close() -> None:
    close = real("AAPL")["AAPL"]
    # Open = close: backtesting.py fills a signal at the next bar's open, i.e. at the next close here.
    theirs = backtesting_py_equity(close, None)
    mine = backtest(close, "sma_crossover", fast=FAST, slow=SLOW)
    np.testing.assert_allclose(mine.equity.to_numpy(), theirs.to_numpy(), rtol=1e-9)


def test_sma_crossover_matches_backtesting_py_at_the_next_open() -> None:
    close = real("MSFT")["MSFT"]
    rng = np.random.default_rng(11)
    opens = close.shift(1) * np.exp(rng.normal(0, 0.006, len(close)))
    opens.iloc[0] = close.iloc[0]
    theirs = backtesting_py_equity(close, opens)
    mine = backtest(close, "sma_crossover", fast=FAST, slow=SLOW, execution="open", opens=opens)
    np.testing.assert_allclose(mine.equity.to_numpy(), theirs.to_numpy(), rtol=1e-9)
    assert len(mine.trades) > 20


def test_sma_sleeves_match_bt_per_symbol_runs() -> None:
    bt = pytest.importorskip("bt")
    prices = real("AAPL", "MSFT", "XOM")
    mine = backtest(prices, "sma_crossover", fast=20, slow=50)
    sleeves = []
    for symbol in prices.columns:
        one = prices[[symbol]]
        # bt trades at the close of the day it selects: feed it yesterday's decision.
        decision = (one.rolling(20).mean() > one.rolling(50).mean()).shift(1, fill_value=False)
        strategy = bt.Strategy(symbol, [bt.algos.SelectWhere(decision), bt.algos.WeighEqually(), bt.algos.Rebalance()])
        test = bt.Backtest(strategy, one, integer_positions=False, initial_capital=1e6, progress_bar=False)
        level = bt.run(test).prices[symbol]
        # bt's report starts at its first active day; before it the sleeve is flat cash.
        sleeves.append((level / level.iloc[0]).reindex(prices.index).fillna(1.0))
    expected = pd.concat(sleeves, axis=1).mean(axis=1)
    np.testing.assert_allclose(mine.equity.to_numpy(), expected.to_numpy(), rtol=1e-9)


def test_xs_momentum_matches_bt_with_the_same_picks() -> None:
    bt = pytest.importorskip("bt")
    prices = real("AAPL", "MSFT", "XOM", "JPM", "KO", "PG", "NVDA", "WMT")
    mine = backtest(prices, "xs_momentum", top_k=3)
    trade_days = mine.trades["date"].drop_duplicates()
    targets = mine.positions.loc[trade_days]
    strategy = bt.Strategy("xs", [bt.algos.RunOnDate(*trade_days), bt.algos.WeighTarget(targets), bt.algos.Rebalance()])
    test = bt.Backtest(strategy, prices, integer_positions=False, initial_capital=1e6, progress_bar=False)
    level = bt.run(test).prices["xs"].reindex(prices.index)
    level = (level / level.dropna().iloc[0]).fillna(1.0)
    np.testing.assert_allclose(mine.equity.to_numpy(), level.to_numpy(), rtol=1e-9)


# ---------------------------------------------------------------------------------------------------
# Plain-loop oracles


def month_end_rows(index: pd.DatetimeIndex) -> list[int]:
    return list(index.get_indexer(rebalance_schedule(index, "M")["effective_date"]))


def momentum_scores(values: np.ndarray, t: int, lookback: int, skip: int) -> np.ndarray | None:
    far, near = 21 * lookback, 21 * skip
    if t - far < 0:
        return None
    return values[t - near] / values[t - far] - 1.0


def test_xs_momentum_against_a_loop() -> None:
    prices = synthetic(n_days=400, n_sym=6)
    top_k, lookback, skip = 2, 6, 1
    r = backtest(prices, "xs_momentum", lookback=lookback, skip=skip, top_k=top_k)
    values = prices.to_numpy()
    decisions = {}
    for t in month_end_rows(prices.index):
        score = momentum_scores(values, t, lookback, skip)
        if score is not None:
            picks = sorted(range(6), key=lambda j: (-score[j], j))[:top_k]
            decisions[t + 1] = picks
    cash, units, equity = 1.0, np.zeros(6), []
    for t in range(len(values)):
        if t in decisions:
            value = cash + units @ values[t]
            units = np.zeros(6)
            for j in decisions[t]:
                units[j] = value / top_k / values[t, j]
            cash = 0.0
        equity.append(cash + units @ values[t])
    np.testing.assert_allclose(r.equity.to_numpy(), equity, rtol=1e-12)
    assert (r.positions.gt(0).sum(axis=1).iloc[max(decisions) :] == top_k).all()


def test_ts_momentum_against_a_loop() -> None:
    prices = synthetic(n_days=400, n_sym=3, seed=5)
    r = backtest(prices, "ts_momentum", lookback=4, skip=1)
    values = prices.to_numpy()
    ends = set(month_end_rows(prices.index))
    sleeves, holdings = [], []
    for j in range(values.shape[1]):
        held, decision, sleeve, curve, path = 0.0, 0.0, 1.0, [], []
        for t in range(len(values)):
            if t > 0:
                sleeve *= 1 + held * (values[t, j] / values[t - 1, j] - 1)
            held = decision  # the decision of the previous close executes at this close
            curve.append(sleeve)
            path.append(held)
            if t in ends:
                score = momentum_scores(values[:, j], t, 4, 1)
                decision = float(score is not None and score > 0)
        sleeves.append(curve)
        holdings.append(path)
    np.testing.assert_allclose(r.equity.to_numpy(), np.mean(sleeves, axis=0), rtol=1e-12)
    np.testing.assert_array_equal((r.positions > 0).to_numpy(), np.array(holdings).T > 0)
    assert 0 < r.metrics["time_in_market"] < 1


def test_rsi_reversion_against_a_loop() -> None:
    prices = real("XOM", "KO")
    r = backtest(prices, "rsi_reversion", period=14, lower=35, upper=65)
    for symbol in prices.columns:
        level = rsi(prices[symbol], 14).to_numpy()
        state, decisions = 0.0, []
        for value in level:
            if value < 35:
                state = 1.0
            elif value > 65:
                state = 0.0
            decisions.append(state)
        held = [0.0] + decisions[:-1]
        np.testing.assert_array_equal((r.positions[symbol] > 0).to_numpy(), np.array(held) > 0)


# ---------------------------------------------------------------------------------------------------
# No look-ahead: prices after t never change anything up to t

CASES = [
    ("buy_and_hold", {}),
    ("sma_crossover", {"fast": 5, "slow": 20}),
    ("ts_momentum", {"lookback": 6, "skip": 1}),
    ("ts_momentum", {"lookback": 3, "skip": 0, "rebalance": "D"}),
    ("xs_momentum", {"lookback": 6, "skip": 1, "top_k": 2}),
    ("xs_momentum", {"lookback": 3, "skip": 0, "top_k": 2}),  # skip=0: the decision uses the day's close
    ("rsi_reversion", {"period": 10, "lower": 40, "upper": 60}),
]
LOOKAHEAD_PRICES = synthetic(n_days=300, n_sym=4, seed=9)
LOOKAHEAD_OPENS = LOOKAHEAD_PRICES.shift(1).fillna(LOOKAHEAD_PRICES.iloc[0]) * 1.001
# Month ends (and the day after) are where the monthly strategies decide and trade: always tried too.
_EDGES = [r + d for r in month_end_rows(LOOKAHEAD_PRICES.index) for d in (0, 1) if 2 <= r + d <= 298]
CUTS = st.one_of(st.integers(2, 298), st.sampled_from(_EDGES))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(CASES),
    cut=CUTS,
    seed=st.integers(0, 2**16),
    execution=st.sampled_from(["close", "open"]),
)
def test_prices_after_t_never_change_positions_or_equity_up_to_t(
    case: tuple[str, dict], cut: int, seed: int, execution: str
) -> None:
    name, params = case
    noise = np.exp(np.random.default_rng(seed).normal(0, 0.1, LOOKAHEAD_PRICES.shape))
    noise[: cut + 1] = 1.0
    changed, changed_opens = LOOKAHEAD_PRICES * noise, LOOKAHEAD_OPENS * noise
    kwargs = {"execution": execution, "cost_bps": 7.0}
    before = backtest(LOOKAHEAD_PRICES, name, opens=LOOKAHEAD_OPENS, **kwargs, **params)
    after = backtest(changed, name, opens=changed_opens, **kwargs, **params)
    np.testing.assert_array_equal(before.equity.to_numpy()[: cut + 1], after.equity.to_numpy()[: cut + 1])
    np.testing.assert_array_equal(before.positions.to_numpy()[: cut + 1], after.positions.to_numpy()[: cut + 1])
    day = LOOKAHEAD_PRICES.index[cut]
    early_before, early_after = before.trades["date"] <= day, after.trades["date"] <= day
    pd.testing.assert_frame_equal(before.trades[early_before], after.trades[early_after])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(CASES),
    cut=CUTS,
    seed=st.integers(0, 2**16),
    execution=st.sampled_from(["close", "open"]),
)
def test_what_is_held_at_a_close_was_decided_before_it(
    case: tuple[str, dict], cut: int, seed: int, execution: str
) -> None:
    # Stronger than causality: the day's own close (and open) may not decide that day's holdings either.
    name, params = case
    noise = np.exp(np.random.default_rng(seed).normal(0, 0.5, LOOKAHEAD_PRICES.shape))
    noise[:cut] = 1.0
    changed, changed_opens = LOOKAHEAD_PRICES * noise, LOOKAHEAD_OPENS * noise
    kwargs = {"execution": execution}
    before = backtest(LOOKAHEAD_PRICES, name, opens=LOOKAHEAD_OPENS, **kwargs, **params)
    after = backtest(changed, name, opens=changed_opens, **kwargs, **params)
    np.testing.assert_array_equal(before.equity.to_numpy()[:cut], after.equity.to_numpy()[:cut])
    np.testing.assert_array_equal(
        (before.positions > 0).to_numpy()[: cut + 1], (after.positions > 0).to_numpy()[: cut + 1]
    )
    # Trades before the day are fixed; on the day itself only the sizes of rebalancing trades may move.
    day = LOOKAHEAD_PRICES.index[cut]
    early_before, early_after = before.trades["date"] < day, after.trades["date"] < day
    pd.testing.assert_frame_equal(before.trades[early_before], after.trades[early_after])


@pytest.mark.parametrize("execution", ["close", "open"])
@pytest.mark.parametrize("case", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_holdings_at_every_month_end_were_decided_before_it(case: tuple[str, dict], execution: str) -> None:
    # The same property as above, exhaustively at the rows where monthly strategies decide and trade.
    name, params = case
    before = backtest(LOOKAHEAD_PRICES, name, opens=LOOKAHEAD_OPENS, execution=execution, **params)
    for cut in _EDGES:
        noise = np.exp(np.random.default_rng(cut).normal(0, 0.5, LOOKAHEAD_PRICES.shape))
        noise[:cut] = 1.0
        after = backtest(LOOKAHEAD_PRICES * noise, name, opens=LOOKAHEAD_OPENS * noise, execution=execution, **params)
        held_before, held_after = (before.positions > 0).to_numpy(), (after.positions > 0).to_numpy()
        np.testing.assert_array_equal(held_before[: cut + 1], held_after[: cut + 1], err_msg=f"cut={cut}")
        np.testing.assert_array_equal(before.equity.to_numpy()[:cut], after.equity.to_numpy()[:cut])


def test_every_strategy_is_covered_by_the_lookahead_check() -> None:
    assert {name for name, _ in CASES} | {"index"} == set(STRATEGIES)


# ---------------------------------------------------------------------------------------------------
# Parameter sweep


def test_sweep_sharpe_equals_risk_metrics_on_the_split_equity() -> None:
    prices = real("AAPL")
    grid = {"fast": [5, 10, 50], "slow": [20, 50]}
    out = parameter_sweep(prices, "sma_crossover", grid, split=0.6, cost_bps=3)
    assert out.attrs["skipped"] == 2  # (50, 20) and (50, 50): fast must be shorter than slow
    assert out[["fast", "slow"]].values.tolist() == [[5, 20], [5, 50], [10, 20], [10, 50]]
    row = int(round(len(prices) * 0.6))
    assert out.attrs["split_date"] == prices.index[row]
    for _, combo in out.iterrows():
        equity = backtest(prices, "sma_crossover", fast=int(combo.fast), slow=int(combo.slow), cost_bps=3).equity
        assert combo.sharpe_is == pytest.approx(risk_metrics(equity.iloc[:row])["sharpe"], rel=1e-9)
        assert combo.sharpe_oos == pytest.approx(risk_metrics(equity.iloc[row - 1 :])["sharpe"], rel=1e-9)
        assert combo.return_oos == pytest.approx(equity.iloc[-1] / equity.iloc[row - 1] - 1, rel=1e-12)


def test_sweep_split_by_date_and_multi_symbol() -> None:
    prices = real("AAPL", "XOM", "JPM")
    out = parameter_sweep(prices, "xs_momentum", {"top_k": [1, 2], "lookback": [6, 12]}, split="2023-01-03")
    assert out.attrs["split_date"] == pd.Timestamp("2023-01-03")
    assert len(out) == 4 and out[["sharpe_is", "sharpe_oos"]].notna().all().all()


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("sma_crossover", {"fast": [50], "slow": [20]}), {}, "no valid parameter combination"),
        (("sma_crossover", {"speed": [1]}), {}, "unknown parameter"),
        (("sma_crossover", {}), {}, "non-empty mapping"),
        (("sma_crossover", {"fast": []}), {}, "non-empty list"),
        (("sma_crossover", {"fast": [5]}), {"split": 1.5}, "fraction between 0 and 1"),
        (("sma_crossover", {"fast": [5]}), {"split": "2031-01-01"}, "outside the data"),
        (("nope", {"fast": [5]}), {}, "unknown strategy"),
    ],
)
def test_sweep_bad_input(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parameter_sweep(real("AAPL"), *args, **kwargs)


# ---------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("strategy", "kwargs", "message"),
    [
        ("sma_crossover", {"fast": 50, "slow": 20}, r"fast \(50\) must be shorter than slow \(20\)"),
        ("sma_crossover", {"fast": 0}, "fast must be an integer >= 1"),
        ("sma_crossover", {"window": 3}, "unknown parameter"),
        ("ts_momentum", {"skip": 12}, "skip .* must be less than lookback"),
        ("ts_momentum", {"rebalance": "Q"}, "rebalance must be 'D' or 'M'"),
        ("xs_momentum", {"top_k": 5}, "top_k=5 is larger than the number of symbols"),
        ("rsi_reversion", {"lower": 70, "upper": 30}, "lower .* must be below upper"),
        ("rsi_reversion", {"upper": 100}, "upper must be between 0 and 100"),
        ("momentum", {}, "unknown strategy"),
        ("buy_and_hold", {"execution": "open"}, "needs opens"),
        ("buy_and_hold", {"execution": "vwap"}, "execution must be 'close' or 'open'"),
        ("buy_and_hold", {"cost_bps": -1}, "cost_bps must be a number between 0 and"),
        ("buy_and_hold", {"spread_bps": 5000}, "spread_bps must be a number between 0 and"),
    ],
)
def test_bad_input_messages(strategy: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        backtest(real("AAPL", "MSFT"), strategy, **kwargs)


def test_bad_prices_messages() -> None:
    with pytest.raises(ValueError, match="at least 2 sessions"):
        backtest(real("AAPL").iloc[:1], "buy_and_hold")
    with pytest.raises(ValueError, match="no price history for: Z"):
        backtest(real("AAPL").assign(Z=np.nan), "buy_and_hold")
    with pytest.raises(ValueError, match="strictly positive"):
        backtest(real("AAPL") * 0, "buy_and_hold")
    with pytest.raises(ValueError, match="opens lack symbol"):
        backtest(real("AAPL", "MSFT"), "buy_and_hold", execution="open", opens=real("AAPL"))


def test_missing_prices_block_trading_and_carry_value() -> None:
    prices = pd.DataFrame({"A": [10.0, np.nan, 11, 12], "B": [np.nan, np.nan, 20, 22]}, index=SIX[:4])
    r = backtest(prices, "buy_and_hold")
    # A bought at the first close; B's sleeve waits in cash until B's first price (day 2).
    np.testing.assert_allclose(r.equity.to_numpy(), [1.0, 1.0, (1.1 + 1) / 2, (1.2 + 1.1) / 2], rtol=1e-14)
    assert r.trades[["date", "symbol"]].values.tolist() == [[SIX[0], "A"], [SIX[2], "B"]]


def test_callable_strategy_targets_execute_at_the_next_close() -> None:
    prices = real("AAPL", "MSFT").iloc[:60]

    def half_each(frame: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(np.nan, index=frame.index, columns=frame.columns)
        out.iloc[0] = 0.5
        return out

    r = backtest(prices, half_each, cost_bps=10)
    grown = (prices / prices.iloc[1]).mean(axis=1) * (1 - 10 / 1e4)
    np.testing.assert_allclose(r.equity.iloc[1:].to_numpy(), grown.iloc[1:].to_numpy(), rtol=1e-12)
    assert r.equity.iloc[0] == 1.0 and r.strategy == "half_each"
