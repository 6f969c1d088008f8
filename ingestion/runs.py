"""The ingestion_runs ledger: every run is recorded, whatever its outcome."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa

from store import tables
from store.logs import log_context
from store.redaction import redact

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
    items: dict[str, dict] = field(default_factory=dict)  # per symbol/series outcome, kept in details
    sources: list[str] = field(default_factory=list)  # providers that delivered data, in first-use order
    notes: list[str] = field(default_factory=list)  # run-wide reasons (no network), each once, before the items

    def note(self, reason: str) -> None:
        """A reason that concerns the whole run rather than one item (recorded once, first in the summary)."""
        if reason not in self.notes:
            self.notes.append(reason)

    def ok(self, item: str, provider: str | None, rows: int, **info: object) -> None:
        """`item` went through (from `provider`, `rows` rows written or that would be written)."""
        previous = self.items.get(item)
        if previous and previous["status"] == "ok":
            previous["rows"] += rows
            if provider and provider not in previous["providers"]:
                previous["providers"].append(provider)
            return
        self.items[item] = {"status": "ok", "providers": [provider] if provider else [], "rows": rows, **info}
        self.failures.pop(item, None)
        self.succeeded += 1
        if provider and provider not in self.sources:
            self.sources.append(provider)

    def fail(self, item: str, reason: str) -> None:
        """`item` failed for `reason` (an earlier success for the same item, in another window, stays counted)."""
        previous = self.items.get(item)
        if previous and previous["status"] == "ok":
            previous.setdefault("errors", []).append(reason)
            self.failures[item] = reason
            return
        self.items[item] = {"status": "failed", "reason": reason}
        self.failures[item] = reason

    @property
    def status(self) -> str:
        if not self.failures:
            return "success"
        return "partial" if self.succeeded else "failed"


ABANDONED = "abandoned: the process running it stopped before it finished"


def close_abandoned_runs(engine: sa.Engine, job: str) -> int:
    """Mark `running` rows of `job` as failed; call only while holding the job's lock.

    Whoever holds the lock is the only process that can be running the job, so any other `running` row
    was left by a process that was killed or lost its database mid-run.
    """
    runs = tables.ingestion_runs
    with engine.begin() as conn:
        result = conn.execute(
            runs.update()
            .where(runs.c.job == job, runs.c.status == "running")
            .values(status="failed", finished_at=sa.func.now(), error_summary=ABANDONED)
        )
    if result.rowcount:
        log.warning("marked %d abandoned %s run(s) as failed", result.rowcount, job)
    return result.rowcount


@contextmanager
def recorded_run(engine: sa.Engine, job: str, source: str, *, record: bool = True) -> Iterator[Run]:
    """Insert a `running` row, yield the Run, then mark it success / partial / failed.

    The ledger row is written in its own transactions so a failed data transaction is still recorded.
    With `record=False` (dry runs) nothing is written and the Run's id is 0.
    """
    if not record:
        yield Run(id=0, job=job, source=source)
        return
    with engine.begin() as conn:
        run_id = conn.execute(
            tables.ingestion_runs.insert()
            .values(job=job, source=source, status="running")
            .returning(tables.ingestion_runs.c.id)
        ).scalar_one()
    run = Run(id=run_id, job=job, source=source)
    with log_context(run_id=run_id, job=job):  # every line of the run carries them (JSON logs)
        try:
            yield run
        except Exception as exc:
            log.error("ingestion run %s (%s from %s) failed: %s", run_id, job, source, exc)
            try:
                _finish(engine, run, "failed", error=str(exc))
            except sa.exc.OperationalError as ledger_exc:
                # The database is gone too: the row stays `running` until the next holder of the job's lock
                # closes it as abandoned (see close_abandoned_runs). The original error is what matters.
                log.error("could not record the failure of run %s: %s", run_id, ledger_exc.orig)
            raise
        status = run.status
        _finish(engine, run, status, error="; ".join([*run.notes, *(f"{k}: {v}" for k, v in run.failures.items())]))
        log.info("ingestion run %s (%s from %s): %s, %d rows", run_id, job, source, status, run.rows_written)


def _finish(engine: sa.Engine, run: Run, status: str, error: str | None) -> None:
    details = dict(run.details)
    if run.items:
        details["items"] = run.items
    if run.failures:
        details["failed"] = run.failures
    if run.notes:
        details["notes"] = run.notes
    source = ",".join(run.sources)[:32] if run.sources else run.source
    with engine.begin() as conn:
        conn.execute(
            tables.ingestion_runs.update()
            .where(tables.ingestion_runs.c.id == run.id)
            .values(
                source=source,
                status=status,
                finished_at=sa.func.now(),
                rows_written=run.rows_written,
                error_summary=(error or None) and redact(error)[:2000],
                details=details or None,
            )
        )
