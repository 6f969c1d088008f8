"""When jobs run: each job's cron in New York time (DST included), its NYSE gate, and the catch-up rule.

The job queue's periodic `tick` (ingestion/queue.py) asks `fired_jobs` every minute and queues what is due; the
`catch_up` task queues a job whose last scheduled time has no completed run (the worker was down, a run failed).
cron cannot know holidays, half-days or ad hoc closings: the gates (store.calendar) do.

Light on purpose: the worker's parent process runs this every minute and never loads pandas. `SCHEDULES` is the
"when" of each job (its "what" is `ingestion.jobs.JOBS`, which the task children load), and the gates read a table
of NYSE sessions the worker dumps from store.calendar in a child (`use_sessions`); a process without that table
(the CLI, tests) asks store.calendar itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

import sqlalchemy as sa
from croniter import croniter

from ingestion.config import IngestionConfig
from store import clock, tables
from store.clock import NEW_YORK

if TYPE_CHECKING:
    from store.sessions import SessionTable

log = logging.getLogger(__name__)

CATCH_UP_EVERY_MINUTES = 15
# After a failed attempt, wait this long before the catch-up check tries the job again.
RETRY_AFTER_MINUTES = 30
LOOKBACK = timedelta(days=8)


@dataclass(frozen=True)
class Schedule:
    """When one job runs."""

    cron: Callable[[IngestionConfig], str]  # crontab (minute hour day month weekday) in New York time
    gate: Literal["session", "market_hours"] | None = None  # run only on NYSE sessions / while the NYSE is open
    catch_up: bool = False  # run again when its last scheduled time has no completed run


def _at(moment: time, days: str = "*") -> str:
    return f"{moment.minute} {moment.hour} * * {days}"


# One per job of ingestion.jobs.JOBS (a Job without one fails at import), in the same order.
SCHEDULES: dict[str, Schedule] = {
    # Daily bars: weekdays after the US close (the session gate skips holidays).
    "prices": Schedule(lambda c: _at(c.prices_at, "mon-fri"), gate="session", catch_up=True),
    # Intraday quotes every N minutes while the NYSE is open (half-days included).
    "quotes": Schedule(lambda c: f"*/{c.quotes_every_minutes} 9-16 * * mon-fri", gate="market_hours"),
    "macro": Schedule(lambda c: _at(c.macro_at), catch_up=True),
    "reference": Schedule(lambda c: _at(c.reference_at, c.reference_day), catch_up=True),
    # Option chains shortly before the close: Yahoo's bid/ask are 0/0 outside trading hours. No catch-up: a chain
    # read after the close has no quotes.
    "options": Schedule(lambda c: _at(c.options_at, "mon-fri"), gate="session"),
}

_sessions: SessionTable | None = None
_uncovered: set[date] = set()  # days the table could not answer (logged once each)


def use_sessions(table: SessionTable | None) -> None:
    """Answer the gates from this table of NYSE sessions (the worker's parent); None: ask store.calendar."""
    global _sessions
    _sessions = table


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
    if gate is None:
        return True
    now = now or clock.now()
    day = clock.new_york_today(now)
    table = _sessions
    if table is not None and table.covers(day):
        return table.is_session(day) if gate == "session" else table.is_market_open(now)
    if table is not None and day not in _uncovered:
        _uncovered.add(day)  # once a day, not every minute
        log.warning("the NYSE session table does not cover %s; asking the calendar itself (pandas loads)", day)
    from store import calendar  # exchange_calendars and pandas: only where no session table is in use

    return calendar.is_session(day) if gate == "session" else calendar.is_market_open(now)


def fired_jobs(config: IngestionConfig, now: datetime) -> list[str]:
    """The jobs whose cron fires in this minute and whose gate is open."""
    return [name for name, s in SCHEDULES.items() if fires_at(s.cron(config), now) and gate_open(s.gate, now)]


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
    for name, schedule in SCHEDULES.items():
        if not schedule.catch_up:
            continue
        fired = previous_fire(schedule.cron(config), now)
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
    return {name: next_fire(s.cron(config), now).isoformat(timespec="seconds") for name, s in SCHEDULES.items()}
