"""The job queue: Procrastinate on the app's own PostgreSQL, behind this one module.

Everything the rest of the code knows about the queue is here: the tasks (one per ingestion job in the
registry, plus the schedule's `tick` and `catch_up`), how the web process and the CLI queue work
(`request_run`, `defer_scheduled`, `cancel`, `stop_task`, `retry`), the progress record a page polls, and the
worker loop (`serve`), which runs each heavy task in a child process (ingestion/horse.py, ingestion/tasks.py):
this module, imported by the worker's long-lived parent, loads no pandas, pyarrow, calendar or provider library
(a test checks). Procrastinate gives periodic tasks (its periodic deferrer queues each minute's `tick` once, however
many workers run), per-task locks (a job never runs twice at once), queueing locks (a scheduled job is never
queued twice), retries with backoff, worker heartbeats and stalled-job recovery. The web process only queues;
workers (the app's supervised child, or `python -m ingestion worker` anywhere) run. Swapping the library (e.g.
for PgQueuer) means rewriting this module only.

Procrastinate's worker needs its psycopg 3 connector; our own reads and writes stay on SQLAlchemy + psycopg2.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from procrastinate import App, JobContext, PsycopgConnector, RetryDecision, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued, JobAborted
from procrastinate.job_context import AbortReason
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ingestion import horse, scheduler
from ingestion.config import IngestionConfig, load_config
from ingestion.progress import Progress
from ingestion.queue_reads import JOB_STATUS, SAMPLE_LOADS
from ingestion.scheduler import SCHEDULES, due_jobs, fired_jobs, next_runs
from ingestion.supervisor import PARENT_ENV
from store import clock, tables
from store.db import get_engine
from store.errors import first_line
from store.sessions import SessionTable
from store.settings import Settings, get_settings

log = logging.getLogger(__name__)
# What the operations page, /metrics and /healthz read of the queue is in ingestion.queue_reads (no Procrastinate).

INGESTION_QUEUE = "ingestion"
SCHEDULE_QUEUE = "schedule"
QUEUES = (INGESTION_QUEUE, SCHEDULE_QUEUE)


class Retry(RetryStrategy):
    """Three attempts for a task that raises (providers fail per item, not by raising), after 5 s then 25 s.

    The base wait is the QUEUE_RETRY_SECONDS setting, read when a task fails (short in tests).
    """

    def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
        if job.attempts + 1 >= self.max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": get_settings().queue_retry_seconds * 5**job.attempts})


RETRY = Retry(max_attempts=3)
ON_DEMAND_PRIORITY = 10  # Procrastinate fetches higher priorities first; scheduled runs keep the default 0
KEEP_FINISHED_HOURS = 24 * 14  # finished queue rows kept for the operations page and task durations

# The tasks are declared on this app at import; its connector is set when it is opened, once the database is
# resolved (the embedded one too): `open_sync` in the web app and the CLI, `serve` in a worker.
app = App(connector=PsycopgConnector())
_sync_open = threading.Lock()
_sync_stack: contextlib.ExitStack | None = None
_sync_conninfo: str | None = None  # the database the sync connector is open on
_serving = threading.Event()  # set while this process is a worker (its app open on the async connector)


def conninfo() -> str:
    """The app's database as a libpq URL for psycopg 3 (the engine's URL without SQLAlchemy's driver name)."""
    return get_engine().url.set(drivername="postgresql").render_as_string(hide_password=False)


def open_sync() -> None:
    """Open the queue for deferring from this (synchronous) process once (again if the app's database changed).

    In a worker (`serve`) the app is already open on its async connector, which sync tasks also defer through.
    """
    global _sync_stack, _sync_conninfo
    with _sync_open:
        if _serving.is_set():
            return
        target = conninfo()
        if _sync_stack is not None and _sync_conninfo != target:  # the app's database changed (tests, a CLI)
            _sync_stack.close()
            _sync_stack = None
        if _sync_stack is None:
            stack = contextlib.ExitStack()
            stack.enter_context(app.replace_connector(PsycopgConnector(conninfo=target, min_size=0, max_size=2)))
            app.open()
            stack.callback(app.close)
            _sync_stack, _sync_conninfo = stack, target


