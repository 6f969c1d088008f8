"""Personal API tokens: create (shown once), list, revoke, and the lookup every /api/v1 request makes.

A token is `mdk_` plus 43 url-safe characters (256 random bits). Only its sha256 is stored: a fast hash is right
for a secret this long (a password needs a slow one because it is guessable; a token is not), and it keeps the
per-request lookup to one indexed read. The first 12 characters (`prefix`) are kept to tell tokens apart in lists.
A token acts with its user's current role; it stops working when revoked, expired, or when its user is disabled.
Creation and revocation are audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import sqlalchemy as sa

from dashboard.access import audit
from dashboard.access.errors import UserError
from store import clock, tables

TOKEN_PREFIX = "mdk_"  # noqa: S105 - the public prefix of every token, not a secret
PREFIX_SHOWN = 12
LABEL_MAX = 64
# last_used_at is written at most this often per token: a busy script does not turn every read into a write.
LAST_USED_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenUser:
    """Who a valid token speaks for."""

    token_id: int
    user_id: int
    username: str
    role: str


def _label(label: str) -> str:
    text = (label or "").strip()
    if not text or len(text) > LABEL_MAX or any(ord(ch) < 32 for ch in text):
        raise UserError(f"A token label is 1 to {LABEL_MAX} printable characters.")
    return text


def _expiry(expires: date | datetime | None) -> datetime | None:
    """A date means the end of that day (UTC); it must lie in the future."""
    if expires is None:
        return None
    moment = expires if isinstance(expires, datetime) else datetime.combine(expires, time.max, tzinfo=UTC)
    if moment.tzinfo is None:
        raise UserError("The expiry must carry a time zone.")
    if moment <= clock.now():
        raise UserError("The expiry must be in the future.")
    return moment


def create(
    engine: sa.Engine,
    username: str,
    label: str,
    expires: date | datetime | None = None,
    *,
    actor: str | None,
    client_ip: str | None = None,
) -> tuple[int, str]:
    """A new token for `username` (an active user): (id, token). The token is returned here and never again."""
    text, until = _label(label), _expiry(expires)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    u, t = tables.users, tables.api_tokens
    with engine.begin() as conn:
        user = conn.execute(sa.select(u.c.id, u.c.active).where(u.c.username == username)).first()
        if user is None:
            raise UserError(f"There is no user named {username!r}.")
        if not user.active:
            raise UserError(f"{username!r} is disabled: enable the user first.")
        token_id = conn.execute(
            t.insert()
            .values(
                user_id=user.id,
                label=text,
                token_hash=token_hash(token),
                prefix=token[:PREFIX_SHOWN],
                created_at=clock.now(),
                expires_at=until,
            )
            .returning(t.c.id)
        ).scalar_one()
        audit.write(
            conn,
            "api_token_created",
            username=actor,
            client_ip=client_ip,
            details={"user": username, "token_id": token_id, "label": text, "expires": until and until.isoformat()},
        )
    return token_id, token


def list_tokens(engine: sa.Engine, username: str | None = None) -> pd.DataFrame:
    """Tokens (all users', or one user's): id, user, label, prefix, created, expires, last used, revoked, state."""
    u, t = tables.users, tables.api_tokens
    query = (
        sa.select(
            t.c.id,
            u.c.username.label("user"),
            t.c.label,
            t.c.prefix,
            t.c.created_at,
            t.c.expires_at,
            t.c.last_used_at,
            t.c.revoked_at,
            t.c.revoked_by,
        )
        .join(u, u.c.id == t.c.user_id)
        .order_by(t.c.id)
    )
    if username is not None:
        query = query.where(u.c.username == username)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=list(query.selected_columns.keys()))
    now = clock.now()
    frame["state"] = [
        "revoked" if pd.notna(r) else "expired" if pd.notna(e) and e <= now else "active"
        for r, e in zip(frame["revoked_at"], frame["expires_at"], strict=True)
    ]
    return frame


def revoke(engine: sa.Engine, token_id: int, *, actor: str, actor_role: str, client_ip: str | None = None) -> bool:
    """Revoke a token: its owner may, and an admin may revoke anyone's. False when it was already revoked.
    UserError for an unknown id or someone else's token."""
    u, t = tables.users, tables.api_tokens
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(t.c.id, t.c.revoked_at, u.c.username)
            .join(u, u.c.id == t.c.user_id)
            .where(t.c.id == int(token_id))
            .with_for_update(of=t)
        ).first()
        if row is None or (actor_role != "admin" and row.username != actor):
            raise UserError(f"There is no token {token_id} of yours.")  # another user's token does not exist for you
        if row.revoked_at is not None:
            return False
        conn.execute(t.update().where(t.c.id == row.id).values(revoked_at=clock.now(), revoked_by=actor[:64]))
        audit.write(
            conn,
            "api_token_revoked",
            username=actor,
            client_ip=client_ip,
            details={"user": row.username, "token_id": row.id},
        )
    return True


def authenticate(engine: sa.Engine, token: str | None) -> TokenUser | None:
    """The user a presented token speaks for, or None (unknown, revoked, expired, user disabled)."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    u, t = tables.users, tables.api_tokens
    now = clock.now()
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(t.c.id, t.c.user_id, t.c.expires_at, t.c.revoked_at, t.c.last_used_at, u.c.username, u.c.role)
            .join(u, u.c.id == t.c.user_id)
            .where(t.c.token_hash == token_hash(token), u.c.active.is_(True))
        ).first()
        if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
            conn.execute(t.update().where(t.c.id == row.id).values(last_used_at=now))
    return TokenUser(row.id, row.user_id, row.username, row.role)
