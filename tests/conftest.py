"""Shared fixtures: the network guard, a real PostgreSQL per test session, and app settings pointing at it.

PostgreSQL: TEST_DATABASE_URL when set (a server where we may create databases), otherwise an embedded
server started in a temporary folder. Every session works in databases it creates and drops itself.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.netguard import guard

ROOT = Path(__file__).resolve().parent.parent
TEST_PASSWORD = "test-password-1234"

# Settings are read from the environment; nothing from a developer's .env or shell may leak in.
for _name in ("DATABASE_URL", "APP_ENV", "RENDER", "TERMINAL_PASSWORD", "AUTH_SECRET", "TERMINAL_USER"):
    os.environ.pop(_name, None)
guard.install()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A maintenance URL on a real PostgreSQL server (its `postgres` database)."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        url = make_url(configured.replace("postgres://", "postgresql://", 1)).set(drivername="postgresql+psycopg2")
        yield url.set(database="postgres").render_as_string(hide_password=False)
        return
    from store.embedded import start_embedded, stop_embedded

    folder = Path(tempfile.mkdtemp(prefix="md-test-pg-"))
    try:
        yield start_embedded(folder / "pgdata")
    finally:
        stop_embedded()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def make_database(pg_server_url: str) -> Iterator:
    """Factory: a new empty database on the test server; all are dropped at the end of the session."""
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def _make() -> str:
        name = f"md_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)

    yield _make
    with admin.connect() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def use_database(monkeypatch: pytest.MonkeyPatch, url: str, **env: str) -> None:
    """Point the app's settings and engine at `url` for one test."""
    from store.db import reset_engine
    from store.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("TERMINAL_PASSWORD", TEST_PASSWORD)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    reset_engine()


@pytest.fixture(scope="session")
def make_sample_database(make_database):
    """Factory: a new database migrated to head with the bundled sample loaded (for tests that write)."""
    from ingestion.jobs import load_sample
    from store.db import create_db_engine, migrate

    def _make() -> str:
        url = make_database()
        engine = create_db_engine(url)
        migrate(engine)
        load_sample(engine, ROOT / "data" / "sample")
        engine.dispose()
        return url

    return _make


@pytest.fixture(scope="session")
def sample_database_url(make_sample_database) -> str:
    """The sample database shared by the whole session (read-only use)."""
    return make_sample_database()


@pytest.fixture
def empty_database_url(make_database) -> str:
    return make_database()


@pytest.fixture
def engine_for(monkeypatch):
    """Factory: use `url` for the app and return a fresh engine on it."""
    from store.db import get_engine, reset_engine
    from store.settings import get_settings

    def _engine(url: str, **env: str) -> sa.Engine:
        use_database(monkeypatch, url, **env)
        return get_engine()

    yield _engine
    reset_engine()
    get_settings.cache_clear()


@pytest.fixture
def app_on(monkeypatch):
    """Factory: the app's start-up completed against `url` (caches clear), ready for AppTest; undone after."""
    import streamlit as st

    from dashboard import startup
    from store.db import get_engine, reset_engine
    from store.settings import get_settings

    def _start(url: str, **env: str) -> sa.Engine:
        use_database(monkeypatch, url, **env)
        startup.run_startup()
        st.cache_data.clear()
        return get_engine()

    yield _start
    st.cache_data.clear()
    startup._state.phase = "not started"
    reset_engine()
    get_settings.cache_clear()


@pytest.fixture
def ready_app(app_on, sample_database_url):
    """App start-up completed against the shared sample database."""
    app_on(sample_database_url)