def close_sync() -> None:
    """Close this process's queue connection (tests, a process that changes databases)."""
    global _sync_stack
    with _sync_open:
        if _sync_stack is not None:
            _sync_stack.close()
            _sync_stack = None


def __getattr__(name: str) -> Any:
    """`queue.JOBS`, `queue.JobRequest`, `queue.run_job`: the job registry and the run, as this module exposed them
    before its tasks moved to children. Resolved on first use only (ingestion.jobs loads pandas): the worker's parent
    never asks, and a test of the web process replaces `queue.run_job` to prove the web never runs a job."""
    if name in ("JOBS", "JobRequest", "run_job"):
        from ingestion import jobs

        return getattr(jobs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- the progress record ----------------------------------------------------------------------------------


class TaskProgress(Progress):
    """Writes a run's progress to its task_progress row (at most every half second: the page polls it)."""

    def __init__(self, engine: sa.Engine, progress_id: int, every: float = 0.5) -> None:
        self.engine, self.progress_id, self.every = engine, progress_id, every
        self.total = self.done = self.rows = 0
        self.step = ""
        self._last = 0.0

    def _write(self, force: bool = False, **extra: Any) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        values = {"done": self.done, "total": self.total, "rows_written": self.rows, "step": self.step, **extra}
        update(self.engine, self.progress_id, **values)

    def start(self, job: str, total: int) -> None:
        self.total, self.step = total, f"{job}: {total} request(s) planned"
        self._write(force=True)

    def grow(self, more: int) -> None:
        self.total += more
        self._write()

    def advance(self, note: str, rows: int = 0) -> None:
        self.done += 1
        self.rows += rows
        self.step = note[:200]
        self._write()

    def close(self) -> None:
        self._write(force=True)


def new_progress(
    engine: sa.Engine, job: str, params: dict[str, Any], requested_by: str | None, queue_job_id: int | None = None
) -> int:
    t = tables.task_progress
    with engine.begin() as conn:
        return conn.execute(
            t.insert()
            .values(task=f"ingest.{job}", params=params, requested_by=requested_by, queue_job_id=queue_job_id)
            .returning(t.c.id)
        ).scalar_one()


def update(engine: sa.Engine, progress_id: int, **values: Any) -> None:
    t = tables.task_progress
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id == progress_id).values(updated_at=sa.func.now(), **values))


# -- the heavy tasks: each runs in a child process ------------------------------------------------------------
#
# An ingestion job, a bundled load and the index levels need pandas, pyarrow, the calendar and the provider
# libraries: the worker runs each in a short-lived child (`python -m ingestion task-run`, ingestion/horse.py; the
# bodies are in ingestion/tasks.py), so this module, and the worker's long-lived parent process, never loads them.


class TaskFailed(RuntimeError):
    """A task's child process failed (the task raised, or the process was killed): the queue retries the task as it
    would any task that raised."""


async def _in_child(context: JobContext, task: str, params: dict[str, Any]) -> Any:
    """Run `task` with `params` in a child and wait for it; its exit status is the task's success or failure.

    Cancelled meanwhile (the job aborted, the worker stopping after its grace period), the child gets SIGTERM (it
    ends between batches and records what it did) and SIGKILL once WORKER_STOP_GRACE_SECONDS have passed. An aborted
    task's progress record then says so.
    """
    job_id = context.job.id
    argv = [*_state.command, "task-run", "--task", task, "--params", json.dumps(params, default=str)]
    argv += ["--worker-id", _state.worker_id] + (["--queue-job-id", str(job_id)] if job_id is not None else [])
    grace = get_settings().worker_stop_grace_seconds
    _state.running[job_id or 0] = task
    try:
        outcome = await horse.run(argv, env=horse.child_env(conninfo()), grace=grace)
    except asyncio.CancelledError:
        if context.abort_reason() != AbortReason.USER_REQUEST:
            raise  # the worker is stopping: the retry strategy decides whether the task runs again
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        if job_id is not None:
            await asyncio.to_thread(_mark_aborted, get_engine(), job_id)
        raise JobAborted(f"{task}: stopped on request") from None  # aborted, never retried
    finally:
        _state.running.pop(job_id or 0, None)
    if not outcome.ok:
        raise TaskFailed(f"{task}: its process {outcome.describe()}")
    return outcome.result


