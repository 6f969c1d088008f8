"""/healthz: answered from a status a bounded background check keeps fresh; 503 only after repeated failures."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard.web import health, startup
from store import clock
from store.settings import Settings
from tests.support.freezer import FreezableProxy


def fast_monitor(**overrides) -> health.HealthMonitor:
    settings = Settings(**{"healthz_check_timeout_seconds": 0.5, "healthz_failures_before_503": 3, **overrides})
    return health.HealthMonitor(settings)


# The bundled bars end on Thursday 2026-06-25: the next day that is the last session expected.
DAY_AFTER_THE_LAST_BAR = datetime(2026, 6, 26, 12, 0, tzinfo=clock.NEW_YORK)


def beat(engine, providers=(), state="idle"):
    from store import tables

    with engine.begin() as conn:
        conn.execute(
            tables.worker_heartbeats.insert().values(
                worker_id="w:1", hostname="w", pid=1, state=state, details={"providers": list(providers)}
            )
        )


def checked(settings=None):
    monitor = fast_monitor(**(settings or {}))
    monitor.check_once()
    return health.health_payload(monitor.status, monitor.settings)


@pytest.fixture
def writable_app(app_on, make_sample_database, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: DAY_AFTER_THE_LAST_BAR)
    return app_on(make_sample_database())


def test_healthy_payload_reports_freshness(writable_app):
    beat(writable_app)
    status, body = checked()
    assert status == 200
    assert body["status"] == "ok" and body["database"] == "ok" and body["reasons"] == []
    assert body["latest_bar_date"] == body["expected_bar_date"] == "2026-06-25"
    assert body["last_successful_ingestion"] is not None and body["live_workers"] == 1
    assert body["queue"] == {"waiting": 0, "running": 0, "oldest_waiting_s": 0.0}
    assert body["version"] and 0 <= body["status_age_s"] < 5 and body["latency_ms"] >= 0


def test_degraded_is_200_with_each_reason(writable_app, monkeypatch):
    from ingestion import queue

    status, body = checked()  # no worker has ever beaten
    assert (status, body["status"]) == (200, "degraded")
    assert body["reasons"] == ["no live ingestion worker: scheduled and requested runs wait"]
    beat(writable_app, [{"provider": "yfinance", "circuit": "open"}, {"provider": "fred", "circuit": "closed"}])
    monkeypatch.setattr(clock, "now", lambda: DAY_AFTER_THE_LAST_BAR + timedelta(days=4))  # Tuesday: 2 sessions on
    queue.request_run("macro", ["UNRATE"], engine=writable_app)
    with writable_app.begin() as conn:  # a task waiting for 20 minutes (no worker took it)
        conn.execute(sa.text("update procrastinate_events set at = now() - interval '20 minutes'"))
    status, body = checked()
    queue.close_sync()
    assert (status, body["status"]) == (200, "degraded")
    assert body["reasons"] == [
        "data older than expected: latest bar 2026-06-25, expected 2026-06-29",
        "provider yfinance: circuit open after repeated failures",
        "queue backlog: 1 task(s) waiting, the oldest for 1200 s",
    ]
    assert checked({"healthz_backlog_seconds": 3600})[1]["reasons"][-1].startswith("provider yfinance")


def test_not_ready_is_503_with_the_reason(monkeypatch):
    monkeypatch.setattr(startup, "state", lambda: startup.StartupState(phase="starting", message="Applying migrations"))
    status, body = health.health_payload(health.HealthStatus())
    assert status == 503 and body["status"] == "starting" and body["reason"] == "Applying migrations"


def test_before_the_first_check_it_is_still_starting(ready_app):
    status, body = health.health_payload(health.HealthStatus())
    assert status == 503 and "first database check" in body["reason"]


def test_one_failed_check_does_not_flap_three_in_a_row_are_503(ready_app, monkeypatch, pg_server_url):
    from store import db

    monitor = fast_monitor()
    monitor.check_once()
    # Same credentials, a port where nothing listens: each check fails fast and says so.
    dead = make_url(pg_server_url).set(host="127.0.0.1", port=1, query={}).render_as_string(hide_password=False)
    monkeypatch.setattr(db, "_engine", db.create_db_engine(dead))
    monitor._drop_engine()
    answers = []
    for _ in range(3):
        monitor.check_once()
        answers.append(health.health_payload(monitor.status))
    assert [code for code, _ in answers] == [200, 200, 503]
    code, body = answers[-1]
    assert body["database"] == "failing" and "database check failed" in body["reason"]
    assert body["consecutive_failures"] == 3 and body["latest_bar_date"] == "2026-06-25"  # the last good facts


def test_a_frozen_database_fails_the_check_on_time_and_never_hangs_the_route(
    engine_for, sample_database_url, monkeypatch
):
    """Connections open but silent (a SIGSTOPped cluster): each check ends at its deadline, none piles up."""
    url = make_url(sample_database_url)
    proxy = FreezableProxy(url.host or "127.0.0.1", url.port or 5432)
    engine_for(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    monkeypatch.setattr(startup, "state", lambda: startup.StartupState(phase="ready"))
    monitor = fast_monitor()
    try:
        assert monitor.check_once().ok
        proxy.freeze()
        started = time.perf_counter()
        first = monitor.check_once()
        took = time.perf_counter() - started
        assert not first.ok and "did not answer within 0.5 s" in (first.error or "")
        assert 0.4 < took < 2.0  # the deadline, not the 20 s the cluster stays frozen
        started = time.perf_counter()
        second = monitor.check_once()  # the first one is still stuck: no second thread on the frozen database
        assert time.perf_counter() - started < 0.2 and "has not answered" in (second.error or "")
        third = monitor.check_once()
        code, body = health.health_payload(third)
        assert code == 503 and body["consecutive_failures"] == 3
        proxy.thaw()
        deadline = time.monotonic() + 10
        while not monitor.check_once().ok:
            assert time.monotonic() < deadline, "the check did not recover after the database came back"
            time.sleep(0.1)
        assert health.health_payload(monitor.status)[0] == 200
    finally:
        monitor.stop()
        proxy.close()


def test_a_stale_status_is_503(ready_app, monkeypatch):
    monitor = fast_monitor(healthz_max_age_seconds=15)
    monitor.check_once()
    later = clock.now() + timedelta(seconds=16)
    monkeypatch.setattr(clock, "now", lambda: later)
    code, body = health.health_payload(monitor.status, monitor.settings)
    assert code == 503 and "16 s old" in body["reason"]


def test_failures_are_logged_when_the_state_changes_not_per_check(ready_app, monkeypatch, pg_server_url, caplog):
    from store import db

    monitor = fast_monitor()
    monitor.check_once()
    dead = make_url(pg_server_url).set(host="127.0.0.1", port=1, query={}).render_as_string(hide_password=False)
    good = db._engine
    monkeypatch.setattr(db, "_engine", db.create_db_engine(dead))
    monitor._drop_engine()
    with caplog.at_level(logging.INFO, logger="dashboard.web.health"):
        for _ in range(8):
            monitor.check_once()
        monkeypatch.setattr(db, "_engine", good)
        monitor._drop_engine()
        monitor.check_once()
    lines = [(r.levelname, r.getMessage().split(":")[1].strip()) for r in caplog.records]
    assert lines == [
        ("WARNING", "database check failing"),
        ("ERROR", "3 database checks failed in a row; answering 503"),
        ("INFO", "database answering again after 8 failed check(s)"),
    ]


def test_the_route_does_no_database_work_per_request(ready_app, monkeypatch):
    from store.db import get_engine

    health.reset_monitor(Settings(healthz_check_timeout_seconds=0.5)).check_once()
    statements = []
    sa.event.listen(get_engine(), "before_cursor_execute", lambda *args: statements.append(args[2]))
    client = TestClient(Starlette(routes=[Route("/healthz", health.healthz)]))
    try:
        answers = [client.get("/healthz") for _ in range(200)]
    finally:
        health.reset_monitor()
    assert {a.status_code for a in answers} == {200} and statements == []
    assert answers[0].headers["cache-control"] == "no-store"


@pytest.mark.parametrize("failures", [1, 2])
def test_a_slow_check_under_the_limit_keeps_200(ready_app, failures):
    status = health.HealthStatus(clock.epoch_seconds(), False, failures, "slow", None, {"latest_bar_date": "x"})
    assert health.health_payload(status)[0] == 200
