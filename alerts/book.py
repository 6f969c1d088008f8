"""Alert rules as users keep them: add, edit, enable/disable, delete, and "test this rule now" on the stored data.

The page and the CLI both come here, so a rule is checked once, with the same messages: its condition parses
(alerts.rules), its target exists (a stored symbol, a stored series or a spread, a dataset), its channels are the
user's, its expiry is in the future. A new rule's watermark is its target's latest stored observation: it fires on
data that arrives after it was made, never on history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from alerts import rules
from alerts.channels import InvalidAlert
from alerts.series import SPREADS, observation_time, target_series
from store import tables
from store.identifiers import SERIES_ID, SYMBOL

MODES = tables.ALERT_MODES
DATASETS = ("prices", "macro", "quotes")  # what an "older than" rule may watch besides one symbol or series
NAME = re.compile(r"^[a-z0-9_.-]{1,32}$")  # a job or provider name


@dataclass(frozen=True)
class RuleSpec:
    kind: str
    target: str
    when: str
    channels: tuple[int, ...] = ()
    mode: str = "once-per-bar"
    cooldown_seconds: int = 0
    expires_at: datetime | None = None
    note: str | None = None


def check(conn: sa.Connection, spec: RuleSpec, user: int, now: datetime) -> tuple[rules.Condition, str]:
    """The parsed condition and the normalised target; InvalidAlert with the reason otherwise."""
    try:
        condition = rules.parse(spec.kind, spec.when)
    except rules.RuleError as exc:
        raise InvalidAlert(str(exc)) from None
    target = _check_target(conn, spec.kind, (spec.target or "").strip(), condition)
    if spec.mode not in MODES:
        raise InvalidAlert(f"unknown mode {spec.mode!r}; expected one of {', '.join(MODES)}")
    if not 0 <= spec.cooldown_seconds <= 366 * 86400:
        raise InvalidAlert("the cooldown must be between 0 seconds and a year")
    if spec.expires_at is not None and spec.expires_at <= now:
        raise InvalidAlert(f"the expiry {spec.expires_at:%Y-%m-%d %H:%M} is not in the future")
    if spec.note is not None and len(spec.note) > 200:
        raise InvalidAlert("the note is longer than 200 characters")
    c = tables.alert_channels
    mine = set(conn.execute(sa.select(c.c.id).where(c.c.user_id == user)).scalars())
    unknown = [str(ch) for ch in spec.channels if ch not in mine]
    if unknown:
        raise InvalidAlert(f"no channel {', '.join(unknown)} of yours; add a channel first (python -m alerts list)")
    return condition, target


def _check_target(conn: sa.Connection, kind: str, target: str, condition: rules.Condition) -> str:
    if kind == "price":
        try:
            symbol = SYMBOL.normalise(target)
        except ValueError as exc:
            raise InvalidAlert(str(exc)) from None
        inst = tables.instruments
        if not conn.execute(sa.select(sa.exists().where(inst.c.symbol == symbol))).scalar_one():
            raise InvalidAlert(f"unknown ticker {symbol!r}: it is not among the stored instruments")
        return symbol
    if kind == "macro":
        name = target.upper()
        if name in SPREADS:
            return name
        if condition.op in ("inverts", "uninverts"):
            raise InvalidAlert(f"'{condition.text}' is for a spread: one of {', '.join(SPREADS)}")
        if SERIES_ID.problem(name) is not None:
            raise InvalidAlert(f"{target!r} is not a FRED series id (or a spread: {', '.join(SPREADS)})")
        series = tables.macro_series
        if not conn.execute(sa.select(sa.exists().where(series.c.series_id == name))).scalar_one():
            raise InvalidAlert(f"unknown series {name!r}: it is not among the stored series")
        return name
    # data rules
    if condition.op == "older-than":
        if target.lower() in DATASETS:
            return target.lower()
        up = target.upper()
        inst, series = tables.instruments, tables.macro_series
        if conn.execute(sa.select(sa.exists().where(inst.c.symbol == up))).scalar_one():
            return up
        if conn.execute(sa.select(sa.exists().where(series.c.series_id == up))).scalar_one():
            return up
        raise InvalidAlert(f"{target!r} is neither a dataset ({', '.join(DATASETS)}) nor a stored symbol or series")
    if target == "*" or NAME.match(target.lower()):
        return target.lower()
    what = "job" if condition.op == "job-failed" else "provider"
    raise InvalidAlert(f"{target!r} is not a {what} name (or * for any)")


def _watermark(
    conn: sa.Connection, kind: str, target: str, condition: rules.Condition, now: datetime
) -> datetime | None:
    """Where a new rule starts: after the latest stored observation of its target (now, for job/circuit rules)."""
    if kind == "data":
        return None if condition.op == "older-than" else now
    series = target_series(conn, kind, target)
    return observation_time(series.index[-1]) if len(series) else None


def add_rule(engine: sa.Engine, user: int, spec: RuleSpec, *, now: datetime) -> int:
    """Save a rule; returns its id."""
    with engine.begin() as conn:
        condition, target = check(conn, spec, user, now)
        r = tables.alert_rules
        rule_id = conn.execute(
            r.insert()
            .values(
                user_id=user,
                kind=spec.kind,
                target=target,
                condition=condition.text,
                mode=spec.mode,
                cooldown_seconds=spec.cooldown_seconds,
                expires_at=spec.expires_at,
                note=spec.note,
                watermark=_watermark(conn, spec.kind, target, condition, now),
            )
            .returning(r.c.id)
        ).scalar_one()
        _set_channels(conn, rule_id, spec.channels)
    return int(rule_id)


def update_rule(engine: sa.Engine, rule_id: int, user: int | None, spec: RuleSpec, *, now: datetime) -> None:
    """Replace a rule's definition (a changed condition or target starts again from the latest observation)."""
    r = tables.alert_rules
    with engine.begin() as conn:
        row = owned(conn, rule_id, user)
        condition, target = check(conn, spec, row.user_id, now)
        values = {
            "kind": spec.kind,
            "target": target,
            "condition": condition.text,
            "mode": spec.mode,
            "cooldown_seconds": spec.cooldown_seconds,
            "expires_at": spec.expires_at,
            "note": spec.note,
            "updated_at": now,
        }
        if (row.kind, row.target, row.condition) != (spec.kind, target, condition.text):
            values["watermark"] = _watermark(conn, spec.kind, target, condition, now)
            values["last_bar"] = None
        conn.execute(r.update().where(r.c.id == rule_id).values(**values))
        _set_channels(conn, rule_id, spec.channels)


