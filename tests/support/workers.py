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

# The worker as `python -m ingestion worker` runs it, except that the prices job's provider chain is a test
# double chosen by argv[1]: "synthetic" (instant), "slow" (the first request writes its pid to argv[2] and then
# hangs for argv[3] seconds; later ones are instant), "stuck" (every request writes argv[2] and hangs), "broken"
# (raises an unexpected error, a bug rather than a provider failure, while the file argv[2] exists).
WORKER_SCRIPT = """
import dataclasses, os, sys, time
from pathlib import Path
from ingestion import jobs
from ingestion.config import load_config
from ingestion.worker import run_worker
from store.db import prepare_database
from store.settings import get_settings
from tests.support.doubles import SyntheticPrices

mode, marker = sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else None
hang = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0

class Double(SyntheticPrices):
    def daily_bars(self, symbols, start, end):
        if mode == "stuck" or (mode == "slow" and not marker.exists()):
            marker.write_text(str(os.getpid()))
            time.sleep(hang)
        return super().daily_bars(symbols, start, end)

if mode == "broken":
    from ingestion import queue
    real_run_job = queue.run_job
    def run_job(*args, **kwargs):
        if marker.exists():
            raise RuntimeError("a bug outside the providers")
        return real_run_job(*args, **kwargs)
    queue.run_job = run_job
jobs.JOBS["prices"] = dataclasses.replace(jobs.JOBS["prices"], chain=lambda settings: [Double(name="synthetic")])
engine = prepare_database()
sys.exit(run_worker(engine, get_settings(), load_config()))
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
