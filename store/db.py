"""Engine factory, database wait with retries, and schema migration to the latest Alembic revision."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from tenacity import before_sleep_log, retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from store.embedded import start_embedded
from store.errors import first_line
from store.settings import Settings, get_settings

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest revision under migrations/versions (tests/store/test_migrations.py checks it is Alembic's one head):
# a process that only needs to know whether the schema is current reads it here, without importing Alembic.
SCHEMA_HEAD = "0014"
# Any constant works; it only has to be the same for every process that migrates this schema.
MIGRATION_LOCK_KEY = 7_261_001

_engine: Engine | None = None
_engine_lock = threading.Lock()


class DatabaseUnavailable(RuntimeError):
    """The database did not answer; the message names the host, never the password."""


def describe_url(url: str | URL) -> str:
    """Host, port and database of a URL, for messages and logs (no user, no password)."""
    u = make_url(url) if isinstance(url, str) else url
    host = u.host or u.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    port = f":{u.port}" if u.port else ""
    return f"{host}{port}/{u.database or ''}"


def resolve_database_url(settings: Settings | None = None) -> str:
    """DATABASE_URL when set; otherwise start the embedded server and return its URL."""
    settings = settings or get_settings()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return start_embedded(settings.embedded_pgdata)


def create_db_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5, connect_timeout: int = 3) -> Engine:
    """An engine whose connections cannot hang for ever on a silent network: a connect timeout, and TCP keepalives
    so a peer that vanished (a dead host, a cut link) is noticed within about 20 s instead of the kernel's hours.
    A server that is frozen but still reachable still ACKs keepalives: callers that must answer in time (the health
    check) add a deadline of their own."""
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": connect_timeout,
            "application_name": "market-desk",
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 3,
            "keepalives_count": 3,
        },
    )


def get_engine() -> Engine:
    """The process-wide engine (created on first use)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = create_db_engine(resolve_database_url())
        return _engine


def reset_engine() -> None:
    """Drop the process-wide engine (tests, and after the embedded server stops)."""
    global _engine
    with _engine_lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None


def wait_for_database(engine: Engine, attempts: int = 30) -> None:
    """Block until the database answers `select 1`, retrying with exponential backoff."""

    @retry(
        retry=retry_if_exception_type(sa.exc.OperationalError),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_attempt(attempts),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    def _ping() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))

    try:
        _ping()
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(
            f"Database at {describe_url(engine.url)} is not reachable: {first_line(exc)}"
        ) from None


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate compares our tables only: the job queue's tables are Procrastinate's (created from its SQL)."""
    return not (type_ == "table" and name is not None and name.startswith("procrastinate_"))


def alembic_config(connection: sa.Connection | None = None) -> Config:
    # Alembic is imported when a schema is migrated or inspected, not by every process that only connects (the
    # ingestion worker's parent process migrates in a child).
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Upgrade the schema; an advisory lock keeps two processes from migrating at once."""
    from alembic import command

    with engine.begin() as conn:
        conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(conn), revision)


def schema_revision(conn: sa.Connection) -> str | None:
    """The schema's Alembic revision, read in SQL (None before the first migration); compare with SCHEMA_HEAD."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("select version_num from alembic_version")).scalar_one_or_none()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def prepare_database(settings: Settings | None = None) -> Engine:
    """What every entry point does first: resolve the URL, wait for the server, migrate to head."""
    settings = settings or get_settings()
    engine = get_engine()
    wait_for_database(engine, attempts=settings.db_connect_retries)
    migrate(engine)
    return engine
