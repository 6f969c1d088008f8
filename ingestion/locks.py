"""One writer per job: a PostgreSQL session advisory lock keyed on the job name."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from store.errors import first_line

log = logging.getLogger(__name__)


def job_lock_key(job: str) -> int:
    """A stable signed 64-bit key for `job` (the same in every process and on every host)."""
    digest = hashlib.blake2b(f"market-desk:ingestion:{job}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LockLost(RuntimeError):
    """The connection holding a job's lock died (database restart, network cut): the lock is gone with it."""


class JobLock:
    """A held job lock; `check()` before each write makes sure it is still held."""

    def __init__(self, job: str, conn: sa.Connection) -> None:
        self.job, self._conn = job, conn

    def check(self) -> None:
        try:
            self._conn.execute(sa.text("select 1"))
            self._conn.commit()
        except sa.exc.DBAPIError as exc:
            self._conn.invalidate()
            raise LockLost(
                f"lost the database connection that held the {self.job} lock ({first_line(exc)}); "
                "stopping so that no second writer can overlap; a rerun resumes"
            ) from None


@contextmanager
def job_lock(engine: sa.Engine, job: str) -> Iterator[JobLock | None]:
    """Yield a JobLock while this process holds the job's lock, None when another session already holds it.

    A session-level lock lives exactly as long as the connection that took it, so a killed process or a
    restarted server releases it by itself: no stale lock ever blocks the next run.
    """
    key = job_lock_key(job)
    conn = engine.connect()
    try:
        acquired = bool(conn.execute(sa.text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar_one())
        conn.commit()
    except Exception:
        conn.close()
        raise
    if not acquired:
        conn.close()
        log.info("job %s is already running in another session; skipping", job)
        yield None
        return
    try:
        yield JobLock(job, conn)
    finally:
        try:
            conn.execute(sa.text("select pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
            conn.close()
        except sa.exc.SQLAlchemyError:
            # The connection died (server restart): the lock died with it; never return it to the pool.
            conn.invalidate()
            conn.close()
