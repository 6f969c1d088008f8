"""GET /metrics: Prometheus text that parses, figures read from the database at scrape time, never a failed scrape."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard.web import metrics, startup
from ingestion.config import IngestionConfig
from ingestion.jobs import JobRequest, run_job
from ingestion.providers.base import NotFound
from ingestion.providers.resilience import GuardPolicy, ProviderGuard, Transient
from store import clock
from store.db import create_db_engine
from store.settings import get_settings
from tests.support.doubles import SyntheticPrices
from tests.support.freezer import FreezableProxy

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_collector():
    """The module's collector keeps an engine between scrapes: each test starts on its own database."""
    metrics.COLLECTOR.reset()
    yield
    metrics.COLLECTOR.reset()


def client() -> TestClient:
    return TestClient(Starlette(routes=[Route("/metrics", metrics.metrics_route)]))


def scrape(registry: CollectorRegistry | None = None) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label items: value}} from the text exposition (parsed by prometheus_client)."""
    text = metrics.render(registry or metrics.REGISTRY).decode()
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get(name, {}).get(tuple(sorted(labels.items())))


def dead_engine(pg_server_url: str) -> sa.Engine:
    # Same credentials, a port where nothing listens: every connection fails at once.
    url = make_url(pg_server_url).set(host="127.0.0.1", port=1, query={}).render_as_string(hide_password=False)
    return create_db_engine(url)


def test_the_route_answers_prometheus_text_that_parses(ready_app, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    answer = client().get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert all(name.startswith("market_desk_") for name in families)
    assert all(f.documentation for f in families.values())
    samples = scrape()
    assert value(samples, "market_desk_database_up") == 1
    assert value(samples, "market_desk_build_info", version=metrics.__version__) == 1
    # The sample's newest bar is 2026-06-25, taken at 21:00 UTC.
    latest_bar = datetime(2026, 6, 25, 21, tzinfo=UTC)
    assert value(samples, "market_desk_data_age_seconds", dataset="daily_bars") == (NOW - latest_bar).total_seconds()
    assert value(samples, "market_desk_data_age_seconds", dataset="macro_observations") >= 0
    assert families["market_desk_ingestion_runs"].type == "counter"
    assert samples["market_desk_ingestion_runs_total"]  # the sample load is a recorded run
    assert value(samples, "market_desk_sessions_active") is not None
    assert value(samples, "market_desk_logins_total", outcome="ok") is not None
    assert value(samples, "market_desk_login_lockouts_total") is not None
    assert {labels: v for labels, v in samples["market_desk_metrics_part_ok"].items()} == {
        (("part", part),): 1.0 for part in metrics.PARTS
    }
    assert "market_desk_process_resident_memory_bytes" in samples


def test_ingestion_counters_move_after_a_run(app_on, make_sample_database):
    engine = app_on(make_sample_database())
    before = scrape()
    result = run_job(
        engine,
        JobRequest("prices", ["AAA", "BBB"], date(2024, 1, 1), date(2024, 1, 31)),
        [SyntheticPrices()],
        IngestionConfig(),
    )
    assert result.status == "success" and result.rows_written > 0
    after = scrape()
    labels = {"job": "prices", "provider": "synthetic"}
    assert value(before, "market_desk_ingestion_rows_written_total", **labels) is None
    assert value(after, "market_desk_ingestion_rows_written_total", **labels) == result.rows_written
    assert value(after, "market_desk_ingestion_runs_total", **labels, status="success") == 1
    assert 0 <= value(after, "market_desk_ingestion_last_run_age_seconds", job="prices") < 60
    assert 0 <= value(after, "market_desk_ingestion_last_success_age_seconds", job="prices") < 60

    # A finished row written by hand (e.g. another worker) counts too; a running one is in progress, not finished.
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into ingestion_runs (job, source, status, finished_at, rows_written) values "
                "('prices', 'synthetic', 'failed', now(), 0), ('prices', 'synthetic', 'success', now(), 5), "
                "('macro', 'fred', 'running', null, 0)"
            )
        )
    again = scrape()
    assert value(again, "market_desk_ingestion_rows_written_total", **labels) == result.rows_written + 5
    assert value(again, "market_desk_ingestion_runs_total", **labels, status="success") == 2
    assert value(again, "market_desk_ingestion_runs_total", **labels, status="failed") == 1
    assert value(again, "market_desk_ingestion_runs_running", job="macro", provider="fred") == 1
    assert value(again, "market_desk_ingestion_runs_total", job="macro", provider="fred", status="running") is None


def test_a_database_that_is_down_exports_database_up_0_and_the_in_process_metrics(ready_app, pg_server_url):
    with metrics.page_timer("Overview"):
        pass
    metrics.COLLECTOR.reset(lambda: dead_engine(pg_server_url))
    answer = client().get("/metrics")
    assert answer.status_code == 200
    samples = scrape()
    assert value(samples, "market_desk_database_up") == 0
    assert value(samples, "market_desk_page_render_seconds_count", page="Overview") >= 1
    assert not any(name.startswith(("market_desk_ingestion", "market_desk_data_age")) for name in samples)


def test_a_collector_of_its_own_never_raises_on_a_dead_database(pg_server_url):
    registry = CollectorRegistry()
    collector = metrics.DatabaseCollector(lambda: dead_engine(pg_server_url))
    registry.register(collector)
    samples = scrape(registry)
    assert value(samples, "market_desk_database_up") == 0
    facts, error, _ = collector.read()
    assert facts is None and error


def test_before_start_up_is_done_nothing_is_read(monkeypatch):
    monkeypatch.setattr(startup, "state", lambda: startup.StartupState(phase="starting"))
    samples = scrape()
    assert value(samples, "market_desk_database_up") == 0


def test_a_frozen_database_ends_the_scrape_at_the_deadline(sample_database_url):
    url = make_url(sample_database_url)
    proxy = FreezableProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    registry = CollectorRegistry()
    collector = metrics.DatabaseCollector(lambda: create_db_engine(proxied, pool_size=1, max_overflow=0), deadline=0.5)
    registry.register(collector)
    try:
        assert value(scrape(registry), "market_desk_database_up") == 1
        proxy.freeze()
        started = time.perf_counter()
        assert value(scrape(registry), "market_desk_database_up") == 0
        assert time.perf_counter() - started < 2.0
        started = time.perf_counter()
        assert value(scrape(registry), "market_desk_database_up") == 0  # no second read piles up on it
        assert time.perf_counter() - started < 0.2
        proxy.thaw()
        deadline = time.monotonic() + 10
        while value(scrape(registry), "market_desk_database_up") != 1:
            assert time.monotonic() < deadline, "the scrape did not recover after the database came back"
            time.sleep(0.1)
    finally:
        collector.reset()
        proxy.close()


def test_a_part_that_fails_leaves_the_others(app_on, make_sample_database):
    engine = app_on(make_sample_database())
    with engine.begin() as conn:
        conn.execute(sa.text("drop table audit_log"))
    samples = scrape()
    assert value(samples, "market_desk_database_up") == 1
    assert value(samples, "market_desk_metrics_part_ok", part="access") == 0
    assert value(samples, "market_desk_metrics_part_ok", part="ingestion") == 1
    assert samples["market_desk_ingestion_runs_total"] and "market_desk_logins_total" not in samples


def ensure_queue_tables(conn: sa.Connection) -> None:
    """Procrastinate's two tables as far as the metrics read them (the real ones when the migration made them)."""
    conn.execute(
        sa.text(
            "create table if not exists procrastinate_jobs (id bigserial primary key, "
            "queue_name varchar(128) not null, task_name varchar(128) not null, "
            "status text not null default 'todo', scheduled_at timestamptz);"
            "create table if not exists procrastinate_events (id bigserial primary key, job_id bigint not null, "
            "type text, at timestamptz default now())"
        )
    )