def _mark_aborted(engine: sa.Engine, queue_job_id: int) -> None:
    """An aborted task's progress record: cancelled, with what its run did before it stopped."""
    t = tables.task_progress
    with engine.begin() as conn:
        conn.execute(
            t.update()
            .where(t.c.queue_job_id == queue_job_id)
            .values(
                state="cancelled",
                finished_at=sa.func.coalesce(t.c.finished_at, sa.func.now()),
                updated_at=sa.func.now(),
                message=sa.func.concat(
                    "stopped on request",
                    sa.case((t.c.message.is_not(None), ": "), else_=""),
                    sa.func.coalesce(t.c.message, ""),
                ),
            )
        )


def _ingestion_task(job: str) -> Any:
    async def run(context: JobContext, **params: Any) -> Any:
        return await _in_child(context, f"ingest.{job}", params)

    run.__name__ = run.__qualname__ = f"ingest_{job}"
    return app.task(name=f"ingest.{job}", queue=INGESTION_QUEUE, lock=f"ingest.{job}", retry=RETRY, pass_context=True)(
        run
    )


INGESTION_TASKS = {job: _ingestion_task(job) for job in SCHEDULES}


# -- derived data -----------------------------------------------------------------------------------------


@app.task(name="derive.index_levels", queue=INGESTION_QUEUE, lock="derive.index_levels", retry=RETRY, pass_context=True)
async def index_levels(context: JobContext, definition_ids: list[int] | None = None) -> Any:
    """Recompute and store the levels of the saved indices (all, or the ids given); see ingestion.indices."""
    return await _in_child(context, "derive.index_levels", {"definition_ids": definition_ids})


def request_index_levels(definition_ids: list[int] | None = None) -> int | None:
    """Queue a levels computation (all saved indices: at most one waiting at a time). Returns the queue job id,
    or None when an all-indices computation is already waiting (it will include the new data)."""
    open_sync()
    task = index_levels.configure(queueing_lock=None if definition_ids else "derive.index_levels.all")
    try:
        return task.defer(definition_ids=list(definition_ids) if definition_ids else None)
    except AlreadyEnqueued:
        return None


# -- alerts -------------------------------------------------------------------------------------------------


@app.task(name="alerts.evaluate", queue=INGESTION_QUEUE, lock="alerts.evaluate", retry=RETRY, pass_context=True)
async def evaluate_alerts(context: JobContext, kinds: list[str] | None = None) -> Any:
    """Evaluate the enabled alert rules on the stored data (alerts.evaluate) and send what fired at once."""
    return await _in_child(context, "alerts.evaluate", {"kinds": kinds})


def _rules_enabled(engine: sa.Engine, kinds: list[str] | None) -> bool:
    r = tables.alert_rules
    where = [r.c.enabled] + ([r.c.kind.in_(kinds)] if kinds else [])
    with engine.connect() as conn:
        return bool(conn.execute(sa.select(sa.exists().where(*where))).scalar_one())


def request_alert_evaluation(kinds: list[str] | None = None, engine: sa.Engine | None = None) -> int | None:
    """Queue an evaluation of the enabled rules (of `kinds`), unless none exists or one is already waiting (it will
    see the new data: a rule evaluates every observation after its watermark). Returns the queue job id or None."""
    if not _rules_enabled(engine or get_engine(), kinds):
        return None
    open_sync()
    lock = "alerts.evaluate." + (",".join(sorted(kinds)) if kinds else "all")
    try:
        wanted: Any = sorted(kinds) if kinds else None
        return evaluate_alerts.configure(queueing_lock=lock).defer(kinds=wanted)
    except AlreadyEnqueued:
        return None


@app.periodic(cron="*/5 * * * *", periodic_id="alerts_data")
@app.task(name="schedule.alerts_data", queue=SCHEDULE_QUEUE, queueing_lock="schedule.alerts_data")
async def alerts_data(timestamp: int) -> int | None:
    """Every 5 minutes: the data rules (a dataset older than its limit fires without any new run)."""
    return await asyncio.to_thread(request_alert_evaluation, ["data"])


