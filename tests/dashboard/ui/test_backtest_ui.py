"""The Backtest page's pieces without a page: price inputs from bars, input checks, sweep grids, URL state, files."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analytics.backtest import backtest, parameter_sweep
from dashboard.ui import backtest_figures, exports, url_state
from dashboard.ui import backtest_loaders as bt

DAYS = pd.bdate_range("2024-01-02", periods=4)


def long_bars(**columns) -> pd.DataFrame:
    rows = []
    for symbol, values in columns.items():
        for day, (open_, close, adj) in zip(DAYS, values, strict=True):
            rows.append({"date": day, "symbol": symbol, "open": open_, "close": close, "adj_close": adj})
    return pd.DataFrame(rows)


def test_price_inputs_put_opens_on_the_adjusted_basis():
    bars = long_bars(
        B=[(10.0, 11.0, 5.5), (11.0, 12.0, 6.0), (12.0, 12.0, 6.0), (13.0, 12.0, 6.0)],
        A=[(100.0, 100.0, 100.0)] * 4,
    )
    inputs = bt.price_inputs_from_bars(bars, ["A", "B"])
    assert list(inputs.closes.columns) == ["A", "B"] and inputs.lacking_opens == ()
    assert inputs.closes["B"].tolist() == [5.5, 6.0, 6.0, 6.0]
    assert inputs.opens is not None and inputs.opens["B"].tolist() == pytest.approx([5.0, 5.5, 6.0, 6.5])


def test_a_ticker_with_adjusted_closes_only_cannot_trade_at_the_open():
    bars = long_bars(
        A=[(100.0, 100.0, 100.0)] * 4,
        S=[(None, None, 7.0), (None, None, 7.5), (None, None, 7.0), (None, None, 8.0)],
        T=[(1.0, 1.0, 1.0), (np.nan, 1.0, 1.0), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0)],
    )
    inputs = bt.price_inputs_from_bars(bars, ["A", "S", "T"])
    assert inputs.opens is None and inputs.lacking_opens == ("S", "T")
    assert inputs.closes["S"].tolist() == [7.0, 7.5, 7.0, 8.0]  # the adjusted closes still trade at the close


def test_a_ticker_without_bars_is_an_empty_column():
    inputs = bt.price_inputs_from_bars(long_bars(A=[(1.0, 1.0, 1.0)] * 4), ["A", "Z"])
    assert inputs.closes["Z"].isna().all() and inputs.lacking_opens == ()
    with pytest.raises(ValueError, match="no price history for: Z"):
        backtest(inputs.closes, "buy_and_hold")
    nothing = bt.price_inputs_from_bars(long_bars(), ["A"])
    assert nothing.closes.empty and list(nothing.closes.columns) == ["A"] and nothing.lacking_opens == ()


def test_ticker_checks_name_each_problem():
    good, problems = bt.check_tickers("aapl, A$B msftt NEW aapl", ["AAPL", "MSFT", "SPY"], ["AAPL", "MSFT", "NEW"])
    assert good == ["AAPL"]
    assert problems[0].startswith("'A$B' is not a symbol: it may contain only letters")
    assert problems[1] == "NEW has no stored price history."
    assert problems[2] == "Unknown ticker “MSFTT”. Did you mean MSFT?"
    assert bt.check_tickers("", ["AAPL"]) == ([], [])


def test_sweep_values_and_grid():
    sma = bt.STRATEGIES["SMA crossover"]
    fast, slow = sma.params
    assert bt.parse_values("5, 10;20 10", fast) == [5, 10, 20]
    assert bt.parse_values("", fast) == []
    with pytest.raises(ValueError, match="Fast SMA .*: “x” is not a number"):
        bt.parse_values("5,x", fast)
    with pytest.raises(ValueError, match="2.5 is not a whole number"):
        bt.parse_values("2.5", fast)
    rsi = bt.STRATEGIES["RSI mean reversion"]
    assert bt.parse_values("30,32.5", rsi.params[1]) == [30.0, 32.5]
    grid, axes = bt.sweep_grid(sma, {"fast": "5,10", "slow": ""}, {"fast": 20, "slow": 50})
    assert grid == {"fast": [5, 10], "slow": [50]} and axes == ["fast"]
    with pytest.raises(ValueError, match="at most two parameters"):
        bt.sweep_grid(rsi, {"period": "7,14", "lower": "20,30", "upper": "70,80"}, {})
    with pytest.raises(ValueError, match="The grid has 441 combinations"):
        bt.sweep_grid(sma, {"fast": ",".join(map(str, range(21))), "slow": ",".join(map(str, range(50, 71)))}, {})


def test_every_strategy_of_the_registry_is_a_named_analytics_strategy_with_its_defaults():
    # The saved index will be one more entry; the five of the issue run analytics.backtest by name.
    assert list(bt.STRATEGIES)[:5] == [
        "Buy and hold",
        "SMA crossover",
        "Time-series momentum (12-1)",
        "Cross-sectional momentum",
        "RSI mean reversion",
    ]
    momentum = bt.STRATEGIES["Time-series momentum (12-1)"]
    assert dict(momentum.defaults) == {"lookback": 12, "skip": 1, "rebalance": "M"}
    assert [p.name for p in momentum.params] == ["lookback", "skip", "rebalance"]
    assert [p.name for p in momentum.sweepable] == ["lookback", "skip"]
    xs = bt.STRATEGIES["Cross-sectional momentum"]
    top_k = xs.params[2]
    assert bt.default_value(xs, top_k, 30) == 10 and bt.default_value(xs, top_k, 6) == 3
    assert bt.STRATEGIES["Buy and hold"].sweep is None


def test_backtest_view_encodes_what_the_bound_widgets_read():
    view = url_state.BacktestView(
        "SMA crossover", ("AAPL",), date(2020, 1, 2), date(2021, 1, 4), (("fast", 10), ("slow", 40)), cost_bps=2.5
    )
    params = url_state.backtest_params(view)
    assert params == {
        "bt_strategy": "SMA crossover",
        "bt_t": "AAPL",
        "bt_bench": "SPY",
        "bt_dates": ["2020-01-02", "2021-01-04"],
        "bt_fast": "10",
        "bt_slow": "40",
        "bt_cost": "2.5",
        "bt_spread": "0",
        "bt_rf": "0",
        "bt_exec": "Next close",
    }
    with_sweep = url_state.backtest_params(
        url_state.BacktestView(
            "SMA crossover", ("AAPL",), date(2020, 1, 2), date(2021, 1, 4), sweep=(("fast", "5,10"),)
        )
    )
    assert with_sweep["bt_sweep"] == "true" and with_sweep["bt_sw_fast"] == "5,10" and with_sweep["bt_split"] == "70"


def test_refused_link_values():
    link = {
        "bt_dates": ["2031-01-02", "2031-02-02"],
        "bt_fast": ["0"],
        "bt_slow": ["50"],
        "bt_cost": ["2.50"],
        "bt_sweep": ["true"],
        "bt_exec": ["Next open"],
        "bt_other": ["x"],
    }
    taken = {
        "bt_dates": (date(2019, 1, 2), date(2026, 6, 25)),
        "bt_fast": 20,
        "bt_slow": 50,
        "bt_cost": 2.5,
        "bt_sweep": True,
        "bt_exec": "Next close",
    }
    assert url_state.refused(link, taken) == {
        "bt_dates": ["2031-01-02", "2031-02-02"],
        "bt_fast": ["0"],
        "bt_exec": ["Next open"],
    }
    assert url_state.link_values({"bt_t": "AAPL", "t": "X", "bt_dates": ["a", "b"]}, "bt_") == {
        "bt_t": ["AAPL"],
        "bt_dates": ["a", "b"],
    }


def outcome() -> bt.Outcome:
    prices = pd.DataFrame(
        {"A": np.linspace(10, 20, 300), "B": 10 + np.sin(np.arange(300) / 9)},
        index=pd.bdate_range("2023-01-02", periods=300),
    )
    result = backtest(prices, "sma_crossover", fast=5, slow=20, cost_bps=5)
    return bt.Outcome(result, backtest(prices["A"], "buy_and_hold"))


def test_the_workbook_has_every_table_and_the_parameters():
    run = outcome()
    params = {"strategy": "SMA crossover", "data_as_of": "2024-02-23", "link": "?bt_t=A,B"}
    raw = exports.to_xlsx_sheets(bt.export_sheets(run, "SMA crossover", "A"), params)
    assert openpyxl.load_workbook(io.BytesIO(raw)).sheetnames == [
        "equity",
        "trades",
        "positions",
        "monthly_returns",
        "metrics",
        "parameters",
    ]
    sheets = pd.read_excel(io.BytesIO(raw), sheet_name=None)
    assert dict(zip(sheets["parameters"]["parameter"], sheets["parameters"]["value"], strict=True)) == params
    np.testing.assert_allclose(sheets["equity"]["equity"].to_numpy(), run.result.equity.to_numpy(), rtol=1e-12)
    assert len(sheets["trades"]) == len(run.result.trades)
    assert list(sheets["metrics"]["portfolio"]) == ["SMA crossover", "A (buy and hold, no costs)"]
    back, header = exports.read_csv_export(exports.to_csv(bt.equity_table(run)), exports.params_json(params))
    assert header == params and len(back) == 300
    assert back["drawdown"].max() <= 0 and back["benchmark_equity"].iloc[-1] == pytest.approx(2.0, rel=1e-6)


def test_heat_maps():
    run = outcome()
    monthly = backtest_figures.monthly_heatmap(run.result.monthly_returns)
    heat = monthly.data[0]
    assert list(heat.x)[-1] == "Year" and len(heat.y) == len(run.result.monthly_returns)
    assert heat.zmin == -heat.zmax
    prices = run.result.positions.index.to_series().pipe(
        lambda s: pd.Series(np.linspace(10, 20, len(s)), index=s.index)
    )
    sweep = parameter_sweep(prices, "sma_crossover", {"fast": [2, 5], "slow": [5, 10, 20]})
    two = backtest_figures.sweep_heatmap(sweep, "fast", "slow", "sharpe_is", "t", (-1.0, 1.0)).data[0]
    assert list(two.x) == ["2", "5"] and list(two.y) == ["5", "10", "20"]
    assert np.isnan(two.z[0][1])  # fast 5 >= slow 5: left out, an empty cell
    one = backtest_figures.sweep_heatmap(sweep[sweep["slow"] == 20], "fast", None, "sharpe_oos", "t", (-1.0, 1.0))
    assert np.asarray(one.data[0].z).shape == (1, 2)
    assert backtest_figures.sharpe_range(pd.Series([0.5, -2.0]), pd.Series([np.nan, 1.0])) == (-2.0, 2.0)


@pytest.mark.parametrize(
    ("text", "unbounded"),
    [
        ("inf", True),
        ("-Infinity", True),
        ("1e400", True),
        ("nan", True),
        ("NaN", True),
        ("5", False),
        ("1e9", False),
        ("", False),
        ("abc", False),
        ("-3", False),
        ("2.5", False),
    ],
)
def test_unbounded_numbers_in_links(text, unbounded):
    from dashboard.ui import url_state

    assert url_state.unbounded_number(text) is unbounded
