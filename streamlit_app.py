"""Entry point: `streamlit run streamlit_app.py` serves this st.App (router, /healthz, start-up lifespan)."""

from __future__ import annotations

import sys
from contextlib import asynccontextmanager

import streamlit as st
from starlette.routing import Route

from dashboard import startup
from dashboard.health import healthz
from store.settings import ConfigError

try:
    # Before the server binds its port: production refuses weak secrets with one clear line.
    startup.configure()
except ConfigError as exc:
    print(f"error: {exc}", file=sys.stderr, flush=True)
    sys.exit(2)


@asynccontextmanager
async def lifespan(app: st.App):
    startup.ensure_started()
    port = st.config.get_option("server.port")
    print(f"\n    Market Desk: open http://localhost:{port} in your browser.\n", flush=True)
    yield
    startup.shutdown()


app = st.App("dashboard/router.py", routes=[Route("/healthz", healthz)], lifespan=lifespan)
