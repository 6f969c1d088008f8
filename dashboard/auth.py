"""Login gate: users with argon2 hashes in PostgreSQL, a local first-start password, and the page guard."""

from __future__ import annotations

import hmac
import logging
import secrets

import sqlalchemy as sa
import streamlit as st
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from store import tables
from store.settings import Settings

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verifying against this when the user does not exist makes a miss cost as much as a hit.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
SESSION_KEY = "auth_user"


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


def authenticate(engine: sa.Engine, username: str, password: str) -> dict | None:
    """The user's record when the credentials match an active user, else None (same cost either way)."""
    users = tables.users
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(users.c.id, users.c.username, users.c.password_hash, users.c.role, users.c.active).where(
                    users.c.username == username.strip()
                )
            )
            .mappings()
            .first()
        )
    ok = _verify(row["password_hash"] if row else _DUMMY_HASH, password)
    # compare_digest keeps the final decision branch-free with respect to the stored name.
    if not (ok and row is not None and row["active"] and hmac.compare_digest(row["username"], username.strip())):
        return None
    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == row["id"]).values(last_login_at=sa.func.now()))
    return {"id": row["id"], "username": row["username"], "role": row["role"]}


def current_user() -> dict | None:
    return st.session_state.get(SESSION_KEY)


def login_form() -> None:
    """The sign-in form; on success the session holds the user and the app reruns."""
    from store.db import get_engine

    st.title("Market Desk")
    st.caption("Sign in to continue.")
    with st.form("login", clear_on_submit=False):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        user = authenticate(get_engine(), username, password) if username and password else None
        if user is None:
            log.info("login failed")
            st.error("Invalid username or password.")
            return
        st.session_state[SESSION_KEY] = user
        log.info("login ok: %s", user["username"])
        st.rerun()


def require_login() -> dict:
    """Guard at the top of every page: a logged-out session sees the sign-in form and nothing else."""
    user = current_user()
    if user is None:
        login_form()
        st.stop()
    return user


def logout() -> None:
    st.session_state.pop(SESSION_KEY, None)
