"""The job queue with real worker processes: runs on demand with progress, shared by two workers, taken over
from a killed worker, cancelled before it starts; and the schedule's rules."""

from __future__ import annotations

import os
import signal
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from ingestion import queue, queue_reads
from ingestion.config import IngestionConfig
from ingestion.scheduler import due_jobs, fired_jobs, previous_fire
from store import tables
from tests.support.doubles import bar_counts, duplicate_keys, migrated_engine, runs, sessions
from tests.support.workers import progress, start_worker, stop, wait_for

NY = ZoneInfo("America/New_York")


@pytest.fixture
def db(engine_for, make_migrated_database):
    """A migrated database the app (and this process's queue connection) points at."""
    url = make_migrated_database()
    engine = engine_for(url, YFINANCE_ENABLED="false", FRED_GRAPH_ENABLED="false")
    queue.close_sync()
    yield url, engine
    queue.close_sync()


def queue_rows(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text("select * from procrastinate_jobs order by id")).mappings()]


def runs_of(engine: sa.Engine, symbols: list[str]) -> list[dict]:
    """Prices runs of these symbols (or killed before recording any item): not the schedule's runs of the
    universe, which a worker may start meanwhile (its minute tick and its catch-up are real)."""
    return [
        r
        for r in runs(engine)
        if r["job"] == "prices" and set(((r["details"] or {}).get("items")) or {}) <= set(symbols)
    ]


def queue_row(engine: sa.Engine, task: int) -> dict:
    """The queue's own row for one requested task (the schedule may have queued others meanwhile)."""
    [row] = [r for r in queue_rows(engine) if r["id"] == progress(engine, task)["queue_job_id"]]
    return row


def test_a_requested_run_is_validated_before_anything_is_queued(db):
    _, engine = db
    for args, message in (
        (("everything",), "unknown job"),
        (("prices", ["AAPL", "BAD SYMBOL"]), "invalid symbol"),
        (("macro", ["X" * 31]), "at most 30"),
        (("prices", None, date(2024, 2, 1), date(2024, 1, 1)), "after end"),
        (("quotes", None, date(2024, 1, 1)), "takes no date range"),
    ):
        with pytest.raises(ValueError, match=message):
            queue.request_run(*args)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.task_progress)).scalar_one() == 0
    assert queue_rows(engine) == []


def test_a_queued_run_is_run_by_a_worker_with_its_progress_recorded(db, tmp_path):
    url, engine = db
    worker = start_worker(url, tmp_path)
    try:
        task = queue.request_run(
            "prices", ["AAA", "BBB"], date(2024, 1, 2), date(2024, 3, 28), requested_by="ops", engine=engine
        )
        assert progress(engine, task)["state"] in ("queued", "running", "done")
        done = wait_for(lambda: (row := progress(engine, task))["state"] in ("done", "failed") and row)
        scheduled = queue.defer_scheduled("prices")  # a scheduled run gets a progress record when it runs
        with engine.connect() as conn:
            record = wait_for(lambda: [t for t in queue_reads.recent_tasks(conn) if t["queue_job_id"] == scheduled])
    finally:
        stop(worker)
    assert record[0]["requested_by"] == "schedule" and record[0]["task"] == "ingest.prices"
    days = len(sessions("2024-01-02", "2024-03-28"))
    assert done["state"] == "done" and done["requested_by"] == "ops"
    assert done["done"] == done["total"] == 1 and done["rows_written"] == 2 * days
    assert done["message"].startswith("success")
    assert {r["id"]: r for r in runs(engine)}[done["run_id"]]["rows_written"] == 2 * days
    counts = bar_counts(engine)
    assert (counts["AAA"], counts["BBB"]) == (days, days)
    assert queue_row(engine, task)["status"] == "succeeded"


