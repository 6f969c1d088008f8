"""Login lockout: after N failed attempts for a user name, or from one client IP, refuse logins for a while.

The attempts live in PostgreSQL (login_attempts), so a restart or a second replica does not reset them.
Attempts refused during a lockout are not password checks and are not counted, so a lockout ends on time.
For a user name, a successful login starts the count afresh; for an IP it does not (one valid account must
not let an address keep guessing at the others).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from store import clock, tables
from store.settings import Settings

# Rows older than this are no use to the rule; they are pruned as new attempts arrive.
KEEP_ATTEMPTS = timedelta(days=2)


@dataclass(frozen=True)
class Lockout:
    scope: str  # "username" | "ip"
    until: datetime


def locked_until(failures: Sequence[datetime], threshold: int, window: timedelta) -> datetime | None:
    """When the latest lockout ends: `threshold` failures within `window` lock for `window` after the last of them."""
    times = sorted(failures)
    until = None
    for i in range(threshold - 1, len(times)):
        if times[i] - times[i - threshold + 1] <= window:
            candidate = times[i] + window
            until = candidate if until is None or candidate > until else until
    return until


def normalise_username(username: str) -> str:
    return username.strip()[:64]


def _failures(conn: sa.Connection, column: sa.Column, value: str, since: datetime, after_success: bool) -> list:
    a = tables.login_attempts
    start = since
    if after_success:
        last_ok = conn.execute(
            sa.select(sa.func.max(a.c.at)).where(column == value, a.c.success.is_(True), a.c.at > since)
        ).scalar_one()
        start = max(since, last_ok) if last_ok else since
    return list(
        conn.execute(
            sa.select(a.c.at).where(column == value, a.c.success.is_(False), a.c.at > start).order_by(a.c.at)
        ).scalars()
    )


def current_lockout(conn: sa.Connection, username: str, client_ip: str | None, settings: Settings) -> Lockout | None:
    """The lockout in force for this user name or this IP right now, if any (the later-ending one)."""
    now = clock.now()
    window = timedelta(minutes=settings.login_lockout_minutes)
    # A lockout can end at most `window` after a failure that itself lies within `window` of the others.
    since = now - 2 * window
    a = tables.login_attempts
    found: list[Lockout] = []
    scopes = [("username", a.c.username, normalise_username(username), True)]
    if client_ip:
        scopes.append(("ip", a.c.client_ip, client_ip, False))
    for scope, column, value, after_success in scopes:
        until = locked_until(_failures(conn, column, value, since, after_success), settings.login_max_failures, window)
        if until is not None and until > now:
            found.append(Lockout(scope, until))
    return max(found, key=lambda lock: lock.until) if found else None


def record_attempt(conn: sa.Connection, username: str, client_ip: str | None, success: bool) -> None:
    a = tables.login_attempts
    now = clock.now()
    conn.execute(a.delete().where(a.c.at < now - KEEP_ATTEMPTS))
    conn.execute(a.insert().values(at=now, username=normalise_username(username), client_ip=client_ip, success=success))
