"""When jobs run: each job's cron in New York time (DST included), its NYSE gate, and the catch-up rule.

The job queue's periodic `tick` (ingestion/queue.py) asks `fires_at` every minute and queues what is due; the
`catch_up` task queues a job whose last scheduled time has no completed run (the worker was down, a run failed).
cron cannot know holidays, half-days or ad hoc closings: the gates (store.calendar) do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from croniter import croniter

from ingestion.config import IngestionConfig
from ingestion.jobs import JOBS
from store import calendar, clock, tables
from store.clock import NEW_YORK

CATCH_UP_EVERY_MINUTES = 15
# After a failed attempt, wait this long before the catch-up check tries the job again.
RETRY_AFTER_MINUTES = 30
LOOKBACK = timedelta(days=8)


def _new_york_minute(at: datetime) -> datetime:
    return at.astimezone(NEW_YORK).replace(second=0, microsecond=0)


def fires_at(cron: str, at: datetime) -> bool:
    """Whether the New York crontab `cron` fires in the minute of `at` (timezone-aware)."""
    return bool(croniter.match(cron, _new_york_minute(at)))


def previous_fire(cron: str, now: datetime, lookback: timedelta = LOOKBACK) -> datetime | None:
    """The last time `cron` (New York time) fired at or before `now` (None when not within `lookback`)."""
    minute = _new_york_minute(now)
    if fires_at(cron, minute):
        return minute
    fired = croniter(cron, minute).get_prev(datetime)
    return fired if minute - fired <= lookback else None


def next_fire(cron: str, now: datetime) -> datetime:
    """The next time `cron` (New York time) fires after `now`, in UTC."""
    return croniter(cron, _new_york_minute(now)).get_next(datetime).astimezone(UTC)


def gate_open(gate: str | None, now: datetime | None = None) -> bool:
    """Whether a job with this gate may run now: NYSE session days, NYSE trading hours, or always."""
    if gate == "session":
        return calendar.is_session(clock.new_york_today(now))
    if gate == "market_hours":
        return calendar.is_market_open(now or clock.now())
    return True


def fired_jobs(config: IngestionConfig, now: datetime) -> list[str]:
    """The jobs whose cron fires in this minute and whose gate is open."""
    return [name for name, job in JOBS.items() if fires_at(job.cron(config), now) and gate_open(job.gate, now)]


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
    for name, job in JOBS.items():
        if not job.catch_up:
            continue
        fired = previous_fire(job.cron(config), now)
        if fired is None:
            continue
        if completed.get(name) is not None and completed[name] >= fired:
            continue
        last_try = attempted.get(name)
        if last_try is not None and last_try >= fired and now - last_try < timedelta(minutes=RETRY_AFTER_MINUTES):
            continue
        due.append(name)
    return due


def next_runs(config: IngestionConfig, now: datetime | None = None) -> dict[str, str]:
    """Job -> next scheduled time (ISO, UTC), for the heartbeat and the pages."""
    now = now or clock.now()
    return {name: next_fire(job.cron(config), now).isoformat(timespec="seconds") for name, job in JOBS.items()}