def _set_channels(conn: sa.Connection, rule_id: int, channels: tuple[int, ...]) -> None:
    rc = tables.alert_rule_channels
    conn.execute(rc.delete().where(rc.c.rule_id == rule_id))
    if channels:
        conn.execute(rc.insert(), [{"rule_id": rule_id, "channel_id": ch} for ch in sorted(set(channels))])


def owned(conn: sa.Connection, rule_id: int, user: int | None) -> sa.Row:
    r = tables.alert_rules
    query = sa.select(r).where(r.c.id == rule_id)
    if user is not None:
        query = query.where(r.c.user_id == user)
    row = conn.execute(query).first()
    if row is None:
        raise InvalidAlert(f"no rule {rule_id}" + (" of yours" if user is not None else ""))
    return row


def set_enabled(engine: sa.Engine, rule_id: int, user: int | None, enabled: bool, *, now: datetime) -> None:
    """Enable or disable a rule; enabling starts it again from the latest observation (no catch-up on history)."""
    r = tables.alert_rules
    with engine.begin() as conn:
        row = owned(conn, rule_id, user)
        values: dict = {"enabled": enabled, "updated_at": now}
        if enabled and not row.enabled:
            condition = rules.parse(row.kind, row.condition)
            values["watermark"] = _watermark(conn, row.kind, row.target, condition, now)
        conn.execute(r.update().where(r.c.id == rule_id).values(**values))


def remove_rule(engine: sa.Engine, rule_id: int, user: int | None) -> None:
    """Delete a rule (its events stay in the history, no longer linked to it)."""
    with engine.begin() as conn:
        owned(conn, rule_id, user)
        conn.execute(tables.alert_rules.delete().where(tables.alert_rules.c.id == rule_id))


def dry_run(engine: sa.Engine, kind: str, target: str, when: str, *, limit: int = 50) -> pd.DataFrame:
    """What a rule would have fired on over the stored data (the latest `limit` hits): at, value, threshold, detail.
    Nothing is written. InvalidAlert for a bad rule."""
    try:
        condition = rules.parse(kind, when)
    except rules.RuleError as exc:
        raise InvalidAlert(str(exc)) from None
    with engine.connect() as conn:
        target = _check_target(conn, kind, (target or "").strip(), condition)
        if kind == "data":
            raise InvalidAlert("data rules watch what happens from now on: there is no stored history to test them on")
        series = target_series(conn, kind, target)
    found = rules.hits(condition, series)[-limit:]
    return pd.DataFrame(
        [(h.at, h.value, h.threshold, h.detail) for h in reversed(found)],
        columns=["observed", "value", "threshold", "detail"],
    )
