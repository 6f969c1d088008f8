"""Cold start on Render's shape: seconds from process start to /healthz 200 with DATABASE_URL set.

What Render runs (render.yaml's start command and its web service's variables: APP_ENV=production, glibc's
MALLOC_* settings, a generated AUTH_SECRET, the worker inside the web service) against an empty database on an
external server: no embedded PostgreSQL start, so the time is Streamlit's start, the migrations and the first
load of the small bundled sample. Each run gets a new empty scratch database (as benchmarks/ingest_write.py
makes one: --database-url, else $BENCH_DATABASE_URL or $TEST_DATABASE_URL), dropped at the end. Also timed:
a restart on the now loaded database (warm: nothing to migrate or load), and the baseline of the same run, a
bare Streamlit script from process start to /_stcore/health 200 (the floor Streamlit itself costs).
Goal (shipping issue): cold <= 10 s. Exit code 1 when it is missed.

    python benchmarks/cold_start.py [--runs 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)
from benchmarks.ingest_write import database  # noqa: E402
from benchmarks.memory import shipped  # noqa: E402
from benchmarks.startup import bare_streamlit_seconds  # noqa: E402
from tests.support.server import Server  # noqa: E402

GOAL_SECONDS = 10.0


def render_env(url: str, folder: Path) -> dict[str, str]:
    """The web service's variables as render.yaml gives them, the database's URL and generated secrets."""
    keys = ("APP_ENV", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "PYTHON_VERSION")
    env = {key: shipped(key) for key in keys if shipped(key)}
    env.update(
        DATABASE_URL=url,
        AUTH_SECRET=secrets.token_urlsafe(32),
        TERMINAL_PASSWORD=secrets.token_urlsafe(16),
        DATA_DIR=str(folder / "data"),  # an empty disk, as a new instance has
    )
    return env


def seconds_to_health(env: dict[str, str], log: Path) -> tuple[float, dict]:
    with Server(env, log) as server:
        body = server.wait_for_health(200, timeout=180)
        return time.perf_counter() - server.started_at, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    cold, warm, bare = [], [], []
    for run in range(args.runs):
        url, drop = database(args.database_url)
        try:
            with tempfile.TemporaryDirectory(prefix="md-bench-cold-") as tmp:
                folder = Path(tmp)
                bare.append(bare_streamlit_seconds(folder))
                env = render_env(url, folder)
                seconds, body = seconds_to_health(env, folder / "cold.log")
                cold.append(seconds)
                warm.append(seconds_to_health(env, folder / "warm.log")[0])
        finally:
            drop()
        timings = body.get("timings") or body.get("startup", {}).get("timings") if isinstance(body, dict) else None
        extra = f" · the app's own timings {timings}" if timings else ""
        print(f"run {run + 1}: bare streamlit {bare[-1]:.2f} s · cold {cold[-1]:.2f} s · warm {warm[-1]:.2f} s{extra}")

    figures = {
        "bare Streamlit to /_stcore/health (s, baseline)": statistics.median(bare),
        "cold: empty database, migrations + sample, to /healthz 200 (s)": statistics.median(cold),
        "warm: restart on the loaded database (s)": statistics.median(warm),
    }
    print(f"\nmedian of {args.runs} runs (DATABASE_URL set, APP_ENV={shipped('APP_ENV') or 'unset'})")
    for label, value in figures.items():
        print(f"  {label:<66} {value:6.2f} s")
    goals = {f"cold start to /healthz 200 <= {GOAL_SECONDS:.0f} s": figures[list(figures)[1]] <= GOAL_SECONDS}
    for name, ok in goals.items():
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    from benchmarks.suite import emit

    emit(figures, goals)
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
