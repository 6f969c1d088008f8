"""Delivery from the outbox to receivers on 127.0.0.1: Standard Webhooks signatures (and rotation), the retry
schedule with the same webhook-id, Retry-After, 410 Gone, email through a local SMTP server, a worker killed
mid-delivery, and an ingestion run's new bar reaching a receiver through a real worker."""

from __future__ import annotations

import json
import os
import signal
import socket
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook, WebhookVerificationError

from alerts import book, channels, outbox
from alerts.evaluate import evaluate
from ingestion.config import IngestionConfig
from ingestion.jobs import JobRequest, run_job
from store import clock, tables
from tests.support.doubles import SyntheticPrices
from tests.support.receiver import Receiver
from tests.support.workers import start_worker, stop, wait_for

CONFIG = IngestionConfig(chunk_symbols=2, max_retries=1, backoff_seconds=0.0)
FAST = {"ALERT_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "ALERT_RETRY_SCHEDULE": "0,1,1,1", "ALERT_TIMEOUT_SECONDS": "3"}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def world(make_migrated_database, engine_for):
    """A database with AAA's synthetic history to 2024-04-01 and a user `ana`."""
    url = make_migrated_database()
    engine = engine_for(url, **FAST)
    with engine.begin() as conn:
        conn.execute(
            tables.instruments.insert().values(symbol="AAA", name="Triple A", asset_class="stock", source="test")
        )
        conn.execute(tables.users.insert().values(username="ana", password_hash="x", role="viewer"))
    run_job(engine, JobRequest("prices", ["AAA"], date(2024, 3, 1), date(2024, 4, 1)), [SyntheticPrices()], CONFIG)
    return url, engine


def user(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return channels.user_id(conn, "ana")


def fire_one(engine: sa.Engine, channel_ids: tuple[int, ...]) -> None:
    """A rule on AAA, a new session that meets it, and the evaluation: one event, a delivery per channel."""
    book.add_rule(
        engine,
        user(engine),
        book.RuleSpec("price", "AAA", "up 0.05% over 1", channel_ids, "every-time"),
        now=clock.now(),
    )
    run_job(engine, JobRequest("prices", ["AAA"], date(2024, 4, 2), date(2024, 4, 2)), [SyntheticPrices()], CONFIG)
    assert evaluate(engine).fired == 1


def deliveries(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(tables.alert_deliveries).order_by(tables.alert_deliveries.c.id)).all())


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_a_signed_webhook_verifies_and_carries_the_event(world, receiver):
    _, engine = world
    channel = channels.add_channel(engine, user(engine), "webhook", receiver.url)
    assert channel.secret and channel.secret.startswith("whsec_")
    fire_one(engine, (channel.id,))
    outcome = outbox.deliver_due(engine)
    assert (outcome.attempted, outcome.delivered) == (1, 1)
    [request] = receiver.requests
    body = Webhook(channel.secret).verify(request.body, request.headers)  # raises if the signature is wrong
    assert body["symbol"] == "AAA" and body["rule"]["condition"] == "up 0.05% over 1"
    assert body["observed_at"].startswith("2024-04-02T20:00") and body["threshold"] == pytest.approx(0.05)
    assert request.headers["webhook-id"] == deliveries(engine)[0].webhook_id
    with pytest.raises(WebhookVerificationError):
        Webhook(channels.new_secret()).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(channel.secret).verify(request.body.replace(b"AAA", b"BBB"), request.headers)
    assert outbox.deliver_due(engine).attempted == 0  # delivered: never sent again


def test_500_twice_then_200_three_attempts_one_id_one_event(world):
    _, engine = world
    receiver = Receiver(answers=[(500, {}), (500, {}), (200, {})])
    try:
        channel = channels.add_channel(engine, user(engine), "webhook", receiver.url)
        fire_one(engine, (channel.id,))
        now = clock.now()
        states = []
        for _ in range(3):
            outcome = outbox.deliver_due(engine, now=now)
            states.append((outcome.delivered, outcome.retrying))
            now += timedelta(seconds=5)  # past the 1 s waits (+10% jitter) of the test schedule
        assert states == [(0, 1), (0, 1), (1, 0)]
        assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1 and len(receiver.requests) == 3
        [delivery] = deliveries(engine)
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)
        assert count(engine, tables.alert_events) == 1 and count(engine, tables.alert_attempts) == 3
    finally:
        receiver.close()


