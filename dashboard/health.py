"""GET /healthz: database reachability, data freshness and version, as JSON; 503 with a reason otherwise."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from dashboard import startup
from store import __version__, tables
from store.db import get_engine
from store.settings import get_settings

log = logging.getLogger(__name__)


def health_payload() -> tuple[int, dict]:
    state = startup.state()
    body: dict = {"version": __version__, "database": "unknown"}
    if not state.ready:
        body.update(
            status="starting" if state.phase in ("starting", "not started") else "error",
            reason=state.message or state.phase,
        )
        return 503, body
    timeout_ms = get_settings().healthz_db_timeout_ms
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
            latest_bar = conn.execute(sa.select(sa.func.max(tables.daily_bars.c.date))).scalar_one()
            last_success = conn.execute(
                sa.select(sa.func.max(tables.ingestion_runs.c.finished_at)).where(
                    tables.ingestion_runs.c.status == "success"
                )
            ).scalar_one()
            worker = _worker_state(conn)
            conn.rollback()
    except sa.exc.SQLAlchemyError as exc:
        reason = (
            str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            if str(getattr(exc, "orig", exc)).strip()
            else type(exc).__name__
        )
        log.warning("healthz: database check failed: %s", reason)
        body.update(status="error", database="unreachable", reason=f"database check failed: {reason}")
        return 503, body
    body.update(
        status="ok",
        database="ok",
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        latest_bar_date=latest_bar.isoformat() if latest_bar else None,
        last_successful_ingestion=last_success.isoformat() if last_success else None,
        worker=worker,
    )
    return 200, body


def _worker_state(conn: sa.Connection) -> dict:
    """The newest heartbeat: status (idle/running/stopping/stopped, `stale` when beats stopped coming, `absent`
    when none was ever written; `disabled` when this app does not run one) and the beat's age. The worker's
    state never changes the HTTP status: the dashboard does not go down with it."""
    settings = get_settings()
    hb = tables.worker_heartbeats
    row = conn.execute(
        sa.select(hb.c.state, sa.func.extract("epoch", sa.func.now() - hb.c.beat_at).label("age"))
        .order_by(hb.c.beat_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return {"status": "disabled" if not settings.worker_enabled else "absent", "last_beat_age_s": None}
    age = float(row.age)
    # Three missed beats: the process is gone or stuck (the supervisor restarts a dead one).
    status = "stale" if row.state != "stopped" and age > 3 * settings.worker_heartbeat_seconds else row.state
    return {"status": status, "last_beat_age_s": round(age, 1)}


async def healthz(request: Request) -> JSONResponse:
    status, body = await run_in_threadpool(health_payload)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
