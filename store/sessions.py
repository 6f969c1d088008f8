"""The NYSE sessions as a plain table: the calendar's answers for a process that must not load pandas.

store.calendar (exchange_calendars) stays the one trading calendar: `store.calendar.session_table(start, end)`
builds this table from it, and the ingestion worker's small parent process (which answers the schedule's gates
every minute) gets it as JSON from a child (`python -m ingestion calendar-dump`) and reads it here with the
standard library only. Within the days it covers it answers exactly as store.calendar does (a test compares them
over holidays, early closes and DST changes); outside them it does not answer (`covers`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from store.clock import NEW_YORK


@dataclass(frozen=True)
class Session:
    day: date
    open: datetime  # UTC
    close: datetime  # UTC (early closes included)


class SessionTable:
    """The sessions from `first` to `last` (inclusive; every session in between is listed)."""

    def __init__(self, first: date, last: date, sessions: list[Session]) -> None:
        self.first, self.last = first, last
        self.sessions = sorted(sessions, key=lambda s: s.day)
        self._days = [s.day for s in self.sessions]
        self._by_day = {s.day: s for s in self.sessions}

    # -- JSON (what the child prints and the parent reads) ----------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        rows = [[s.day.isoformat(), s.open.isoformat(), s.close.isoformat()] for s in self.sessions]
        return {"first": self.first.isoformat(), "last": self.last.isoformat(), "sessions": rows}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> SessionTable:
        sessions = [
            Session(date.fromisoformat(d), datetime.fromisoformat(o), datetime.fromisoformat(c))
            for d, o, c in payload["sessions"]
        ]
        return cls(date.fromisoformat(payload["first"]), date.fromisoformat(payload["last"]), sessions)

    # -- the calendar's questions ---------------------------------------------------------------------------
    def covers(self, day: date) -> bool:
        """Whether the table can answer for `day` (a New York date)."""
        return self.first <= day <= self.last

    def _check(self, day: date) -> None:
        if not self.covers(day):
            raise LookupError(f"the session table covers {self.first} to {self.last}, not {day}")

    def is_session(self, day: date) -> bool:
        """Whether `day` is an NYSE session (store.calendar.is_session)."""
        self._check(day)
        return day in self._by_day

    def is_market_open(self, at: datetime) -> bool:
        """True during an NYSE regular session, its open minute included and its close excluded
        (store.calendar.is_market_open)."""
        minute = _minute(at)
        day = minute.astimezone(NEW_YORK).date()
        self._check(day)
        session = self._by_day.get(day)
        return session is not None and session.open <= minute < session.close

    def last_completed_session(self, now: datetime, grace: timedelta = timedelta(0)) -> date:
        """The latest session whose close plus `grace` is at or before `now` (store.calendar.last_completed_session).

        LookupError when that session is older than the table."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        day = now.astimezone(NEW_YORK).date()
        self._check(day)
        index = bisect.bisect_right(self._days, day) - 1
        while index >= 0:
            session = self.sessions[index]
            if session.close + grace <= now:
                return session.day
            index -= 1
        raise LookupError(f"no session of the table ({self.first} to {self.last}) closed before {now.isoformat()}")


def _minute(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("the time must be timezone-aware")
    return at.astimezone(UTC).replace(second=0, microsecond=0)
