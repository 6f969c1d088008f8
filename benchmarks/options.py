"""Options analytics benchmark: IV + greeks for one full SPY session, against a per-contract brentq loop.

Goals: ``chain_greeks`` (price choice, IV, delta/gamma/vega/theta/rho for every contract of one SPY session,
~14,000 contracts) <= 50 ms median, and >= 20x faster than a per-contract ``scipy.optimize.brentq`` loop
(the old puller's approach: scalar price function, brentq on [1e-6, 10], scalar greeks) measured in the
same run. Also printed, without a goal: the bare vectorised arrays path, the peak memory of one
``chain_greeks`` call (tracemalloc), and the pure 63-session ``select_contract_series``.

From the database (goal: the 63-session SPY selection series <= 1 s): a scratch database (as
benchmarks/ingest_write.py makes one: --database-url, else $BENCH_DATABASE_URL, else the embedded server) gets
the 35-ticker sample (its Treasury yields) and the option demo bundle, both timed; then
``ingestion.options.contract_series`` (read + rates + selection) and ``session_chain`` (one session's chain with
our greeks, read included) are timed, against the pure in-memory ``select_contract_series`` of the same run as
the baseline. ``--no-database`` skips this part.

    python benchmarks/options.py [--path B1.parquet] [--session 2026-07-15] [--runs 9] [--baseline-runs 3]
                                 [--database-url URL | --no-database]

The default path is the shared B1 file (SPY, calls and puts); when it is absent the bundled demo subset
(data/options, calls only, dte <= 120, so ~5,000 contracts a session) is used and the goals are judged on that.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.options import (  # noqa: E402 - after the sys.path line, so the script runs from anywhere
    IV_LOWER,
    IV_UPPER,
    black_scholes,
    chain_greeks,
    implied_volatility,
    rate_for_expiry,
    select_contract_series,
)

# the project's shared data sits beside the work tree (/work/shared next to /work/main; likewise in CI)
SHARED = ROOT.parent / "shared" / "data" / "options" / "option_chains_eod_SPY_QQQ_AAPL_2026-05-22_2026-08-21.parquet"
BUNDLE = ROOT / "data" / "options" / "option_chains_eod_SPY_AAPL_calls_dte120_2026-05-22_2026-08-21.parquet"
GOAL_MS = 50.0
GOAL_SPEEDUP = 20.0
GOAL_SERIES_S = 1.0
CURVE = {0.25: 0.0386, 2.0: 0.0431}  # FRED DGS3MO / DGS2 on 2026-07-22, as decimals
Q = 0.011  # SPY's trailing dividend yield, roughly


def timed(run: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        samples.append(time.perf_counter() - t0)
    return samples


# --- the baseline: one contract at a time, as the old puller did ------------------------------------------


def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _scalar_price(S: float, K: float, T: float, r: float, q: float, sigma: float, call: bool) -> float:
    sq = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / sq
    d2 = d1 - sq
    if call:
        return S * math.exp(-q * T) * _cdf(d1) - K * math.exp(-r * T) * _cdf(d2)
    return K * math.exp(-r * T) * _cdf(-d2) - S * math.exp(-q * T) * _cdf(-d1)


def _scalar_greeks(S: float, K: float, T: float, r: float, q: float, sigma: float, call: bool) -> tuple:
    sq = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / sq
    d2 = d1 - sq
    pdf = math.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi)
    sign = 1.0 if call else -1.0
    dq, dr = math.exp(-q * T), math.exp(-r * T)
    delta = sign * dq * _cdf(sign * d1)
    gamma = dq * pdf / (S * sq)
    vega = S * dq * pdf * math.sqrt(T)
    theta = -S * dq * pdf * sigma / (2 * math.sqrt(T)) + sign * (
        q * S * dq * _cdf(sign * d1) - r * K * dr * _cdf(sign * d2)
    )
    rho = sign * K * T * dr * _cdf(sign * d2)
    return delta, gamma, vega, theta, rho


def baseline(chain: pd.DataFrame, spot: float, as_of: pd.Timestamp) -> np.ndarray:
    """Per-contract loop: T, rate, brentq IV, greeks. Returns the IVs (NaN where brentq has no bracket)."""
    out = np.full(len(chain), np.nan)
    rows = zip(chain["expiration"], chain["strike"], chain["type"], chain["price"], strict=True)
    for i, (expiration, strike, kind, price) in enumerate(rows):
        T = (expiration - as_of).days / 365
        if T <= 0 or not price > 0:
            continue
        r = float(rate_for_expiry(CURVE, T))
        call = kind == "C"

        def f(
            sigma: float, K: float = strike, T: float = T, r: float = r, call: bool = call, p: float = price
        ) -> float:
            return _scalar_price(spot, K, T, r, Q, sigma, call) - p

        lo, hi = f(IV_LOWER), f(IV_UPPER)
        if lo * hi > 0:
            continue
        sigma = brentq(f, IV_LOWER, IV_UPPER, xtol=1e-12)
        _scalar_greeks(spot, strike, T, r, Q, sigma, call)
        out[i] = sigma
    return out


# --- main -------------------------------------------------------------------------------------------------


def load(path: Path, session: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    source = path if path.exists() else BUNDLE
    note = "" if source == path else f" ({path} not found: using the calls-only demo bundle)"
    spy = pd.read_parquet(source, filters=[("underlying", "==", "SPY")])
    chain = spy[spy["session_date"] == session].reset_index(drop=True)
    if chain.empty:
        raise SystemExit(f"no SPY rows for session {session.date()} in {source}")
    return chain, spy, f"{source}{note}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=SHARED)
    parser.add_argument("--session", default="2026-07-15")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--database-url")
    parser.add_argument("--no-database", action="store_true")
    args = parser.parse_args()
    session = pd.Timestamp(args.session)
    chain, spy, source = load(args.path, session)
    spot = float(chain["underlying_close"].iloc[0])
    print(f"data: {source}")
    print(f"SPY {session.date()}: {len(chain):,} contracts, close {spot}")

    def ours() -> pd.DataFrame:
        return chain_greeks(chain, spot, CURVE, Q, session)

    T = (chain["expiration"] - session).dt.days.to_numpy() / 365
    r = rate_for_expiry(CURVE, T)
    price, strike, kind = chain["price"].to_numpy(), chain["strike"].to_numpy(), chain["type"].to_numpy()

    def arrays() -> None:
        iv = implied_volatility(price, spot, strike, T, r, Q, kind).iv
        black_scholes(spot, strike, T, r, iv, Q, kind)

    ours()  # warm-up (imports, first-call allocations)
    ours_s = timed(ours, args.runs)
    arrays_s = timed(arrays, args.runs)
    base_iv = baseline(chain, spot, session)
    base_s = timed(lambda: baseline(chain, spot, session), args.baseline_runs)
    tracemalloc.start()
    result = ours()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    ours_ms = statistics.median(ours_s) * 1e3
    arrays_ms = statistics.median(arrays_s) * 1e3
    base_ms = statistics.median(base_s) * 1e3
    ratio = base_ms / ours_ms
    both = np.isfinite(base_iv) & result["iv"].notna().to_numpy()
    agree = np.abs(result["iv"].to_numpy()[both] - base_iv[both])
    print(f"chain_greeks (DataFrame in/out), median of {args.runs}: {ours_ms:8.1f} ms")
    print(f"implied_volatility + black_scholes on arrays, median of {args.runs}: {arrays_ms:8.1f} ms")
    print(f"baseline per-contract brentq loop, median of {args.baseline_runs}: {base_ms:8.1f} ms")
    print(f"speed-up vs baseline: {ratio:.0f}x")
    print(f"peak memory of one chain_greeks call (tracemalloc): {peak / 2**20:.1f} MiB")
    print(
        f"IVs: ours {int(result['iv'].notna().sum()):,}, brentq {int(np.isfinite(base_iv).sum()):,}, "
        f"max |difference| where both exist {agree.max() if agree.size else float('nan'):.1e}"
    )
    sessions = spy["session_date"].nunique()
    select_s = timed(lambda: select_contract_series(spy, CURVE, Q), 3)
    print(
        f"select_contract_series, {sessions} SPY sessions ({len(spy):,} rows), median of 3: "
        f"{statistics.median(select_s) * 1e3:.0f} ms (pure, in memory: the baseline for the database figures)"
    )

    goals = [
        (f"chain_greeks <= {GOAL_MS:.0f} ms", ours_ms <= GOAL_MS),
        (f">= {GOAL_SPEEDUP:.0f}x faster than the brentq loop", ratio >= GOAL_SPEEDUP),
    ]
    if not args.no_database:
        series_s = from_database(args.database_url, session, args.runs)
        goals.append(
            (f"63-session selection series from the database <= {GOAL_SERIES_S:.0f} s", series_s <= GOAL_SERIES_S)
        )
    for name, ok in goals:
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    from benchmarks.suite import emit

    figures = {"chain_greeks (ms)": ours_ms, "brentq loop (ms, baseline)": base_ms, "speed-up (x)": ratio}
    emit({**figures, **({} if args.no_database else {"selection series from the database (s)": series_s})}, dict(goals))
    return 0 if all(ok for _, ok in goals) else 1


def from_database(database_url: str | None, session: pd.Timestamp, runs: int) -> float:
    """Load the demo into a scratch database, time the series and one session's chain read through it."""
    sys.path[0] = str(ROOT)
    from benchmarks.ingest_write import database
    from ingestion import options
    from ingestion.sample import load_sample
    from store.db import create_db_engine, migrate

    url, cleanup = database(database_url)
    engine = create_db_engine(url)
    try:
        migrate(engine)
        started = time.perf_counter()
        load_sample(engine, ROOT / "data" / "sample")
        sample_s = time.perf_counter() - started
        started = time.perf_counter()
        counts = load_sample(engine, ROOT / "data" / "options", "options")
        load_s = time.perf_counter() - started
        params = options.SeriesParams(underlying="SPY")
        series = options.contract_series(engine, params)  # warm-up: imports, first connection
        series_s = timed(lambda: options.contract_series(engine, params), runs)
        chain_s = timed(lambda: options.session_chain(engine, "SPY", session.date()), runs)
        chain = options.session_chain(engine, "SPY", session.date())
    finally:
        engine.dispose()
        cleanup()
    print(f"database: the 35-ticker sample loaded in {sample_s:.1f} s (baseline), the option demo in {load_s:.1f} s")
    print(f"  ({counts['option_quotes']:,} rows, {counts['option_quotes'] / load_s:,.0f} rows/s)")
    median = statistics.median(series_s)
    print(
        f"contract_series from the database, {len(series)} sessions, median of {runs}: {median * 1e3:.0f} ms "
        f"(min {min(series_s) * 1e3:.0f}, max {max(series_s) * 1e3:.0f})"
    )
    print(
        f"session_chain from the database ({len(chain.chain):,} contracts, read + greeks), median of {runs}: "
        f"{statistics.median(chain_s) * 1e3:.0f} ms"
    )
    return median


if __name__ == "__main__":
    sys.exit(main())
