"""GET /metrics: Prometheus text from this process's own metrics plus a few bounded database reads at scrape time.

The web process serves it; what the worker knows reaches it through the database, never through another
process's memory. At each scrape `DatabaseCollector` runs a handful of cheap queries on one connection of its
own (a short `statement_timeout`, each part in a savepoint so one slow part does not blank the others, and a
client-side deadline so a silent database cannot hang the scrape). A scrape never fails: when the database
cannot be read the answer has `market_desk_database_up 0` and the in-process metrics only.

What is exported (all `market_desk_`; ages are seconds by the app's clock, `store.clock`):

- ingestion (`ingestion_runs`, counted over the whole table, which is never pruned): `ingestion_runs_total`
  {job, provider, status} for finished runs, `ingestion_runs_running` {job, provider},
  `ingestion_rows_written_total` {job, provider}, `ingestion_last_run_age_seconds` {job} (latest finished run,
  any outcome) and `ingestion_last_success_age_seconds` {job}. `provider` is the run's `source`: the providers
  that delivered, comma-separated when a fallback delivered part of a run;
- `data_age_seconds` {dataset}: `daily_bars` from the latest bar date taken at 21:00 UTC (after the 16:00
  New York close in both summer and winter time), `macro_observations` from the latest non-missing observation
  date of any series at 00:00 UTC (FRED dates a period by its first day, so a monthly series looks a month
  older than its release), `intraday_quotes` from the latest quote time; a dataset with no rows is left out;
- the job queue, only when Procrastinate's tables exist (`to_regclass('procrastinate_jobs')`):
  `queue_jobs` {queue, status} (every job in the table, zeros for the usual statuses of a known queue),
  `queue_oldest_todo_age_seconds` {queue} (the oldest job due now and still waiting) and the histogram
  `queue_task_duration_seconds` {queue, task, status} (last `started` to `succeeded`/`failed`/`aborted` event,
  over every finished job still in the table: Procrastinate's job clean-up shows as a counter reset);
- providers, from the heartbeats of workers that beat in the last `HEARTBEAT_WINDOW_SECONDS`
  (`worker_heartbeats.details["providers"]`, one `ProviderGuard.state()` per provider): `provider_requests_total`,
  `provider_calls_total`, `provider_retries_total`, `provider_errors_total` {provider, kind} (each summed over
  workers; a worker counts from its own start, so a restart is a counter reset), `provider_circuit_state`
  {provider, state} (how many workers see the circuit closed / open / half-open), `provider_consecutive_failures`
  (the most of any worker) and `provider_disabled` (workers that have it off for its daily limit), with
  `workers_reporting` and `worker_heartbeat_age_seconds` (newest beat of any worker);
- access: `sessions_active` (unexpired `user_sessions`), `logins_total` {outcome="ok"|"failed"} and
  `login_lockouts_total`, from `audit_log` since the table began (counters, so any window is a PromQL
  `increase(...)`);
- this process: `page_render_seconds` {page} (histogram; `page_timer`), `api_requests_total` {endpoint, status}
  and `api_request_seconds` {endpoint} (the read API), `build_info` {version},
  `database_up`, `metrics_database_seconds` (time the reads took), `metrics_part_ok` {part} (0 when one part
  failed, e.g. timed out), and `process_*` (CPU, memory, open files).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, Info, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from dashboard.web import startup
from ingestion import queue_reads
from store import __version__, clock
from store.db import create_db_engine, get_engine
from store.errors import first_line
from store.settings import Settings, get_settings

log = logging.getLogger(__name__)

PREFIX = "market_desk_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes
STATEMENT_TIMEOUT_MS = 1500  # per statement, enforced by the server
DEADLINE_SECONDS = 4.0  # for all the reads, enforced here (a frozen server enforces nothing)
HEARTBEAT_WINDOW_SECONDS = 300  # provider figures come from workers that beat this recently
BAR_CLOSE_UTC_HOUR = 21  # a daily bar's data is taken as of 21:00 UTC on its date
PAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
TASK_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
QUEUE_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled")
CIRCUIT_STATES = ("closed", "open", "half-open")
PARTS = ("ingestion", "data_age", "queue", "providers", "access")

# -- in-process metrics ----------------------------------------------------------------------------------------
REGISTRY = CollectorRegistry(auto_describe=False)
PAGE_RENDER_SECONDS = Histogram(
    "market_desk_page_render_seconds",
    "Time to run a page script once (every rerun counts), by page.",
    ["page"],
    buckets=PAGE_BUCKETS,
    registry=REGISTRY,
)
API_REQUESTS = Counter(
    "market_desk_api_requests_total",
    "Requests to /api/v1, by endpoint (its path template) and HTTP status.",
    ["endpoint", "status"],
    registry=REGISTRY,
)
API_SECONDS = Histogram(
    "market_desk_api_request_seconds",
    "Time to answer an /api/v1 request, by endpoint (its path template).",
    ["endpoint"],
    buckets=PAGE_BUCKETS,
    registry=REGISTRY,
)
Info("market_desk_build", "The running version of Market Desk.", registry=REGISTRY).info({"version": __version__})
ProcessCollector(namespace="market_desk", registry=REGISTRY)


@contextmanager
def page_timer(page: str) -> Iterator[None]:
    """Time the block into `market_desk_page_render_seconds{page=...}` (also when it ends by st.stop/st.rerun)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        PAGE_RENDER_SECONDS.labels(page=page).observe(time.perf_counter() - started)


