"""The S&P 500 demo load (`python -m ingestion load-sample --dataset sp500`): seconds, first load and reload.

    python benchmarks/sp500_load.py [--database-url URL]

A scratch database (as benchmarks/ingest_write.py makes one: --database-url, else $BENCH_DATABASE_URL or
$TEST_DATABASE_URL, else an embedded server) is migrated; the 35-ticker sample is loaded first (what the app
loads at first start: the baseline of the same run, and the state the S&P 500 load meets), then the S&P 500
bundle twice (the second load writes nothing new). Goal: the first S&P 500 load under 60 s. Exit code 1 when
it is missed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from benchmarks.ingest_write import database  # noqa: E402
from ingestion.sample import load_sample  # noqa: E402
from store.db import create_db_engine, migrate  # noqa: E402

GOAL_SECONDS = 60.0


def timed(call) -> tuple[float, dict]:  # noqa: ANN001 - a zero-argument loader
    started = time.perf_counter()
    counts = call()
    return time.perf_counter() - started, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url, cleanup = database(args.database_url)
    engine = create_db_engine(url)
    try:
        migrate(engine)
        sample_s, sample = timed(lambda: load_sample(engine, ROOT / "data" / "sample"))
        first_s, first = timed(lambda: load_sample(engine, ROOT / "data" / "sp500", "sp500"))
        again_s, again = timed(lambda: load_sample(engine, ROOT / "data" / "sp500", "sp500"))
    finally:
        engine.dispose()
        cleanup()
    rows = sum(v for k, v in first.items() if k != "quarantined")
    print(f"35-ticker sample (baseline)   {sample_s:6.1f} s   {sum(sample.values()):>9,} rows")
    print(f"S&P 500 bundle, first load    {first_s:6.1f} s   {rows:>9,} rows  ({rows / first_s:,.0f} rows/s)")
    rewritten = sum(v for k, v in again.items() if k != "quarantined")
    print(f"S&P 500 bundle, reload        {again_s:6.1f} s   {rewritten:>9,} rows")
    met = first_s < GOAL_SECONDS
    print(f"goal first load < {GOAL_SECONDS:.0f} s: {'met' if met else 'MISSED'}")
    from benchmarks.suite import emit

    figures = {"35-ticker sample (s, baseline)": sample_s, "S&P 500 first load (s)": first_s, "reload (s)": again_s}
    emit(figures, {f"first load < {GOAL_SECONDS:.0f} s": met})
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
