"""GET /healthz from a status a background monitor refreshes: no database work per request, a bounded check.

Render restarts a service whose check fails for 60 s and gives each check 5 s. So the route only reads the
latest status (memory, microseconds), and a monitor thread refreshes it every `HEALTHZ_REFRESH_SECONDS` on a
connection of its own, with a client-side deadline: a database that is open but silent (a frozen cluster)
makes the check fail on time instead of hanging it. The answer is 503 only when the database failed several
checks in a row or the status is older than a limit, so one slow check never flaps the service; log lines
are written when the state changes, not per probe.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse

from dashboard.web import startup
from ingestion import queue_reads
from store import __version__, clock
from store.db import create_db_engine, get_engine
from store.errors import first_line
from store.reads.core import freshness
from store.reads.quality import expected_session
from store.reads.workers import worker_states
from store.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthStatus:
    """The outcome of the latest database check (and the facts it read)."""

    checked_at: float | None = None  # epoch seconds of the latest completed check
    ok: bool = False
    consecutive_failures: int = 0
    error: str | None = None
    latency_ms: float | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # latest bar, last ingestion, worker (from the last ok)


def probe(engine: sa.Engine, settings: Settings) -> dict[str, Any]:
    """One check: the database answers, and what the health check reports about the data, workers and queue."""
    with engine.connect() as conn:
        conn.execute(sa.text(f"SET LOCAL statement_timeout = {int(settings.healthz_check_timeout_seconds * 1000)}"))
        fresh = freshness(conn)
        workers = worker_states(conn, settings.worker_heartbeat_seconds)
        depth = queue_reads.queue_depth(conn)
        conn.rollback()
    waiting = [row for row in depth if row["status"] == "todo"]
    live = [w for w in workers if w.status in LIVE]
    return {
        "latest_bar_date": fresh.as_of.isoformat() if fresh.as_of else None,
        "expected_bar_date": expected_session(clock.now(), settings.bars_grace_hours).isoformat(),
        "last_successful_ingestion": fresh.last_success.isoformat() if fresh.last_success else None,
        "worker": worker_summary(workers, settings.worker_enabled),
        "live_workers": len(live),
        "queue": {
            "waiting": sum(row["tasks"] for row in waiting),
            "running": sum(row["tasks"] for row in depth if row["status"] == "doing"),
            "oldest_waiting_s": round(max((float(row["oldest_seconds"] or 0) for row in waiting), default=0.0), 1),
        },
        "circuits_open": sorted(
            {p["provider"] for w in live for p in w.details.get("providers") or [] if p.get("circuit") != "closed"}
        ),
    }


LIVE = ("idle", "running")


def worker_summary(workers: list, enabled: bool) -> dict:
    """The newest heartbeat's status and age (`absent` when none, `disabled` when this app runs none).

    The worker's state never changes the HTTP status: the dashboard does not go down with it.
    """
    if not workers:
        return {"status": "absent" if enabled else "disabled", "last_beat_age_s": None}
    newest = workers[0]
    return {"status": newest.status, "last_beat_age_s": newest.beat_age_seconds}


def degraded_reasons(facts: dict[str, Any], settings: Settings) -> list[str]:
    """Why the service works but not fully (still 200: Render must not restart the web service for these)."""
    reasons = []
    if not facts.get("live_workers"):
        reasons.append("no live ingestion worker: scheduled and requested runs wait")
    latest, expected = facts.get("latest_bar_date"), facts.get("expected_bar_date")
    if latest is None:
        reasons.append("no price data stored")
    elif expected and latest < expected:
        reasons.append(f"data older than expected: latest bar {latest}, expected {expected}")
    for provider in facts.get("circuits_open") or []:
        reasons.append(f"provider {provider}: circuit open after repeated failures")
    queue_facts = facts.get("queue") or {}
    if queue_facts.get("oldest_waiting_s", 0) > settings.healthz_backlog_seconds:
        waiting, oldest = queue_facts["waiting"], queue_facts["oldest_waiting_s"]
        reasons.append(f"queue backlog: {waiting} task(s) waiting, the oldest for {oldest:.0f} s")
    return reasons


class HealthMonitor:
    """Refreshes the HealthStatus in a background thread; `check_once` runs one bounded check."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._status = HealthStatus()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: sa.Engine | None = None
        self._in_flight: threading.Thread | None = None  # a check still waiting on a silent database

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    @property
    def status(self) -> HealthStatus:
        return self._status

    def _probe_engine(self) -> sa.Engine:
        # Its own small pool: page traffic never queues the check, and a hung connection is dropped with it.
        if self._engine is None:
            url = get_engine().url.render_as_string(hide_password=False)
            self._engine = create_db_engine(url, pool_size=1, max_overflow=0, connect_timeout=2)
        return self._engine

    def _drop_engine(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            threading.Thread(target=engine.dispose, name="healthz-dispose", daemon=True).start()

    def check_once(self) -> HealthStatus:
        """Run one check with a client-side deadline and record its outcome (never raises, never hangs)."""
        deadline = self.settings.healthz_check_timeout_seconds
        if self._in_flight is not None and self._in_flight.is_alive():
            # The previous check is still stuck: do not pile up threads on a frozen database.
            return self._record(None, f"the database has not answered for over {deadline:g} s", None)
        if self._in_flight is not None:
            self._in_flight = None
            self._drop_engine()  # its connection came back after the deadline: start clean
        outcome: dict[str, Any] = {}

        def run() -> None:
            started = time.perf_counter()
            try:
                outcome["facts"] = probe(self._probe_engine(), self.settings)
                outcome["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
            except Exception as exc:  # noqa: BLE001 - any failure of the check is a failed check
                outcome["error"] = first_line(exc)

        worker = threading.Thread(target=run, name="healthz-check", daemon=True)
        worker.start()
        worker.join(deadline)
        if worker.is_alive():
            self._in_flight = worker
            return self._record(None, f"the database did not answer within {deadline:g} s", None)
        if "error" in outcome:
            self._drop_engine()
            return self._record(None, f"database check failed: {outcome['error']}", None)
        return self._record(outcome["facts"], None, outcome["latency_ms"])

    def _record(self, facts: dict | None, error: str | None, latency_ms: float | None) -> HealthStatus:
        with self._lock:
            before = self._status
            if error is None:
                status = HealthStatus(clock.epoch_seconds(), True, 0, None, latency_ms, facts or {})
            else:
                status = replace(
                    before,
                    checked_at=clock.epoch_seconds(),
                    ok=False,
                    consecutive_failures=before.consecutive_failures + 1,
                    error=error,
                    latency_ms=None,
                )
            self._status = status
        self._log_change(before, status)
        return status

    def _log_change(self, before: HealthStatus, after: HealthStatus) -> None:
        """One line when the state changes (first failure, the failure that turns /healthz to 503, recovery)."""
        limit = self.settings.healthz_failures_before_503
        if not after.ok and before.ok:
            log.warning("healthz: database check failing: %s", after.error)
        if not after.ok and after.consecutive_failures == limit:
            log.error("healthz: %d database checks failed in a row; answering 503: %s", limit, after.error)
        if after.ok and not before.ok and before.checked_at is not None:
            log.info("healthz: database answering again after %d failed check(s)", before.consecutive_failures)

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="healthz-monitor", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        interval = self.settings.healthz_refresh_seconds
        while not self._stop.is_set():
            if startup.state().ready:
                self.check_once()
            self._stop.wait(interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._thread = None
        self._drop_engine()


def health_payload(status: HealthStatus, settings: Settings | None = None) -> tuple[int, dict]:
    """The HTTP status and JSON body for the latest status (pure: no database work)."""
    settings = settings or get_settings()
    state = startup.state()
    body: dict[str, Any] = {"version": __version__}
    if not state.ready:
        phase = "starting" if state.phase in ("starting", "not started") else "error"
        body.update(status=phase, database="unknown", reason=state.message or state.phase)
        return 503, body
    if status.checked_at is None:
        body.update(status="starting", database="unknown", reason="the first database check has not finished")
        return 503, body
    age = max(0.0, clock.epoch_seconds() - status.checked_at)
    body.update(status_age_s=round(age, 1), consecutive_failures=status.consecutive_failures, **status.facts)
    if age > settings.healthz_max_age_seconds:
        body.update(status="error", database="unknown", reason=f"the health status is {age:.0f} s old")
        return 503, body
    if not status.ok:
        failing = status.consecutive_failures >= settings.healthz_failures_before_503
        body.update(status="error" if failing else "ok", database="failing", reason=status.error)
        return (503 if failing else 200), body
    reasons = degraded_reasons(status.facts, settings)
    body.update(status="degraded" if reasons else "ok", database="ok", latency_ms=status.latency_ms, reasons=reasons)
    return 200, body


monitor = HealthMonitor()


def reset_monitor(settings: Settings | None = None) -> HealthMonitor:
    """A fresh monitor (tests, or after the settings changed); the previous one is stopped."""
    global monitor
    monitor.stop()
    monitor = HealthMonitor(settings)
    return monitor


async def healthz(request: Request) -> JSONResponse:
    status, body = health_payload(monitor.status)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