def add_job(conn: sa.Connection, queue: str, task: str, status: str, started: datetime | None = None, **kw) -> int:
    job_id = conn.execute(
        sa.text("insert into procrastinate_jobs (queue_name, task_name, status) values (:q, :t, :s) returning id"),
        {"q": queue, "t": task, "s": status},
    ).scalar_one()
    events = [("deferred", kw.get("deferred", started))]
    if started is not None:
        events.append(("started", started))
    if "seconds" in kw:
        events.append((status, started + timedelta(seconds=kw["seconds"])))
    for kind, at in events:
        if at is not None:
            conn.execute(
                sa.text("insert into procrastinate_events (job_id, type, at) values (:j, :k, :a)"),
                {"j": job_id, "k": kind, "a": at},
            )
    return job_id


def test_queue_depth_and_task_durations_from_procrastinates_tables(app_on, make_sample_database, monkeypatch):
    engine = app_on(make_sample_database())
    t0 = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: t0 + timedelta(hours=1))
    with engine.begin() as conn:
        ensure_queue_tables(conn)
        add_job(conn, "ingest", "prices", "succeeded", t0, seconds=3)
        add_job(conn, "ingest", "prices", "succeeded", t0, seconds=45)
        add_job(conn, "ingest", "prices", "failed", t0, seconds=200)
        add_job(conn, "ingest", "macro", "doing", t0)
        add_job(conn, "ingest", "macro", "todo", deferred=t0 - timedelta(minutes=10))
    samples = scrape()
    assert value(samples, "market_desk_queue_jobs", queue="ingest", status="succeeded") == 2
    assert value(samples, "market_desk_queue_jobs", queue="ingest", status="todo") == 1
    assert value(samples, "market_desk_queue_jobs", queue="ingest", status="cancelled") == 0
    assert value(samples, "market_desk_queue_oldest_todo_age_seconds", queue="ingest") == 70 * 60
    ok = {"queue": "ingest", "task": "prices", "status": "succeeded"}
    assert value(samples, "market_desk_queue_task_duration_seconds_count", **ok) == 2
    assert value(samples, "market_desk_queue_task_duration_seconds_sum", **ok) == 48
    assert value(samples, "market_desk_queue_task_duration_seconds_bucket", **ok, le="5.0") == 1
    assert value(samples, "market_desk_queue_task_duration_seconds_bucket", **ok, le="60.0") == 2
    assert value(samples, "market_desk_queue_task_duration_seconds_bucket", **ok, le="+Inf") == 2
    failed = {"queue": "ingest", "task": "prices", "status": "failed"}
    assert value(samples, "market_desk_queue_task_duration_seconds_bucket", **failed, le="120.0") == 0
    assert value(samples, "market_desk_queue_task_duration_seconds_count", **failed) == 1

    with engine.begin() as conn:
        conn.execute(sa.text("drop table procrastinate_events, procrastinate_jobs cascade"))
    gone = scrape()
    assert value(gone, "market_desk_database_up") == 1
    assert not any(name.startswith("market_desk_queue") for name in gone)


