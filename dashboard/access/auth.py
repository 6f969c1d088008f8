"""Sign-in: argon2 users in PostgreSQL, the first login, credential checks under the lockout rule, audited."""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dashboard.access import audit, lockout
from store import clock, tables
from store.settings import Settings, get_settings

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verifying against this when the user does not exist makes a miss cost as much as a hit.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
GENERIC_FAILURE = "Invalid username or password."


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def ensure_login_credentials(engine: sa.Engine, settings: Settings) -> None:
    """Make sure someone can log in.

    TERMINAL_PASSWORD set: the TERMINAL_USER admin exists with that password. Otherwise, on the very first
    start only, a random password is generated, stored as a hash, and printed once to the console.
    """
    users = tables.users
    username = settings.terminal_user
    with engine.begin() as conn:
        existing = conn.execute(sa.select(users).where(users.c.username == username)).mappings().first()
        if settings.terminal_password is not None:
            password = settings.terminal_password.get_secret_value()
            if existing is None:
                conn.execute(
                    users.insert().values(username=username, password_hash=hash_password(password), role="admin")
                )
            elif not _verify(existing["password_hash"], password):
                conn.execute(
                    users.update().where(users.c.id == existing["id"]).values(password_hash=hash_password(password))
                )
            return
        if conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one():
            log.info("login: users exist; reset a password with `python -m dashboard.users reset %s`", username)
            return
        password = secrets.token_urlsafe(12)
        conn.execute(users.insert().values(username=username, password_hash=hash_password(password), role="admin"))
    # Printed, not logged: log shippers must never see it. Shown once, like Jupyter's token.
    print(
        "\n    Local login (shown once; only its hash is stored):\n"
        f"        username: {username}\n        password: {password}\n"
        "    Set TERMINAL_PASSWORD to choose your own, or reset with "
        f"`python -m dashboard.users reset {username}`.\n",
        flush=True,
    )


def _check_credentials(conn: sa.Connection, username: str, password: str) -> dict | None:
    users = tables.users
    name = username.strip()
    row = (
        conn.execute(
            sa.select(users.c.id, users.c.username, users.c.password_hash, users.c.role, users.c.active).where(
                users.c.username == name
            )
        )
        .mappings()
        .first()
    )
    ok = _verify(row["password_hash"] if row else _DUMMY_HASH, password)
    # compare_digest keeps the final decision branch-free with respect to the stored name.
    if not (ok and row is not None and row["active"] and hmac.compare_digest(row["username"], name)):
        return None
    conn.execute(users.update().where(users.c.id == row["id"]).values(last_login_at=sa.func.now()))
    return {"id": row["id"], "username": row["username"], "role": row["role"]}


def authenticate(engine: sa.Engine, username: str, password: str) -> dict | None:
    """The user's record when the credentials match an active user, else None (same cost either way)."""
    with engine.begin() as conn:
        return _check_credentials(conn, username, password)


@dataclass(frozen=True)
class LoginOutcome:
    user: dict | None
    message: str = ""
    locked: lockout.Lockout | None = None


def _lockout_message(lock: lockout.Lockout) -> str:
    minutes = max(1, -(-int((lock.until - clock.now()).total_seconds()) // 60))
    return f"Too many failed sign-in attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def attempt_login(
    engine: sa.Engine, username: str, password: str, client_ip: str | None, settings: Settings | None = None
) -> LoginOutcome:
    """Check a login against the lockout and the users table; record the attempt and an audit entry.

    Messages never say whether the user exists: unknown names are checked against a dummy hash, count
    towards lockouts like real ones, and fail with the same text.
    """
    settings = settings or get_settings()
    name = lockout.normalise_username(username)
    if not name or not password:
        return LoginOutcome(None, GENERIC_FAILURE)
    with engine.begin() as conn:
        # Serialise attempts on the same name and address across sessions and replicas, so parallel guesses
        # cannot all slip in before the count reaches the limit. Always in this order: no deadlock.
        for key in (f"login-user:{name}", f"login-ip:{client_ip or ''}"):
            conn.execute(sa.text("select pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
        lock = lockout.current_lockout(conn, name, client_ip, settings)
        if lock is not None:
            audit.write(
                conn,
                "lockout",
                username=name,
                client_ip=client_ip,
                details={"event": "refused", "scope": lock.scope, "until": lock.until.isoformat()},
            )
            log.info("login refused: lockout by %s", lock.scope)
            return LoginOutcome(None, _lockout_message(lock), lock)
        user = _check_credentials(conn, name, password)
        lockout.record_attempt(conn, name, client_ip, success=user is not None)
        if user is not None:
            audit.write(conn, "login_ok", username=user["username"], client_ip=client_ip)
            log.info("login ok: %s", user["username"])
            return LoginOutcome(user)
        audit.write(conn, "login_failed", username=name, client_ip=client_ip)
        started = lockout.current_lockout(conn, name, client_ip, settings)
        if started is not None:
            audit.write(
                conn,
                "lockout",
                username=name,
                client_ip=client_ip,
                details={"event": "started", "scope": started.scope, "until": started.until.isoformat()},
            )
        log.info("login failed")
        return LoginOutcome(None, GENERIC_FAILURE)
