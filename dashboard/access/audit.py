"""Audit trail: who did what, when, from where (logins, lockouts, logouts, exports, admin actions)."""

from __future__ import annotations

import logging

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
    "universe_added",
    "universe_deactivated",
    "universe_reactivated",
    "run_requested",
    "run_cancelled",
    "task_retried",
    "api_token_created",
    "api_token_revoked",
    "api_export",
    "alert_channel_added",
    "alert_channel_changed",
    "alert_secret_rotated",
    "alert_rule_saved",
    "alert_rule_changed",
    "alert_resent",
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
