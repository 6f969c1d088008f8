"""When jobs run: APScheduler cron triggers in New York time, gated by the NYSE calendar, plus catch-up.

APScheduler (3.x) rather than a hand-written loop: it gives time-zone-correct cron triggers (DST
included), one-at-a-time execution with coalescing of missed fires, and clean shutdown. The NYSE
calendar (exchange_calendars) decides what cron cannot: holidays, half-days, ad hoc closings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from ingestion.config import IngestionConfig
from ingestion.jobs import JOBS
from store import calendar, clock, tables
from store.clock import NEW_YORK

log = logging.getLogger(__name__)

CATCH_UP_EVERY_MINUTES = 15
# After a failed attempt, wait this long before the catch-up check tries the job again.
RETRY_AFTER_MINUTES = 30


def triggers(config: IngestionConfig) -> dict[str, CronTrigger]:
    """The cron trigger of each job in the registry, in New York time."""
    return {name: CronTrigger.from_crontab(job.cron(config), timezone=NEW_YORK) for name, job in JOBS.items()}


def gate_open(gate: str | None, now: datetime | None = None) -> bool:
    """Whether a job with this gate may run now: NYSE session days, NYSE trading hours, or always."""
    if gate == "session":
        return calendar.is_session(clock.new_york_today(now))
    if gate == "market_hours":
        return calendar.is_market_open(now or clock.now())
    return True


def previous_fire(trigger: CronTrigger, now: datetime, lookback: timedelta = timedelta(days=8)) -> datetime | None:
    """The last time `trigger` fired at or before `now` (None when it did not fire within `lookback`)."""
    last, cursor = None, trigger.get_next_fire_time(None, now - lookback)
    while cursor is not None and cursor <= now:
        last = cursor
        cursor = trigger.get_next_fire_time(cursor, cursor + timedelta(seconds=1))
    return last


def due_jobs(engine: sa.Engine, config: IngestionConfig, now: datetime | None = None) -> list[str]:
    """Scheduled jobs whose last scheduled time has no completed (success/partial) run since, and that were
    not attempted in the last RETRY_AFTER_MINUTES: a worker that was down, or a run that failed, is caught up.
    """
    now = now or clock.now()
    runs = tables.ingestion_runs
    with engine.connect() as conn:
        completed = dict(
            conn.execute(
                sa.select(runs.c.job, sa.func.max(runs.c.started_at))
                .where(runs.c.status.in_(["success", "partial"]))
                .group_by(runs.c.job)
            ).all()
        )
        attempted = dict(conn.execute(sa.select(runs.c.job, sa.func.max(runs.c.started_at)).group_by(runs.c.job)).all())
    due = []
    all_triggers = triggers(config)
    for job in (name for name, spec in JOBS.items() if spec.catch_up):
        fired = previous_fire(all_triggers[job], now)
        if fired is None:
            continue
        if completed.get(job) is not None and completed[job] >= fired:
            continue
        last_try = attempted.get(job)
        if last_try is not None and last_try >= fired and now - last_try < timedelta(minutes=RETRY_AFTER_MINUTES):
            continue
        due.append(job)
    return due


def build_scheduler(engine: sa.Engine, config: IngestionConfig, run: Callable[[str], object]) -> BackgroundScheduler:
    """A scheduler (not started) that calls `run(job)` on each job's trigger, one job at a time.

    Prices only on NYSE sessions, quotes only while the NYSE is open; every CATCH_UP_EVERY_MINUTES the
    jobs that are due (missed or failed) run again.
    """
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1)},  # politeness: one provider job at a time
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=NEW_YORK,
    )

    def scheduled(name: str) -> None:
        if gate_open(JOBS[name].gate):
            run(name)
        else:
            log.info("%s: outside its window (%s); nothing to fetch", name, JOBS[name].gate)

    def catch_up() -> None:
        for job in due_jobs(engine, config):
            log.info("%s is due (missed or failed since its last scheduled time); running it now", job)
            run(job)

    for name, trigger in triggers(config).items():
        # Intraday jobs are worthless late: a missed quote run is skipped, not run an hour after.
        grace = 60 if JOBS[name].gate == "market_hours" else 3600
        scheduler.add_job(scheduled, trigger, args=[name], id=name, name=name, misfire_grace_time=grace)
    scheduler.add_job(
        catch_up,
        "interval",
        minutes=CATCH_UP_EVERY_MINUTES,
        id="catch_up",
        name="catch up",
        next_run_time=clock.now() + timedelta(seconds=1),  # at start as well
    )
    return scheduler


def next_runs(scheduler: BackgroundScheduler) -> dict[str, str]:
    """Job id -> next run time (ISO, UTC), for the heartbeat."""
    return {
        job.id: job.next_run_time.astimezone(UTC).isoformat(timespec="seconds")
        for job in scheduler.get_jobs()
        if job.next_run_time is not None
    }
