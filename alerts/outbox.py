"""The outbox: alert deliveries are rows written with their event; this module sends the due ones and keeps the log.

A sender claims due deliveries (`claimed_until`, with SKIP LOCKED, so several senders never take the same row),
sends each through its channel (alerts.notifiers), then records the attempt and the delivery's next state in one
transaction. A sender killed between sending and recording lets its claim lapse, and the delivery is sent again
with the same `webhook-id` (at least once; the event itself is never written twice). Failures are retried on the
ALERT_RETRY_SCHEDULE (the Standard Webhooks one by default) with jitter, never sooner than a `Retry-After`; 410
Gone disables the channel. No pandas here: the worker's long-lived parent runs this.
"""

from __future__ import annotations

import logging
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from alerts.channels import InvalidAlert, owned, shown_target, signing_secrets
from alerts.notifiers import Message, SendResult, SmtpSettings, send_email, send_slack, send_webhook
from store import clock, tables
from store.settings import Settings, get_settings

log = logging.getLogger(__name__)

CLAIM_MARGIN = timedelta(seconds=5)  # beyond twice the send timeout: a claim older than this belongs to a dead sender
JITTER = 0.1  # up to 10% added to each wait, so retries of many deliveries spread out
MAX_RETRY_AFTER = timedelta(days=1)  # a receiver's Retry-After is honoured up to this


@dataclass
class Outcome:
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    results: dict[int, SendResult] = field(default_factory=dict)  # delivery id -> the last result


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def message_for(payload: dict[str, Any], webhook_id: str) -> Message:
    """What every channel sends for an event: the JSON body, a subject line and a plain-text body."""
    target = payload.get("symbol") or payload.get("series") or payload.get("target") or ""
    subject = f"Alert: {target} {payload.get('detail', '')}".strip()
    lines = [
        subject,
        f"Rule: {payload.get('rule', {}).get('condition', '')} ({payload.get('rule', {}).get('mode', '')})",
        f"Observation: {payload.get('observed_at', '')}",
        f"As of: {payload.get('as_of', '')}",
    ]
    if payload.get("link"):
        lines.append(f"View: {payload['link']}")
    return Message(webhook_id=webhook_id, payload=payload, subject=subject[:200], text="\n".join(lines))


def _smtp(settings: Settings) -> SmtpSettings | None:
    if not settings.smtp_host:
        return None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=password,
        sender=settings.smtp_sender,
        timeout=settings.alert_timeout_seconds,
    )


def send(row: Any, settings: Settings, now: datetime) -> SendResult:
    """Send one claimed delivery (a row with the channel's kind, target, secrets and the event's payload)."""
    message = message_for(row.payload, row.webhook_id)
    timeout, allowed = settings.alert_timeout_seconds, settings.alert_allowed_hosts
    try:
        if row.kind == "webhook":
            secrets = signing_secrets(row.secret, row.previous_secret, row.previous_secret_until, now)
            return send_webhook(row.target, secrets, message, timestamp=now, timeout=timeout, allowed_hosts=allowed)
        if row.kind == "slack":
            return send_slack(row.target, message, timeout=timeout, allowed_hosts=allowed)
        smtp = _smtp(settings)
        if smtp is None:
            return SendResult(False, None, 0.0, "email is not configured: set SMTP_HOST (and SMTP_* as needed)", None)
        return send_email(smtp, row.target, message)
    except Exception as exc:  # noqa: BLE001 - a sender's bug must not lose the delivery: it is retried
        log.exception("alert delivery %s to channel %s failed unexpectedly", row.id, row.channel_id)
        return SendResult(False, None, 0.0, f"unexpected error: {type(exc).__name__}", None)


_CLAIM = sa.text(
    """
    update alert_deliveries set claimed_until = :until
    where id in (
        select d.id from alert_deliveries d
        where d.state = 'pending' and d.next_attempt_at <= :now
          and (d.claimed_until is null or d.claimed_until < :now)
          and (cast(:ids as bigint[]) is null or d.id = any(cast(:ids as bigint[])))
        order by d.next_attempt_at, d.id
        limit :limit
        for update skip locked
    )
    returning id
    """
)


def _claimed_rows(conn: sa.Connection, ids: list[int]) -> list[sa.Row]:
    d, c, e = tables.alert_deliveries, tables.alert_channels, tables.alert_events
    query = (
        sa.select(
            d.c.id,
            d.c.channel_id,
            d.c.webhook_id,
            d.c.attempts,
            c.c.kind,
            c.c.target,
            c.c.secret,
            c.c.previous_secret,
            c.c.previous_secret_until,
            c.c.enabled,
            e.c.payload,
        )
        .join(c, c.c.id == d.c.channel_id)
        .join(e, e.c.id == d.c.event_id)
        .where(d.c.id.in_(ids))
        .order_by(d.c.id)
    )
    return list(conn.execute(query).all())


