"""Server-side sessions behind a cookie signed with AUTH_SECRET, and the one-time codes that hand a login to it.

The token is 32 random bytes; the database keeps only its sha256, so a leaked table hands out no cookies.
The cookie carries the token signed with AUTH_SECRET (itsdangerous), so forged or altered cookies are
refused before any lookup. A session is valid while its row exists, is unexpired and its user is active:
logout, disabling a user or resetting a password deletes rows, and a copied cookie stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer

from store import clock, tables
from store.settings import Settings, get_settings

log = logging.getLogger(__name__)

COOKIE_NAME = "md_session"
# A random per-browser value set on the first HTTP response (dashboard/web/security.py), before any script or
# websocket runs: what a sign-in code is bound to.
BINDING_COOKIE_NAME = "md_bind"
HANDOFF_SECONDS = 60
LAST_SEEN_EVERY = timedelta(minutes=1)
_COOKIE_SALT = "market-desk/session-cookie"
_HANDOFF_SALT = "market-desk/login-handoff"
_LOGOUT_SALT = "market-desk/logout"
# Development without AUTH_SECRET: a per-process key (sessions then last until the server restarts).
_process_secret = secrets.token_urlsafe(48)


def _secret(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return settings.auth_secret.get_secret_value() if settings.auth_secret else _process_secret


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(), salt=salt)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_lifetime(settings: Settings | None = None) -> timedelta:
    return timedelta(hours=(settings or get_settings()).session_hours)


# -- signed values --------------------------------------------------------------------------------------


def sign_cookie(token: str) -> str:
    return _serializer(_COOKIE_SALT).dumps(token)


def read_cookie(value: str | None) -> str | None:
    """The token in a session cookie, or None when the cookie is missing, forged or older than a session."""
    if not value:
        return None
    try:
        token = _serializer(_COOKIE_SALT).loads(value, max_age=int(session_lifetime().total_seconds()) + 60)
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


def create_handoff(engine: sa.Engine, token: str, binding: str) -> str:
    """A one-minute, single-use code that lets /auth/session put a new token of `token`'s session into the cookie
    of the browser whose binding fingerprint is `binding`.

    The code carries an opaque random id (signed, so a forged one is refused before any lookup), never the
    session token; the database keeps only the id's sha256. No binding, no code: a browser without the binding
    cookie (cookies blocked) stays signed in for its tab only.
    """
    if not binding:
        raise ValueError("a login hand-off needs the browser's binding fingerprint")
    handoff_id = secrets.token_urlsafe(32)
    h = tables.login_handoffs
    with engine.begin() as conn:
        conn.execute(h.delete().where(h.c.expires_at <= clock.now()))  # housekeeping
        conn.execute(
            h.insert().values(
                id_hash=token_hash(handoff_id),
                session_hash=token_hash(token),
                binding=binding,
                expires_at=clock.now() + timedelta(seconds=HANDOFF_SECONDS),
            )
        )
    return _serializer(_HANDOFF_SALT).dumps(handoff_id)


def redeem_handoff(engine: sa.Engine, code: str | None, binding_cookie: str | None) -> tuple[str, datetime] | None:
    """Use a hand-off code once: (new session token, its expiry) when the code is fresh, unused and presented by
    the browser that signed in; None otherwise (the code is spent either way, so it cannot be tried twice)."""
    if not code:
        return None
    try:
        handoff_id = _serializer(_HANDOFF_SALT).loads(code, max_age=HANDOFF_SECONDS)
    except BadSignature:
        return None
    if not isinstance(handoff_id, str):
        return None
    h = tables.login_handoffs
    with engine.begin() as conn:
        row = (
            conn.execute(
                h.delete()
                .where(h.c.id_hash == token_hash(handoff_id), h.c.expires_at > clock.now())
                .returning(h.c.session_hash, h.c.binding)
            )
            .mappings()
            .first()
        )
    if row is None:
        log.info("auth/session: unknown, used or expired hand-off")
        return None
    if not bindings_match(row["binding"], binding_cookie):
        log.warning("auth/session: hand-off presented by another browser; refused")
        return None
    return rotate(engine, digest=row["session_hash"])


def logout_code(token: str | None) -> str:
    return _serializer(_LOGOUT_SALT).dumps(token_hash(token) if token else "")


def read_logout_code(code: str | None) -> str | None:
    """The hash of the session being signed out ("" when unknown), or None for a bad or stale code."""
    if not code:
        return None
    try:
        value = _serializer(_LOGOUT_SALT).loads(code, max_age=HANDOFF_SECONDS)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def browser_binding(binding_cookie: str | None) -> str:
    """A fingerprint of this browser's binding cookie, so a login code only works in the browser that signed in.

    Without it, an attacker could sign in, stop before the redirect and send a victim the link, logging the
    victim into the attacker's account (login CSRF). Empty when the browser has no binding cookie.
    """
    if not isinstance(binding_cookie, str) or not binding_cookie:
        return ""
    return hashlib.sha256(binding_cookie.encode()).hexdigest()


def bindings_match(expected: str, binding_cookie: str | None) -> bool:
    """True only when both sides have a fingerprint and they are equal: no binding, no match."""
    presented = browser_binding(binding_cookie)
    return bool(expected) and bool(presented) and hmac.compare_digest(expected, presented)


# -- the session rows -----------------------------------------------------------------------------------


def create_session(engine: sa.Engine, user_id: int, client_ip: str | None, expires_at: datetime | None = None) -> str:
    """A new session for `user_id`; returns the token (only its hash is stored)."""
    now = clock.now()
    token = secrets.token_urlsafe(32)
    s = tables.user_sessions
    with engine.begin() as conn:
        conn.execute(s.delete().where(s.c.expires_at <= now))  # housekeeping, cheap with few rows
        conn.execute(
            s.insert().values(
                token_hash=token_hash(token),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at or now + session_lifetime(),
                client_ip=client_ip,
            )
        )
    return token


def lookup(engine: sa.Engine, token: str | None) -> dict | None:
    """The signed-in user ({id, username, role}) for a live session token, else None."""
    if not token:
        return None
    s, u = tables.user_sessions, tables.users
    now = clock.now()
    digest = token_hash(token)
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(u.c.id, u.c.username, u.c.role, s.c.last_seen_at, s.c.expires_at)
                .join(u, u.c.id == s.c.user_id)
                .where(s.c.token_hash == digest, s.c.expires_at > now, u.c.active.is_(True))
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        if now - row["last_seen_at"] > LAST_SEEN_EVERY:
            conn.execute(s.update().where(s.c.token_hash == digest).values(last_seen_at=now))
            conn.commit()
    return {"id": row["id"], "username": row["username"], "role": row["role"], "expires_at": row["expires_at"]}


def rotate(engine: sa.Engine, token: str | None = None, *, digest: str | None = None) -> tuple[str, datetime] | None:
    """Replace a live session (by token or by its hash) with a new token, same owner and expiry; single use."""
    s = tables.user_sessions
    now = clock.now()
    digest = digest or (token_hash(token) if token else None)
    if not digest:
        return None
    with engine.begin() as conn:
        old = (
            conn.execute(
                s.delete()
                .where(s.c.token_hash == digest, s.c.expires_at > now)
                .returning(s.c.user_id, s.c.expires_at, s.c.client_ip, s.c.created_at)
            )
            .mappings()
            .first()
        )
        if old is None:
            return None
        new_token = secrets.token_urlsafe(32)
        conn.execute(
            s.insert().values(
                token_hash=token_hash(new_token),
                user_id=old["user_id"],
                created_at=old["created_at"],
                last_seen_at=now,
                expires_at=old["expires_at"],
                client_ip=old["client_ip"],
            )
        )
    return new_token, old["expires_at"]


def delete_session(engine: sa.Engine, token: str | None = None, *, digest: str | None = None) -> bool:
    digest = digest or (token_hash(token) if token else None)
    if not digest:
        return False
    s = tables.user_sessions
    with engine.begin() as conn:
        return bool(conn.execute(s.delete().where(s.c.token_hash == digest)).rowcount)


def delete_user_sessions(conn: sa.Connection, user_id: int) -> int:
    """End every session of a user (disable, password reset); runs in the caller's transaction."""
    s = tables.user_sessions
    return conn.execute(s.delete().where(s.c.user_id == user_id)).rowcount
