"""The one clock: every reading of "now" in the app, the ingestion and the CLI goes through this module.

Code calls `clock.now()` (never `datetime.now()` / `date.today()` / `time.time()`), so a test moves time
for everything at once with `monkeypatch.setattr(clock, "now", ...)` or the `frozen` helper below. A
check in the test suite (tests/store/test_clock.py) fails when code outside this module reads the
system clock directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def utc_today() -> date:
    """Today's date in UTC (daily budgets reset at UTC midnight)."""
    return now().astimezone(UTC).date()


def new_york_today(at: datetime | None = None) -> date:
    """The calendar date in New York at `at` (default now): the exchange's trading day."""
    return (at or now()).astimezone(NEW_YORK).date()


def epoch_seconds() -> float:
    """Seconds since the epoch (for wall-clock stamps such as "ready at"); durations use time.monotonic()."""
    return now().timestamp()


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Fix `now()` at `at` (timezone-aware) for the duration of the block; for scripts and tests."""
    if at.tzinfo is None:
        raise ValueError("frozen() needs a timezone-aware datetime")
    global now
    real = now
    now = lambda: at  # noqa: E731 - module attribute swapped on purpose
    try:
        yield
    finally:
        now = real