def deliver_due(
    engine: sa.Engine,
    settings: Settings | None = None,
    *,
    now: datetime | None = None,
    limit: int = 200,
    concurrency: int = 8,
    delivery_ids: list[int] | None = None,
) -> Outcome:
    """Send the deliveries due now (or only `delivery_ids`, when due), up to `limit`, `concurrency` at a time."""
    settings = settings or get_settings()
    now = now or clock.now()
    until = now + timedelta(seconds=2 * settings.alert_timeout_seconds) + CLAIM_MARGIN
    with engine.begin() as conn:
        ids = [r.id for r in conn.execute(_CLAIM, {"until": until, "now": now, "ids": delivery_ids, "limit": limit})]
        rows = _claimed_rows(conn, ids) if ids else []
    outcome = Outcome()
    if not rows:
        return outcome
    sendable = [r for r in rows if r.enabled]
    for row in rows:
        if not row.enabled:
            _cancel(engine, row.id, "the channel is disabled")
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(sendable) or 1))) as pool:
        sent = list(
            zip(sendable, pool.map(lambda r: (send(r, settings, clock.now()), clock.now()), sendable), strict=True)
        )
    states = record(engine, [(row, result, finished) for row, (result, finished) in sent], settings)
    for (row, (result, _)), state in zip(sent, states, strict=True):
        outcome.attempted += 1
        outcome.results[row.id] = result
        setattr(outcome, state, getattr(outcome, state) + 1)
    return outcome


def _next_wait(attempts: int, result: SendResult, waits: tuple[float, ...]) -> timedelta | None:
    """The wait before the next attempt after `attempts` failed ones; None when the schedule is exhausted."""
    if attempts >= len(waits):
        return None
    wait = waits[attempts] * (1 + random.uniform(0, JITTER))
    if result.retry_after is not None:
        wait = max(wait, min(result.retry_after, MAX_RETRY_AFTER.total_seconds()))
    return timedelta(seconds=wait)


def _next_state(row: Any, result: SendResult, now: datetime, settings: Settings) -> tuple[str, dict[str, Any]]:
    """A delivery's next state after an attempt ("delivered", "retrying" or "failed") and its new values."""
    values: dict[str, Any] = {"id": row.id, "attempts": row.attempts + 1, "status": result.status}
    values.update(error=result.error, delivered_at=None, next_at=None)
    if result.ok:
        values.update(state="delivered", delivered_at=now)
        return "delivered", values
    if result.gone:
        values.update(state="failed", error=f"{result.status} Gone: the endpoint asked to be disabled")
        return "failed", values
    wait = _next_wait(row.attempts + 1, result, settings.alert_retry_waits)
    permanent = result.status is None and (result.error or "").startswith("email is not configured")
    if wait is None or permanent:
        values["state"] = "failed"
        return "failed", values
    values.update(state="pending", next_at=now + wait)
    return "retrying", values


_RECORD = sa.text(
    """
    update alert_deliveries d set
        state = v.state, attempts = v.attempts, claimed_until = null, last_status = v.status, last_error = v.error,
        delivered_at = v.delivered_at, next_attempt_at = coalesce(v.next_at, d.next_attempt_at)
    from unnest(cast(:ids as bigint[]), cast(:states as text[]), cast(:attempts as int[]), cast(:statuses as int[]),
                cast(:errors as text[]), cast(:delivered as timestamptz[]), cast(:next as timestamptz[]))
         as v(id, state, attempts, status, error, delivered_at, next_at)
    where d.id = v.id
    """
)