def raiser(exc: Exception):
    def fn() -> None:
        raise exc

    return fn


def guard_state(name: str, failures: int, successes: int) -> dict:
    """The state() of a real guard after `successes` calls, one unknown symbol and `failures` failing calls."""
    guard = ProviderGuard(
        name, None, policy=GuardPolicy(attempts=2, fail_max=3, backoff_initial=0), sleep=lambda _: None
    )
    for _ in range(successes):
        guard.call(lambda: "ok")
    with pytest.raises(NotFound):
        guard.call(raiser(NotFound("unknown")))
    for _ in range(failures):
        with pytest.raises(Transient):
            guard.call(raiser(Transient("502")))
    return guard.state()


def beat(conn: sa.Connection, worker: str, providers: list, age_seconds: float = 1) -> None:
    conn.execute(
        sa.text(
            "insert into worker_heartbeats (worker_id, hostname, pid, state, beat_at, details) values "
            "(:w, 'host', 1, 'idle', now() - make_interval(secs => :age), cast(:d as jsonb))"
        ),
        {"w": worker, "age": age_seconds, "d": json.dumps({"providers": providers})},
    )


def test_provider_counters_and_circuits_come_from_the_workers_heartbeats(app_on, make_sample_database):
    engine = app_on(make_sample_database())
    one = [guard_state("yfinance", failures=3, successes=2), guard_state("fred", failures=0, successes=1)]
    two = [guard_state("yfinance", failures=1, successes=0)]
    assert one[0]["circuit"] == "open" and two[0]["circuit"] == "closed"
    with engine.begin() as conn:
        beat(conn, "w1", one)
        beat(conn, "w2", two)
        beat(conn, "gone", [guard_state("yfinance", failures=0, successes=50)], age_seconds=3600)
        beat(conn, "junk", [{"provider": "yfinance", "requests": "many", "errors": {"transient": True}}, 7, None])
    samples = scrape()
    # yfinance: w1 sent 2 + 3 failed calls x 2 attempts + 1 not found; w2 sent 1 x 2 attempts + 1 not found.
    assert value(samples, "market_desk_provider_requests_total", provider="yfinance") == 9 + 3
    assert value(samples, "market_desk_provider_calls_total", provider="yfinance") == 6 + 2
    assert value(samples, "market_desk_provider_retries_total", provider="yfinance") == 3 + 1
    assert value(samples, "market_desk_provider_errors_total", provider="yfinance", kind="transient") == 6 + 2
    assert value(samples, "market_desk_provider_errors_total", provider="yfinance", kind="not_found") == 2
    assert value(samples, "market_desk_provider_circuit_state", provider="yfinance", state="open") == 1
    assert value(samples, "market_desk_provider_circuit_state", provider="yfinance", state="closed") == 1  # w2
    assert value(samples, "market_desk_provider_circuit_state", provider="fred", state="closed") == 1
    assert value(samples, "market_desk_provider_consecutive_failures", provider="yfinance") == 3
    assert value(samples, "market_desk_provider_requests_total", provider="fred") == 2
    assert value(samples, "market_desk_provider_disabled", provider="fred") == 0
    assert value(samples, "market_desk_workers_reporting") == 3  # w1, w2 and junk; not the one gone for an hour
    assert 0 <= value(samples, "market_desk_worker_heartbeat_age_seconds") < 60


