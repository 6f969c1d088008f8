"""The Streamlit side of access control: who this session is, the sign-in form, page guards, sign-out, audit."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
import streamlit as st

from dashboard.access import audit, sessions
from dashboard.access.auth import attempt_login
from dashboard.access.client_ip import resolve_client_ip, trusted_hops
from dashboard.ui.components import load_or_stop
from store import tables
from store.db import get_engine
from store.settings import get_settings

log = logging.getLogger(__name__)

# Session state keys: the session token of this browser tab, and a browser navigation still to make.
TOKEN_KEY = "auth_token"  # noqa: S105 - a session_state key, not a secret
REDIRECT_KEY = "auth_redirect"
# Who this tab was signed in as, and why that session ended (said on the sign-in form).
USERNAME_KEY = "auth_username"
ENDED_KEY = "auth_ended"
DISABLED_MESSAGE = "Your account has been disabled, so you were signed out. Ask an administrator to enable it again."
ENDED_MESSAGE = "Your session has ended (it expired or was signed out elsewhere). Sign in again."


def client_ip() -> str | None:
    """This Streamlit session's client address (see dashboard.access.client_ip for what is trusted)."""
    headers = st.context.headers
    peer = st.context.ip_address
    if peer is None and headers:
        peer = "127.0.0.1"  # Streamlit hides loopback peers; a real connection exists, so it is local
    return resolve_client_ip(headers.get_all("X-Forwarded-For") if headers else [], peer, trusted_hops(get_settings()))


def binding_cookie() -> str | None:
    """This browser's binding cookie as its websocket sent it (what a login code is bound to)."""
    value = st.context.cookies.get(sessions.BINDING_COOKIE_NAME)
    return value if isinstance(value, str) and value else None


def _engine() -> sa.Engine:
    return get_engine()


def current_user() -> dict | None:
    """The signed-in user of this session: from this tab's token, or from the signed session cookie.

    Checked against the database on every run, so logout elsewhere, expiry, disabling the user or a
    role change take effect at the next interaction.
    """
    token = st.session_state.get(TOKEN_KEY)
    if token is None:
        token = sessions.read_cookie(st.context.cookies.get(sessions.COOKIE_NAME))
        if token is None:
            return None
    user = load_or_stop("your session", lambda: sessions.lookup(_engine(), token))
    if user is None:
        st.session_state.pop(TOKEN_KEY, None)
        previous = st.session_state.pop(USERNAME_KEY, None)
        if previous is not None:
            st.session_state[ENDED_KEY] = load_or_stop("your account", lambda: _why_ended(previous))
        return None
    st.session_state[TOKEN_KEY] = token
    st.session_state[USERNAME_KEY] = user["username"]
    return user


def _why_ended(username: str) -> str:
    """Why a session this tab held is gone: the account was disabled, or it expired / was signed out."""
    u = tables.users
    with _engine().connect() as conn:
        active = conn.execute(sa.select(u.c.active).where(u.c.username == username)).scalar_one_or_none()
    return DISABLED_MESSAGE if active is False else ENDED_MESSAGE


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
    ended = st.session_state.get(ENDED_KEY)
    if ended:
        (st.error if ended == DISABLED_MESSAGE else st.info)(ended)
    st.caption("Sign in to continue.")
    with st.form("login", clear_on_submit=False):
        username = st.text_input("Username", key="login_username", max_chars=64)
        password = st.text_input("Password", type="password", key="login_password", max_chars=256)
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    engine = _engine()
    ip = client_ip()
    outcome = load_or_stop("the sign-in check", lambda: attempt_login(engine, username or "", password or "", ip))
    signed = outcome.user
    if signed is None:
        st.error(outcome.message)
        return
    token = load_or_stop("a new session", lambda: sessions.create_session(engine, signed["id"], ip))
    st.session_state[TOKEN_KEY] = token
    st.session_state.pop(ENDED_KEY, None)
    binding = sessions.browser_binding(binding_cookie())
    if binding:
        code = load_or_stop("a new session", lambda: sessions.create_handoff(engine, token, binding))
        st.session_state[REDIRECT_KEY] = "/auth/session?" + urlencode({"code": code})
    else:
        # No binding cookie (cookies blocked): no code can be bound to this browser, so none is minted.
        log.warning("sign-in without a binding cookie: the session lasts for this tab only")
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


def refusal_page(title: str, roles: frozenset[str], user: dict) -> Callable[[], None]:
    """A stand-in for a page `user`'s role may not open: its URL says so instead of falling back to Overview."""

    def _render() -> None:
        log.warning("refused the %s page to %s (%s)", title, user["username"], user["role"])
        st.title(title)
        needed = " or ".join(sorted(roles))
        st.error(
            f"The {title} page needs the {needed} role; you are signed in with the {user['role']} role. "
            "Ask an administrator if you need it."
        )

    return _render


def logout() -> None:
    """End the session server-side (a copied cookie stops working) and have the browser drop the cookie."""
    token = st.session_state.pop(TOKEN_KEY, None)
    st.session_state.pop(USERNAME_KEY, None)  # signed out on purpose: nothing to explain on the form
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

    user = load_or_stop("the sign-out", _end)
    if user is not None:
        log.info("logout: %s", user["username"])


# -- the audit trail of this session's user ----------------------------------------------------------


def record(action: str, details: dict[str, Any] | None = None, *, engine: sa.Engine | None = None) -> None:
    """Record `action` by the signed-in user of this Streamlit session, e.g. `gate.record("export", {...})`.

    For pages: a failure to write is logged and does not break the page.
    """
    user = current_user()
    try:
        with (engine or get_engine()).begin() as conn:
            audit.write(
                conn,
                action,
                username=user["username"] if user else None,
                client_ip=client_ip(),
                details=details,
            )
    except sa.exc.SQLAlchemyError as exc:
        log.error("audit: could not record %s: %s", action, type(exc).__name__)


def recorder(action: str, details: dict[str, Any] | None = None) -> Callable[[], None]:
    """A callable that records `action` for this session's user when it is called later.

    For deferred downloads: Streamlit builds such a file outside the script run (no session there), so the
    user and client IP are captured now and written when the file is actually requested.
    """
    # This run's require_login has just checked the session and noted its user: no second database lookup per
    # button (a page may offer a dozen files).
    username = st.session_state.get(USERNAME_KEY) if st.session_state.get(TOKEN_KEY) else None
    if username is None:
        user = current_user()
        username = user["username"] if user else None
    address = client_ip()

    def _record() -> None:
        try:
            with get_engine().begin() as conn:
                audit.write(conn, action, username=username, client_ip=address, details=details)
        except sa.exc.SQLAlchemyError as exc:
            log.error("audit: could not record %s: %s", action, type(exc).__name__)

    return _record
