"""The ingestion_runs ledger: every run is recorded, whatever its outcome."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa

from store import tables

log = logging.getLogger(__name__)


@dataclass
class Run:
    id: int
    job: str
    source: str
    rows_written: int = 0
    details: dict = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    succeeded: int = 0  # items (symbols, series, files) that went through

    @property
    def status(self) -> str:
        if not self.failures:
            return "success"
        return "partial" if self.succeeded else "failed"


@contextmanager
def recorded_run(engine: sa.Engine, job: str, source: str) -> Iterator[Run]:
    """Insert a `running` row, yield the Run, then mark it success / partial / failed.

    The ledger row is written in its own transactions so a failed data transaction is still recorded.
    """
    with engine.begin() as conn:
        run_id = conn.execute(
            tables.ingestion_runs.insert()
            .values(job=job, source=source, status="running")
            .returning(tables.ingestion_runs.c.id)
        ).scalar_one()
    run = Run(id=run_id, job=job, source=source)
    try:
        yield run
    except Exception as exc:
        log.error("ingestion run %s (%s from %s) failed: %s", run_id, job, source, exc)
        _finish(engine, run, "failed", error=str(exc))
        raise
    status = run.status
    _finish(engine, run, status, error="; ".join(f"{k}: {v}" for k, v in run.failures.items()) or None)
    log.info("ingestion run %s (%s from %s): %s, %d rows", run_id, job, source, status, run.rows_written)


def _finish(engine: sa.Engine, run: Run, status: str, error: str | None) -> None:
    details = dict(run.details)
    if run.failures:
        details["failed"] = run.failures
    with engine.begin() as conn:
        conn.execute(
            tables.ingestion_runs.update()
            .where(tables.ingestion_runs.c.id == run.id)
            .values(
                status=status,
                finished_at=sa.func.now(),
                rows_written=run.rows_written,
                error_summary=(error or None) and error[:2000],
                details=details or None,
            )
        )
