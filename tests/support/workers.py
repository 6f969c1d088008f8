"""Real `ingestion worker` processes for tests, with a test provider in place of the live price chain."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import ROOT, TEST_PASSWORD
from tests.support.server import guarded_env

# The worker as `python -m ingestion worker` runs it, except that the prices job's provider chain is a test double
# chosen by argv[1]: "synthetic" (instant), "slow" (the first request writes the worker's pid to argv[2] and its own
# to argv[2] + ".child", then hangs for argv[3] seconds; later ones are instant), "stuck" (every request writes those
# files and hangs), "paced" (every request takes argv[3] seconds; the first writes the child's pid to argv[2]),
# "broken" (raises an unexpected error, a bug rather than a provider failure, while the file argv[2] exists). The
# worker's children (ingestion/horse.py) are this script too, their subcommand after "--": the double is put in
# place there, where the jobs run; the worker itself never loads the jobs.
WORKER_SCRIPT = """
import dataclasses, os, sys, time
from pathlib import Path

own, child = sys.argv[1:], None
if "--" in own:
    own, child = own[: own.index("--")], own[own.index("--") + 1 :]
mode, marker = own[0], Path(own[1]) if len(own) > 1 else None
hang = float(own[2]) if len(own) > 2 else 600.0

if child is None:  # the worker
    from ingestion.config import load_config
    from ingestion.worker import run_worker
    from store.db import get_engine
    from store.settings import get_settings

    command = [sys.executable, os.path.abspath(__file__), *own, "--"]
    sys.exit(run_worker(get_engine(), get_settings(), load_config(), command=command))

from ingestion import jobs
from ingestion.__main__ import main
from tests.support.doubles import SyntheticPrices

class Double(SyntheticPrices):
    def daily_bars(self, symbols, start, end):
        if mode == "stuck" or (mode == "slow" and not marker.exists()):
            Path(str(marker) + ".child").write_text(str(os.getpid()))
            marker.write_text(str(os.getppid()))
            time.sleep(hang)
        if mode == "paced":
            if not marker.exists():
                marker.write_text(str(os.getpid()))
            time.sleep(hang)
        return super().daily_bars(symbols, start, end)

if mode == "broken":
    from ingestion import tasks
    real_run_job = tasks.run_job
    def run_job(*args, **kwargs):
        if marker.exists():
            raise RuntimeError("a bug outside the providers")
        return real_run_job(*args, **kwargs)
    tasks.run_job = run_job
jobs.JOBS["prices"] = dataclasses.replace(jobs.JOBS["prices"], chain=lambda settings: [Double(name="synthetic")])
sys.exit(main(child))
"""

FAST_QUEUE = {
    "WORKER_HEARTBEAT_SECONDS": "0.3",
    "QUEUE_HEARTBEAT_SECONDS": "0.5",
    "QUEUE_STALLED_SECONDS": "3",
    "QUEUE_STALLED_CHECK_SECONDS": "1",
    "QUEUE_RETRY_SECONDS": "0.2",
}


def worker_env(url: str, **extra: str) -> dict[str, str]:
    """A worker with no live provider (keyless, yfinance off) and a fast heartbeat."""
    return guarded_env(
        {
            "DATABASE_URL": url,
            "TERMINAL_PASSWORD": TEST_PASSWORD,
            "YFINANCE_ENABLED": "false",
            "FRED_GRAPH_ENABLED": "false",
            **FAST_QUEUE,
            **extra,
        }
    )


def start_worker(url: str, tmp_path: Path, mode: str = "synthetic", *args: str, **env: str) -> subprocess.Popen:
    tmp_path.mkdir(parents=True, exist_ok=True)
    script = tmp_path / "test_worker.py"
    script.write_text(WORKER_SCRIPT)
    return subprocess.Popen([sys.executable, str(script), mode, *args], cwd=ROOT, env=worker_env(url, **env))  # noqa: S603


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def progress(engine: sa.Engine, progress_id: int) -> dict:
    from store import tables

    t = tables.task_progress
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(t).where(t.c.id == progress_id)).mappings().one())


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
