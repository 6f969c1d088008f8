"""The Alerts and History pages' actions for the signed-in user (alerts.channels, alerts.book, alerts.outbox),
each audited, and their lists (store.reads.alerts). Nothing here is cached: a list follows the action at once."""

from __future__ import annotations

from typing import Any

import pandas as pd

from alerts import book, channels, outbox, rules
from alerts.channels import InvalidAlert
from alerts.notifiers import SendResult
from alerts.series import SPREADS
from dashboard.access import audit
from store import clock
from store.db import get_engine
from store.reads import alerts as reads
from store.settings import get_settings

# What the pages need of the alerts package (pages import the read side's rooms only).
RuleSpec = book.RuleSpec
RULE_KINDS = book.tables.ALERT_RULE_KINDS
examples = rules.examples
__all__ = ["SPREADS", "InvalidAlert", "RULE_KINDS", "RuleSpec", "examples"]


def _audit(action: str, user: dict, client_ip: str | None, details: dict[str, Any]) -> None:
    with get_engine().begin() as conn:
        audit.write(conn, action, username=user["username"], client_ip=client_ip, details=details)


def my_channels(user: dict) -> pd.DataFrame:
    with get_engine().connect() as conn:
        table = reads.channels(conn, user["id"])
    table["target"] = [channels.shown_target(k, t) for k, t in zip(table["kind"], table["target"], strict=True)]
    return table


def my_rules(user: dict) -> pd.DataFrame:
    with get_engine().connect() as conn:
        return reads.rules(conn, user["id"])


def events(user: dict, *, everyone: bool = False, target: str | None = None, since=None) -> pd.DataFrame:
    with get_engine().connect() as conn:
        return reads.events(conn, user_id=None if everyone else user["id"], target=target or None, since=since)


def deliveries(user: dict, *, everyone: bool = False, event_id: int | None = None) -> pd.DataFrame:
    with get_engine().connect() as conn:
        return reads.deliveries(conn, user_id=None if everyone else user["id"], event_id=event_id)


def add_channel(user: dict, kind: str, target: str, label: str, *, client_ip: str | None) -> channels.NewChannel:
    new = channels.add_channel(get_engine(), user["id"], kind, target, label, admin=user["role"] == "admin")
    _audit("alert_channel_added", user, client_ip, {"channel": new.id, "kind": kind})
    return new


def rotate_secret(user: dict, channel_id: int, *, client_ip: str | None) -> str:
    grace = get_settings().alert_secret_grace_hours
    secret = channels.rotate_secret(get_engine(), channel_id, user["id"], now=clock.now(), grace_hours=grace)
    _audit("alert_secret_rotated", user, client_ip, {"channel": channel_id})
    return secret


def send_test(user: dict, channel_id: int) -> SendResult:
    return outbox.send_test(get_engine(), channel_id, user["id"])


def set_channel_enabled(user: dict, channel_id: int, enabled: bool, *, client_ip: str | None) -> None:
    channels.set_enabled(get_engine(), channel_id, user["id"], enabled)
    _audit("alert_channel_changed", user, client_ip, {"channel": channel_id, "enabled": enabled})


def remove_channel(user: dict, channel_id: int, *, client_ip: str | None) -> None:
    channels.remove_channel(get_engine(), channel_id, user["id"])
    _audit("alert_channel_changed", user, client_ip, {"channel": channel_id, "removed": True})


def save_rule(user: dict, spec: book.RuleSpec, rule_id: int | None = None, *, client_ip: str | None) -> int:
    """Add a rule (rule_id None) or replace one; InvalidAlert with the reason when it cannot be saved."""
    if rule_id is None:
        rule_id = book.add_rule(get_engine(), user["id"], spec, now=clock.now())
    else:
        book.update_rule(get_engine(), rule_id, user["id"], spec, now=clock.now())
    details = {"rule": rule_id, "kind": spec.kind, "target": spec.target, "condition": spec.when, "mode": spec.mode}
    _audit("alert_rule_saved", user, client_ip, details)
    return rule_id


def set_rule_enabled(user: dict, rule_id: int, enabled: bool, *, client_ip: str | None) -> None:
    book.set_enabled(get_engine(), rule_id, user["id"], enabled, now=clock.now())
    _audit("alert_rule_changed", user, client_ip, {"rule": rule_id, "enabled": enabled})


def remove_rule(user: dict, rule_id: int, *, client_ip: str | None) -> None:
    book.remove_rule(get_engine(), rule_id, user["id"])
    _audit("alert_rule_changed", user, client_ip, {"rule": rule_id, "removed": True})


def dry_run(kind: str, target: str, when: str) -> pd.DataFrame:
    return book.dry_run(get_engine(), kind, target, when)


def resend(user: dict, delivery_id: int, *, client_ip: str | None) -> None:
    owner = None if user["role"] == "admin" else user["id"]
    outbox.resend(get_engine(), delivery_id, owner)
    _audit("alert_resent", user, client_ip, {"delivery": delivery_id})
