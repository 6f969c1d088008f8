"""GET /healthz: database reachability, data freshness and version, as JSON; 503 with a reason otherwise."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from dashboard.web import startup
from store import __version__
from store.db import get_engine
from store.errors import first_line
from store.reads.core import freshness
from store.reads.workers import worker_states
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
    settings = get_settings()
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text(f"SET LOCAL statement_timeout = {int(settings.healthz_db_timeout_ms)}"))
            fresh = freshness(conn)
            workers = worker_states(conn, settings.worker_heartbeat_seconds)
            conn.rollback()
    except sa.exc.SQLAlchemyError as exc:
        reason = first_line(exc)
        log.warning("healthz: database check failed: %s", reason)
        body.update(status="error", database="unreachable", reason=f"database check failed: {reason}")
        return 503, body
    body.update(
        status="ok",
        database="ok",
        latency_ms=round((time.perf_counter() - started) * 1000, 1),
        latest_bar_date=fresh.as_of.isoformat() if fresh.as_of else None,
        last_successful_ingestion=fresh.last_success.isoformat() if fresh.last_success else None,
        worker=worker_summary(workers, settings.worker_enabled),
    )
    return 200, body


def worker_summary(workers: list, enabled: bool) -> dict:
    """The newest heartbeat's status and age (`absent` when none, `disabled` when this app runs none).

    The worker's state never changes the HTTP status: the dashboard does not go down with it.
    """
    if not workers:
        return {"status": "absent" if enabled else "disabled", "last_beat_age_s": None}
    newest = workers[0]
    return {"status": newest.status, "last_beat_age_s": newest.beat_age_seconds}


async def healthz(request: Request) -> JSONResponse:
    status, body = await run_in_threadpool(health_payload)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
