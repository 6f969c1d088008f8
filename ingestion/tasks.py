"""The bodies of the job queue's heavy tasks, run in a child of the worker (`python -m ingestion task-run`).

ingestion.queue declares the tasks and the worker's small parent process runs each one in a child (ingestion/horse.py);
this is what the child does: an ingestion job through its provider chain, the load of a bundled dataset, the saved
indices' levels. Each keeps its task_progress row (what the pages poll) and its ingestion_runs record, logs with the
task's context fields, ends between batches once asked to stop (`should_stop`: the worker relays an abort or its own
stop as SIGTERM), and finally adds its providers' counters to the worker's heartbeat (for /metrics). The guards'
circuits and daily limits carry over from one child to the next through the database (ingestion.provider_state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa

from ingestion import queue_reads
from ingestion.config import load_config
from ingestion.jobs import JOBS, JobRequest, run_job
from ingestion.provider_state import DatabaseGuardMemory, record_worker_providers
from ingestion.providers import registry
from ingestion.queue import TaskProgress, new_progress, request_alert_evaluation, request_index_levels, update
from store.db import get_engine
from store.errors import first_line
from store.logs import log_context
from store.settings import get_settings

log = logging.getLogger(__name__)

PRICE_JOBS = frozenset({"prices"})  # runs whose new rows change the saved indices' levels
SAMPLE_ROOTS = {"sp500": "sp500_data_dir", "options": "options_data_dir"}  # the settings naming each bundle's folder


def run_task(
    task: str,
    params: dict[str, Any],
    *,
    queue_job_id: int | None = None,
    worker_id: str | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Any:
    """Run the queue task `task` (e.g. "ingest.prices") with its parameters; returns what the task returns."""
    engine = get_engine()
    registry.use_guard_memory(DatabaseGuardMemory(engine))
    try:
        if task == "derive.index_levels":
            return index_levels(engine, **params)
        if task == "alerts.evaluate":
            return evaluate_alerts(engine, **params)
        job = task.removeprefix("ingest.")
        if task.startswith("ingest.") and job in queue_reads.SAMPLE_LOADS:
            return load_bundled(engine, job, queue_reads.SAMPLE_LOADS[job], queue_job_id, **params)
        if task.startswith("ingest.") and job in JOBS:
            return run_ingestion(engine, job, queue_job_id, should_stop, **params)
        raise ValueError(f"unknown task {task!r}")
    finally:
        if worker_id:
            record_worker_providers(engine, worker_id, registry.built_provider_states())


# -- the ingestion jobs -----------------------------------------------------------------------------------


def run_ingestion(
    engine: sa.Engine,
    job: str,
    queue_job_id: int | None,
    should_stop: Callable[[], bool],
    items: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    provider: str | None = None,
    progress_id: int | None = None,
) -> dict[str, Any]:
    """Run one ingestion job; the outcome is recorded in ingestion_runs (and task_progress)."""
    settings = get_settings()
    request = JobRequest(
        job, items, date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None
    )
    providers = [registry.available_providers(settings)[provider]] if provider else JOBS[job].chain(settings)
    if progress_id is None:  # a scheduled run: it gets a progress record too (the operations page lists them)
        params = {"items": items, "start": start, "end": end, "provider": provider}
        progress_id = new_progress(engine, job, params, "schedule", queue_job_id=queue_job_id)
    # Fields on every log line of this task (JSON logs).
    with log_context(job=job, task_id=progress_id, queue_job_id=queue_job_id):
        return _run(engine, job, request, providers, progress_id, should_stop)


def _run(
    engine: sa.Engine,
    job: str,
    request: JobRequest,
    providers: list,
    progress_id: int,
    should_stop: Callable[[], bool],
) -> dict[str, Any]:
    """The run itself, its progress kept in the task_progress row `progress_id`."""
    update(engine, progress_id, state="running", started_at=sa.func.now(), message=None)
    if not providers:
        reasons = "; ".join(f"{k}: {v}" for k, v in registry.disabled_providers(get_settings()).items())
        message = f"no live provider is enabled for the {job} job ({reasons or 'none configured'})"
        log.warning("%s: %s", job, message)
        update(engine, progress_id, state="failed", finished_at=sa.func.now(), message=message)
        return {"status": "no provider", "message": message}
    progress = TaskProgress(engine, progress_id)
    try:
        result = run_job(engine, request, providers, load_config(), progress=progress, should_stop=should_stop)
    except Exception as exc:
        update(engine, progress_id, state="failed", finished_at=sa.func.now(), message=first_line(exc))
        raise  # the queue retries unexpected failures (a lost database connection, a lost lock)
    summary = f"{result.status}: {result.rows_written} row(s) written, {len(result.failures)} item(s) failed"
    if result.status == "skipped":
        summary = "skipped: the job is already running (its lock is held)"
    state = "failed" if result.status == "failed" else "done"
    update(engine, progress_id, state=state, finished_at=sa.func.now(), message=summary, run_id=result.run_id)
    log.info("%s: %s", job, summary)
    if job in PRICE_JOBS and result.rows_written:
        request_index_levels()  # new prices: the saved indices' stored levels follow
    if result.rows_written or result.status != "success":
        request_alert_evaluation()  # new data, or a failed run (data rules), for the alert rules
    return {"status": result.status, "run_id": result.run_id, "rows_written": result.rows_written}


# -- derived data -----------------------------------------------------------------------------------------


def index_levels(engine: sa.Engine, definition_ids: list[int] | None = None) -> dict[str, Any]:
    """Recompute and store the levels of the saved indices (all, or the ids given); see ingestion.indices."""
    from ingestion import indices  # analytics.index and its reads

    outcome = indices.refresh_levels(engine, definition_ids)
    log.info("index levels: %d computed, %d failed", len(outcome.computed), len(outcome.failed))
    return {"computed": outcome.computed, "failed": outcome.failed}


def evaluate_alerts(engine: sa.Engine, kinds: list[str] | None = None) -> dict[str, Any]:
    """Evaluate the alert rules (alerts.evaluate) and make the first delivery attempt of what fired right away."""
    from alerts.evaluate import evaluate
    from alerts.outbox import deliver_due

    outcome = evaluate(engine, kinds=kinds)
    log.info("alerts: %s", outcome.summary())
    sent = deliver_due(engine, delivery_ids=outcome.delivery_ids) if outcome.delivery_ids else None
    return {
        "evaluated": outcome.evaluated,
        "fired": outcome.fired,
        "deliveries": len(outcome.delivery_ids),
        "delivered": sent.delivered if sent else 0,
        "errors": len(outcome.errors),
    }


# -- bundled datasets ---------------------------------------------------------------------------------------


def load_bundled(
    engine: sa.Engine, job: str, dataset: str, queue_job_id: int | None, progress_id: int | None = None
) -> dict[str, Any]:
    """Load one bundled dataset (recorded in ingestion_runs under `job`; idempotent)."""
    from ingestion.sample import load_sample  # the bundle's reader

    if progress_id is None:
        progress_id = new_progress(engine, job, {}, None, queue_job_id=queue_job_id)
    with log_context(job=job, task_id=progress_id, queue_job_id=queue_job_id):
        update(engine, progress_id, state="running", started_at=sa.func.now(), message=None)
        progress = TaskProgress(engine, progress_id)
        root = getattr(get_settings(), SAMPLE_ROOTS[dataset])
        try:
            counts = load_sample(engine, root, dataset, progress=progress)
        except Exception as exc:
            update(engine, progress_id, state="failed", finished_at=sa.func.now(), message=first_line(exc))
            raise
        written = sum(v for k, v in counts.items() if k != "quarantined")
        summary = ", ".join(f"{k}: {v}" for k, v in counts.items()) or "skipped: another bundled load is running"
        update(engine, progress_id, state="done", finished_at=sa.func.now(), message=summary, rows_written=written)
        log.info("%s: %s", job, summary)
    if written and dataset == "sp500":
        request_index_levels()  # new prices: the saved indices' stored levels follow
    return {"status": "done" if counts else "skipped", **counts}