async def _deliveries(engine: sa.Engine, poll_seconds: float) -> None:
    """The worker's sender: the due alert deliveries, each second (alerts.outbox; not a queued job, so a long
    ingestion run never holds an alert back). Retries come due on their schedule; a failed pass tries again."""
    from alerts import outbox  # urllib3 and standardwebhooks, no pandas

    while True:
        try:
            outcome = await asyncio.to_thread(outbox.deliver_due, engine)
            if outcome.attempted:
                log.info(
                    "alert deliveries: %d sent, %d delivered, %d to retry, %d failed",
                    outcome.attempted, outcome.delivered, outcome.retrying, outcome.failed,
                )  # fmt: skip
                continue  # more may be due
        except Exception as exc:  # noqa: BLE001 - the next pass tries again
            log.warning("alert delivery pass failed: %s", first_line(exc))
        await asyncio.sleep(poll_seconds)


# -- bundled datasets ---------------------------------------------------------------------------------------

# Bundled datasets a page may queue (the 35-ticker sample loads at first start): queued job name -> load-sample dataset.


def _sample_task(job: str, dataset: str) -> Any:
    async def load(context: JobContext, progress_id: int | None = None) -> Any:
        return await _in_child(context, f"ingest.{job}", {"progress_id": progress_id})

    load.__name__ = load.__qualname__ = f"load_{dataset}"
    return app.task(name=f"ingest.{job}", queue=INGESTION_QUEUE, lock=f"ingest.{job}", pass_context=True)(load)


SAMPLE_TASKS = {job: _sample_task(job, dataset) for job, dataset in SAMPLE_LOADS.items()}


def request_sample_load(dataset: str, *, requested_by: str | None = None, engine: sa.Engine | None = None) -> int:
    """Queue the load of a bundled dataset (a SAMPLE_LOADS name); returns its task_progress id. ValueError otherwise."""
    if dataset not in SAMPLE_LOADS:
        raise ValueError(f"unknown bundled dataset {dataset!r}; expected one of {', '.join(SAMPLE_LOADS)}")
    engine = engine or get_engine()
    progress_id = new_progress(engine, dataset, {}, requested_by)
    open_sync()
    queue_job_id = SAMPLE_TASKS[dataset].configure(priority=ON_DEMAND_PRIORITY).defer(progress_id=progress_id)
    update(engine, progress_id, queue_job_id=queue_job_id, message="queued: waiting for a worker")
    log.info("queued the %s load (task %d, queue job %d) for %s", dataset, progress_id, queue_job_id, requested_by)
    return progress_id


# -- the schedule -------------------------------------------------------------------------------------


def defer_scheduled(job: str) -> int | None:
    """Queue a scheduled run of `job`, unless one is already waiting (then None)."""
    open_sync()
    try:
        return INGESTION_TASKS[job].configure(queueing_lock=f"scheduled.{job}").defer()
    except AlreadyEnqueued:
        log.info("%s is already queued; not queueing it twice", job)
        return None


@app.periodic(cron="* * * * *", periodic_id="tick")
@app.task(name="schedule.tick", queue=SCHEDULE_QUEUE, queueing_lock="schedule.tick")
async def tick(timestamp: int) -> list[str]:
    """Each minute: queue the jobs whose New York cron fires now and whose NYSE gate is open."""
    at = datetime.fromtimestamp(timestamp, clock.now().tzinfo)
    queued = []
    for job in fired_jobs(load_config(), at):
        if await INGESTION_TASKS[job].configure(queueing_lock=f"scheduled.{job}").defer_async() is not None:
            queued.append(job)
    return queued


@app.periodic(cron="*/15 * * * *", periodic_id="catch_up")
@app.task(name="schedule.catch_up", queue=SCHEDULE_QUEUE, queueing_lock="schedule.catch_up")
async def catch_up(timestamp: int) -> list[str]:
    """Every 15 minutes (and at worker start): queue jobs whose last scheduled time has no completed run."""
    due = await asyncio.to_thread(due_jobs, get_engine(), load_config())
    queued = []
    for job in due:
        try:
            await INGESTION_TASKS[job].configure(queueing_lock=f"scheduled.{job}").defer_async()
            queued.append(job)
        except AlreadyEnqueued:
            pass
    return queued


@app.periodic(cron="17 3 * * *", periodic_id="prune")
@app.task(name="schedule.prune", queue=SCHEDULE_QUEUE, queueing_lock="schedule.prune")
async def prune(timestamp: int) -> None:
    """Daily: drop finished queue and progress rows older than two weeks (outcomes stay in ingestion_runs)."""
    await app.job_manager.delete_old_jobs(nb_hours=KEEP_FINISHED_HOURS, include_failed=False)
    await asyncio.to_thread(prune_progress, get_engine())