def test_the_schedule_runs_out_and_retry_after_is_honoured(world):
    _, engine = world
    receiver = Receiver(answers=[(429, {"Retry-After": "120"}), (503, {})])
    try:
        channel = channels.add_channel(engine, user(engine), "webhook", receiver.url)
        fire_one(engine, (channel.id,))
        now = clock.now()
        outbox.deliver_due(engine, now=now)
        [delivery] = deliveries(engine)
        assert delivery.next_attempt_at >= now + timedelta(seconds=120)  # not after the schedule's 1 s
        assert outbox.deliver_due(engine, now=now + timedelta(seconds=60)).attempted == 0
        for _ in range(3):
            now += timedelta(seconds=200)
            outbox.deliver_due(engine, now=now)
        [delivery] = deliveries(engine)
        assert (delivery.state, delivery.attempts) == ("failed", 4)  # the schedule's four attempts
    finally:
        receiver.close()


def test_410_disables_the_channel_and_cancels_its_other_deliveries(world):
    _, engine = world
    receiver = Receiver(answers=[(410, {})])
    try:
        channel = channels.add_channel(engine, user(engine), "webhook", receiver.url)
        fire_one(engine, (channel.id,))
        outbox.deliver_due(engine, limit=1)
        [delivery] = deliveries(engine)
        assert delivery.state == "failed" and "410" in delivery.last_error
        with engine.connect() as conn:
            row = conn.execute(sa.select(tables.alert_channels).where(tables.alert_channels.c.id == channel.id)).one()
        assert row.enabled is False and "410 Gone" in row.disabled_reason
        # A disabled channel gets nothing more: a later event's delivery is not created for it.
        run_job(engine, JobRequest("prices", ["AAA"], date(2024, 4, 3), date(2024, 4, 3)), [SyntheticPrices()], CONFIG)
        assert evaluate(engine).fired == 1 and len(deliveries(engine)) == 1
        with pytest.raises(channels.InvalidAlert, match="disabled"):
            outbox.resend(engine, delivery.id, None)
    finally:
        receiver.close()


def test_during_a_rotation_both_secrets_verify_then_only_the_new_one(world, receiver):
    _, engine = world
    channel = channels.add_channel(engine, user(engine), "webhook", receiver.url)
    now = clock.now()
    new = channels.rotate_secret(engine, channel.id, user(engine), now=now, grace_hours=24)
    outbox.send_test(engine, channel.id, user(engine))
    request = receiver.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (channel.secret, new):
        Webhook(secret).verify(request.body, request.headers)
    with engine.begin() as conn:  # the grace period is over
        conn.execute(tables.alert_channels.update().values(previous_secret_until=now - timedelta(seconds=1)))
    outbox.send_test(engine, channel.id, user(engine))
    request = receiver.requests[-1]
    Webhook(new).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(channel.secret).verify(request.body, request.headers)


def test_slack_and_a_refused_private_address(world, receiver, monkeypatch):
    _, engine = world
    slack = channels.add_channel(engine, user(engine), "slack", receiver.url + "/T000/B000/XXXX")
    result = outbox.send_test(engine, slack.id, user(engine))
    assert result.ok and "text" in json.loads(receiver.requests[-1].body)
    # Without 127.0.0.1 in ALERT_WEBHOOK_ALLOWED_HOSTS, a loopback URL cannot even be saved (SSRF guard).
    monkeypatch.setenv("ALERT_WEBHOOK_ALLOWED_HOSTS", "")
    from store.settings import get_settings

    get_settings.cache_clear()
    with pytest.raises(channels.InvalidAlert, match="loopback"):
        channels.add_channel(engine, user(engine), "webhook", receiver.url)


