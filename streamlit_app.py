"""Entry point: `streamlit run streamlit_app.py` serves this st.App (router, /healthz, /metrics, /auth/*, lifespan)."""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from starlette.routing import Route

from dashboard.web import api, auth_routes, health, memory, metrics, shared_downloads, startup
from dashboard.web.security import SecurityMiddleware
from ingestion import supervisor
from store.db import get_engine
from store.logs import setup_logging
from store.settings import ConfigError

PAGES = Path(__file__).resolve().parent / "pages"

try:
    # Before the server binds its port: production refuses weak secrets with one clear line.
    startup.configure()
except ConfigError as exc:
    print(f"error: {exc}", file=sys.stderr, flush=True)
    sys.exit(2)


@asynccontextmanager
async def lifespan(app: st.App):
    setup_logging()  # again, now that uvicorn has configured its loggers: one format (JSON in production), redacted
    startup.ensure_started()
    health.monitor.start()  # /healthz answers from the status this thread keeps fresh
    # The ingestion worker: a supervised child process started once the database is ready (WORKER_ENABLED),
    # on the database the app resolved (the embedded one included).
    supervisor.start_embedded_worker(
        ready=lambda: startup.state().ready,
        database_url=lambda: get_engine().url.render_as_string(hide_password=False),
    )
    # What start-up allocated, and the modules the pages import (imported now rather than at a first page run),
    # live as long as the process: keep them out of the collector's full passes, which otherwise stall a request
    # every few dozen (about 0.1 s each; benchmarks/api.py --gc-freeze) and would make the collection after page
    # runs (memory.RunCollector) cost as much.
    memory.freeze_warm_heap(PAGES.glob("*.py"))
    memory.start_collector()  # what page runs leave, collected at most once a second (runner.postScriptGC is off)
    port = st.config.get_option("server.port")
    print(f"\n    Market Desk: open http://localhost:{port} in your browser.\n", flush=True)
    yield
    supervisor.stop_embedded_worker()  # before the database goes away
    health.monitor.stop()
    metrics.COLLECTOR.close()
    api.LIMITS.close()
    startup.shutdown()


app = st.App(
    "dashboard/web/router.py",
    routes=[
        Route("/healthz", health.healthz),
        Route("/metrics", metrics.metrics_route),
        *auth_routes.routes,
        *api.routes,  # the read API under /api/v1
    ],
    lifespan=lifespan,
    # Outermost first: the session check, then the shared copy of a download another instance built.
    middleware=[Middleware(SecurityMiddleware), Middleware(shared_downloads.SharedDownloadsMiddleware)],
)