def prune_progress(engine: sa.Engine) -> int:
    t = tables.task_progress
    cutoff = clock.now() - timedelta(hours=KEEP_FINISHED_HOURS)
    with engine.begin() as conn:
        return conn.execute(t.delete().where(t.c.finished_at < cutoff)).rowcount


# -- on demand (the web process and the CLI) --------------------------------------------------------------


def request_run(
    job: str,
    items: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    *,
    provider: str | None = None,
    requested_by: str | None = None,
    engine: sa.Engine | None = None,
) -> int:
    """Queue a run of `job` now; returns the id of its task_progress row (what a page polls).

    Validated first, with the same rules as the CLI (unknown job, bad symbols or ids, dates in the wrong
    order): ValueError with the reason, and nothing is queued.
    """
    from ingestion.jobs import JOBS, JobRequest  # the job registry (pandas): the web process and the CLI have it

    engine = engine or get_engine()
    spec = JOBS.get(job)
    if spec is None:
        raise ValueError(f"unknown job {job!r}; expected one of {', '.join(JOBS)}")
    items = spec.items.validate(items) if items else None
    JobRequest(job, items, start, end)  # the request's own checks
    if start is not None and not spec.backfill:
        raise ValueError(f"the {job} job takes no date range")
    params: dict[str, Any] = {"items": items, "start": start.isoformat() if start else None}
    params.update(end=end.isoformat() if end else None, provider=provider)
    progress_id = new_progress(engine, job, params, requested_by)
    open_sync()
    # Ahead of scheduled and catch-up runs: a person is watching this one.
    queue_job_id = INGESTION_TASKS[job].configure(priority=ON_DEMAND_PRIORITY).defer(**params, progress_id=progress_id)
    update(engine, progress_id, queue_job_id=queue_job_id, message="queued: waiting for a worker")
    log.info("queued %s (task %d, queue job %d) for %s", job, progress_id, queue_job_id, requested_by or "cli")
    return progress_id


def _queued_task(engine: sa.Engine, progress_id: int, state: str) -> Any:
    """The task_progress row (queue_job_id, state) of `progress_id` if in `state` with a queue job, else None."""
    t = tables.task_progress
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.c.queue_job_id, t.c.state).where(t.c.id == progress_id)).first()
    return row if row is not None and row.state == state and row.queue_job_id is not None else None


def cancel(progress_id: int, engine: sa.Engine | None = None) -> bool:
    """Cancel a task that has not started yet; False when it is already running or finished."""
    engine = engine or get_engine()
    row = _queued_task(engine, progress_id, "queued")
    if row is None:
        return False
    open_sync()
    if not app.job_manager.cancel_job_by_id(row.queue_job_id):
        return False
    update(engine, progress_id, state="cancelled", finished_at=sa.func.now(), message="cancelled before it started")
    return True


def stop_task(progress_id: int, *, requested_by: str | None = None, engine: sa.Engine | None = None) -> bool:
    """Ask a running task to stop; False when it is not running. Its worker sends its child SIGTERM: the job ends
    between batches and records what it did, and the task ends `cancelled` ("stopped on request: ..."); a child
    still there after WORKER_STOP_GRACE_SECONDS is killed. (A queued task is cancelled with `cancel`.)"""
    row = _queued_task(engine or get_engine(), progress_id, "running")
    if row is None:
        return False
    open_sync()
    if not app.job_manager.cancel_job_by_id(row.queue_job_id, abort=True):
        return False
    log.info("task %d (queue job %d): stop requested by %s", progress_id, row.queue_job_id, requested_by or "cli")
    return True


def retry(queue_job_id: int, *, requested_by: str | None = None, engine: sa.Engine | None = None) -> bool:
    """Queue a failed task again (the operations page's retry button); False when it is not a failed task."""
    engine = engine or get_engine()
    with engine.connect() as conn:
        status = conn.execute(JOB_STATUS, {"ids": [queue_job_id]}).first()
    if status is None or status.status != "failed":
        return False
    open_sync()
    app.job_manager.retry_job_by_id(queue_job_id, retry_at=clock.now())
    t = tables.task_progress
    with engine.begin() as conn:
        conn.execute(
            t.update()
            .where(t.c.queue_job_id == queue_job_id)
            .values(state="queued", finished_at=None, message=f"queued again by {requested_by or 'cli'}")
        )
    log.info("queue job %d queued again by %s", queue_job_id, requested_by or "cli")
    return True


