"""The worker's parent process stays small and runs each heavy task in a child: it loads no pandas, a stopped task's
child ends between batches, a killed worker takes its child with it, and what a provider's guard learnt in one child
(an open circuit) holds in the next."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from pytest_httpserver import HTTPServer
from werkzeug import Response

from ingestion import queue
from ingestion.jobs import JOBS, STOPPED
from ingestion.scheduler import SCHEDULES
from store import tables
from tests.conftest import ROOT, TEST_PASSWORD
from tests.support.doubles import runs
from tests.support.server import guarded_env
from tests.support.workers import progress, start_worker, stop, wait_for

# What the parent must never load: the data stack, the calendar, the provider libraries, the migration tool and
# the password-strength dictionaries (its children load what they need).
HEAVY = ("pandas", "numpy", "pyarrow", "scipy", "exchange_calendars", "yfinance", "fredapi", "alpha_vantage")
HEAVY += ("alembic", "zxcvbn", "ingestion.jobs", "ingestion.tasks", "store.calendar")


@pytest.fixture
def db(engine_for, make_migrated_database):
    url = make_migrated_database()
    engine = engine_for(url, YFINANCE_ENABLED="false", FRED_GRAPH_ENABLED="false")
    queue.close_sync()
    yield url, engine
    queue.close_sync()


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not: nothing may reap it in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def mapped_libraries(pid: int) -> set[str]:
    return {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if ".so" in line}


def test_the_workers_parent_imports_none_of_the_heavy_libraries():
    code = (
        "import json, sys\n"
        "import ingestion.__main__, ingestion.worker, ingestion.queue, ingestion.scheduler, ingestion.horse\n"
        "import ingestion.provider_state, store.sessions\n"
        "try:\n"
        "    ingestion.__main__.main(['worker', '--help'])  # the command line too\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=guarded_env({}), capture_output=True, text=True)  # noqa: S603
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_every_job_has_a_schedule_and_a_queue_task():
    assert list(JOBS) == list(SCHEDULES) == list(queue.INGESTION_TASKS)
    import dataclasses

    with pytest.raises(ValueError, match="no schedule"):
        dataclasses.replace(JOBS["prices"], name="unscheduled")


def test_a_running_task_asked_to_stop_ends_its_child_between_batches(db, tmp_path):
    url, engine = db
    marker = tmp_path / "child"
    # One symbol per batch, each batch a second: the stop arrives mid-run. A long grace period: the child must end
    # by itself (between batches), not be killed.
    worker = start_worker(url, tmp_path / "w", "paced", str(marker), "1", INGEST_CHUNK_SYMBOLS="1")
    symbols = [f"S{i}" for i in range(10)]
    try:
        task = queue.request_run("prices", symbols, date(2024, 1, 2), date(2024, 1, 31), engine=engine)
        child = int(wait_for(lambda: marker.exists() and marker.read_text()))
        wait_for(lambda: progress(engine, task)["done"] >= 1)
        assert queue.stop_task(task, requested_by="ops", engine=engine) is True
        row = wait_for(lambda: (row := progress(engine, task))["state"] == "cancelled" and row, timeout=30)
        wait_for(lambda: not alive(child), timeout=10)
        libraries = mapped_libraries(worker.pid)  # the parent, after a task, ticks and the catch-up
    finally:
        stop(worker)
    assert row["message"].startswith("stopped on request: partial:") and row["finished_at"] is not None
    [run] = [r for r in runs(engine) if r["job"] == "prices" and r["id"] == row["run_id"]]
    assert run["status"] == "partial"  # the child closed its run: it ended by itself, between two batches
    reasons = {item: info.get("reason") for item, info in run["details"]["items"].items()}
    stopped = [item for item, reason in reasons.items() if reason == STOPPED]
    assert 0 < len(stopped) < len(symbols) and row["done"] == len(symbols) - len(stopped)
    with engine.connect() as conn:
        status = conn.execute(
            sa.text("select status from procrastinate_jobs where id = :id"), {"id": row["queue_job_id"]}
        )
        assert status.scalar_one() == "aborted"
    assert queue.stop_task(task, engine=engine) is False  # not running any more
    assert not [lib for lib in libraries if any(name in lib for name in ("numpy", "pandas", "pyarrow", "scipy"))]


def test_a_worker_killed_with_sigkill_takes_its_running_child_with_it(db, tmp_path):
    url, engine = db
    marker = tmp_path / "in-flight"
    worker = start_worker(url, tmp_path / "w", "slow", str(marker), "120")
    try:
        queue.request_run("prices", ["AAA"], date(2024, 1, 2), date(2024, 1, 31), engine=engine)
        parent = int(wait_for(lambda: marker.exists() and marker.read_text()))
        child = int(Path(f"{marker}.child").read_text())
        assert parent == worker.pid and alive(child)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        wait_for(lambda: not alive(child), timeout=10)  # PR_SET_PDEATHSIG: no orphan goes on writing
    finally:
        stop(worker)
    with engine.connect() as conn:  # it never wrote: its run stays open until the next run closes it as abandoned
        assert conn.execute(sa.select(tables.ingestion_runs.c.status)).scalars().all() == ["running"]


def test_an_open_circuit_holds_in_the_next_task_child_and_both_count_in_the_heartbeat(
    make_migrated_database, httpserver: HTTPServer
):
    url = make_migrated_database()
    engine = sa.create_engine(url)
    hb = tables.worker_heartbeats
    with engine.begin() as conn:
        conn.execute(hb.insert().values(worker_id="w1", hostname="h", pid=1, state="running", details={}))
    httpserver.expect_request("/graph/fredgraph.csv").respond_with_response(Response("down", status=503))
    env = guarded_env(
        {
            "DATABASE_URL": url,
            "TERMINAL_PASSWORD": TEST_PASSWORD,
            "YFINANCE_ENABLED": "false",
            "FRED_GRAPH_BASE_URL": httpserver.url_for("/").rstrip("/"),
            "CIRCUIT_FAIL_MAX": "1",
            "PROVIDER_RETRY_ATTEMPTS": "1",
        }
    )
    params = json.dumps({"items": ["UNRATE", "CPIAUCSL", "GDP", "DGS10"]})
    command = [sys.executable, "-m", "ingestion", "task-run", "--task", "ingest.macro", "--params", params]
    try:
        sent = []
        for _ in range(2):
            done = subprocess.run([*command, "--worker-id", "w1"], cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603
            assert done.returncode == 0, done.stderr
            sent.append(len(httpserver.log))
        with engine.connect() as conn:
            remembered = conn.execute(sa.select(tables.provider_state)).mappings().one()
            details = conn.execute(sa.select(hb.c.details).where(hb.c.worker_id == "w1")).scalar_one()
    finally:
        engine.dispose()
    assert sent[0] >= 1 and sent[1] == sent[0]  # the failure opened the circuit; the second child sent nothing
    assert (remembered["provider"], remembered["circuit"], remembered["failures"]) == ("fred_graph", "open", 1)
    [state] = [p for p in details["providers"] if p["provider"] == "fred_graph"]
    assert state["circuit"] == "open" and state["requests"] == sent[0]
    assert state["errors"]["transient"] == sent[0] and state["errors"]["circuit_open"] >= 1
    assert state["calls"] == state["requests"] + state["errors"]["circuit_open"]  # both children counted


def test_a_child_run_by_hand_stops_between_batches_on_sigterm_too(tmp_path):
    """Without a worker (no parent pid in its environment) a child still turns SIGTERM into a stop request."""
    code = (
        "import os, signal, time\n"
        "from ingestion import horse\n"
        "horse.become_child()\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(0.1)\n"
        "print(horse.stop_requested.is_set())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=guarded_env({}), capture_output=True, text=True)  # noqa: S603
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr


def test_a_cancelled_task_kills_a_child_that_ignores_sigterm_after_the_grace_period():
    from ingestion import horse

    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})\n"
        "print('task-result: {\"ready\": true}', flush=True)\n"
        "time.sleep(60)\n"
    )

    async def scenario() -> tuple[float, list[int]]:
        running = asyncio.create_task(horse.run([sys.executable, "-c", code], env=guarded_env({}), grace=0.5))
        await asyncio.sleep(1.0)
        pids = horse.running_children()
        started = time.monotonic()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        return time.monotonic() - started, pids

    took, [pid] = asyncio.run(scenario())
    assert 0.4 < took < 5 and not alive(pid) and horse.running_children() == []


def test_a_childs_result_and_exit_status_reach_the_parent():
    from ingestion import horse

    code = "print('hello'); print('task-result: {\"rows\": 3}'); raise SystemExit(4)"
    outcome = asyncio.run(horse.run([sys.executable, "-c", code], env=guarded_env({}), grace=1))
    assert (outcome.returncode, outcome.result, outcome.ok) == (4, {"rows": 3}, False)
    assert outcome.describe() == "exited with status 4"