def test_two_workers_share_the_queue_and_each_task_runs_once(db, tmp_path):
    url, engine = db
    first, second = start_worker(url, tmp_path / "a"), start_worker(url, tmp_path / "b")
    try:
        symbols = [f"S{i}" for i in range(8)]
        tasks = [queue.request_run("prices", [s], date(2024, 1, 2), date(2024, 1, 31), engine=engine) for s in symbols]
        wait_for(lambda: all(progress(engine, t)["state"] == "done" for t in tasks), timeout=90)
    finally:
        stop(first, second)
    assert len(runs_of(engine, symbols)) == len(tasks)  # one ledger row per task: none ran twice
    # The requested tasks' queue rows: the schedule's catch-up may have queued a prices run of its own meanwhile.
    requested = {progress(engine, t)["queue_job_id"] for t in tasks}
    assert all(r["attempts"] == 1 and r["status"] == "succeeded" for r in queue_rows(engine) if r["id"] in requested)
    assert duplicate_keys(engine) == 0 and set(bar_counts(engine)) >= set(symbols)


@pytest.fixture
def tmp_dirs(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    return tmp_path


def test_a_killed_workers_task_is_taken_over_and_nothing_is_written_twice(db, tmp_dirs):
    url, engine = db
    marker = tmp_dirs / "in-flight"
    first = start_worker(url, tmp_dirs / "a", "slow", str(marker), "60")
    second = start_worker(url, tmp_dirs / "b", "slow", str(marker), "60")
    try:
        task = queue.request_run("prices", ["AAA", "BBB"], date(2024, 1, 2), date(2024, 6, 28), engine=engine)
        victim = int(wait_for(lambda: marker.exists() and marker.read_text()))
        os.kill(victim, signal.SIGKILL)  # mid-task: its request is in flight, nothing written yet
        done = wait_for(lambda: (row := progress(engine, task))["state"] == "done" and row, timeout=90)
    finally:
        stop(first, second)
    assert done["message"].startswith("success")
    ledger = runs_of(engine, ["AAA", "BBB"])
    assert [r["status"] for r in ledger] == ["failed", "success"]  # the killed run closed as abandoned
    assert ledger[0]["error_summary"].startswith("abandoned")
    assert duplicate_keys(engine) == 0
    counts = bar_counts(engine)
    assert [counts["AAA"], counts["BBB"]] == [len(sessions("2024-01-02", "2024-06-28"))] * 2
    job = queue_row(engine, task)
    assert job["attempts"] == 2 and job["status"] == "succeeded"


def test_a_queued_task_can_be_cancelled_before_it_starts(db):
    _, engine = db
    task = queue.request_run("prices", ["AAA"], engine=engine)
    assert queue.cancel(task, engine=engine) is True
    row = progress(engine, task)
    assert row["state"] == "cancelled" and row["finished_at"] is not None
    assert queue_row(engine, task)["status"] == "cancelled"
    assert queue.cancel(task, engine=engine) is False  # twice: nothing left to cancel


# -- the schedule ---------------------------------------------------------------------------------


def ny(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY)


def test_the_minute_tick_queues_each_job_at_its_new_york_time_and_within_its_gate():
    config = IngestionConfig()
    assert fired_jobs(config, ny("2024-07-10 17:15")) == ["prices"]
    assert fired_jobs(config, ny("2024-07-04 17:15")) == []  # Independence Day: no session
    assert fired_jobs(config, ny("2024-07-10 18:00")) == ["macro"]
    assert fired_jobs(config, ny("2024-07-10 10:05")) == ["quotes"]
    assert fired_jobs(config, ny("2024-07-03 13:30")) == []  # half-day: the NYSE closed at 13:00
    assert fired_jobs(config, ny("2024-07-13 06:00")) == ["reference"]  # Saturday
    # Chains before the close, while quoted (the 5-minute quotes job fires at that minute too).
    assert fired_jobs(config, ny("2024-07-10 15:45")) == ["quotes", "options"]
    assert fired_jobs(config, ny("2024-07-04 15:45")) == []
    # 17:15 in New York is 21:15 UTC in summer and 22:15 UTC in winter: the cron follows New York.
    assert fired_jobs(config, datetime(2024, 1, 10, 22, 15, tzinfo=UTC)) == ["prices"]
    assert fired_jobs(config, datetime(2024, 7, 10, 21, 15, tzinfo=UTC)) == ["prices"]


def test_previous_fire_follows_new_york_time_across_dst():
    cron = "15 17 * * mon-fri"
    assert previous_fire(cron, ny("2024-03-11 09:00")) == ny("2024-03-08 17:15")  # Friday, before the switch
    assert previous_fire(cron, ny("2024-03-11 18:00")) == ny("2024-03-11 17:15")


def test_due_jobs_catch_up_missed_and_failed_runs(make_migrated_database):
    from datetime import timedelta

    engine = migrated_engine(make_migrated_database())
    config = IngestionConfig()
    now = ny("2024-07-10 20:00").astimezone(UTC)  # Wednesday, after prices (17:15) and macro (18:00)
    assert due_jobs(engine, config, now) == ["prices", "macro", "reference"]  # never ran

    def record(job, status, started):
        with engine.begin() as conn:
            conn.execute(tables.ingestion_runs.insert().values(job=job, source="t", status=status, started_at=started))

    record("prices", "success", ny("2024-07-10 17:16"))
    record("macro", "failed", now - timedelta(minutes=5))  # failed just now: retried later, not at once
    record("reference", "partial", ny("2024-07-06 06:01"))  # Saturday's run counts
    assert due_jobs(engine, config, now) == []
    assert due_jobs(engine, config, now + timedelta(minutes=31)) == ["macro"]
    assert due_jobs(engine, config, ny("2024-07-11 17:20").astimezone(UTC)) == ["prices", "macro"]
    engine.dispose()


def test_a_task_that_keeps_failing_is_listed_with_its_error_and_can_be_retried(db, tmp_path):
    url, engine = db
    marker = tmp_path / "broken"
    marker.write_text("on")
    worker = start_worker(url, tmp_path / "w", "broken", str(marker))
    try:
        task = queue.request_run("prices", ["AAA"], date(2024, 1, 2), date(2024, 1, 31), engine=engine)
        job_id = progress(engine, task)["queue_job_id"]
        with engine.connect() as conn:
            failed = wait_for(lambda: queue_reads.failed_tasks(conn), timeout=60)
        [row] = failed
        assert row["queue_job_id"] == job_id and row["task_id"] == task and row["attempts"] == 3
        assert row["message"] == "a bug outside the providers" and row["failed_at"] is not None
        assert progress(engine, task)["state"] == "failed"
        assert queue.retry(queue_row(engine, task)["id"] + 10_000, engine=engine) is False  # no such task
        marker.unlink()  # the bug is fixed
        assert queue.retry(job_id, requested_by="ops", engine=engine) is True
        assert progress(engine, task)["message"] == "queued again by ops"
        done = wait_for(lambda: (row := progress(engine, task))["state"] == "done" and row)
    finally:
        stop(worker)
    assert done["rows_written"] == len(sessions("2024-01-02", "2024-01-31"))
    with engine.connect() as conn:
        assert queue_reads.failed_tasks(conn) == []
        [listed] = queue_reads.recent_tasks(conn, task_id=task)
    assert listed["queue_status"] == "succeeded" and listed["state"] == "done"


def test_the_queue_depth_counts_waiting_tasks_and_a_scheduled_job_is_never_queued_twice(db):
    _, engine = db
    assert queue.defer_scheduled("macro") is not None
    assert queue.defer_scheduled("macro") is None  # already waiting: not queued twice
    queue.request_run("prices", ["AAA"], engine=engine)
    with engine.connect() as conn:
        depth = {(r["task_name"], r["status"]): r["tasks"] for r in queue_reads.queue_depth(conn)}
        tasks = queue_reads.recent_tasks(conn)
    assert depth == {("ingest.macro", "todo"): 1, ("ingest.prices", "todo"): 1}
    assert [(t["task"], t["queue_status"]) for t in tasks] == [("ingest.prices", "todo")]