# -- the worker ---------------------------------------------------------------------------------------


def _worker_id() -> str:
    return os.environ.get("WORKER_ID") or f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerState:
    worker_id: str = field(default_factory=_worker_id)
    running: dict[int, str] = field(default_factory=dict)  # queue job id -> task name (its child is running)
    command: list[str] = field(default_factory=horse.default_command)  # how a task child is started
    sessions_day: date | None = None  # the New York day the schedule's session table was dumped


_state = WorkerState()
_stop = threading.Event()  # set when this worker is asked to stop: running tasks are asked to stop too


def beat(engine: sa.Engine, config: IngestionConfig, state: str | None = None) -> None:
    """Upsert this worker's heartbeat row (what the pages, /healthz and the CLI read); never fatal.

    Its keys are merged into `details`: `providers` is written by the task children (ingestion.provider_state).
    """
    running = sorted(set(_state.running.values()))
    state = state or ("running" if running else "idle")
    details = {"running": running, "next_runs": next_runs(config)}
    values = {
        "worker_id": _state.worker_id,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "state": state,
        "current_job": ",".join(running) or None,
        "details": details,
    }
    hb = tables.worker_heartbeats
    statement = pg_insert(hb).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["worker_id"],
        set_={
            "beat_at": sa.func.now(),
            "state": statement.excluded.state,
            "current_job": statement.excluded.current_job,
            "details": sa.func.coalesce(hb.c.details, sa.cast({}, hb.c.details.type)).op("||")(
                statement.excluded.details
            ),
        },
    )
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    except sa.exc.SQLAlchemyError as exc:
        log.warning("heartbeat not written: %s", first_line(exc))


def prune_heartbeats(engine: sa.Engine) -> None:
    """Drop rows of workers gone for a day (each process has its own row)."""
    hb = tables.worker_heartbeats
    with engine.begin() as conn:
        conn.execute(hb.delete().where(hb.c.beat_at < sa.func.now() - sa.text("interval '1 day'")))


def parent_gone() -> bool:
    expected = os.environ.get(PARENT_ENV)
    return bool(expected) and os.getppid() != int(expected or 0)


async def retry_stalled(settings: Settings) -> int:
    """Queue again the tasks of workers that stopped beating (killed, frozen host): picked up by a live worker."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=settings.queue_stalled_seconds)
    count = 0
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
            count += 1
            log.warning("task %s (queue job %s) of a stalled worker queued again", job.task_name, job.id)
        except Exception as exc:  # noqa: BLE001 - another worker retried it first
            log.info("stalled task %s not retried here: %s", job.id, first_line(exc))
    return count


async def _stop_requested() -> None:
    while not _stop.is_set():
        await asyncio.sleep(0.2)


def use_sessions(table: SessionTable) -> None:
    """Answer the schedule's NYSE gates from `table` (dumped today by a child); refreshed each New York day."""
    scheduler.use_sessions(table)
    _state.sessions_day = clock.new_york_today()


async def _refresh_sessions() -> None:
    """A new session table from a child (`calendar-dump`: store.calendar), once a New York day; on failure the
    previous one stays (it covers about a year ahead) and the next day tries again."""
    _state.sessions_day = clock.new_york_today()
    argv = [*_state.command, "calendar-dump"]
    outcome = await horse.run(argv, env=horse.child_env(conninfo()), grace=get_settings().worker_stop_grace_seconds)
    if outcome.ok and isinstance(outcome.result, dict):
        use_sessions(SessionTable.from_json(outcome.result))
    else:
        log.warning("the NYSE session table was not refreshed: its process %s", outcome.describe())


