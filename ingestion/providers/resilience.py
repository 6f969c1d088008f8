"""Per-provider politeness: rate budgets (pyrate-limiter), retries with backoff (tenacity), circuit breaker (pybreaker).

Every network call of a live provider goes through its `ProviderGuard.call`, in this order:

1. a provider disabled by its daily limit (`DailyLimitReached`) raises it again until the next UTC day;
   with a `NetworkCheck`, a host that does not resolve raises `NoNetwork` without a request (one name lookup,
   its answer remembered for a minute either way, so a run without network looks once, not once per batch);
2. the circuit breaker: after `fail_max` consecutive failed calls it opens and every call raises
   `CircuitOpen` at once for `reset_timeout` seconds, then lets one trial call through (half-open);
3. retries: `Transient` (5xx, timeouts, connection errors) and `RateLimited` (429, Alpha Vantage's
   `Note`) are retried with exponential backoff and jitter, or after exactly `retry_after` seconds
   when the provider said so (Retry-After); the total sleep is bounded by `max_wait`;
4. the rate budget: each attempt takes `weight` slots from the provider's buckets, waiting at most
   `rate_wait` seconds for a slot, else `BudgetExhausted` (our own budget; never sent, never retried).

`NotFound`, `NotSupported`, `AuthenticationError` and malformed-payload `ProviderError`s are not
retried. Only provider-wide failures count towards the breaker (an unknown symbol does not, and neither does
`NoNetwork`: this machine being offline says nothing about the provider; raised by a call, it is remembered by
the `NetworkCheck` like a failed lookup).
pybreaker runs each call under the breaker's lock, so calls to one provider are serialised; the
Yahoo provider gets its bounded concurrency from yfinance's own download threads.

What must outlive the process (the worker runs each task in a short-lived child): a guard given a `GuardMemory`
starts from what it remembers of the circuit (state, consecutive failures, when it opened), of the daily-limit window
and of the day's requests against its local daily budget, and hands these back whenever they change
(ingestion.provider_state keeps them in the database; providers never touch it).

Counters (for /metrics, through the worker's heartbeat): `state()` reports `requests` (attempts sent: they
passed the rate budget), `calls` (calls to `call`), `retries` (waits before another attempt) and `errors` by
kind (`error_kind`): one per failed attempt, plus one per call refused without a request (`circuit_open`,
`disabled`). They count from the guard's creation (per process) and never go down; a worker's task child adds
them to its worker's heartbeat when its task ends.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import pybreaker
from pyrate_limiter import Duration, Limiter, Rate
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential_jitter

from ingestion.providers.base import (
    AuthenticationError,
    CircuitOpen,
    DailyLimitReached,
    NoNetwork,
    NotFound,
    NotSupported,
    ProviderError,
    RateLimited,
)
from store import clock

log = logging.getLogger(__name__)

T = TypeVar("T")


class Transient(ProviderError):
    """A failure worth retrying: HTTP 5xx, a timeout, a dropped connection."""


class BudgetExhausted(RateLimited):
    """Our own rate budget for the provider has no slot within the allowed wait; nothing was sent."""


def next_utc_midnight(now: datetime) -> datetime:
    """The start of the next UTC day after `now` (when daily budgets reset)."""
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or clock.now())).total_seconds())


def error_for_status(provider: str, status: int, retry_after: str | None, detail: str = "") -> ProviderError | None:
    """The named error for an HTTP status (None for 2xx/3xx); the message names the provider and the status."""
    if status < 400:
        return None
    suffix = f": {detail}" if detail else ""
    if status == 429:
        return RateLimited(
            f"{provider}: HTTP 429 Too Many Requests{suffix}", retry_after=parse_retry_after(retry_after)
        )
    if status in (401, 403):
        return AuthenticationError(f"{provider}: HTTP {status}, the API key was refused{suffix}")
    if status >= 500 or status == 408:
        return Transient(f"{provider}: HTTP {status} from the server{suffix}")
    return ProviderError(f"{provider}: HTTP {status}{suffix}")


@dataclass(frozen=True)
class GuardPolicy:
    """The knobs of one guard; `from_settings` reads them from the Settings object."""

    attempts: int = 4
    max_wait: float = 120.0  # total seconds slept across the retries of one call
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    rate_wait: float = 90.0
    fail_max: int = 5
    reset_timeout: float = 300.0

    @classmethod
    def from_settings(cls, settings: Any) -> GuardPolicy:
        return cls(
            attempts=settings.provider_retry_attempts,
            max_wait=settings.provider_retry_max_wait_seconds,
            backoff_initial=settings.provider_backoff_initial_seconds,
            backoff_max=max(settings.provider_backoff_initial_seconds, 60.0),
            rate_wait=settings.provider_rate_wait_seconds,
            fail_max=settings.circuit_fail_max,
            reset_timeout=settings.circuit_reset_seconds,
        )


# Error kinds as counted in `state()["errors"]`, most specific class first.
_ERROR_KINDS: list[tuple[type[BaseException], str]] = [
    (CircuitOpen, "circuit_open"),
    (BudgetExhausted, "budget_exhausted"),
    (DailyLimitReached, "daily_limit"),
    (RateLimited, "rate_limited"),
    (Transient, "transient"),
    (AuthenticationError, "auth"),
    (NotFound, "not_found"),
    (NotSupported, "not_supported"),
    (NoNetwork, "no_network"),
    (ProviderError, "provider_error"),
]
ERROR_KINDS = tuple(kind for _, kind in _ERROR_KINDS) + ("disabled", "other")


def error_kind(exc: BaseException) -> str:
    """The counter an error goes to: `transient` (5xx, timeouts), `rate_limited` (429, `Note`), `daily_limit`,
    `budget_exhausted` (our own budget, nothing sent), `auth`, `not_found`, `not_supported`, `circuit_open`,
    `no_network` (the host does not resolve), `provider_error` (any other provider error, e.g. a malformed
    payload) or `other` (not a provider error)."""
    for cls, kind in _ERROR_KINDS:
        if isinstance(exc, cls):
            return kind
    return "other"


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, BudgetExhausted | DailyLimitReached):
        return False
    return isinstance(exc, Transient | RateLimited)


# Failures that say nothing about the provider's health: they never open the circuit.
_BREAKER_EXCLUDES: list[type[BaseException]] = [
    NotFound,
    NotSupported,
    BudgetExhausted,
    DailyLimitReached,
    NoNetwork,
    ValueError,
]


class NetworkCheck:
    """Can this machine reach `host`? One name lookup, its answer remembered for `ttl` seconds either way.

    Remembering a failure is what makes a run without network report it once: every later call of the run is
    refused at once with the same `NoNetwork`, no lookup, no request, no retry. `offline(exc)` records a
    `NoNetwork` a call found itself (the lookup succeeded a moment ago, the request could not resolve).
    """

    def __init__(
        self,
        provider: str,
        host: str,
        ttl: float = 60.0,
        *,
        resolve: Callable[..., Any] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.provider = provider
        self.host = host
        self.ttl = timedelta(seconds=ttl)
        self._resolve = resolve  # None: socket.getaddrinfo as it is at the call (tests patch it, the net guard too)
        self._now: Callable[[], datetime] = now or (lambda: clock.now())
        self._lock = threading.Lock()
        self._checked_at: datetime | None = None
        self._failure: NoNetwork | None = None
        self.lookups = 0  # name lookups made (inspectable in tests)

    def require(self) -> None:
        """Return when the host resolves (or did within `ttl`); raise the remembered or a new `NoNetwork`."""
        with self._lock:
            now = self._now()
            if self._checked_at is None or now - self._checked_at >= self.ttl:
                self._failure = self._lookup()
                self._checked_at = now
            failure = self._failure
        if failure is not None:
            raise failure

    def recheck(self) -> NoNetwork | None:
        """Look the host up now (whatever is remembered); the `NoNetwork` when it does not resolve, else None."""
        with self._lock:
            self._failure, self._checked_at = self._lookup(), self._now()
            return self._failure

    def offline(self, exc: NoNetwork) -> None:
        """Remember `exc` for `ttl` seconds (a call found the network gone)."""
        with self._lock:
            self._failure, self._checked_at = exc, self._now()

    def _lookup(self) -> NoNetwork | None:
        self.lookups += 1
        resolve = self._resolve or socket.getaddrinfo
        try:
            resolve(self.host, 443, proto=socket.IPPROTO_TCP)
        except OSError as exc:  # socket.gaierror (DNS), and anything refusing the lookup (the tests' network guard)
            log.warning("%s: no network: could not resolve %s (%s)", self.provider, self.host, exc)
            return NoNetwork(self.provider, self.host, str(exc) or type(exc).__name__)
        return None


class GuardMemory(Protocol):
    """Where a guard keeps what must outlive its process: `{"circuit", "failures", "opened_at", "disabled_until",
    "day", "day_requests"}` (times and the UTC day as ISO strings or None; the day's requests counted against a local
    daily budget, None without one). `load` gives None for a provider never seen; neither raises."""

    def load(self, provider: str) -> dict[str, Any] | None: ...

    def save(self, provider: str, state: dict[str, Any]) -> None: ...


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _RememberedStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker's in-memory storage, which calls `changed` whenever the state, the failure count or the opening
    time changes (a success that finds no failure to reset changes nothing: no write on the common path)."""

    def __init__(self, state: str, counter: int, opened_at: datetime | None, changed: Callable[[], None]) -> None:
        super().__init__(state)
        self._fail_counter = counter
        self._opened_at = opened_at
        self._changed = changed

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, state: str) -> None:
        before, self._state = self._state, state
        if state != before:
            self._changed()

    def increment_counter(self) -> None:
        super().increment_counter()
        self._changed()

    def reset_counter(self) -> None:
        if self._fail_counter:
            super().reset_counter()
            self._changed()

    @property
    def opened_at(self) -> datetime | None:
        return self._opened_at

    @opened_at.setter
    def opened_at(self, datetime: datetime) -> None:
        self._opened_at = datetime
        self._changed()


