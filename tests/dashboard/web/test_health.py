"""/healthz payload: 200 with freshness when the database answers, 503 with a reason otherwise."""

from dashboard.web import health, startup


def test_healthy_payload_reports_freshness(ready_app):
    status, body = health.health_payload()
    assert status == 200
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["latest_bar_date"] == "2026-06-25"
    assert body["last_successful_ingestion"] is not None
    assert body["version"]


def test_not_ready_is_503_with_the_reason(monkeypatch):
    monkeypatch.setattr(startup, "_state", startup.StartupState(phase="starting", message="Applying migrations"))
    status, body = health.health_payload()
    assert status == 503 and body["status"] == "starting" and body["reason"] == "Applying migrations"


def test_database_down_after_start_is_503(ready_app, monkeypatch, pg_server_url):
    from sqlalchemy.engine import make_url

    from store import db

    # Same credentials, a port where nothing listens: the check must fail fast and say so.
    dead = make_url(pg_server_url).set(host="127.0.0.1", port=1, query={}).render_as_string(hide_password=False)
    monkeypatch.setattr(db, "_engine", db.create_db_engine(dead))
    status, body = health.health_payload()
    assert status == 503
    assert body["database"] == "unreachable" and "database check failed" in body["reason"]
