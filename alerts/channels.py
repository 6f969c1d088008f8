"""Alert channels: where a user's alerts go (a Standard Webhooks endpoint, a Slack incoming webhook, an email address).

Adding a webhook channel creates its `whsec_` secret, returned once (the caller shows or prints it, nothing lists it
again); rotating gives a new one while the previous one keeps signing for ALERT_SECRET_GRACE_HOURS, so a receiver
can switch without losing a delivery. An admin's first channel also gets the operators' default rules (an ingestion
job failed, a provider circuit opened). No pandas here: the worker's long-lived parent sends deliveries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from alerts.net import RefusedDestination, check_url
from alerts.notifiers import new_secret
from store import tables
from store.settings import get_settings

KINDS = tables.ALERT_CHANNEL_KINDS
EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
# The operators' rules an admin's first channel receives (canonical texts of alerts.rules).
ADMIN_DEFAULT_RULES = (("data", "*", "job failed"), ("data", "*", "circuit opened"))


class InvalidAlert(ValueError):
    """A channel or rule that cannot be saved; the message says why (plain text: callers escape it)."""


@dataclass(frozen=True)
class NewChannel:
    id: int
    secret: str | None  # the webhook's whsec_ secret: shown once


def user_id(conn: sa.Connection, username: str) -> int:
    """The id of an active user; InvalidAlert otherwise."""
    u = tables.users
    row = conn.execute(sa.select(u.c.id, u.c.active).where(u.c.username == username)).first()
    if row is None:
        raise InvalidAlert(f"no user named {username!r}")
    if not row.active:
        raise InvalidAlert(f"the user {username!r} is disabled")
    return int(row.id)


def check_target(kind: str, target: str) -> str:
    """The channel's target, trimmed and checked for its kind (a URL's host is resolved only when sending)."""
    if kind not in KINDS:
        raise InvalidAlert(f"unknown channel kind {kind!r}; expected one of {', '.join(KINDS)}")
    target = (target or "").strip()
    if not target:
        raise InvalidAlert("a channel needs a target: a URL, or an email address")
    if kind == "email":
        if not EMAIL.match(target):
            raise InvalidAlert(f"{target!r} is not an email address")
        return target
    if len(target) > 2000:
        raise InvalidAlert("the URL is longer than 2,000 characters")
    try:
        check_url(target, get_settings().alert_allowed_hosts)
    except RefusedDestination as exc:
        raise InvalidAlert(str(exc)) from None
    return target


def shown_target(kind: str, target: str) -> str:
    """The target as lists show it: a Slack URL's path is its credential, so only the host is shown."""
    if kind == "slack":
        return f"{urlsplit(target).scheme}://{urlsplit(target).hostname}/…"
    return target


def add_channel(
    engine: sa.Engine, user: int, kind: str, target: str, label: str | None = None, *, admin: bool = False
) -> NewChannel:
    """Save a channel for user id `user`; returns its id and, for a webhook, its secret (shown once)."""
    target = check_target(kind, target)
    label = (label or "").strip() or f"{kind} {urlsplit(target).hostname or target}"[:64]
    secret = new_secret() if kind == "webhook" else None
    c = tables.alert_channels
    with engine.begin() as conn:
        first = not conn.execute(sa.select(sa.exists().where(c.c.user_id == user))).scalar_one()
        channel_id = conn.execute(
            c.insert().values(user_id=user, kind=kind, label=label[:64], target=target, secret=secret).returning(c.c.id)
        ).scalar_one()
        if admin and first:
            _add_admin_defaults(conn, user, channel_id)
    return NewChannel(int(channel_id), secret)


def _add_admin_defaults(conn: sa.Connection, user: int, channel_id: int) -> None:
    r, rc = tables.alert_rules, tables.alert_rule_channels
    for kind, target, condition in ADMIN_DEFAULT_RULES:
        exists = sa.exists().where(r.c.user_id == user, r.c.kind == kind, r.c.condition == condition)
        if conn.execute(sa.select(exists)).scalar_one():
            continue
        rule_id = conn.execute(
            r.insert()
            .values(
                user_id=user,
                kind=kind,
                target=target,
                condition=condition,
                mode="every-time",
                watermark=sa.func.now(),
                note="default for admins",
            )
            .returning(r.c.id)
        ).scalar_one()
        conn.execute(rc.insert().values(rule_id=rule_id, channel_id=channel_id))


def owned(conn: sa.Connection, channel_id: int, user: int | None) -> sa.Row:
    """The channel's row, if it exists and belongs to `user` (any user's when None: an admin); InvalidAlert if not."""
    c = tables.alert_channels
    query = sa.select(c).where(c.c.id == channel_id)
    if user is not None:
        query = query.where(c.c.user_id == user)
    row = conn.execute(query).first()
    if row is None:
        raise InvalidAlert(f"no channel {channel_id}" + (" of yours" if user is not None else ""))
    return row


def rotate_secret(engine: sa.Engine, channel_id: int, user: int | None, *, now: datetime, grace_hours: float) -> str:
    """A new secret for a webhook channel (returned once); the previous one keeps signing for `grace_hours`."""
    c = tables.alert_channels
    with engine.begin() as conn:
        row = owned(conn, channel_id, user)
        if row.kind != "webhook":
            raise InvalidAlert(f"channel {channel_id} is a {row.kind} channel: only webhooks have a signing secret")
        secret = new_secret()
        conn.execute(
            c.update()
            .where(c.c.id == channel_id)
            .values(
                secret=secret,
                previous_secret=row.secret,
                previous_secret_until=now + timedelta(hours=grace_hours),
                updated_at=now,
            )
        )
    return secret


def signing_secrets(
    secret: str | None, previous: str | None, previous_until: datetime | None, now: datetime
) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during its grace period."""
    secrets = [secret] if secret else []
    if previous and previous_until is not None and now < previous_until:
        secrets.append(previous)
    return secrets


def set_enabled(engine: sa.Engine, channel_id: int, user: int | None, enabled: bool, reason: str | None = None) -> None:
    c = tables.alert_channels
    with engine.begin() as conn:
        owned(conn, channel_id, user)
        values = {"enabled": enabled, "disabled_reason": None if enabled else (reason or "disabled by its owner")}
        conn.execute(c.update().where(c.c.id == channel_id).values(**values, updated_at=sa.func.now()))


def remove_channel(engine: sa.Engine, channel_id: int, user: int | None) -> None:
    """Delete a channel (its deliveries go with it; events stay in the history)."""
    with engine.begin() as conn:
        owned(conn, channel_id, user)
        conn.execute(tables.alert_channels.delete().where(tables.alert_channels.c.id == channel_id))