_CIRCUIT_STATES = (pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN)


class ProviderGuard:
    """Rate budget + retries + circuit breaker + daily disabling for one provider (see the module docstring)."""

    def __init__(
        self,
        name: str,
        rates: list[Rate] | None = None,
        daily_limit: int | None = None,
        policy: GuardPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] | None = None,
        memory: GuardMemory | None = None,
        network: NetworkCheck | None = None,
    ) -> None:
        self.name = name
        self.network = network
        self.policy = policy or GuardPolicy()
        self._sleep = sleep
        self.now: Callable[[], datetime] = now or (lambda: clock.now())  # late-bound: tests move clock.now
        self._limiter = Limiter(rates) if rates else None
        self._day_limiter = Limiter(Rate(daily_limit, Duration.DAY)) if daily_limit else None
        self.rates = list(rates or []) + ([Rate(daily_limit, Duration.DAY)] if daily_limit else [])
        self._memory = memory
        remembered = (memory.load(name) if memory is not None else None) or {}
        circuit = remembered.get("circuit")
        self._storage = _RememberedStorage(
            circuit if circuit in _CIRCUIT_STATES else pybreaker.STATE_CLOSED,
            max(0, int(remembered.get("failures") or 0)),
            _when(remembered.get("opened_at")),
            self._remember,
        )
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=self.policy.fail_max,
            reset_timeout=self.policy.reset_timeout,
            exclude=_BREAKER_EXCLUDES,
            name=name,
            throw_new_error_on_trip=False,
            state_storage=self._storage,
        )
        self._disabled_until: datetime | None = _when(remembered.get("disabled_until"))
        self._lock = threading.Lock()
        # Requests counted against the local daily budget on one UTC day (remembered: a new process goes on counting).
        self._day, self._day_requests = self.now().astimezone(UTC).date(), 0
        if self._day_limiter is not None and remembered.get("day") == self._day.isoformat():
            spent = min(int(remembered.get("day_requests") or 0), daily_limit or 0)
            if spent > 0 and self._day_limiter.try_acquire(name, spent, blocking=False):
                self._day_requests = spent
        self.attempts_made = 0  # network attempts that passed the rate budget (inspectable in tests)
        self._counts_lock = threading.Lock()  # the counters below are read by the heartbeat thread
        self.calls_made = 0
        self.retries_made = 0
        self.errors: dict[str, int] = {}

    # -- state (for the UI, the logs and the tests) ------------------------------------------------
    @property
    def disabled_until(self) -> datetime | None:
        with self._lock:
            if self._disabled_until is not None and self.now() >= self._disabled_until:
                log.info("%s: daily limit window passed; provider enabled again", self.name)
                self._disabled_until = None
            return self._disabled_until

    def disable_until(self, until: datetime, reason: str) -> None:
        with self._lock:
            self._disabled_until = until
        log.warning("%s: disabled until %s: %s", self.name, until.isoformat(), reason)
        self._remember()

    def _remember(self) -> None:
        """Hand what must outlive this process to the memory (when there is one)."""
        if self._memory is None:
            return
        opened, until = self._storage.opened_at, self._disabled_until
        state = {
            "circuit": self._storage.state,
            "failures": self._storage.counter,
            "opened_at": opened.isoformat() if opened else None,
            "disabled_until": until.isoformat() if until else None,
            "day": self._day.isoformat() if self._day_limiter is not None else None,
            "day_requests": self._day_requests if self._day_limiter is not None else None,
        }
        self._memory.save(self.name, state)

    def state(self) -> dict[str, Any]:
        """A snapshot (JSON-ready): circuit state (closed/open/half-open), consecutive failures, disabled_until,
        and the counters since the guard was made: requests, calls, retries, errors by kind."""
        until = self.disabled_until
        with self._counts_lock:
            counts = {
                "requests": self.attempts_made,
                "calls": self.calls_made,
                "retries": self.retries_made,
                "errors": dict(self.errors),
            }
        return {
            "provider": self.name,
            "circuit": self.breaker.current_state,
            "consecutive_failures": self.breaker.fail_counter,
            "disabled_until": until.isoformat() if until else None,
            **counts,
        }

    def _count_error(self, kind: str) -> None:
        with self._counts_lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    # -- the call path ----------------------------------------------------------------------------
    def call(self, fn: Callable[..., T], *args: Any, weight: int = 1, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` under the budget, the retries and the breaker; raise named errors."""
        with self._counts_lock:
            self.calls_made += 1
        until = self.disabled_until
        if until is not None:
            self._count_error("disabled")
            raise DailyLimitReached(
                f"{self.name}: daily request limit reached; disabled until {until.isoformat()}", until
            )
        if self.network is not None:
            try:
                self.network.require()
            except NoNetwork:
                self._count_error("no_network")
                raise
        try:
            return self.breaker.call(self._with_retries, fn, args, kwargs, weight)
        except pybreaker.CircuitBreakerError:
            self._count_error("circuit_open")
            raise CircuitOpen(
                f"{self.name}: circuit open after {self.policy.fail_max} consecutive failures; "
                f"calls resume after {self.policy.reset_timeout:g} s"
            ) from None
        except DailyLimitReached as exc:
            self.disable_until(exc.until or next_utc_midnight(self.now()), str(exc))
            raise
        except NoNetwork as exc:
            if self.network is not None:
                self.network.offline(exc)
            raise

    def _with_retries(self, fn: Callable[..., T], args: tuple, kwargs: dict, weight: int) -> T:
        retrying = Retrying(
            retry=retry_if_exception(_is_retryable),
            wait=self._wait,
            stop=self._stop,
            sleep=self._sleep,
            reraise=True,
            before_sleep=self._log_retry,
        )
        for attempt in retrying:
            with attempt:
                try:
                    self._acquire(weight)
                    with self._counts_lock:
                        self.attempts_made += 1
                    return fn(*args, **kwargs)
                except Exception as exc:
                    self._count_error(error_kind(exc))
                    raise
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    def _wait(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        backoff = wait_exponential_jitter(
            multiplier=self.policy.backoff_initial, max=self.policy.backoff_max, jitter=self.policy.backoff_initial
        )
        return backoff(retry_state)

    def _stop(self, retry_state: RetryCallState) -> bool:
        if retry_state.attempt_number >= self.policy.attempts:
            return True
        # A Retry-After beyond the bound is not waited for: the caller falls back to the next provider.
        return retry_state.idle_for + retry_state.upcoming_sleep > self.policy.max_wait

    def _log_retry(self, retry_state: RetryCallState) -> None:
        with self._counts_lock:
            self.retries_made += 1
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        log.warning(
            "%s: attempt %d failed (%s); retrying in %.1f s",
            self.name,
            retry_state.attempt_number,
            exc,
            retry_state.upcoming_sleep,
        )

    def _acquire(self, weight: int) -> None:
        if self._day_limiter is not None and not self._day_limiter.try_acquire(self.name, weight, blocking=False):
            until = next_utc_midnight(self.now())
            raise DailyLimitReached(f"{self.name}: local daily budget ({self.rates[-1]}) is spent", until)
        if self._day_limiter is not None:
            today = self.now().astimezone(UTC).date()
            with self._lock:
                if today != self._day:
                    self._day, self._day_requests = today, 0
                self._day_requests += weight
            self._remember()
        if self._limiter is None:
            return
        wait = self.policy.rate_wait
        if wait > 0:
            acquired = self._limiter.try_acquire(self.name, weight, blocking=True, timeout=wait)
        else:
            acquired = self._limiter.try_acquire(self.name, weight, blocking=False)
        if not acquired:
            raise BudgetExhausted(
                f"{self.name}: rate budget {', '.join(map(str, self.rates))} has no free slot within {wait:g} s",
                retry_after=wait or None,
            )


def per_minute(limit: int) -> Rate:
    return Rate(limit, Duration.MINUTE)
