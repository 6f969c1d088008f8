"""The worker process (heartbeat, clean stop, parent watch), its supervisor (restart with backoff), the schedule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from ingestion.supervisor import PARENT_ENV, WorkerSupervisor
from store import calendar, tables
from store.reads.workers import worker_states
from tests.conftest import ROOT
from tests.support.app import ROUTER, frame, log_in, page, texts
from tests.support.doubles import migrated_engine
from tests.support.workers import start_worker, worker_env

NY = "America/New_York"


def heartbeats(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(tables.worker_heartbeats)).mappings()]


def wait_for(predicate, timeout: float = 30.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def beat_of(engine: sa.Engine, pid: int, state: str | None = None) -> dict | None:
    for row in heartbeats(engine):
        if row["pid"] == pid and (state is None or row["state"] == state):
            return row
    return None


def test_worker_process_migrates_beats_and_stops_cleanly_on_sigterm(make_database):
    url = make_database()  # empty: the worker brings it to head itself
    process = subprocess.Popen([sys.executable, "-m", "ingestion", "worker"], cwd=ROOT, env=worker_env(url))
    engine = sa.create_engine(url)
    try:
        beat = wait_for(lambda: _safe(lambda: beat_of(engine, process.pid, "idle")))
        assert set(beat["details"]["next_runs"]) == {"prices", "quotes", "macro", "reference", "options"}
        first = beat["beat_at"]
        wait_for(lambda: beat_of(engine, process.pid)["beat_at"] > first)  # it keeps beating
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(tables.instruments)).scalar_one() == 35
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert beat_of(engine, process.pid)["state"] == "stopped"
        with engine.connect() as conn:
            assert worker_states(conn, 0.3)[0].status == "stopped"
    finally:
        if process.poll() is None:
            process.kill()
        engine.dispose()


def _safe(fn):
    try:
        return fn()
    except sa.exc.ProgrammingError:  # the table does not exist until the worker has migrated
        return None


def test_worker_stops_by_itself_when_its_parent_is_gone(make_database):
    url = make_database()
    # PID 1 is never this test's child's parent: the worker must conclude the app died and stop.
    process = subprocess.Popen(
        [sys.executable, "-m", "ingestion", "worker"], cwd=ROOT, env=worker_env(url, **{PARENT_ENV: "1"})
    )
    try:
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_supervisor_restarts_a_killed_worker_and_stops_it_on_exit(make_database):
    url = make_database()
    engine = migrated_engine(url)
    env = worker_env(url)
    supervisor = WorkerSupervisor(env=lambda: env, base_delay=0.2, max_delay=1.0)
    try:
        supervisor.start()
        first = wait_for(lambda: supervisor.state.pid if supervisor.state.status == "running" else None)
        wait_for(lambda: beat_of(engine, first))
        os.kill(first, signal.SIGKILL)  # the worker dies hard; the supervisor must bring it back
        second = wait_for(lambda: supervisor.state.pid if supervisor.state.pid not in (None, first) else None)
        wait_for(lambda: beat_of(engine, second))
        assert supervisor.state.restarts == 1 and supervisor.state.last_exit_code == -signal.SIGKILL
    finally:
        supervisor.stop()
    assert supervisor.state.status == "stopped"
    with pytest.raises(ProcessLookupError):
        os.kill(second, 0)
    assert beat_of(engine, second)["state"] == "stopped"  # SIGTERM: a clean stop, not a kill
    engine.dispose()


def test_supervisor_backs_off_exponentially_up_to_the_cap(tmp_path):
    starts = tmp_path / "starts"
    crash = f"import time; open({str(starts)!r}, 'a').write(repr(time.monotonic()) + chr(10)); raise SystemExit(3)"
    supervisor = WorkerSupervisor(command=[sys.executable, "-c", crash], base_delay=0.2, max_delay=0.8)
    supervisor.start()
    try:
        wait_for(lambda: starts.exists() and len(starts.read_text().split()) >= 5, timeout=30)
    finally:
        supervisor.stop()
    times = [float(t) for t in starts.read_text().split()]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8
    assert all(g < 0.8 + 1.5 for g in gaps[2:])  # capped at max_delay (plus process start time)
    assert set(supervisor.state.history) == {3}


# -- schedule -----------------------------------------------------------------------------------


def ny(text: str) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(NY))


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        ("2024-07-03 10:00", True),
        ("2024-07-03 13:30", False),  # half-day before Independence Day: closes at 13:00
        ("2024-07-04 11:00", False),  # holiday
        ("2024-07-05 09:29", False),
        ("2024-07-05 09:30", True),
        ("2024-07-05 15:59", True),
        ("2024-07-05 16:00", False),
        ("2024-07-06 11:00", False),  # Saturday
        ("2025-01-09 11:00", False),  # national day of mourning (an ad hoc closing)
    ],
)
def test_quotes_only_while_the_nyse_is_open(moment, open_):
    assert calendar.is_market_open(ny(moment)) is open_


def test_health_reports_the_worker_without_data(make_migrated_database, monkeypatch):
    from dashboard.web import health
    from store.settings import get_settings

    monkeypatch.setenv("WORKER_HEARTBEAT_SECONDS", "5")
    get_settings.cache_clear()
    engine = migrated_engine(make_migrated_database())

    def summary(conn):
        return health.worker_summary(worker_states(conn, get_settings().worker_heartbeat_seconds), True)

    try:
        with engine.connect() as conn:
            assert summary(conn) == {"status": "absent", "last_beat_age_s": None}
        hb = tables.worker_heartbeats
        with engine.begin() as conn:
            conn.execute(hb.insert().values(worker_id="w1", hostname="h", pid=1, state="running", current_job="prices"))
        with engine.connect() as conn:
            state = summary(conn)
        assert state["status"] == "running" and 0 <= state["last_beat_age_s"] < 5
        assert set(state) == {"status", "last_beat_age_s"}  # no job names, hosts or data
        with engine.begin() as conn:
            conn.execute(hb.update().values(beat_at=sa.func.now() - sa.text("interval '20 seconds'")))
        with engine.connect() as conn:
            assert summary(conn)["status"] == "stale"
    finally:
        engine.dispose()
        get_settings.cache_clear()


def test_a_stop_does_not_wait_for_a_stuck_job_forever(make_migrated_database, tmp_path, engine_for):
    from ingestion import queue

    url = make_migrated_database()
    engine_for(url)
    in_flight = tmp_path / "in-flight"
    # An injected grace period: the test waits 1 s, not the default 10.
    process = start_worker(url, tmp_path / "w", "stuck", str(in_flight), "600", WORKER_STOP_GRACE_SECONDS="1")
    engine = sa.create_engine(url)
    try:
        queue.request_run("prices", ["AAA"], date(2024, 1, 2), date(2024, 1, 31))
        wait_for(in_flight.exists)  # its request hangs, as a provider stuck in its retries would
        wait_for(lambda: beat_of(engine, process.pid)["current_job"] == "ingest.prices")  # its next heartbeat
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert time.monotonic() - stopped_at < 8  # the 1 s grace period, not the provider's 600 s
        assert beat_of(engine, process.pid)["state"] == "stopped"
        with engine.connect() as conn:
            assert conn.execute(sa.select(tables.ingestion_runs.c.status)).scalars().all() == ["running"]
    finally:
        if process.poll() is None:
            process.kill()
        queue.close_sync()
        engine.dispose()


def test_data_health_page_shows_the_worker_and_disabled_providers(ready_app):
    from streamlit.testing.v1 import AppTest

    from tests.support.app import ROUTER, log_in, page

    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    at.switch_page(page("data_health")).run()
    assert not at.exception
    assert "Workers" in [s.value for s in at.subheader]
    shown = texts(at)
    assert "No ingestion worker has reported in the last day: queued runs wait until one starts." in shown
    assert "Provider alpha_vantage is disabled: ALPHAVANTAGE_API_KEY is not set." in shown


def test_data_health_page_lists_a_beating_worker(ready_app, sample_database_url):
    from streamlit.testing.v1 import AppTest

    engine = sa.create_engine(sample_database_url)
    hb = tables.worker_heartbeats
    with engine.begin() as conn:
        conn.execute(
            hb.insert().values(
                worker_id="host:42",
                hostname="host",
                pid=42,
                state="idle",
                details={"next_runs": {"prices": "2026-11-25T22:15:00+00:00"}},
            )
        )
    try:
        at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
        at.switch_page(page("data_health")).run()
        assert not at.exception
        workers = frame(at, "worker")
        assert workers["worker"].tolist() == ["host:42"] and workers["status"].tolist() == ["idle"]
        assert workers["next_runs"].tolist() == ["prices 2026-11-25T22:15:00+00:00"]
    finally:
        with engine.begin() as conn:
            conn.execute(hb.delete().where(hb.c.worker_id == "host:42"))
        engine.dispose()


def test_worker_enabled_false_keeps_the_app_from_starting_one(monkeypatch):
    from ingestion import supervisor
    from store.settings import get_settings

    monkeypatch.setenv("WORKER_ENABLED", "false")
    get_settings.cache_clear()
    try:
        assert supervisor.start_embedded_worker(lambda: True, lambda: "postgresql://unused") is None
        assert supervisor.embedded_worker_state() is None
        supervisor.stop_embedded_worker()  # a no-op, not an error
    finally:
        get_settings.cache_clear()
