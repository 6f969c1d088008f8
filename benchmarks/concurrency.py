"""Concurrency: 10 signed-in sessions re-running the heaviest pages, against one session alone in the same run.

One real server (`streamlit run`, embedded PostgreSQL, the sample, then the S&P 500 bundle and the option-chain
demo loaded) and real websocket sessions, driven by benchmarks/memory.py's driver (`drive`: Streamlit's own
protocol, a `rerun_script` back message per run, a run timed until its script_finished): each session opens the
heaviest pages in turn (memory.heavy: Ticker with 8 tickers, Max; Risk with 30 tickers, Max; Index on the S&P
500 list; Options, SPY's chain), re-running each every 2 s (a user's pace, not a flood) for its share of
--seconds, each session with its own tickers. The worker is off (WORKER_ENABLED=false): the figures are about
the pages, and its start-up jobs (which fail fast without network) would fall on one phase only.
--pages keeps some pages of the plan (comma-separated; the suite runs all four): --seconds is shared by the pages
kept, so `--pages risk --seconds 30` gives Risk the 30 s it has in a full run, in a quarter of the time.

1. baseline: one session alone; 2. load: --sessions sessions (default 10) at once. Per page: p50 and p95 of
the run times. Goal (shipping issue): p95 with 10 sessions <= 3x p95 of one session alone, for every page.
Exit code 1 when it is missed.

    python benchmarks/concurrency.py [--sessions 10] [--seconds 120] [--pages risk]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)
from benchmarks import memory  # noqa: E402
from benchmarks.healthz import session_cookie  # noqa: E402
from benchmarks.memory import heavy, load_bundles  # noqa: E402
from tests.support.server import Server  # noqa: E402

GOAL_RATIO = 3.0
MIN_BYTES = 20 * 1024  # the sign-in form is a few KiB; the lightest heavy page sends over 100 KiB
PAGES = {
    "ticker": "Ticker, 8 tickers, Max",
    "risk": "Risk, 30 tickers, Max",
    "index": "Index, S&P 500 list",
    "options": "Options, SPY chain",
}


def only(pages: list[str]) -> str:
    """The name of memory.heavy's plan kept to `pages`, registered in memory.PLANS (for memory.drive)."""
    name = "heavy:" + ",".join(pages)
    memory.PLANS[name] = lambda number: [step for step in heavy(number) if step[0] in pages]
    return name


def sessions_run(url: str, cookie: str, sessions: int, seconds: float, pages: list[str]) -> dict:
    """The run times (and what the pages showed) of `sessions` sessions, from the driver in its own process."""
    args = ["--drive", url, "--cookie", cookie, "--sessions", str(sessions), "--seconds", str(seconds)]
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args, "--pages", ",".join(pages)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def p50_p95(samples: list[float]) -> tuple[float, float]:
    if not samples:
        return float("nan"), float("nan")
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=120.0, help="per phase, shared by the pages run")
    parser.add_argument("--pages", default=",".join(PAGES), help=f"comma-separated, of {', '.join(PAGES)} (all)")
    parser.add_argument("--drive", help=argparse.SUPPRESS)  # the driver's own process (sessions_run)
    parser.add_argument("--cookie", help=argparse.SUPPRESS)
    args = parser.parse_args()
    assert [page for page, _ in heavy(0)] == list(PAGES)
    pages = [page.strip() for page in args.pages.split(",") if page.strip()]
    if not pages or set(pages) - set(PAGES):
        parser.error(f"--pages: a comma-separated choice of {', '.join(PAGES)}")
    if args.drive:
        drive = memory.drive(args.drive, args.cookie, args.sessions, args.seconds, plan=only(pages))
        print(json.dumps(asyncio.run(drive)))
        return 0

    folder = Path(tempfile.mkdtemp(prefix="md-bench-concurrency-"))
    env = {
        "DATA_DIR": str(folder),
        "TERMINAL_PASSWORD": secrets.token_urlsafe(16),
        "AUTH_SECRET": secrets.token_urlsafe(32),
        "WORKER_ENABLED": "false",
    }
    os.environ.update(env)  # the session cookie made here is signed with the server's AUTH_SECRET
    with Server(env, folder / "server.log") as server:
        server.wait_for_health(200, timeout=180)
        print(f"server {server.url}, data in {folder}")
        print("  loaded for the heavy pages: " + load_bundles(folder))
        cookie = session_cookie(folder)
        started = time.monotonic()
        alone = sessions_run(server.url, cookie, 1, args.seconds, pages)
        print(f"  1 session: {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        crowd = sessions_run(server.url, cookie, args.sessions, args.seconds, pages)
        print(f"  {args.sessions} sessions: {time.monotonic() - started:.0f} s")

    print(
        f"\n  {'page run (s)':<28}{'1 session: runs':>16}{'p50':>7}{'p95':>7}{f'{args.sessions} sessions: runs':>18}"
        f"{'p50':>7}{'p95':>7}{'p95 ratio':>11}"
    )
    figures: dict[str, float] = {}
    goals: dict[str, bool] = {}
    for page in pages:
        label = PAGES[page]
        (a50, a95), (c50, c95) = p50_p95(alone[page]), p50_p95(crowd[page])
        ratio = c95 / a95 if a95 else float("nan")
        print(
            f"  {label:<28}{len(alone[page]):>16}{a50:7.2f}{a95:7.2f}{len(crowd[page]):>18}{c50:7.2f}{c95:7.2f}"
            f"{ratio:10.1f}x"
        )
        figures.update({f"{label}: p50 alone (s)": a50, f"{label}: p95 alone (s)": a95})
        figures.update({f"{label}: p50 x{args.sessions} (s)": c50, f"{label}: p95 x{args.sessions} (s)": c95})
        goals[f"{label}: p95 with {args.sessions} sessions {c95:.2f} s <= {GOAL_RATIO:.0f}x alone ({a95:.2f} s)"] = (
            bool(crowd[page]) and bool(alone[page]) and ratio <= GOAL_RATIO
        )
    # A signed-out session gets the sign-in form (a few KiB, at once): every page must have sent its content.
    sent = {page: min(run["bytes"][page] / max(len(run[page]), 1) for run in (alone, crowd)) for page in pages}
    shown = ", ".join(f"{page} {size / 1024:.0f}" for page, size in sent.items())
    print(f"  KiB sent per run (the smaller of the phases): {shown}")
    goals["every page rendered its content (>= 20 KiB a run)"] = all(b >= MIN_BYTES for b in sent.values())
    errors = sum(run["exceptions"] + run["errors"] for run in (alone, crowd))
    print(f"  exceptions or error messages shown: {errors}")
    goals["the pages ran, without an error"] = errors == 0
    for name, ok in goals.items():
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    from benchmarks.suite import emit

    emit(figures, goals)
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