def record(engine: sa.Engine, sent: list[tuple[Any, SendResult, datetime]], settings: Settings) -> list[str]:
    """Write the attempts and the deliveries' next states in one transaction; returns each one's outcome."""
    d, a, c = tables.alert_deliveries, tables.alert_attempts, tables.alert_channels
    if not sent:
        return []
    decided = [_next_state(row, result, now, settings) for row, result, now in sent]
    rows = [values for _, values in decided]
    with engine.begin() as conn:
        conn.execute(
            a.insert(),
            [
                {
                    "delivery_id": row.id,
                    "attempted_at": now,
                    "status": r.status,
                    "latency_ms": r.latency_ms,
                    "error": r.error,
                }
                for row, r, now in sent
            ],
        )
        conn.execute(
            _RECORD,
            {
                "ids": [v["id"] for v in rows],
                "states": [v["state"] for v in rows],
                "attempts": [v["attempts"] for v in rows],
                "statuses": [v["status"] for v in rows],
                "errors": [v["error"] for v in rows],
                "delivered": [v["delivered_at"] for v in rows],
                "next": [v["next_at"] for v in rows],
            },
        )
        for row, result, now in sent:
            if not result.gone:
                continue
            reason = f"disabled after {result.status} Gone from its endpoint on {now:%Y-%m-%d %H:%M} UTC"
            conn.execute(c.update().where(c.c.id == row.channel_id).values(enabled=False, disabled_reason=reason))
            conn.execute(
                d.update()
                .where(d.c.channel_id == row.channel_id, d.c.state == "pending", d.c.id != row.id)
                .values(state="cancelled", last_error="the channel was disabled (410 Gone)", claimed_until=None)
            )
    for (row, result, _), (state, values) in zip(sent, decided, strict=True):
        if state != "delivered":
            log.warning(
                "alert delivery %s (%s) attempt %d: %s",
                row.id,
                row.webhook_id,
                values["attempts"],
                result.error or result.status,
            )
    return [state for state, _ in decided]


def _cancel(engine: sa.Engine, delivery_id: int, reason: str) -> None:
    d = tables.alert_deliveries
    with engine.begin() as conn:
        conn.execute(
            d.update().where(d.c.id == delivery_id).values(state="cancelled", last_error=reason, claimed_until=None)
        )


def next_due(engine: sa.Engine) -> datetime | None:
    """When the earliest pending delivery is due (None: nothing pending)."""
    d = tables.alert_deliveries
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.min(d.c.next_attempt_at)).where(d.c.state == "pending")).scalar_one()


def resend(engine: sa.Engine, delivery_id: int, user: int | None, *, now: datetime | None = None) -> None:
    """Send a delivery again (same webhook-id: it is the same message), its retry schedule from the start."""
    d, e = tables.alert_deliveries, tables.alert_events
    with engine.begin() as conn:
        query = sa.select(d.c.id, d.c.channel_id).join(e, e.c.id == d.c.event_id).where(d.c.id == delivery_id)
        if user is not None:
            query = query.where(e.c.user_id == user)
        row = conn.execute(query).first()
        if row is None:
            raise InvalidAlert(f"no delivery {delivery_id}" + (" of yours" if user is not None else ""))
        channel = owned(conn, row.channel_id, None)
        if not channel.enabled:
            raise InvalidAlert(f"channel {row.channel_id} is disabled ({channel.disabled_reason}); enable it first")
        conn.execute(
            d.update()
            .where(d.c.id == delivery_id)
            .values(state="pending", attempts=0, next_attempt_at=now or clock.now(), claimed_until=None)
        )


def send_test(engine: sa.Engine, channel_id: int, user: int | None, *, now: datetime | None = None) -> SendResult:
    """Write a test event for one channel and send it now (recorded in the history like any delivery)."""
    now = now or clock.now()
    e, d = tables.alert_events, tables.alert_deliveries
    with engine.begin() as conn:
        channel = owned(conn, channel_id, user)
        payload = {
            "type": "alert.test",
            "target": "test",
            "detail": f"test message for channel {channel.label}",
            "rule": {"id": None, "condition": "test", "mode": "once"},
            "value": None,
            "threshold": None,
            "observed_at": now.isoformat(),
            "as_of": now.isoformat(),
            "channel": {"id": channel_id, "kind": channel.kind, "target": shown_target(channel.kind, channel.target)},
        }
        event_id = conn.execute(
            e.insert()
            .values(
                rule_id=None,
                user_id=channel.user_id,
                kind="test",
                target="test",
                condition="test",
                observed_at=now,
                detail=payload["detail"],
                payload=payload,
                fired_at=now,
            )
            .returning(e.c.id)
        ).scalar_one()
        payload["event_id"] = event_id
        conn.execute(e.update().where(e.c.id == event_id).values(payload=payload))
        delivery_id = conn.execute(
            d.insert()
            .values(event_id=event_id, channel_id=channel_id, webhook_id=new_webhook_id(), next_attempt_at=now)
            .returning(d.c.id)
        ).scalar_one()
    outcome = deliver_due(engine, now=now, delivery_ids=[delivery_id])
    if delivery_id in outcome.results:
        return outcome.results[delivery_id]
    return SendResult(False, None, 0.0, "the channel is disabled", None)
