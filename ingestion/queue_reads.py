"""What the operations page, /metrics and /healthz read of the job queue: SQL on Procrastinate's tables and the
progress records, without importing Procrastinate (with psycopg 3 and its pool: about 11 MiB that the web app needs
only when someone queues or cancels a task, through ingestion.queue)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from store import tables

# The bundled datasets an operator can queue the load of (the operations page lists them): job name -> dataset.
SAMPLE_LOADS = {"sp500": "sp500", "options-demo": "options"}

# A task waits from when it was deferred (or its retry is due), counted only once it is due.
_WAITING = """
    from procrastinate_jobs j
    left join lateral (select min(at) as at from procrastinate_events where job_id = j.id and type = 'deferred') d
      on true
"""
_DUE = "(j.scheduled_at is null or j.scheduled_at <= now())"
_DEPTH = sa.text(
    f"""
    select j.task_name, j.status::text as status, count(*) as tasks,
           extract(epoch from now() - min(coalesce(j.scheduled_at, d.at))) as oldest_seconds
    {_WAITING}
    where j.status in ('todo', 'doing') and {_DUE}
    group by j.task_name, j.status order by j.task_name, j.status
    """
)
_FAILED = sa.text(
    """
    select j.id as queue_job_id, j.task_name, j.attempts, j.args, e.at as failed_at, p.id as task_id,
           p.message, p.requested_by
    from procrastinate_jobs j
    left join lateral (select max(at) as at from procrastinate_events where job_id = j.id and type = 'failed') e
      on true
    left join task_progress p on p.queue_job_id = j.id
    where j.status = 'failed'
    order by j.id desc limit :limit
    """
)
JOB_STATUS = sa.text("select id, status::text as status, attempts from procrastinate_jobs where id = any(:ids)")


def queue_depth(conn: sa.Connection) -> list[dict[str, Any]]:
    """Tasks waiting (todo, due now) and running (doing), per task, with the age of the oldest."""
    return [dict(r) for r in conn.execute(_DEPTH).mappings()]


def installed(conn: sa.Connection) -> bool:
    """Whether the queue's tables exist in this database (migration 0005)."""
    query = "select to_regclass('procrastinate_jobs') is not null and to_regclass('procrastinate_events') is not null"
    return bool(conn.execute(sa.text(query)).scalar_one())


def status_counts(conn: sa.Connection) -> dict[tuple[str, str], int]:
    """(queue, status) -> tasks, over every row the queue keeps (two weeks of finished ones)."""
    query = sa.text("select queue_name, status::text, count(*) from procrastinate_jobs group by 1, 2")
    return {(q, status): int(n) for q, status, n in conn.execute(query)}


def oldest_waiting(conn: sa.Connection) -> dict[str, datetime]:
    """Queue -> since when its oldest due task has been waiting."""
    query = sa.text(
        f"select j.queue_name, min(coalesce(j.scheduled_at, d.at)) {_WAITING} where j.status = 'todo' and {_DUE} "
        "group by 1"
    )
    return {q: since for q, since in conn.execute(query) if since is not None}


def task_durations(
    conn: sa.Connection, buckets: tuple[float, ...]
) -> dict[tuple[str, str, str], tuple[list[int], int, float]]:
    """(queue, task, status) -> (cumulative counts at each bucket bound, count, total seconds) of finished tasks,
    from their last `started` event to their end (a histogram, as Prometheus takes it)."""
    counts = ", ".join(f"count(*) filter (where s <= {float(bound)!r})" for bound in buckets)
    query = sa.text(
        "with e as (select job_id, max(at) filter (where type = 'started') as started, "
        "  max(at) filter (where type in ('succeeded', 'failed', 'aborted')) as ended "
        "  from procrastinate_events group by job_id), "
        "d as (select j.queue_name as queue, j.task_name as task, j.status::text as status, "
        "  extract(epoch from e.ended - e.started)::float8 as s "
        "  from procrastinate_jobs j join e on e.job_id = j.id "
        "  where j.status::text in ('succeeded', 'failed', 'aborted') and e.ended >= e.started) "
        f"select queue, task, status, count(*), coalesce(sum(s), 0), {counts} from d group by queue, task, status"
    )
    return {
        (q, task, status): ([int(b) for b in bucket_counts], int(n), float(total))
        for q, task, status, n, total, *bucket_counts in conn.execute(query)
    }


def failed_tasks(conn: sa.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Tasks that failed after their retries, newest first, with the message their progress record holds."""
    return [dict(r) for r in conn.execute(_FAILED, {"limit": limit}).mappings()]


def recent_tasks(conn: sa.Connection, limit: int = 100, task_id: int | None = None) -> list[dict[str, Any]]:
    """Progress records (newest first, or the one asked for) with their queue row's status and attempts."""
    t = tables.task_progress
    query = sa.select(t).order_by(t.c.id.desc()).limit(limit)
    if task_id is not None:
        query = query.where(t.c.id == task_id)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    ids = [r["queue_job_id"] for r in rows if r["queue_job_id"] is not None]
    queue = {r.id: r for r in conn.execute(JOB_STATUS, {"ids": ids})} if ids else {}
    for row in rows:
        found = queue.get(row["queue_job_id"])
        row["queue_status"] = found.status if found else None
        row["attempts"] = found.attempts if found else None
    return rows