def test_sessions_logins_and_lockouts(app_on, make_sample_database):
    engine = app_on(make_sample_database())
    with engine.begin() as conn:
        user_id = conn.execute(sa.text("select id from users order by id limit 1")).scalar_one()
        conn.execute(
            sa.text(
                "insert into user_sessions (token_hash, user_id, expires_at) values "
                "('a', :u, now() + interval '1 hour'), ('b', :u, now() + interval '2 hours'), "
                "('c', :u, now() - interval '1 minute')"
            ),
            {"u": user_id},
        )
        conn.execute(
            sa.text(
                "insert into audit_log (username, action) values ('admin', 'login_ok'), ('admin', 'login_failed'), "
                "('admin', 'login_failed'), ('x', 'lockout'), ('admin', 'logout')"
            )
        )
    samples = scrape()
    assert value(samples, "market_desk_sessions_active") == 2
    assert value(samples, "market_desk_logins_total", outcome="ok") == 1
    assert value(samples, "market_desk_logins_total", outcome="failed") == 2
    assert value(samples, "market_desk_login_lockouts_total") == 1


def page_seconds(page: str) -> tuple[float, float]:
    """(count, sum) of the page histogram for `page`."""
    samples = {
        s.name: s.value
        for family in metrics.PAGE_RENDER_SECONDS.collect()
        for s in family.samples
        if s.labels == {"page": page}
    }
    return samples.get("market_desk_page_render_seconds_count", 0.0), samples.get(
        "market_desk_page_render_seconds_sum", 0.0
    )


def test_page_timer_records_even_when_the_page_stops():
    count, total = page_seconds("Risk")
    with pytest.raises(RuntimeError), metrics.page_timer("Risk"):
        time.sleep(0.01)
        raise RuntimeError("st.stop()")
    after_count, after_total = page_seconds("Risk")
    assert after_count == count + 1 and after_total - total >= 0.01


def test_close_releases_the_connection(ready_app):
    assert value(scrape(), "market_desk_database_up") == 1
    assert metrics.COLLECTOR._engine is not None
    metrics.COLLECTOR.close()
    assert metrics.COLLECTOR._engine is None
    assert value(scrape(), "market_desk_database_up") == 1  # and the next scrape opens one again


@pytest.fixture
def token(monkeypatch, ready_app):
    monkeypatch.setenv("METRICS_TOKEN", "scrape-token-8f3k2m")
    get_settings.cache_clear()
    yield "scrape-token-8f3k2m"
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        ("Bearer scrape-token-8f3k2m-and-more", 401),
        ("Basic scrape-token-8f3k2m", 401),
        ("scrape-token-8f3k2m", 401),
        ("Bearer scrape-token-8f3k2m", 200),
        ("bearer scrape-token-8f3k2m", 200),
    ],
)
def test_metrics_token(token, header, status):
    headers = {"Authorization": header} if header is not None else {}
    answer = client().get("/metrics", headers=headers)
    assert answer.status_code == status
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer") and "market_desk" not in answer.text
    else:
        assert "market_desk_database_up 1.0" in answer.text


def test_production_without_a_token_does_not_serve_metrics(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    get_settings.cache_clear()
    try:
        answer = client().get("/metrics")
    finally:
        get_settings.cache_clear()
    assert answer.status_code == 404


def test_bearer_matches():
    assert metrics.bearer_matches("Bearer abc", "abc")
    assert metrics.bearer_matches("  BEARER   abc  ", "abc")
    assert not metrics.bearer_matches("Bearer ab", "abc")
    assert not metrics.bearer_matches("", "abc")
    assert not metrics.bearer_matches(None, "abc")


def test_families_ignore_malformed_heartbeat_values():
    facts = metrics.DatabaseFacts(
        provider_states=[[{"provider": "p", "requests": -3, "retries": True, "errors": {"x": "1"}, "circuit": "weird"}]]
    )
    samples = {
        s.name: s.value
        for family in metrics.families(facts, NOW)
        for s in family.samples
        if s.labels.get("provider") == "p" and s.labels.get("state") in (None, "closed")
    }
    assert samples["market_desk_provider_requests_total"] == 0
    assert samples["market_desk_provider_retries_total"] == 0
    assert samples["market_desk_provider_errors_total"] == 0
    assert samples["market_desk_provider_circuit_state"] == 0
