"""Index builder benchmark: synthetic 500 x 5,000 daily rebalance and the S&P 500 bundle's quarterly top 100.

Baselines measured in the same run: straightforward per-day Python loops (written here, checked to give the same
levels). Goals: daily <= 0.3 s and >= 20x the per-day pandas loop; top-100 quarterly <= 0.5 s; peak traced
memory <= 300 MB.

    python benchmarks/index.py [--runs 5]

Prints PASS/FAIL per goal and always exits 0 (figures are for reading; the tests do not time anything).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.index import build_index, equal_weight_index, rebalance_schedule  # noqa: E402

BUNDLE = ROOT / "data" / "sp500"
GOALS = {"daily_s": 0.3, "daily_ratio": 20.0, "top100_s": 0.5, "peak_mb": 300.0}
COST_BPS = 5.0


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """Median wall time of ``runs`` calls after one warm-up call."""
    out = fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), out


def peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# ---------------------------------------------------------------------------------------------------
# Baselines: the obvious per-day loops


def loop_pandas(
    prices: pd.DataFrame, rebalance_days: set[pd.Timestamp], cost_bps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The obvious per-day loop over pandas rows, with the same outputs as ours (net, gross, weights, turnover)."""
    c = cost_bps / 1e4
    returns = prices.pct_change()
    target = pd.Series(1.0 / prices.shape[1], index=prices.columns)
    weights = target.copy()
    net, gross = 1000.0 * (1 - c), 1000.0
    nets, grosses, rows, turnover = [], [], [], [1.0]
    for i, day in enumerate(prices.index):
        if i > 0:
            grown = weights * (1 + returns.iloc[i])
            total = grown.sum()
            net, gross = net * total, gross * total
            weights = grown / total
            if day in rebalance_days:
                traded = (target - weights).abs().sum()
                turnover.append(traded / 2)
                net *= 1 - c * traded
                weights = target.copy()
        nets.append(net)
        grosses.append(gross)
        rows.append(weights)
    frame = pd.DataFrame(rows, index=prices.index)
    return np.array(nets), np.array(grosses), frame.to_numpy(), np.array(turnover)


