"""When jobs run: APScheduler cron triggers in New York time, gated by the NYSE calendar, plus catch-up.

APScheduler (3.x) rather than a hand-written loop: it gives time-zone-correct cron triggers (DST
included), one-at-a-time execution with coalescing of missed fires, and clean shutdown. The NYSE
calendar (exchange_calendars) decides what cron cannot: holidays, half-days, ad hoc closings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from ingestion.config import IngestionConfig
from ingestion.jobs import NEW_YORK, new_york_today
from ingestion.validate import trading_calendar
from store import clock, tables

log = logging.getLogger(__name__)

# Jobs with a daily/weekly schedule that are caught up when their last scheduled time has no completed run.
CATCH_UP_JOBS = ("prices", "macro", "reference")
CATCH_UP_EVERY_MINUTES = 15
# After a failed attempt, wait this long before the catch-up check tries the job again.
RETRY_AFTER_MINUTES = 30


def triggers(config: IngestionConfig) -> dict[str, CronTrigger]:
    """The cron trigger of each job, in New York time."""
    quote_minutes = f"*/{config.quotes_every_minutes}"
    return {
        "prices": CronTrigger(
            day_of_week="mon-fri", hour=config.prices_at.hour, minute=config.prices_at.minute, timezone=NEW_YORK
        ),
        # 9:00-16:59 on weekdays; market_open() narrows it to the session (9:30-16:00, 13:00 on half-days).
        "quotes": CronTrigger(day_of_week="mon-fri", hour="9-16", minute=quote_minutes, timezone=NEW_YORK),
        "macro": CronTrigger(hour=config.macro_at.hour, minute=config.macro_at.minute, timezone=NEW_YORK),
        "reference": CronTrigger(
            day_of_week=config.reference_day,
            hour=config.reference_at.hour,
            minute=config.reference_at.minute,
            timezone=NEW_YORK,
        ),
    }


def market_open(now: datetime | None = None) -> bool:
    """Whether the NYSE is trading at `now` (its trading calendar, so holidays and half-days count)."""
    calendar = trading_calendar()
    minute = pd.Timestamp(now or clock.now()).tz_convert("UTC").floor("min")
    if not (calendar.first_minute <= minute <= calendar.last_minute):
        return False
    return bool(calendar.is_open_on_minute(minute))


def is_session_day(now: datetime | None = None) -> bool:
    """Whether today (in New York) is an NYSE session."""
    return bool(trading_calendar().is_session(pd.Timestamp(new_york_today(now))))


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
    for job in CATCH_UP_JOBS:
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

    def prices() -> None:
        if is_session_day():
            run("prices")
        else:
            log.info("prices: %s is not an NYSE session; nothing to fetch", new_york_today())

    def quotes() -> None:
        if market_open():
            run("quotes")

    def catch_up() -> None:
        for job in due_jobs(engine, config):
            log.info("%s is due (missed or failed since its last scheduled time); running it now", job)
            run(job)

    all_triggers = triggers(config)
    scheduler.add_job(prices, all_triggers["prices"], id="prices", name="prices")
    scheduler.add_job(quotes, all_triggers["quotes"], id="quotes", name="quotes", misfire_grace_time=60)
    scheduler.add_job(lambda: run("macro"), all_triggers["macro"], id="macro", name="macro")
    scheduler.add_job(lambda: run("reference"), all_triggers["reference"], id="reference", name="reference")
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