# -- database facts ----------------------------------------------------------------------------------------------
@dataclass
class DatabaseFacts:
    """What one scrape read from the database (plain values; `families` turns them into metrics)."""

    # (job, provider, status) -> (runs, rows written, latest finished_at)
    runs: dict[tuple[str, str, str], tuple[int, int, datetime | None]] = field(default_factory=dict)
    latest: dict[str, datetime] = field(default_factory=dict)  # dataset -> time its newest data stands for
    queue_present: bool = False
    queue_jobs: dict[tuple[str, str], int] = field(default_factory=dict)  # (queue, status) -> jobs
    queue_oldest_todo: dict[str, datetime] = field(default_factory=dict)  # queue -> oldest due, waiting
    # (queue, task, status) -> (cumulative counts per TASK_BUCKETS bound, count, sum of seconds)
    task_durations: dict[tuple[str, str, str], tuple[list[int], int, float]] = field(default_factory=dict)
    provider_states: list[list[dict[str, Any]]] = field(default_factory=list)  # one list per reporting worker
    newest_beat: datetime | None = None
    sessions_active: int | None = None
    audit: dict[str, int] = field(default_factory=dict)  # action -> rows
    failed_parts: list[str] = field(default_factory=list)


def _read_ingestion(conn: sa.Connection, facts: DatabaseFacts) -> None:
    rows = conn.execute(
        sa.text(
            "select job, source, status, count(*), coalesce(sum(rows_written), 0), max(finished_at) "
            "from ingestion_runs group by job, source, status"
        )
    )
    for job, provider, status, runs, rows_written, finished in rows:
        facts.runs[(job, provider, status)] = (int(runs), int(rows_written), finished)


def _read_data_age(conn: sa.Connection, facts: DatabaseFacts) -> None:
    bars, macro, quotes = conn.execute(
        sa.text(
            "select (select max(date) from daily_bars), "
            # The newest non-missing value of each series through its primary key (one short scan per series).
            "(select max(x.date) from macro_series s cross join lateral (select o.date from macro_observations o "
            "  where o.series_id = s.series_id and o.value is not null order by o.date desc limit 1) x), "
            "(select max(ts) from intraday_quotes)"
        )
    ).one()
    if bars is not None:
        facts.latest["daily_bars"] = _at_utc(bars, BAR_CLOSE_UTC_HOUR)
    if macro is not None:
        facts.latest["macro_observations"] = _at_utc(macro, 0)
    if quotes is not None:
        facts.latest["intraday_quotes"] = quotes