def loop_numpy(
    prices: pd.DataFrame, rebalance_days: set[pd.Timestamp], cost_bps: float, *, levels_only: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same loop on numpy rows (a stronger baseline: no pandas overhead per day)."""
    c = cost_bps / 1e4
    values = prices.to_numpy()
    n_days, n_sym = values.shape
    is_rebalance = np.array([day in rebalance_days for day in prices.index])
    target = np.full(n_sym, 1.0 / n_sym)
    weights = target.copy()
    net, gross = 1000.0 * (1 - c), 1000.0
    nets, grosses = np.empty(n_days), np.empty(n_days)
    rows = np.empty((0, n_sym)) if levels_only else np.empty((n_days, n_sym))
    turnover = [1.0]
    nets[0], grosses[0] = net, gross
    if not levels_only:
        rows[0] = weights
    for i in range(1, n_days):
        grown = weights * (values[i] / values[i - 1])
        total = grown.sum()
        net, gross = net * total, gross * total
        weights = grown / total
        if is_rebalance[i]:
            traded = np.abs(target - weights).sum()
            turnover.append(traded / 2)
            net *= 1 - c * traded
            weights = target.copy()
        nets[i], grosses[i] = net, gross
        if not levels_only:
            rows[i] = weights
    return nets, grosses, rows, np.array(turnover)


def loop_top_n(
    prices: pd.DataFrame, raw: pd.DataFrame, shares: pd.DataFrame, top_n: int, code: str, cost_bps: float
) -> pd.Series:
    """Per-rebalance pandas ranking (as-of shares, raw close else adjusted) and a per-day holdings loop."""
    c = cost_bps / 1e4
    sched = rebalance_schedule(prices.index, code)
    starts = pd.DataFrame({"reference_date": [prices.index[0]], "effective_date": [prices.index[0]]})
    sched = pd.concat([starts, sched], ignore_index=True)
    members_at = {}
    for ref, eff in zip(sched["reference_date"], sched["effective_date"], strict=True):
        known = shares[shares["published"] <= ref].sort_values(["published", "period_end"])
        latest = known.groupby("symbol")["shares"].last()
        price = raw.loc[ref].reindex(prices.columns) if ref in raw.index else pd.Series(np.nan, prices.columns)
        price = price.fillna(prices.loc[ref])
        cap = (price * latest.reindex(prices.columns)).dropna()
        cap = cap[prices.loc[ref, cap.index].notna() & prices.loc[eff, cap.index].notna()]
        members_at[eff] = list(cap.sort_values(ascending=False, kind="stable").index[:top_n])
    carried = prices.ffill()
    units = pd.Series(dtype="float64")
    value, levels = 1000.0, []
    for i, day in enumerate(prices.index):
        row = carried.iloc[i]
        if i > 0:
            value = float((units * row[units.index]).sum())
        if day in members_at:
            members = members_at[day]
            before = (units * row[units.index]) / value if len(units) else pd.Series(dtype="float64")
            target = pd.Series(1.0 / len(members), index=members)
            traded = target.sub(before, fill_value=0.0).abs().sum()
            value *= 1 - c * traded
            units = target * value / row[members]
        levels.append(value)
    return pd.Series(levels, index=prices.index)


# ---------------------------------------------------------------------------------------------------


def load_bundle() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    adj = pd.read_parquet(BUNDLE / "adj_close_daily_2019_2026.parquet")
    closes = pd.read_parquet(BUNDLE / "close_volume_daily_2019_2024.parquet")
    former = closes.dropna(subset=["adj_close"])[["date", "symbol", "adj_close"]]
    prices = pd.concat([adj, former]).pivot(index="date", columns="symbol", values="adj_close").astype("float64")
    raw = closes.pivot(index="date", columns="symbol", values="close").astype("float64")
    volume = closes.pivot(index="date", columns="symbol", values="volume").astype("float64")
    quarterly = pd.read_parquet(BUNDLE / "shares_quarterly_fmp_2018_2025.parquet")
    snapshots = pd.read_parquet(BUNDLE / "marketcap_snapshots_yahoo_2024_2026.parquet")
    shares = pd.concat(
        [
            quarterly.rename(columns={"filing_date": "published"})[["symbol", "published", "period_end", "shares"]],
            snapshots.rename(columns={"date": "published"})[["symbol", "published", "shares"]],
        ],
        ignore_index=True,
    )
    return prices, raw, raw * volume, shares


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    print("== synthetic: 500 symbols x 5,000 sessions, daily rebalance, 5 bps")
    rng = np.random.default_rng(42)
    values = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.02, (5000, 500)), axis=0))
    prices = pd.DataFrame(
        values, index=pd.bdate_range("2005-01-03", periods=5000), columns=[f"S{i:03d}" for i in range(500)]
    )
    days = set(rebalance_schedule(prices.index, "D")["effective_date"])

    ours_s, ours = timed(lambda: equal_weight_index(prices, rebalance="D", cost_bps=COST_BPS), args.runs)
    pandas_s, by_pandas = timed(lambda: loop_pandas(prices, days, COST_BPS), 1)
    numpy_s, by_numpy = timed(lambda: loop_numpy(prices, days, COST_BPS), max(1, args.runs // 2))
    bare_s, _ = timed(lambda: loop_numpy(prices, days, COST_BPS, levels_only=True), max(1, args.runs // 2))
    mine = (ours.levels.to_numpy(), ours.gross_levels.to_numpy(), ours.weights.to_numpy(), ours.turnover.to_numpy())
    gap = max(
        float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
        for loop in (by_pandas, by_numpy)
        for a, b in zip(mine, loop, strict=True)
    )
    memory = peak_mb(lambda: equal_weight_index(prices, rebalance="D", cost_bps=COST_BPS))
    goal = GOALS["daily_s"]
    print(f"  analytics.index          {ours_s:8.3f} s   (goal <= {goal} s)  {verdict(ours_s <= goal)}")
    ratio = pandas_s / ours_s
    print(
        f"  per-day pandas loop      {pandas_s:8.3f} s   ratio {ratio:6.1f}x (goal >= {GOALS['daily_ratio']:.0f}x)  "
        f"{verdict(ratio >= GOALS['daily_ratio'])}"
    )
    print(f"  per-day numpy-row loop   {numpy_s:8.3f} s   ratio {numpy_s / ours_s:6.1f}x (stronger baseline, no goal)")
    print(f"  the same, levels only    {bare_s:8.3f} s   ratio {bare_s / ours_s:6.1f}x (no weights kept; no goal)")
    print(f"  largest relative difference (net, gross, weights, turnover) vs both loops: {gap:.1e}")
    limit = GOALS["peak_mb"]
    print(f"  peak traced memory       {memory:8.1f} MB  (goal <= {limit:.0f} MB)  {verdict(memory <= limit)}")

    print("== S&P 500 bundle: top 100 by point-in-time market cap, equal weight, 5 bps")
    t0 = time.perf_counter()
    prices, raw, dollar_volume, shares = load_bundle()
    shape = f"{prices.shape[1]} symbols x {len(prices)} sessions"
    print(f"  load bundle (parquet -> wide)  {time.perf_counter() - t0:.3f} s  {shape}")
    for code in ("Q", "SPX"):
        run = lambda code=code: build_index(  # noqa: E731
            prices,
            shares=shares,
            top_n=100,
            rebalance=code,
            raw_close=raw,
            dollar_volume=dollar_volume,
            cost_bps=COST_BPS,
        )
        top_s, result = timed(run, args.runs)
        memory = peak_mb(run)
        goal = GOALS["top100_s"]
        print(
            f"  rebalance={code:<3}  {top_s:6.3f} s  (goal <= {goal} s)  {verdict(top_s <= goal)}"
            f"   {len(result.rebalance_dates)} rebalances, {len(result.changes)} changes, "
            f"cost drag {result.cost_drag:.2%}, peak {memory:.0f} MB {verdict(memory <= GOALS['peak_mb'])}"
        )
    # Baseline: market-cap ranking only (no dollar-volume fallback), so the check run drops it too.
    base_s, base_levels = timed(lambda: loop_top_n(prices, raw, shares, 100, "Q", COST_BPS), 1)
    ours_s, ours = timed(
        lambda: build_index(prices, shares=shares, top_n=100, rebalance="Q", raw_close=raw, cost_bps=COST_BPS),
        args.runs,
    )
    gap = float(np.max(np.abs(ours.levels.to_numpy() / base_levels.to_numpy() - 1)))
    print(
        f"  market-cap only, Q: ours {ours_s:.3f} s vs per-rebalance pandas loop {base_s:.3f} s "
        f"-> {base_s / ours_s:.1f}x; max relative difference of the levels {gap:.1e}"
    )
    from benchmarks.suite import emit

    emit(
        {"market-cap only, Q: ours (s)": ours_s, "per-rebalance pandas loop (s, baseline)": base_s}, {}
    )  # goals: lines
    return 0


if __name__ == "__main__":
    sys.exit(main())
