"""Backtest benchmark: 3 strategies x 100 S&P 500 symbols x 7.5 years, and a 20 x 20 SMA-crossover sweep.

Baseline measured in the same run (when `bt` is installed): bt doing the same work for buy-and-hold (100 symbols,
one portfolio) and the SMA crossover (one bt backtest per symbol, which is what our per-symbol sleeves are; bt
needs about a second per run, so it is timed on a sample of symbols / sweep combinations and scaled up, said so
in the output). Results are checked to agree before the times are compared. Goals: each workload <= 2 s.

    python benchmarks/backtest.py [--runs 3] [--bt-symbols 5] [--bt-combos 3] [--no-bt]

Prints PASS/FAIL per goal and always exits 0 (the tests do not time anything).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.backtest import backtest, parameter_sweep  # noqa: E402

BUNDLE = ROOT / "data" / "sp500"
GOAL_S = 2.0
STRATEGIES = {
    "sma_crossover": {"fast": 20, "slow": 50},
    "ts_momentum": {"lookback": 12, "skip": 1},
    "rsi_reversion": {"period": 14, "lower": 30, "upper": 70},
}
GRID = {"fast": list(range(2, 22)), "slow": list(range(30, 230, 10))}  # 20 x 20, every pair valid


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """Median wall time of ``runs`` calls after one warm-up call."""
    out = fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), out


def once(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def verdict(seconds: float) -> str:
    return "PASS" if seconds <= GOAL_S else "FAIL"


def load_prices(n: int) -> pd.DataFrame:
    adj = pd.read_parquet(BUNDLE / "adj_close_daily_2019_2026.parquet")
    wide = adj.pivot(index="date", columns="symbol", values="adj_close").astype("float64")
    wide.index = pd.DatetimeIndex(wide.index)
    complete = wide.columns[wide.notna().all()]
    return wide[complete[:n]]


# ---------------------------------------------------------------------------------------------------
# bt equivalents


def bt_buy_and_hold(bt: object, prices: pd.DataFrame) -> pd.Series:
    algos = [bt.algos.RunOnce(), bt.algos.SelectAll(), bt.algos.WeighEqually(), bt.algos.Rebalance()]
    test = bt.Backtest(bt.Strategy("bh", algos), prices, integer_positions=False, progress_bar=False)
    level = bt.run(test).prices["bh"].loc[prices.index]
    return level / level.iloc[0]


def bt_sma_sleeve(bt: object, series: pd.Series, fast: int, slow: int) -> pd.Series:
    one = series.to_frame()
    # bt trades at the close of the day it selects: give it the previous close's decision.
    decision = (one.rolling(fast).mean() > one.rolling(slow).mean()).shift(1, fill_value=False)
    algos = [bt.algos.SelectWhere(decision), bt.algos.WeighEqually(), bt.algos.Rebalance()]
    test = bt.Backtest(bt.Strategy("sma", algos), one, integer_positions=False, progress_bar=False)
    level = bt.run(test).prices["sma"]
    return (level / level.iloc[0]).reindex(series.index).fillna(1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bt-symbols", type=int, default=5, help="symbols bt runs the SMA crossover on")
    parser.add_argument("--bt-combos", type=int, default=3, help="sweep combinations bt runs")
    parser.add_argument("--no-bt", action="store_true")
    args = parser.parse_args()

    prices = load_prices(100)
    years = (prices.index[-1] - prices.index[0]).days / 365.25
    print(f"== {prices.shape[1]} symbols x {len(prices)} sessions ({years:.1f} years), costs 5 bps")

    def portfolio_runs() -> list:
        return [backtest(prices, name, cost_bps=5, **params) for name, params in STRATEGIES.items()]

    def symbol_runs() -> None:
        for symbol in prices.columns:
            for name, params in STRATEGIES.items():
                backtest(prices[symbol], name, cost_bps=5, **params)

    names = " + ".join(STRATEGIES)
    port_s, results = timed(portfolio_runs, args.runs)
    print(f"  {names}, 3 runs on the 100-symbol frame: {port_s:6.3f} s  (goal <= {GOAL_S} s)  {verdict(port_s)}")
    single_s, _ = timed(symbol_runs, max(1, args.runs - 2))
    print(f"  the same as 300 single-symbol backtests:   {single_s:6.3f} s  (goal <= {GOAL_S} s)  {verdict(single_s)}")
    xs_s, _ = timed(lambda: backtest(prices, "xs_momentum", top_k=10, cost_bps=5), args.runs)
    print(f"  xs_momentum (top 10 of 100, monthly):      {xs_s:6.3f} s")
    print(f"  peak traced memory (3 portfolio runs):     {peak_mb(portfolio_runs):6.1f} MB")
    for result in results:
        m = result.metrics
        line = f"sharpe {m['sharpe']:5.2f}  trades {m['trades']:5.0f}  cost {m['total_cost']:.2%}"
        print(f"    {result.strategy:<14} {line}")

    aapl = prices["AAPL"]
    print(f"== SMA crossover sweep on AAPL: {len(GRID['fast'])} fast x {len(GRID['slow'])} slow, split 70/30")
    sweep_s, sweep = timed(lambda: parameter_sweep(aapl, "sma_crossover", GRID, split=0.7), args.runs)
    best = sweep.sort_values("sharpe_is").iloc[-1]
    print(
        f"  parameter_sweep: {sweep_s:6.3f} s for {len(sweep)} combinations  (goal <= {GOAL_S} s)  {verdict(sweep_s)}"
    )
    print(
        f"    best in-sample: fast {best.fast:.0f} slow {best.slow:.0f} sharpe {best.sharpe_is:.2f}, "
        f"out-of-sample {best.sharpe_oos:.2f}"
    )

    from benchmarks.suite import emit

    figures = {"3 strategies, 100 symbols (s)": port_s, "300 single-symbol backtests (s)": single_s}
    figures.update({"xs_momentum (s)": xs_s, "sweep (s)": sweep_s})
    goals = {f"{k} <= {GOAL_S} s": v <= GOAL_S for k, v in figures.items() if k != "xs_momentum (s)"}
    emit(figures, goals)  # again below with bt's figures when bt runs
    if args.no_bt:
        return 0
    try:
        import bt
    except ImportError:
        print("== bt is not installed: no baseline (pip install 'bt==1.4.*')")
        return 0
    warnings.filterwarnings("ignore")
    print("== baseline: bt", bt.__version__, "(same run, same data)")
    bh_s, bh_bt = once(lambda: bt_buy_and_hold(bt, prices))
    ours_bh_s, ours_bh = timed(lambda: backtest(prices, "buy_and_hold"), args.runs)
    gap = float(np.max(np.abs(ours_bh.equity.to_numpy() / bh_bt.to_numpy() - 1)))
    print(
        f"  buy_and_hold, 100 symbols: bt {bh_s:6.3f} s vs ours {ours_bh_s:6.3f} s -> {bh_s / ours_bh_s:7.1f}x"
        f"   (equity agrees to {gap:.1e})"
    )
    sample = prices.columns[: args.bt_symbols]
    fast, slow = STRATEGIES["sma_crossover"]["fast"], STRATEGIES["sma_crossover"]["slow"]
    sma_s, sleeves = once(lambda: [bt_sma_sleeve(bt, prices[s], fast, slow) for s in sample])
    ours_sma = backtest(prices[sample], "sma_crossover", fast=fast, slow=slow).equity
    gap = float(np.max(np.abs(ours_sma.to_numpy() / pd.concat(sleeves, axis=1).mean(axis=1).to_numpy() - 1)))
    per_run = sma_s / len(sample)
    ours_sma_s, _ = timed(lambda: backtest(prices, "sma_crossover", fast=fast, slow=slow), args.runs)
    print(
        f"  sma_crossover, 100 symbols: bt {per_run:.3f} s/symbol x 100 = {per_run * 100:6.1f} s (timed on "
        f"{len(sample)}) vs ours {ours_sma_s:6.3f} s -> {per_run * 100 / ours_sma_s:7.0f}x"
        f"   (equity agrees to {gap:.1e})"
    )
    # For scale: bt's usual multi-asset SMA (equal weight among the symbols in an uptrend, reset daily) is one run,
    # but it is a different strategy from independent sleeves, so it is not compared for equality.
    decision = (prices.rolling(fast).mean() > prices.rolling(slow).mean()).shift(1, fill_value=False)
    algos = [bt.algos.SelectWhere(decision), bt.algos.WeighEqually(), bt.algos.Rebalance()]
    canonical = bt.Backtest(bt.Strategy("sma100", algos), prices, integer_positions=False, progress_bar=False)
    canonical_s, _ = once(lambda: bt.run(canonical))
    print(f"  (bt's one-run multi-asset SMA over the 100 symbols, a different strategy: {canonical_s:.2f} s)")
    combos = list(zip(GRID["fast"], GRID["slow"], strict=True))[: args.bt_combos]
    sweep_bt_s, _ = once(lambda: [bt_sma_sleeve(bt, aapl, f, s) for f, s in combos])
    per_combo = sweep_bt_s / len(combos)
    print(
        f"  sweep of {len(sweep)}: bt {per_combo:.3f} s/combination x {len(sweep)} = {per_combo * len(sweep):6.0f} s "
        f"(timed on {len(combos)}) vs ours {sweep_s:6.3f} s -> {per_combo * len(sweep) / sweep_s:7.0f}x"
    )
    figures.update({"bt buy_and_hold (s, baseline)": bh_s, "ours buy_and_hold (s)": ours_bh_s})
    figures.update({"bt sma_crossover x100 (s, baseline, scaled)": per_run * 100, "ours sma_crossover (s)": ours_sma_s})
    figures["bt sweep (s, baseline, scaled)"] = per_combo * len(sweep)
    emit(figures, goals)
    return 0


if __name__ == "__main__":
    sys.exit(main())
