"""Shared fixtures: the network guard, a real PostgreSQL per test session, databases cloned from templates.

PostgreSQL: TEST_DATABASE_URL when set (a server where we may create databases), otherwise an embedded
server started in a temporary folder. Every session works in databases it creates and drops itself. Two
template databases are built once per session (schema at head; schema plus the bundled sample), and a
test's own database is a copy of one of them (`CREATE DATABASE ... TEMPLATE`), which takes a fraction of
migrating and loading again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.netguard import guard

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
TEST_PASSWORD = "test-password-1234"

# Settings are read from the environment; nothing from a developer's .env or shell may leak in.
for _name in ("DATABASE_URL", "APP_ENV", "RENDER", "TERMINAL_PASSWORD", "AUTH_SECRET", "TERMINAL_USER"):
    os.environ.pop(_name, None)
guard.install()

# Modules whose tests start servers, browsers or fuzzers take minutes each: run them first, so that under
# `--dist loadfile --no-loadscope-reorder` (the README's test command) no process starts a long module while the
# other has nothing left to do. The rest keep their order. (xdist's default order, by number of tests, put the
# browser modules, a few long tests each, last.)
_SLOW_MARKERS = ("browser", "e2e", "fuzz", "faults")


def _module_rank(item: pytest.Item) -> int:
    return next((i for i, name in enumerate(_SLOW_MARKERS) if item.get_closest_marker(name)), len(_SLOW_MARKERS))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ranks: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        ranks[module] = min(ranks.get(module, len(_SLOW_MARKERS)), _module_rank(item))
    items.sort(key=lambda item: ranks[item.nodeid.split("::")[0]])  # stable: a module's tests stay together


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


class Databases:
    """Creates databases on the test server (empty, or copies of a template) and drops them all at the end."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", pool_size=1)
        self.created: list[str] = []
        self._lock = threading.Lock()

    def url(self, name: str) -> str:
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"md_test_{uuid.uuid4().hex[:10]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self._lock, self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
        self.created.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in reversed(self.created):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def databases(pg_server_url: str) -> Iterator[Databases]:
    dbs = Databases(pg_server_url)
    yield dbs
    dbs.drop_all()


def _template(databases: Databases, prepare: Callable[[sa.Engine], None]) -> str:
    """A database prepared once and then used only as a template (no connection may stay open on it)."""
    from store.db import create_db_engine

    url = databases.create()
    engine = create_db_engine(url)
    try:
        prepare(engine)
    finally:
        engine.dispose()
    return make_url(url).database  # type: ignore[return-value]


@pytest.fixture(scope="session")
def migrated_template(databases: Databases) -> str:
    from store.db import migrate

    return _template(databases, migrate)


@pytest.fixture(scope="session")
def sample_template(databases: Databases) -> str:
    from ingestion.sample import load_sample
    from store.db import migrate

    def prepare(engine: sa.Engine) -> None:
        migrate(engine)
        load_sample(engine, SAMPLE)

    return _template(databases, prepare)


@pytest.fixture(scope="session")
def make_database(databases: Databases) -> Callable[[], str]:
    """Factory: a new empty database (no schema) on the test server."""
    return databases.create


@pytest.fixture(scope="session")
def make_migrated_database(databases: Databases, migrated_template: str) -> Callable[[], str]:
    """Factory: a new database with the schema at head and no data."""
    return lambda: databases.create(migrated_template)


@pytest.fixture(scope="session")
def make_sample_database(databases: Databases, sample_template: str) -> Callable[[], str]:
    """Factory: a new database migrated to head with the bundled sample loaded (for tests that write)."""
    return lambda: databases.create(sample_template)


@pytest.fixture(scope="session")
def sample_database_url(make_sample_database) -> str:
    """The sample database shared by the whole session (read-only use)."""
    return make_sample_database()


@pytest.fixture
def empty_database_url(make_database) -> str:
    return make_database()


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

    from dashboard.web import startup
    from store.db import get_engine, reset_engine
    from store.settings import get_settings

    def _start(url: str, **env: str) -> sa.Engine:
        use_database(monkeypatch, url, **env)
        startup.run_startup()
        st.cache_data.clear()
        st.cache_resource.clear()
        return get_engine()

    yield _start
    st.cache_data.clear()
    st.cache_resource.clear()
    startup.reset()
    reset_engine()
    get_settings.cache_clear()


@pytest.fixture
def ready_app(app_on, sample_database_url):
    """App start-up completed against the shared sample database."""
    app_on(sample_database_url)
