"""The ingestion worker process: the scheduler, a heartbeat row, and a clean stop on SIGTERM or when its parent dies."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ingestion.config import IngestionConfig
from ingestion.jobs import JOBS, JobRequest, run_job
from ingestion.sample import ensure_universe
from ingestion.scheduler import build_scheduler, due_jobs, next_runs
from ingestion.supervisor import PARENT_ENV
from store import clock, tables
from store.errors import first_line
from store.settings import Settings

log = logging.getLogger(__name__)


class Worker:
    """Runs jobs for the scheduler and reports its state in worker_heartbeats."""

    def __init__(self, engine: sa.Engine, settings: Settings, config: IngestionConfig) -> None:
        self.engine = engine
        self.settings = settings
        self.config = config
        self.worker_id = os.environ.get("WORKER_ID") or f"{socket.gethostname()}:{os.getpid()}"
        self.stop = threading.Event()
        self.current_job: str | None = None
        self.last_results: dict[str, dict] = {}
        self.scheduler = None

    # -- jobs ---------------------------------------------------------------------------------------
    def providers_for(self, job: str) -> list:
        return JOBS[job].chain(self.settings)

    def run(self, job: str) -> None:
        """Run `job` now; every error is logged and recorded, none escapes (the scheduler keeps going)."""
        if self.stop.is_set():
            return
        providers = self.providers_for(job)
        if not providers:
            from ingestion.providers import registry

            reasons = "; ".join(f"{k}: {v}" for k, v in registry.disabled_providers(self.settings).items())
            log.warning("%s: no live provider is enabled (%s); skipped", job, reasons or "none configured")
            self.last_results[job] = {"status": "no provider", "at": _now()}
            return
        self.current_job = job
        self.beat()
        try:
            result = run_job(self.engine, JobRequest(job), providers, self.config, should_stop=self.stop.is_set)
            self.last_results[job] = {"status": result.status, "run_id": result.run_id, "at": _now()}
            log.info(
                "%s: %s, %d rows written, %d failed", job, result.status, result.rows_written, len(result.failures)
            )
        except Exception as exc:  # noqa: BLE001 - the run is recorded as failed; the worker carries on
            log.exception("%s failed", job)
            self.last_results[job] = {"status": "failed", "error": str(exc)[:200], "at": _now()}
        finally:
            self.current_job = None
            self.beat()

    # -- heartbeat ----------------------------------------------------------------------------------
    def beat(self, state: str | None = None) -> None:
        """Upsert this worker's heartbeat row; a database outage is logged, never fatal."""
        state = state or ("running" if self.current_job else "idle")
        details = {"last_results": self.last_results}
        if self.scheduler is not None and self.scheduler.running:
            details["next_runs"] = next_runs(self.scheduler)
        values = {
            "worker_id": self.worker_id,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "state": state,
            "current_job": self.current_job,
            "details": details,
        }
        statement = pg_insert(tables.worker_heartbeats).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["worker_id"],
            set_={
                "beat_at": sa.func.now(),
                "state": statement.excluded.state,
                "current_job": statement.excluded.current_job,
                "details": statement.excluded.details,
            },
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(statement)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("heartbeat not written: %s", first_line(exc))

    def prune_heartbeats(self) -> None:
        """Drop rows of workers gone for a day (each process has its own row)."""
        hb = tables.worker_heartbeats
        with self.engine.begin() as conn:
            conn.execute(hb.delete().where(hb.c.beat_at < sa.func.now() - sa.text("interval '1 day'")))

    def parent_gone(self) -> bool:
        expected = os.environ.get(PARENT_ENV)
        return expected is not None and expected != "" and os.getppid() != int(expected)

    # -- main loop ----------------------------------------------------------------------------------
    def serve(self) -> int:

        scheduler = self.scheduler = build_scheduler(self.engine, self.config, self.run)
        scheduler.start()
        log.info("worker %s started; next runs: %s", self.worker_id, next_runs(scheduler))
        interval = self.settings.worker_heartbeat_seconds
        try:
            while not self.stop.is_set():
                self.beat()
                if self.parent_gone():
                    log.warning("the app that started this worker is gone; stopping")
                    self.stop.set()
                    break
                self.stop.wait(interval)
        finally:
            self.beat("stopping")
            # A running job sees the stop event between batches, records what it did, and returns; one stuck
            # in a provider's retries is abandoned after a grace period (its open batch transaction rolls
            # back, and the next run of that job closes its ledger row as abandoned).
            scheduler.shutdown(wait=False)
            deadline = time.monotonic() + self.settings.worker_stop_grace_seconds
            while self.current_job is not None and time.monotonic() < deadline:
                time.sleep(0.1)
            stuck = self.current_job
            self.current_job = None
            self.beat("stopped")
            if stuck is not None:
                log.warning(
                    "worker %s: %s still running after %.0f s; exiting anyway",
                    self.worker_id,
                    stuck,
                    self.settings.worker_stop_grace_seconds,
                )
                logging.shutdown()
                os._exit(0)
            log.info("worker %s stopped", self.worker_id)
        return 0


def _now() -> str:
    return clock.now().isoformat(timespec="seconds")


def run_worker(engine: sa.Engine, settings: Settings, config: IngestionConfig, *, once: bool = False) -> int:
    """`python -m ingestion worker`: seed the universe, then serve until SIGTERM/SIGINT (or run due jobs once)."""
    ensure_universe(engine, settings.sample_data_dir)
    worker = Worker(engine, settings, config)
    worker.prune_heartbeats()
    if once:
        for job in due_jobs(engine, config):
            worker.run(job)
        return 0

    def _stop(signum: int, _frame: object) -> None:
        log.info("received %s; stopping after the current batch", signal.Signals(signum).name)
        worker.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return worker.serve()
