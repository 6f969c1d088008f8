"""Audit trail: who did what, when, from where (logins, lockouts, logouts, exports, admin actions)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pandas as pd
import sqlalchemy as sa

from store import clock, tables

log = logging.getLogger(__name__)

# The actions written by this project; other pages may add their own (the column takes any short name).
ACTIONS = (
    "login_ok",
    "login_failed",
    "lockout",
    "logout",
    "export",
    "admin_add_user",
    "admin_disable_user",
    "admin_enable_user",
    "admin_reset_password",
    "admin_set_role",
)


def write(
    conn: sa.Connection, action: str, *, username: str | None, client_ip: str | None, details: dict | None = None
) -> None:
    """Append one entry inside the caller's transaction (so it commits or rolls back with the action)."""
    conn.execute(
        tables.audit_log.insert().values(
            at=clock.now(),
            username=(username or None) and username[:64],
            action=action[:32],
            client_ip=client_ip,
            details=details or None,
        )
    )


def record(action: str, details: dict[str, Any] | None = None, *, engine: sa.Engine | None = None) -> None:
    """Record `action` by the signed-in user of this Streamlit session, e.g. `audit.record("export", {...})`.

    For pages: a failure to write is logged and does not break the page.
    """
    from dashboard import auth
    from store.db import get_engine

    user = auth.current_user()
    try:
        with (engine or get_engine()).begin() as conn:
            write(
                conn,
                action,
                username=user["username"] if user else None,
                client_ip=auth.client_ip(),
                details=details,
            )
    except sa.exc.SQLAlchemyError as exc:
        log.error("audit: could not record %s: %s", action, type(exc).__name__)


def recorder(action: str, details: dict[str, Any] | None = None) -> Callable[[], None]:
    """A callable that records `action` for this session's user when it is called later.

    For deferred downloads: Streamlit builds such a file outside the script run (no session there), so the
    user and client IP are captured now and written when the file is actually requested.
    """
    from dashboard import auth
    from store.db import get_engine

    user = auth.current_user()
    username, client_ip = (user["username"] if user else None), auth.client_ip()

    def _record() -> None:
        try:
            with get_engine().begin() as conn:
                write(conn, action, username=username, client_ip=client_ip, details=details)
        except sa.exc.SQLAlchemyError as exc:
            log.error("audit: could not record %s: %s", action, type(exc).__name__)

    return _record


def recent(
    engine: sa.Engine, *, limit: int = 500, action: str | None = None, username: str | None = None
) -> pd.DataFrame:
    """The latest entries, newest first, optionally filtered by action and user."""
    a = tables.audit_log
    query = sa.select(a.c.at, a.c.username, a.c.action, a.c.client_ip, a.c.details).order_by(
        a.c.at.desc(), a.c.id.desc()
    )
    if action:
        query = query.where(a.c.action == action)
    if username:
        query = query.where(a.c.username == username)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit)).mappings().all()
    return pd.DataFrame(rows, columns=["at", "username", "action", "client_ip", "details"])
