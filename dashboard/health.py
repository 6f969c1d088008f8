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
    )
    return 200, body


async def healthz(request: Request) -> JSONResponse:
    status, body = await run_in_threadpool(health_payload)
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
