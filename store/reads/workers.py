"""Worker heartbeats as the health check, the pages and the CLI see them (one staleness rule: store.heartbeat)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from store import tables
from store.heartbeat import worker_status


@dataclass(frozen=True)
class WorkerState:
    worker_id: str
    hostname: str
    pid: int
    status: str  # idle | running | stopping | stopped | stale
    current_job: str | None
    beat_age_seconds: float
    started_at: datetime
    details: dict = field(default_factory=dict)


def worker_states(conn: sa.Connection, beat_interval_seconds: float, within_hours: float = 24) -> list[WorkerState]:
    """Workers that beat within the last `within_hours`, newest beat first; ages by the database's clock."""
    hb = tables.worker_heartbeats
    age = sa.func.extract("epoch", sa.func.now() - hb.c.beat_at).label("age")
    rows = conn.execute(
        sa.select(hb, age)
        .where(hb.c.beat_at > sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, within_hours * 3600))
        .order_by(hb.c.beat_at.desc())
    ).mappings()
    return [
        WorkerState(
            worker_id=row["worker_id"],
            hostname=row["hostname"],
            pid=row["pid"],
            status=worker_status(row["state"], float(row["age"]), beat_interval_seconds),
            current_job=row["current_job"],
            beat_age_seconds=round(float(row["age"]), 1),
            started_at=row["started_at"],
            details=row["details"] or {},
        )
        for row in rows
    ]
