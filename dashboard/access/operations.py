"""Operator actions as pages call them: queue a run, cancel it, retry a failed task, change the universe.

The web process only queues: every action here writes a row (a queued task, a universe change) and an audit
entry; the work itself runs in a worker process. Bad input (an unknown job, a bad symbol, dates in the wrong
order) raises ValueError with the reason before anything is queued.
"""

from __future__ import annotations

import re
from datetime import date

from dashboard.access import audit
from ingestion.jobs import JOBS
from ingestion.queue_reads import SAMPLE_LOADS
from store import universe
from store.db import get_engine
from store.identifiers import SYMBOL

# What the Run-now form offers: job -> (what its items are, whether it takes a date range); a bundled dataset's
# load ("sp500": the S&P 500 demo) takes neither.
JOB_CHOICES = {name: ("symbols" if job.items is SYMBOL else "FRED series", job.backfill) for name, job in JOBS.items()}
JOB_CHOICES.update({name: ("", False) for name in SAMPLE_LOADS})
DEMO_LOADS = {
    "sp500": "the S&P 500 demo dataset (about 540 stocks 2019-2026, a million rows; about 30 s)",
    "options-demo": "the option-chain demo (SPY and AAPL calls up to 120 days out, 63 sessions, 314k rows)",
}


def _audit(action: str, actor: str, client_ip: str | None, details: dict) -> None:
    with get_engine().begin() as conn:
        audit.write(conn, action, username=actor, client_ip=client_ip, details=details)


def request_run(
    job: str,
    items: str | list[str] | None,
    start: date | None,
    end: date | None,
    *,
    actor: str,
    client_ip: str | None,
) -> int:
    """Queue `job` for all active items (None or empty) or the ones given (text: comma or space separated).

    Returns the task id whose progress the page polls.
    """
    from ingestion import queue  # Procrastinate and psycopg 3 (about 11 MiB): loaded by the first action

    chosen = [p for p in re.split(r"[\s,;]+", items) if p] if isinstance(items, str) else list(items or [])
    if job in SAMPLE_LOADS:
        if chosen or start or end:
            raise ValueError(f"the {job} load takes no items or dates: it loads the whole bundled dataset")
        task = queue.request_sample_load(job, requested_by=actor)
        _audit("run_requested", actor, client_ip, {"job": job, "task": task, "items": "all"})
        return task
    task = queue.request_run(job, chosen or None, start, end, requested_by=actor)  # ValueError: nothing queued
    chosen = JOBS[job].items.validate(chosen)  # as queued: normalised
    details = {"job": job, "task": task, "items": chosen[:50] or "all", "start": start, "end": end}
    _audit("run_requested", actor, client_ip, {k: str(v) if isinstance(v, date) else v for k, v in details.items()})
    return task


def cancel(task_id: int, *, actor: str, client_ip: str | None) -> bool:
    """Cancel a queued task (False when it already started or finished)."""
    from ingestion import queue  # Procrastinate and psycopg 3 (about 11 MiB): loaded by the first action

    cancelled = queue.cancel(task_id)
    if cancelled:
        _audit("run_cancelled", actor, client_ip, {"task": task_id})
    return cancelled


def retry(queue_job_id: int, *, actor: str, client_ip: str | None) -> bool:
    """Queue a failed task again (False when it is not a failed task)."""
    from ingestion import queue  # Procrastinate and psycopg 3 (about 11 MiB): loaded by the first action

    retried = queue.retry(queue_job_id, requested_by=actor)
    if retried:
        _audit("task_retried", actor, client_ip, {"queue_job": queue_job_id})
    return retried


def change_universe(
    kind: universe.Kind, raw_id: str, action: str, *, actor: str, client_ip: str | None
) -> universe.Change:
    """Add, deactivate or reactivate a symbol or FRED id (the shared id rule: ValueError with the reason); audited."""
    engine = get_engine()
    if action == "add":
        result = universe.add(engine, kind, raw_id)
    elif action in ("deactivate", "reactivate"):
        result = universe.set_active(engine, kind, raw_id, action == "reactivate")
    else:
        raise ValueError(f"unknown universe action {action!r}")
    if result.changed:
        _audit(f"universe_{result.status}", actor, client_ip, {kind: result.id})
    return result


def fetch_history(kind: universe.Kind, item: str, *, actor: str, client_ip: str | None) -> list[int]:
    """Queue what a newly added entry needs now: a symbol's reference data and its price history, a series'
    metadata and observations. Returns the task ids."""
    jobs = ["reference", "prices"] if kind == "symbol" else ["macro"]
    return [request_run(job, [item], None, None, actor=actor, client_ip=client_ip) for job in jobs]
