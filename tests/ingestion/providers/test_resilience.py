"""The guard: rate budgets, retries with backoff, circuit breaker, daily disabling."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from ingestion.providers.base import CircuitOpen, DailyLimitReached, NotFound, RateLimited
from ingestion.providers.resilience import (
    BudgetExhausted,
    GuardPolicy,
    ProviderGuard,
    Transient,
    next_utc_midnight,
    parse_retry_after,
    per_minute,
)


class Flaky:
    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def guard(**policy) -> tuple[ProviderGuard, list[float]]:
    slept: list[float] = []
    settings = {"attempts": 3, "backoff_initial": 1.0, "max_wait": 100, "fail_max": 3, "reset_timeout": 0.3, **policy}
    return ProviderGuard("test", None, policy=GuardPolicy(**settings), sleep=slept.append), slept


def test_transient_then_success_with_exponential_backoff() -> None:
    g, slept = guard(attempts=4)
    fn = Flaky(Transient("502"), Transient("503"), Transient("timeout"), "ok")
    assert g.call(fn) == "ok" and fn.calls == 4
    assert 1 <= slept[0] <= 2 and 2 <= slept[1] <= 3 and 4 <= slept[2] <= 5


def test_total_wait_is_bounded() -> None:
    g, slept = guard(attempts=10, max_wait=5)
    fn = Flaky(RateLimited("429", retry_after=2))
    with pytest.raises(RateLimited):
        g.call(fn)
    assert slept == [2, 2] and fn.calls == 3  # a third wait would pass 5 s


def test_not_found_is_neither_retried_nor_counted() -> None:
    g, slept = guard()
    fn = Flaky(NotFound("unknown"))
    for _ in range(5):
        with pytest.raises(NotFound):
            g.call(fn)
    assert fn.calls == 5 and slept == [] and g.state()["circuit"] == "closed"


def test_circuit_opens_after_n_failures_and_closes_after_the_reset_timeout() -> None:
    g, _ = guard(attempts=1, fail_max=3, reset_timeout=0.3)
    failing = Flaky(Transient("500"))
    for _ in range(3):
        with pytest.raises(Transient):
            g.call(failing)
    assert g.state()["circuit"] == "open" and g.state()["consecutive_failures"] == 3
    with pytest.raises(CircuitOpen, match="circuit open after 3 consecutive failures"):
        g.call(failing)
    assert failing.calls == 3  # the open circuit sent nothing
    time.sleep(0.35)
    assert g.call(Flaky("ok")) == "ok"  # half-open trial succeeds
    assert g.state()["circuit"] == "closed" and g.state()["consecutive_failures"] == 0


def test_half_open_failure_opens_again() -> None:
    g, _ = guard(attempts=1, fail_max=2, reset_timeout=0.2)
    for _ in range(2):
        with pytest.raises(Transient):
            g.call(Flaky(Transient("500")))
    time.sleep(0.25)
    with pytest.raises((Transient, CircuitOpen)):
        g.call(Flaky(Transient("still 500")))
    assert g.state()["circuit"] == "open"


def test_rate_budget_without_wait_raises_budget_exhausted_and_sends_nothing() -> None:
    slept: list[float] = []
    g = ProviderGuard("av", [per_minute(5)], policy=GuardPolicy(rate_wait=0, attempts=3), sleep=slept.append)
    fn = Flaky("ok")
    for _ in range(5):
        g.call(fn)
    with pytest.raises(BudgetExhausted, match="5/1m|5 per|no free slot"):
        g.call(fn)
    assert fn.calls == 5 and slept == [] and g.state()["circuit"] == "closed"


def test_rate_budget_waits_for_a_slot() -> None:
    g = ProviderGuard("y", [per_minute(600)], policy=GuardPolicy(rate_wait=5))  # 10 per second
    started = time.monotonic()
    for _ in range(12):
        g.call(lambda: None)
    assert time.monotonic() - started < 5  # the pyrate bucket lets them through without hitting the wait bound


def test_local_daily_budget_disables_until_next_utc_day() -> None:
    now = [datetime(2026, 11, 25, 23, 0, tzinfo=UTC)]
    g = ProviderGuard("av", None, daily_limit=2, policy=GuardPolicy(rate_wait=0), now=lambda: now[0])
    fn = Flaky("ok")
    g.call(fn)
    g.call(fn)
    with pytest.raises(DailyLimitReached) as caught:
        g.call(fn)
    assert caught.value.until == datetime(2026, 11, 26, tzinfo=UTC) and fn.calls == 2
    with pytest.raises(DailyLimitReached):
        g.call(fn)
    now[0] += timedelta(hours=2)
    assert g.disabled_until is None


def test_retry_after_parsing() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 25 Nov 2026 12:00:30 GMT", now) == 30
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert next_utc_midnight(now) == datetime(2026, 11, 26, tzinfo=UTC)


def test_state_counts_requests_calls_retries_and_errors_by_kind() -> None:
    g, slept = guard(attempts=3, fail_max=2, reset_timeout=60)
    assert g.state() == {
        "provider": "test",
        "circuit": "closed",
        "consecutive_failures": 0,
        "disabled_until": None,
        "requests": 0,
        "calls": 0,
        "retries": 0,
        "errors": {},
    }
    g.call(Flaky(Transient("502"), "ok"))  # one retry, then success
    with pytest.raises(NotFound):
        g.call(Flaky(NotFound("unknown")))  # not retried
    with pytest.raises(RateLimited):
        g.call(Flaky(RateLimited("429", retry_after=1)))  # three attempts, two waits
    with pytest.raises(Transient):
        g.call(Flaky(Transient("503")))  # the second failed call opens the circuit
    with pytest.raises(CircuitOpen):
        g.call(Flaky("never sent"))
    state = g.state()
    assert state["circuit"] == "open"
    assert (state["requests"], state["calls"], state["retries"]) == (2 + 1 + 3 + 3, 5, 1 + 2 + 2)
    assert state["errors"] == {"transient": 1 + 3, "not_found": 1, "rate_limited": 3, "circuit_open": 1}
    assert len(slept) == state["retries"] and state["requests"] == g.attempts_made


def test_refusals_without_a_request_are_counted_by_kind() -> None:
    now = [datetime(2026, 11, 25, 23, 0, tzinfo=UTC)]
    g = ProviderGuard("av", [per_minute(5)], daily_limit=2, policy=GuardPolicy(rate_wait=0), now=lambda: now[0])
    g.call(Flaky("ok"))
    g.call(Flaky("ok"))
    with pytest.raises(DailyLimitReached):
        g.call(Flaky("ok"))  # the local daily budget: nothing sent
    with pytest.raises(DailyLimitReached):
        g.call(Flaky("ok"))  # disabled until the next UTC day: refused before the budget
    state = g.state()
    assert state["requests"] == 2 and state["calls"] == 4
    assert state["errors"] == {"daily_limit": 1, "disabled": 1}
    assert state["disabled_until"] == "2026-11-26T00:00:00+00:00"

    budget = ProviderGuard("y", [per_minute(1)], policy=GuardPolicy(rate_wait=0))
    budget.call(Flaky("ok"))
    with pytest.raises(BudgetExhausted):
        budget.call(Flaky("ok"))
    assert budget.state()["errors"] == {"budget_exhausted": 1} and budget.state()["requests"] == 1


def test_error_kinds() -> None:
    from ingestion.providers.base import AuthenticationError, NoNetwork, NotSupported, ProviderError
    from ingestion.providers.resilience import ERROR_KINDS, error_kind

    cases = {
        Transient("x"): "transient",
        RateLimited("x"): "rate_limited",
        DailyLimitReached("x"): "daily_limit",
        BudgetExhausted("x"): "budget_exhausted",
        AuthenticationError("x"): "auth",
        NotFound("x"): "not_found",
        NotSupported("x"): "not_supported",
        CircuitOpen("x"): "circuit_open",
        NoNetwork("x", "host.example"): "no_network",
        ProviderError("x"): "provider_error",
        ValueError("x"): "other",
    }
    assert {exc: error_kind(exc) for exc in cases} == cases
    assert set(cases.values()) | {"disabled"} == set(ERROR_KINDS)


def test_state_is_json_ready_for_the_heartbeat() -> None:
    import json

    g, _ = guard()
    g.call(Flaky("ok"))
    assert json.loads(json.dumps(g.state())) == g.state()
