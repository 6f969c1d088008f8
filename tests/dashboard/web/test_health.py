"""/healthz: answered from a status a bounded background check keeps fresh; 503 only after repeated failures."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

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


def test_healthy_payload_reports_freshness(ready_app):
    monitor = fast_monitor()
    monitor.check_once()
    status, body = health.health_payload(monitor.status)
    assert status == 200
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["latest_bar_date"] == "2026-06-25"
    assert body["last_successful_ingestion"] is not None
    assert body["version"] and 0 <= body["status_age_s"] < 5 and body["latency_ms"] >= 0


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
