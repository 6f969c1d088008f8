"""Login gate: argon2 users in PostgreSQL, lockout, sessions that survive a refresh, and the page guards."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import sqlalchemy as sa
import streamlit as st
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dashboard import audit, lockout, sessions
from dashboard.client_ip import resolve_client_ip, trusted_hops
from store import clock, tables
from store.settings import Settings, get_settings

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verifying against this when the user does not exist makes a miss cost as much as a hit.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
# Session state keys: the session token of this browser tab, and a browser navigation still to make.
TOKEN_KEY = "auth_token"  # noqa: S105 - a session_state key, not a secret
REDIRECT_KEY = "auth_redirect"
XSRF_COOKIE_NAME = "_streamlit_xsrf"
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


def client_ip() -> str | None:
    """This Streamlit session's client address (see dashboard.client_ip for what is trusted)."""
    headers = st.context.headers
    peer = st.context.ip_address
    if peer is None and headers:
        peer = "127.0.0.1"  # Streamlit hides loopback peers; a real connection exists, so it is local
    return resolve_client_ip(headers.get_all("X-Forwarded-For") if headers else [], peer, trusted_hops(get_settings()))


def _engine() -> sa.Engine:
    from store.db import get_engine

    return get_engine()


def current_user() -> dict | None:
    """The signed-in user of this session: from this tab's token, or from the signed session cookie.

    Checked against the database on every run, so logout elsewhere, expiry, disabling the user or a
    role change take effect at the next interaction.
    """
    from dashboard import ui

    token = st.session_state.get(TOKEN_KEY)
    if token is None:
        token = sessions.read_cookie(st.context.cookies.get(sessions.COOKIE_NAME))
        if token is None:
            return None
    user = ui.load_or_stop("your session", lambda: sessions.lookup(_engine(), token))
    if user is None:
        st.session_state.pop(TOKEN_KEY, None)
        return None
    st.session_state[TOKEN_KEY] = token
    return user


def _redirect_browser() -> None:
    """Make the browser visit a pending /auth/... URL (only an HTTP response can set or clear the cookie).

    The URL is built here from signed values only; the browser adds where it is, to come back to it.
    """
    url = st.session_state.pop(REDIRECT_KEY, None)
    if not url:
        return
    st.html(
        "<script>window.location.replace("
        f"{json.dumps(url)} + '&next=' + encodeURIComponent(window.location.pathname + window.location.search)"
        ");</script>",
        unsafe_allow_javascript=True,
        width="content",
    )


def login_form() -> None:
    """The sign-in form; on success this tab is signed in and the browser is sent to store the cookie."""
    _redirect_browser()  # a sign-out that still has to clear the cookie
    st.title("Market Desk")
    st.caption("Sign in to continue.")
    with st.form("login", clear_on_submit=False):
        username = st.text_input("Username", key="login_username", max_chars=64)
        password = st.text_input("Password", type="password", key="login_password", max_chars=256)
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    from dashboard import ui

    engine = _engine()
    ip = client_ip()
    outcome = ui.load_or_stop("the sign-in check", lambda: attempt_login(engine, username or "", password or "", ip))
    if outcome.user is None:
        st.error(outcome.message)
        return
    token = ui.load_or_stop("a new session", lambda: sessions.create_session(engine, outcome.user["id"], ip))
    st.session_state[TOKEN_KEY] = token
    binding = sessions.browser_binding(st.context.cookies.get(XSRF_COOKIE_NAME))
    st.session_state[REDIRECT_KEY] = "/auth/session?" + urlencode({"code": sessions.handoff_code(token, binding)})
    st.rerun()


def require_login() -> dict:
    """Guard at the top of every page: a logged-out session sees the sign-in form and nothing else."""
    user = current_user()
    if user is None:
        login_form()
        st.stop()
    _redirect_browser()  # a fresh sign-in: store the session cookie, then come back to this page
    return user


def require_role(*roles: str) -> dict:
    """Guard for restricted pages, after require_login: other roles get a refusal and nothing else."""
    user = require_login()
    if user["role"] not in roles:
        log.warning("refused %s page to %s (%s)", "/".join(roles), user["username"], user["role"])
        st.error("This page is for administrators only." if roles == ("admin",) else "You may not open this page.")
        st.stop()
    return user


def logout() -> None:
    """End the session server-side (a copied cookie stops working) and have the browser drop the cookie."""
    from dashboard import ui

    token = st.session_state.pop(TOKEN_KEY, None)
    cookie_token = sessions.read_cookie(st.context.cookies.get(sessions.COOKIE_NAME))
    # The cookie must go even if the database is down; the rows then expire on their own.
    st.session_state[REDIRECT_KEY] = "/auth/logout?" + urlencode({"code": sessions.logout_code(cookie_token)})

    def _end() -> dict | None:
        user = sessions.lookup(_engine(), token) if token else None
        for value in {token, cookie_token} - {None}:
            sessions.delete_session(_engine(), value)
        if user is not None:
            with _engine().begin() as conn:
                audit.write(conn, "logout", username=user["username"], client_ip=client_ip())
        return user

    user = ui.load_or_stop("the sign-out", _end)
    if user is not None:
        log.info("logout: %s", user["username"])