def _at_utc(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _read_queue(conn: sa.Connection, facts: DatabaseFacts) -> None:
    facts.queue_present = queue_reads.installed(conn)
    if not facts.queue_present:
        return
    facts.queue_jobs.update(queue_reads.status_counts(conn))
    facts.queue_oldest_todo.update(queue_reads.oldest_waiting(conn))
    facts.task_durations.update(queue_reads.task_durations(conn, TASK_BUCKETS))


def _read_providers(conn: sa.Connection, facts: DatabaseFacts) -> None:
    rows = conn.execute(
        sa.text(
            "select distinct on (worker_id) worker_id, details -> 'providers' from worker_heartbeats "
            "where beat_at > now() - make_interval(secs => :window) order by worker_id, beat_at desc"
        ),
        {"window": HEARTBEAT_WINDOW_SECONDS},
    )
    for _worker, providers in rows:
        states = [p for p in providers if isinstance(p, dict)] if isinstance(providers, list) else []
        facts.provider_states.append(states)
    facts.newest_beat = conn.execute(sa.text("select max(beat_at) from worker_heartbeats")).scalar_one()


def _read_access(conn: sa.Connection, facts: DatabaseFacts) -> None:
    facts.sessions_active = int(
        conn.execute(sa.text("select count(*) from user_sessions where expires_at > now()")).scalar_one()
    )
    for action, rows in conn.execute(
        sa.text(
            "select action, count(*) from audit_log where action in ('login_ok', 'login_failed', 'lockout') "
            "group by action"
        )
    ):
        facts.audit[action] = int(rows)


READERS: dict[str, Callable[[sa.Connection, DatabaseFacts], None]] = {
    "ingestion": _read_ingestion,
    "data_age": _read_data_age,
    "queue": _read_queue,
    "providers": _read_providers,
    "access": _read_access,
}


def read_facts(conn: sa.Connection, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS) -> DatabaseFacts:
    """Every part on `conn`, read-only, each in a savepoint: a part that fails is named in `failed_parts`."""
    conn.execute(sa.text(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}"))
    conn.execute(sa.text("SET LOCAL lock_timeout = 500"))
    conn.execute(sa.text("SET TRANSACTION READ ONLY"))
    facts = DatabaseFacts()
    for part, reader in READERS.items():
        savepoint = conn.begin_nested()
        try:
            reader(conn, facts)
            savepoint.commit()
        except Exception as exc:  # noqa: BLE001 - one part that cannot be read must not blank the others
            savepoint.rollback()  # raises when the connection itself is gone: then the whole read has failed
            facts.failed_parts.append(part)
            if isinstance(exc, sa.exc.DBAPIError):
                log.debug("metrics: %s not read: %s", part, first_line(exc))
            else:
                log.warning("metrics: %s not read", part, exc_info=True)
    conn.rollback()
    return facts


# -- metric families ----------------------------------------------------------------------------------------------
def _age(now: datetime, then: datetime | None) -> float | None:
    if then is None:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


def _number(value: Any) -> float:
    """A counter value from a worker's heartbeat (JSON): numbers only, anything else counts as 0."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else 0.0


def _ingestion_families(facts: DatabaseFacts, now: datetime) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        PREFIX + "ingestion_runs",
        "Finished ingestion runs, by job, provider and outcome.",
        labels=["job", "provider", "status"],
    )
    running = GaugeMetricFamily(
        PREFIX + "ingestion_runs_running", "Ingestion runs in progress.", labels=["job", "provider"]
    )
    rows = CounterMetricFamily(
        PREFIX + "ingestion_rows_written",
        "Rows written by ingestion runs, by job and provider.",
        labels=["job", "provider"],
    )
    last_run = GaugeMetricFamily(
        PREFIX + "ingestion_last_run_age_seconds",
        "Seconds since the latest finished ingestion run of a job (any outcome).",
        labels=["job"],
    )
    last_success = GaugeMetricFamily(
        PREFIX + "ingestion_last_success_age_seconds",
        "Seconds since the latest successful ingestion run of a job.",
        labels=["job"],
    )
    written: dict[tuple[str, str], int] = {}
    latest: dict[str, datetime] = {}
    latest_success: dict[str, datetime] = {}
    for (job, provider, status), (count, rows_written, finished) in sorted(facts.runs.items()):
        written[(job, provider)] = written.get((job, provider), 0) + rows_written
        if status == "running":
            running.add_metric([job, provider], count)
            continue
        runs.add_metric([job, provider, status], count)
        if finished is not None:
            latest[job] = max(latest.get(job, finished), finished)
            if status == "success":
                latest_success[job] = max(latest_success.get(job, finished), finished)
    for (job, provider), total in sorted(written.items()):
        rows.add_metric([job, provider], total)
    for job, finished in sorted(latest.items()):
        last_run.add_metric([job], _age(now, finished) or 0.0)
    for job, finished in sorted(latest_success.items()):
        last_success.add_metric([job], _age(now, finished) or 0.0)
    yield from (runs, running, rows, last_run, last_success)


def _data_age_families(facts: DatabaseFacts, now: datetime) -> Iterator[Metric]:
    ages = GaugeMetricFamily(
        PREFIX + "data_age_seconds",
        "Age of the newest stored data per dataset: daily bars from their date at 21:00 UTC, macro observations "
        "from their date at 00:00 UTC, intraday quotes from their time.",
        labels=["dataset"],
    )
    for dataset, at in sorted(facts.latest.items()):
        ages.add_metric([dataset], _age(now, at) or 0.0)
    yield ages


def _queue_families(facts: DatabaseFacts, now: datetime) -> Iterator[Metric]:
    if not facts.queue_present:
        return
    jobs = GaugeMetricFamily(
        PREFIX + "queue_jobs", "Jobs in the task queue, by queue and status.", labels=["queue", "status"]
    )
    depth = dict(facts.queue_jobs)
    for name in {q for q, _ in depth}:
        for status in QUEUE_STATUSES:
            depth.setdefault((name, status), 0)
    for (name, status), count in sorted(depth.items()):
        jobs.add_metric([name, status], count)
    oldest = GaugeMetricFamily(
        PREFIX + "queue_oldest_todo_age_seconds",
        "Seconds the oldest job that is due has been waiting in a queue.",
        labels=["queue"],
    )
    for name, at in sorted(facts.queue_oldest_todo.items()):
        oldest.add_metric([name], _age(now, at) or 0.0)
    durations = HistogramMetricFamily(
        PREFIX + "queue_task_duration_seconds",
        "Run time of finished queue tasks (last start to end), by queue, task and outcome.",
        labels=["queue", "task", "status"],
    )
    for (name, task, status), (cumulative, count, total) in sorted(facts.task_durations.items()):
        buckets = [(repr(bound), float(n)) for bound, n in zip(TASK_BUCKETS, cumulative, strict=True)]
        durations.add_metric([name, task, status], [*buckets, ("+Inf", float(count))], total)
    yield from (jobs, oldest, durations)


def _provider_families(facts: DatabaseFacts, now: datetime) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        PREFIX + "provider_requests",
        "Requests sent to a data provider (attempts within the rate budget).",
        labels=["provider"],
    )
    calls = CounterMetricFamily(
        PREFIX + "provider_calls", "Calls made through a provider's guard.", labels=["provider"]
    )
    retries = CounterMetricFamily(
        PREFIX + "provider_retries", "Retries after a transient or rate-limit failure.", labels=["provider"]
    )
    errors = CounterMetricFamily(
        PREFIX + "provider_errors",
        "Failed attempts and refused calls, by provider and kind (transient, rate_limited, daily_limit, "
        "budget_exhausted, auth, not_found, not_supported, provider_error, circuit_open, disabled, other).",
        labels=["provider", "kind"],
    )
    circuit = GaugeMetricFamily(
        PREFIX + "provider_circuit_state",
        "Workers that see a provider's circuit breaker in each state (closed, open, half-open).",
        labels=["provider", "state"],
    )
    failures = GaugeMetricFamily(
        PREFIX + "provider_consecutive_failures",
        "Consecutive failures counted by a provider's circuit breaker (the most of any worker).",
        labels=["provider"],
    )
    disabled = GaugeMetricFamily(
        PREFIX + "provider_disabled",
        "Workers that have a provider off until its daily limit resets.",
        labels=["provider"],
    )
    totals: dict[str, dict[str, float]] = {}
    error_totals: dict[tuple[str, str], float] = {}
    states: dict[tuple[str, str], int] = {}
    most_failures: dict[str, float] = {}
    off: dict[str, int] = {}
    for worker in facts.provider_states:
        for state in worker:
            name = state.get("provider")
            if not isinstance(name, str) or not name:
                continue
            sums = totals.setdefault(name, {"requests": 0.0, "calls": 0.0, "retries": 0.0})
            for key in sums:
                sums[key] += _number(state.get(key))
            kinds = state.get("errors")
            if isinstance(kinds, dict):
                for kind, count in kinds.items():
                    error_totals[(name, str(kind))] = error_totals.get((name, str(kind)), 0.0) + _number(count)
            for each in CIRCUIT_STATES:
                states.setdefault((name, each), 0)
            if state.get("circuit") in CIRCUIT_STATES:
                states[(name, state["circuit"])] += 1
            most_failures[name] = max(most_failures.get(name, 0.0), _number(state.get("consecutive_failures")))
            off[name] = off.get(name, 0) + (1 if state.get("disabled_until") else 0)
    for name, sums in sorted(totals.items()):
        requests.add_metric([name], sums["requests"])
        calls.add_metric([name], sums["calls"])
        retries.add_metric([name], sums["retries"])
        failures.add_metric([name], most_failures[name])
        disabled.add_metric([name], off[name])
    for (name, kind), count in sorted(error_totals.items()):
        errors.add_metric([name, kind], count)
    for (name, each), count in sorted(states.items()):
        circuit.add_metric([name, each], count)
    yield from (requests, calls, retries, errors, circuit, failures, disabled)
    yield GaugeMetricFamily(
        PREFIX + "workers_reporting",
        f"Ingestion workers with a heartbeat in the last {HEARTBEAT_WINDOW_SECONDS} s.",
        value=len(facts.provider_states),
    )
    if facts.newest_beat is not None:
        yield GaugeMetricFamily(
            PREFIX + "worker_heartbeat_age_seconds",
            "Seconds since the newest heartbeat of any ingestion worker.",
            value=_age(now, facts.newest_beat) or 0.0,
        )


def _access_families(facts: DatabaseFacts, now: datetime) -> Iterator[Metric]:
    if facts.sessions_active is not None:
        yield GaugeMetricFamily(
            PREFIX + "sessions_active", "Signed-in sessions not expired.", value=facts.sessions_active
        )
    logins = CounterMetricFamily(
        PREFIX + "logins", "Sign-in attempts recorded in the audit log since it began, by outcome.", labels=["outcome"]
    )
    if "access" not in facts.failed_parts:
        logins.add_metric(["ok"], facts.audit.get("login_ok", 0))
        logins.add_metric(["failed"], facts.audit.get("login_failed", 0))
        yield logins
        yield CounterMetricFamily(
            PREFIX + "login_lockouts",
            "Sign-in lockouts recorded in the audit log since it began.",
            value=facts.audit.get("lockout", 0),
        )


def families(facts: DatabaseFacts, now: datetime) -> list[Metric]:
    """The metric families for what one scrape read (pure: no database, no clock of its own)."""
    found: list[Metric] = []
    for builder in (_ingestion_families, _data_age_families, _queue_families, _provider_families, _access_families):
        found.extend(builder(facts, now))
    parts = GaugeMetricFamily(
        PREFIX + "metrics_part_ok", "1 when a part of the database reads succeeded in this scrape.", labels=["part"]
    )
    for part in PARTS:
        parts.add_metric([part], 0 if part in facts.failed_parts else 1)
    found.append(parts)
    return found


# -- the collector ------------------------------------------------------------------------------------------------
class NotReady(RuntimeError):
    """The app has not finished starting: no database to read yet."""


class DatabaseCollector:
    """A prometheus_client collector whose figures come from the database at scrape time (never raises, never hangs).

    The reads run on a pool of one connection of their own (page traffic never queues them), in a helper thread
    joined with a deadline; while a read is still stuck on a silent database, later scrapes do not start another.
    """

    def __init__(
        self,
        engine_factory: Callable[[], sa.Engine] | None = None,
        *,
        deadline: float = DEADLINE_SECONDS,
        statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    ) -> None:
        self._factory = engine_factory
        self.deadline = deadline
        self.statement_timeout_ms = statement_timeout_ms
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()
        self._in_flight: threading.Thread | None = None
        self._was_up: bool | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not touch the database

    def reset(self, engine_factory: Callable[[], sa.Engine] | None = None) -> None:
        """Use `engine_factory` (None: the app's database) from the next scrape on; drop the current engine."""
        with self._lock:
            self._factory = engine_factory
            self._drop_engine()

    def close(self) -> None:
        """Close the collector's connection now (at shutdown, before the database stops)."""
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def _default_engine(self) -> sa.Engine:
        if not startup.state().ready:
            raise NotReady("the app is starting")
        url = get_engine().url.render_as_string(hide_password=False)
        return create_db_engine(url, pool_size=1, max_overflow=0, connect_timeout=2)

    def _get_engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = (self._factory or self._default_engine)()
        return self._engine

    def _drop_engine(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            threading.Thread(target=engine.dispose, name="metrics-dispose", daemon=True).start()

    def read(self) -> tuple[DatabaseFacts | None, str | None, float]:
        """(facts, None, seconds) or (None, why not, seconds); bounded by the deadline."""
        started = time.perf_counter()
        with self._lock:
            if self._in_flight is not None and self._in_flight.is_alive():
                return None, f"the previous read has not finished after {self.deadline:g} s", 0.0
            if self._in_flight is not None:
                self._in_flight = None
                self._drop_engine()  # its connection came back late: start clean
            outcome: dict[str, Any] = {}

            def run() -> None:
                try:
                    with self._get_engine().connect() as conn:
                        outcome["facts"] = read_facts(conn, self.statement_timeout_ms)
                except NotReady as exc:
                    outcome["error"] = str(exc)
                except Exception as exc:  # noqa: BLE001 - any failure is a database that cannot be read
                    outcome["error"] = first_line(exc)
                    outcome["drop"] = True

            worker = threading.Thread(target=run, name="metrics-read", daemon=True)
            worker.start()
            worker.join(self.deadline)
            if worker.is_alive():
                self._in_flight = worker
                return None, f"the database did not answer within {self.deadline:g} s", self.deadline
            if outcome.get("drop"):
                self._drop_engine()
            return outcome.get("facts"), outcome.get("error"), time.perf_counter() - started

    def collect(self) -> Iterator[Metric]:
        facts, error, seconds = self.read()
        self._log_change(facts is not None, error)
        yield GaugeMetricFamily(
            PREFIX + "database_up", "1 when this scrape could read the database, else 0.", value=1 if facts else 0
        )
        yield GaugeMetricFamily(
            PREFIX + "metrics_database_seconds", "Time the database reads of this scrape took.", value=seconds
        )
        if facts is not None:
            yield from families(facts, clock.now())

    def _log_change(self, up: bool, error: str | None) -> None:
        if up == self._was_up:
            return
        if not up and error != "the app is starting":
            log.warning("metrics: the database cannot be read: %s", error)
        elif up and self._was_up is False:
            log.info("metrics: the database can be read again")
        self._was_up = up


COLLECTOR = DatabaseCollector()
REGISTRY.register(COLLECTOR)


# -- the route ------------------------------------------------------------------------------------------------
def bearer_matches(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time (the scheme is case-insensitive)."""
    scheme, _, supplied = (header or "").strip().partition(" ")
    same = hmac.compare_digest(supplied.strip().encode(), token.encode())
    return same and scheme.lower() == "bearer"


def refusal(request: Request, settings: Settings) -> Response | None:
    """None when the request may read the metrics; else the answer (401 without the token, 404 when unprotected
    in production: METRICS_TOKEN must be set there, as Streamlit's own /_stcore/metrics is not served)."""
    if settings.metrics_token is None:
        if settings.is_production:
            return PlainTextResponse("Not Found\n", status_code=404)
        return None
    if bearer_matches(request.headers.get("authorization"), settings.metrics_token.get_secret_value()):
        return None
    return PlainTextResponse(
        "Unauthorized\n",
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
    )


def render(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The Prometheus text exposition (0.0.4) of `registry` (blocking: database reads)."""
    return generate_latest(registry)


async def metrics_route(request: Request) -> Response:
    refused = refusal(request, get_settings())
    if refused is not None:
        return refused
    body = await run_in_threadpool(render)
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
