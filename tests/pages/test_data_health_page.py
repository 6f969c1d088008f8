"""The Data health page: what viewers and admins see, runs queued from the page and run by a real worker process,
gaps and a stopped series found, the universe changed (audited), failed tasks retried."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from store import calendar, clock, tables
from tests.support.app import frame, messages, open_page, shown, texts
from tests.support.workers import start_worker, stop, wait_for

VIEWER_PASSWORD = "viewer-password-5678"
# The bundled bars end on Thursday 2026-06-25: at noon the next day that is the last session closed.
NOON_AFTER_THE_LAST_BAR = datetime(2026, 6, 26, 12, 0, tzinfo=clock.NEW_YORK)


@pytest.fixture
def health_db(app_on, make_sample_database, monkeypatch):
    """A writable copy of the sample database, a viewer account, the clock the day after the last bar, and a web
    process in which any provider call or in-process job run fails the test."""
    from dashboard.access.auth import hash_password
    from ingestion import jobs, queue
    from ingestion.providers import registry

    def forbidden(*args, **kwargs):
        raise AssertionError("the web process called a provider or ran a job itself")

    monkeypatch.setattr(registry, "available_providers", forbidden)
    monkeypatch.setattr(jobs, "run_job", forbidden)
    monkeypatch.setattr(queue, "run_job", forbidden)
    monkeypatch.setattr(clock, "now", lambda: NOON_AFTER_THE_LAST_BAR)
    url = make_sample_database()
    engine = app_on(url)
    with engine.begin() as conn:
        conn.execute(
            tables.users.insert().values(username="reader", password_hash=hash_password(VIEWER_PASSWORD), role="viewer")
        )
    yield url, engine
    queue.close_sync()


def health(username: str = "admin", password: str | None = None) -> AppTest:
    return open_page("data_health", username=username, **({"password": password} if password else {}))


def markdown(at: AppTest) -> str:
    return "\n".join(shown(m.value) for m in at.markdown)


def audited(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(tables.audit_log.c.action, tables.audit_log.c.details))]


def test_a_viewer_sees_the_freshness_summary_and_no_operator_controls(health_db):
    at = health("reader", VIEWER_PASSWORD)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Symbols up to date"] == "35 / 35"  # every bar through the 2026-06-25 session
    assert [t.label for t in at.tabs] == ["Freshness", "Coverage"]
    assert not [t for t in at.text_input if t.key in ("run_items", "add_symbol", "add_series")]
    assert not [b for b in at.button if b.key in ("retry_submit", "deactivate_symbol")]
    assert "Operators see runs" in texts(at)


def test_cut_sessions_and_a_series_that_stopped_updating_are_reported(health_db):
    _, engine = health_db
    cut = [date(2025, 6, 18), date(2025, 6, 20), date(2025, 11, 28)]  # around Juneteenth; after Thanksgiving
    bars, obs = tables.daily_bars, tables.macro_observations
    with engine.begin() as conn:
        conn.execute(bars.delete().where(bars.c.symbol == "MSFT", bars.c.date.in_(cut)))
        conn.execute(obs.delete().where(obs.c.series_id == "UNRATE", obs.c.date >= date(2026, 4, 1)))
        conn.execute(bars.delete().where(bars.c.symbol == "NVDA", bars.c.date > date(2026, 6, 22)))
    at = health()
    assert not at.exception
    missing = frame(at, "dates")
    assert missing.to_dict("records") == [
        {"symbol": "MSFT", "missing": 3, "dates": "2025-06-18, 2025-06-20, 2025-11-28"}
    ]
    assert {m.label: m.value for m in at.metric}["Missing sessions"] == "3"
    symbols = frame(at, "sessions_behind").set_index("symbol")
    assert symbols.index[0] == "NVDA" and symbols.loc["NVDA", "status"] == "stale"  # stale first
    assert symbols.loc["NVDA", "sessions_behind"] == len(
        calendar.sessions_between(date(2026, 6, 23), date(2026, 6, 25))
    )
    assert symbols.loc["MSFT", "status"] == "fresh"
    series = frame(at, "days_late").set_index("series_id")
    assert series.loc["UNRATE", "status"] == "stale"
    assert series.loc["UNRATE", "last_date"].date() == date(2026, 3, 1)


def test_a_run_queued_from_the_page_runs_in_a_worker_and_its_progress_reaches_the_page(health_db, tmp_path):
    url, engine = health_db
    at = health()
    at.selectbox(key="run_job").set_value("prices").run()
    at.text_input(key="run_items").input("aaa, BBB")
    at.date_input(key="run_from").set_value(date(2024, 1, 2))
    at.date_input(key="run_to").set_value(date(2024, 3, 28))
    at.button(key="run_submit").click().run()
    assert not at.exception, at.exception
    assert "ingest.prices · **Queued**" in markdown(at)
    [(action, details)] = [a for a in audited(engine) if a[0] == "run_requested"]
    assert details["items"] == ["AAA", "BBB"] and details["start"] == "2024-01-02"
    worker = start_worker(url, tmp_path)
    try:

        def progressed() -> bool:
            at.run()
            return "ingest.prices · **Done**" in markdown(at)

        wait_for(progressed, timeout=60, every=0.5)
    finally:
        stop(worker)
    days = len(calendar.sessions_between(date(2024, 1, 2), date(2024, 3, 28)))
    assert f"1 / 1 request(s) · {2 * days:,} row(s) written" in [shown(p.proto.text) for p in at.get("progress")]
    assert f"success: {2 * days} row(s) written, 0 item(s) failed" in texts(at)
    assert not at.exception


def test_a_bad_request_is_a_message_and_nothing_is_queued(health_db):
    _, engine = health_db
    at = health()
    at.selectbox(key="run_job").set_value("prices").run()
    at.text_input(key="run_items").input("AAPL, BAD$SYM")
    at.button(key="run_submit").click().run()
    assert not at.exception
    assert "invalid symbol" in messages(at)
    at.text_input(key="run_items").input("")
    at.date_input(key="run_from").set_value(date(2024, 3, 1))
    at.date_input(key="run_to").set_value(date(2024, 2, 1))
    at.button(key="run_submit").click().run()
    assert "is after end" in messages(at)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.task_progress)).scalar_one() == 0


def test_a_queued_run_can_be_cancelled_from_the_page(health_db):
    _, engine = health_db
    at = health()
    at.selectbox(key="run_job").set_value("macro").run()
    at.text_input(key="run_items").input("UNRATE")
    at.button(key="run_submit").click().run()
    [cancel] = [b for b in at.button if (b.key or "").startswith("health_tasks_cancel_")]
    cancel.click().run()
    assert not at.exception
    assert "ingest.macro · **Cancelled**" in markdown(at)
    assert "cancelled before it started" in texts(at)
    assert "run_cancelled" in [a for a, _ in audited(engine)]


def test_the_universe_is_changed_from_the_page_audited_with_its_history_queued(health_db):
    _, engine = health_db
    at = health()
    at.text_input(key="add_symbol").input("ibm")
    at.button(key="add_symbol_submit").click().run()
    assert not at.exception
    assert "IBM was added; the next prices run fetches it." in messages(at)
    queued = frame(at, "queue_status")
    assert set(queued["task"]) == {"ingest.reference", "ingest.prices"} and set(queued["state"]) == {"queued"}
    at.selectbox(key="pick_symbol").set_value("AAPL")
    at.button(key="deactivate_symbol").click().run()
    assert not at.exception
    symbols = frame(at, "active")
    assert not symbols.set_index("id").loc["AAPL", "active"] and symbols.set_index("id").loc["IBM", "active"]
    at.text_input(key="add_series").input("not a series!")
    at.button(key="add_series_submit").click().run()
    assert "is not a FRED series id" in messages(at)
    actions = audited(engine)
    assert ("universe_added", {"symbol": "IBM"}) in actions and ("universe_deactivated", {"symbol": "AAPL"}) in actions
    assert sum(1 for a, _ in actions if a == "run_requested") == 2


def test_a_failed_task_is_listed_with_its_error_and_retried_from_the_page(health_db, tmp_path):
    url, engine = health_db
    marker = tmp_path / "broken"
    marker.write_text("on")
    from ingestion import queue, queue_reads

    task = queue.request_run("prices", ["AAA"], date(2024, 1, 2), date(2024, 1, 31), engine=engine)
    worker = start_worker(url, tmp_path / "w", "broken", str(marker))
    try:
        with engine.connect() as conn:
            wait_for(lambda: queue_reads.failed_tasks(conn), timeout=60)
        at = health()
        failed = frame(at, "failed_at")
        assert failed["message"].tolist() == ["a bug outside the providers"]
        marker.unlink()
        at.button(key="retry_submit").click().run()
        assert not at.exception
        assert ("task_retried", {"queue_job": int(failed["queue_job_id"][0])}) in audited(engine)
        with engine.connect() as conn:
            wait_for(lambda: queue_reads.recent_tasks(conn, task_id=task)[0]["state"] == "done", timeout=60)
    finally:
        stop(worker)