async def serve(
    settings: Settings, config: IngestionConfig, *, once: bool = False, command: list[str] | None = None
) -> int:
    """Run this worker until SIGTERM/SIGINT (or, with `once`, until the queue is empty).

    `command` starts a task child (default `python -m ingestion`; its subcommand follows).
    """
    engine = get_engine()
    prune_heartbeats(engine)
    _stop.clear()
    if command:
        _state.command = list(command)
    size = settings.worker_concurrency + 4  # the tasks, LISTEN/NOTIFY, heartbeats, the periodic deferrer
    with app.replace_connector(PsycopgConnector(conninfo=conninfo(), min_size=1, max_size=size)):
        async with app.open_async():
            _serving.set()
            try:
                stuck, done = await _work(engine, settings, config, once)
            finally:
                _serving.clear()
    if stuck and not done:
        # A safety net: a task's child is killed at the end of the grace period, so its task ends. Exiting now kills
        # a child still there (it dies with its parent); the queue hands its task to another worker once this one's
        # heartbeat is stale, and its ledger row is closed as abandoned by the next run of that job.
        log.warning("worker %s: %s still running at exit; exiting anyway", _state.worker_id, stuck)
        logging.shutdown()
        os._exit(0)
    log.info("worker %s stopped", _state.worker_id)
    return 0


async def _work(engine: sa.Engine, settings: Settings, config: IngestionConfig, once: bool) -> tuple[list, bool]:
    """The Procrastinate worker plus our side loop (heartbeat, parent watch, stalled tasks, the session table) until
    stopped."""
    loop = asyncio.get_running_loop()
    worker = asyncio.create_task(
        app.run_worker_async(
            queues=list(QUEUES),
            name=_state.worker_id,
            concurrency=settings.worker_concurrency,
            wait=not once,
            install_signal_handlers=False,
            update_heartbeat_interval=settings.queue_heartbeat_seconds,
            stalled_worker_timeout=settings.queue_stalled_seconds,
            shutdown_graceful_timeout=settings.worker_stop_grace_seconds,
            fetch_job_polling_interval=1.0,
        ),
        name="queue worker",
    )

    def stop(signum: int | None = None) -> None:
        if not _stop.is_set():
            log.info("stopping worker %s after the current batch", _state.worker_id)
        _stop.set()
        horse.terminate_all()  # running tasks end between batches (their children are killed after the grace period)
        worker.cancel()  # Procrastinate's graceful shutdown: no new task, running ones finish or time out

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    if once:
        for job in await asyncio.to_thread(due_jobs, engine, config):
            with contextlib.suppress(AlreadyEnqueued):
                await INGESTION_TASKS[job].configure(queueing_lock=f"scheduled.{job}").defer_async()

    refreshing: set[asyncio.Task] = set()

    async def side() -> None:
        last_stalled_check = 0.0
        while not worker.done():
            await asyncio.to_thread(beat, engine, config)
            if parent_gone():
                log.warning("the app that started this worker is gone; stopping")
                stop()
            if time.monotonic() - last_stalled_check >= settings.queue_stalled_check_seconds:
                last_stalled_check = time.monotonic()
                try:
                    await retry_stalled(settings)
                except Exception as exc:  # noqa: BLE001 - the next check tries again
                    log.warning("stalled-task check failed: %s", first_line(exc))
            if _state.sessions_day not in (None, clock.new_york_today()) and not refreshing:
                refresh = asyncio.create_task(_refresh_sessions(), name="session table")
                refreshing.add(refresh)
                refresh.add_done_callback(refreshing.discard)
            await asyncio.sleep(settings.worker_heartbeat_seconds)

    beats = asyncio.create_task(side(), name="heartbeat")
    sender = asyncio.create_task(_deliveries(engine, settings.alert_poll_seconds), name="alert deliveries")
    stopping = asyncio.create_task(_stop_requested(), name="stop requested")
    log.info("worker %s started on queues %s", _state.worker_id, ", ".join(QUEUES))
    await asyncio.wait([worker, stopping], return_when=asyncio.FIRST_COMPLETED)
    done, _ = await asyncio.wait([worker], timeout=settings.worker_stop_grace_seconds + 2)
    stopping.cancel()
    beats.cancel()
    sender.cancel()
    for refresh in list(refreshing):
        refresh.cancel()
    if worker.done() and not worker.cancelled() and worker.exception() is not None:
        log.error("worker %s failed: %s", _state.worker_id, first_line(worker.exception()))
    stuck = sorted(set(_state.running.values()))
    await asyncio.to_thread(beat, engine, config, "stopped")
    return stuck, bool(done)