def test_email_through_a_local_smtp_server(world, monkeypatch):
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self) -> None:
            self.messages: list = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's API
            self.messages.append(envelope)
            return "250 OK"

    _, engine = world
    handler = Keep()
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd.Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        monkeypatch.setenv("SMTP_STARTTLS", "false")
        from store.settings import get_settings

        get_settings.cache_clear()
        mail = channels.add_channel(engine, user(engine), "email", "ana@example.com")
        fire_one(engine, (mail.id,))
        assert outbox.deliver_due(engine).delivered == 1
        [envelope] = handler.messages
        text = envelope.content.decode()
        assert envelope.rcpt_tos == ["ana@example.com"]
        assert "Subject: Alert: AAA" in text and "up 0.05% over 1" in text
    finally:
        controller.stop()


def test_email_without_smtp_settings_fails_at_once_with_the_reason(world, monkeypatch):
    _, engine = world
    monkeypatch.setenv("SMTP_HOST", "")
    from store.settings import get_settings

    get_settings.cache_clear()
    mail = channels.add_channel(engine, user(engine), "email", "ana@example.com")
    result = outbox.send_test(engine, mail.id, user(engine))
    assert not result.ok and "SMTP_HOST" in result.error
    [delivery] = deliveries(engine)
    assert delivery.state == "failed"


def test_a_worker_killed_mid_delivery_the_delivery_completes_after_restart(world, tmp_path):
    url, engine = world
    receiver = Receiver(delay=30)
    try:
        channel = channels.add_channel(engine, user(engine), "webhook", receiver.url)
        fire_one(engine, (channel.id,))
        first = start_worker(url, tmp_path / "a", **FAST)
        try:
            wait_for(lambda: receiver.requests, timeout=90)  # the worker's sender is waiting for the answer
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        finally:
            stop(first)
        receiver.delay = 0
        second = start_worker(url, tmp_path / "b", **FAST)
        try:  # its claim (2 x 3 s + 5 s) lapses, then the new worker sends the same message again
            wait_for(lambda: deliveries(engine)[0].state == "delivered", timeout=90)
        finally:
            stop(second)
        assert len(receiver.requests) == 2
        assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
        assert count(engine, tables.alert_events) == 1
    finally:
        receiver.close()


def test_an_ingestion_run_reaches_the_receiver_through_the_worker(world, receiver, tmp_path):
    url, engine = world
    channel = channels.add_channel(engine, user(engine), "webhook", receiver.url)
    book.add_rule(
        engine,
        user(engine),
        book.RuleSpec("price", "AAA", "up 0.05% over 1", (channel.id,), "every-time"),
        now=clock.now(),
    )
    from ingestion import queue

    worker = start_worker(url, tmp_path, **FAST)
    try:
        queue.request_run("prices", ["AAA"], date(2024, 4, 2), date(2024, 4, 3), engine=engine)
        wait_for(lambda: len(receiver.requests) >= 2, timeout=120)
    finally:
        stop(worker)
        queue.close_sync()
    days = sorted(json.loads(r.body)["observed_at"][:10] for r in receiver.requests)
    assert days == ["2024-04-02", "2024-04-03"]
    assert count(engine, tables.alert_events) == 2


def test_an_expired_claim_is_what_lets_another_sender_in(world, receiver):
    _, engine = world
    channel = channels.add_channel(engine, user(engine), "webhook", receiver.url)
    fire_one(engine, (channel.id,))
    now = clock.now()
    with engine.begin() as conn:  # a sender holds the row (claimed until a minute from now)
        conn.execute(tables.alert_deliveries.update().values(claimed_until=now + timedelta(minutes=1)))
    assert outbox.deliver_due(engine, now=now).attempted == 0
    assert outbox.deliver_due(engine, now=now + timedelta(minutes=2)).delivered == 1
