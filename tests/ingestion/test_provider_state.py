"""What a provider's guard remembers in the database (its circuit, a daily-limit window, the day's requests), and the
counters the worker's task children add to its heartbeat for /metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ingestion import queue
from ingestion.config import IngestionConfig
from ingestion.provider_state import DatabaseGuardMemory, merged_states, record_worker_providers
from ingestion.providers.base import CircuitOpen, DailyLimitReached
from ingestion.providers.resilience import GuardPolicy, ProviderGuard, Transient
from store import tables
from tests.support.doubles import migrated_engine

POLICY = GuardPolicy(attempts=1, fail_max=2, reset_timeout=300, rate_wait=0)


@pytest.fixture
def engine(make_migrated_database):
    engine = migrated_engine(make_migrated_database())
    yield engine
    engine.dispose()


def failing() -> None:
    raise Transient("HTTP 503 from the server")


def test_an_open_circuit_survives_into_the_next_process(engine):
    first = ProviderGuard("yfinance", policy=POLICY, sleep=lambda s: None, memory=DatabaseGuardMemory(engine))
    for _ in range(2):
        with pytest.raises(Transient):
            first.call(failing)
    assert first.state()["circuit"] == "open"

    # A new guard, as the next task child builds it: it starts open and sends nothing.
    calls = []
    second = ProviderGuard("yfinance", policy=POLICY, memory=DatabaseGuardMemory(engine))
    assert (second.state()["circuit"], second.state()["consecutive_failures"]) == ("open", 2)
    with pytest.raises(CircuitOpen):
        second.call(lambda: calls.append(1))
    assert calls == []
    other = ProviderGuard("fred", policy=POLICY, memory=DatabaseGuardMemory(engine))
    assert other.state()["circuit"] == "closed"  # one row per provider


def test_failures_short_of_the_threshold_add_up_across_processes(engine):
    for _ in range(2):
        guard = ProviderGuard("fred", policy=POLICY, sleep=lambda s: None, memory=DatabaseGuardMemory(engine))
        with pytest.raises(Transient):
            guard.call(failing)
    assert ProviderGuard("fred", policy=POLICY, memory=DatabaseGuardMemory(engine)).state()["circuit"] == "open"
    # A success resets the count, and that is remembered too.
    with engine.begin() as conn:
        conn.execute(tables.provider_state.update().values(circuit="closed", failures=1, opened_at=None))
    guard = ProviderGuard("fred", policy=POLICY, memory=DatabaseGuardMemory(engine))
    assert guard.call(lambda: 7) == 7
    assert ProviderGuard("fred", policy=POLICY, memory=DatabaseGuardMemory(engine)).breaker.fail_counter == 0


def test_a_daily_limit_window_and_the_days_requests_survive_into_the_next_process(engine):
    now = [datetime(2026, 11, 25, 15, 0, tzinfo=UTC)]

    def guard() -> ProviderGuard:
        return ProviderGuard(
            "alpha_vantage", daily_limit=3, policy=POLICY, now=lambda: now[0], memory=DatabaseGuardMemory(engine)
        )

    guard().call(lambda: "a")
    guard().call(lambda: "b")
    third = guard()
    third.call(lambda: "c")
    with pytest.raises(DailyLimitReached, match="local daily budget"):
        third.call(lambda: "d")  # three requests in three processes: the day's budget is spent
    assert guard().state()["disabled_until"] == "2026-11-26T00:00:00+00:00"
    with pytest.raises(DailyLimitReached):
        guard().call(lambda: "e")
    now[0] += timedelta(days=1)  # the next UTC day: the window is over, the day's count starts again
    assert guard().call(lambda: "f") == "f"
    with engine.connect() as conn:
        row = conn.execute(sa.select(tables.provider_state)).mappings().one()
    assert (row["provider"], str(row["day"]), row["day_requests"]) == ("alpha_vantage", "2026-11-26", 1)


def test_a_database_error_never_reaches_a_provider_call(engine):
    broken = DatabaseGuardMemory(sa.create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none"))
    guard = ProviderGuard("yfinance", policy=POLICY, sleep=lambda s: None, memory=broken)
    with pytest.raises(Transient):
        guard.call(failing)
    assert guard.call(lambda: 1) == 1


def test_counters_are_added_to_the_workers_heartbeat_and_its_beat_keeps_them(engine, monkeypatch):
    monkeypatch.setattr(queue, "_state", queue.WorkerState(worker_id="host:7"))
    assert record_worker_providers(engine, "host:7", [{"provider": "p", "requests": 1}]) is False  # no row yet
    queue.beat(engine, IngestionConfig())
    first = [
        {"provider": "yfinance", "circuit": "closed", "requests": 5, "calls": 3, "retries": 1, "errors": {"x": 1}},
        {"provider": "fred", "circuit": "closed", "requests": 2, "calls": 2, "retries": 0, "errors": {}},
    ]
    second = [
        {"provider": "yfinance", "circuit": "open", "consecutive_failures": 5, "requests": 4, "calls": 2, "retries": 3}
        | {"errors": {"x": 2, "transient": 4}, "disabled_until": None}
    ]
    assert record_worker_providers(engine, "host:7", first) is True
    queue.beat(engine, IngestionConfig())  # the parent's beat merges its keys: the providers stay
    assert record_worker_providers(engine, "host:7", second) is True
    queue.beat(engine, IngestionConfig(), "stopped")
    hb = tables.worker_heartbeats
    with engine.connect() as conn:
        details = conn.execute(sa.select(hb.c.details).where(hb.c.worker_id == "host:7")).scalar_one()
    providers = {p["provider"]: p for p in details["providers"]}
    assert providers["yfinance"] | {} == {
        "provider": "yfinance",
        "circuit": "open",
        "consecutive_failures": 5,
        "disabled_until": None,
        "requests": 9,
        "calls": 5,
        "retries": 4,
        "errors": {"x": 3, "transient": 4},
    }
    assert providers["fred"]["requests"] == 2 and set(details) >= {"running", "next_runs", "providers"}


def test_merging_ignores_malformed_earlier_values():
    before = [{"provider": "p", "requests": "many", "errors": {"x": True}}, 7, None, {"no": "name"}]
    assert merged_states(before, [{"provider": "p", "requests": 2, "errors": {"x": 1}}]) == [
        {"provider": "p", "requests": 2, "calls": 0, "retries": 0, "errors": {"x": 1}}
    ]
