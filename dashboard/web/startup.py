"""Process start-up: database (embedded or DATABASE_URL), migrations, first sample load, login bootstrap.

Migrations run in a child process (`python -m ingestion migrate`), and only when the schema is not at
store.db.SCHEMA_HEAD, so the web app never holds Alembic and the migration scripts.

Runs in a background thread so the web server answers at once: pages show progress or the database
error (naming the host, never the password) while it keeps retrying, and /healthz says 503 until ready.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from dashboard.access.auth import ensure_login_credentials
from dashboard.web import memory
from store import clock, tables
from store.db import (
    SCHEMA_HEAD,
    DatabaseUnavailable,
    describe_url,
    get_engine,
    reset_engine,
    schema_revision,
    wait_for_database,
)
from store.embedded import stop_embedded
from store.logs import setup_logging
from store.reads.core import database_is_empty
from store.redaction import register as register_secrets
from store.settings import PROJECT_ROOT, ConfigError, Settings, get_settings

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


@dataclass
class StartupState:
    phase: str = "not started"  # not started | starting | ready | error
    message: str = ""
    database: str = ""
    attempts: int = 0
    ready_at: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.phase == "ready"


_state = StartupState()
_lock = threading.Lock()
_thread: threading.Thread | None = None
_stop = threading.Event()


def state() -> StartupState:
    return _state


# Streamlit's option for the key that signs its cookies, and the variable it also reads it from.
COOKIE_SECRET_OPTION = "server.cookieSecret"  # noqa: S105 - an option name, not a secret
COOKIE_SECRET_VARIABLE = "STREAMLIT_SERVER_COOKIE_SECRET"  # noqa: S105 - a variable name
_COOKIE_SECRET_LABEL = b"market-desk/streamlit-cookie-secret"


def configure() -> None:
    """Logging, the production refusals, Streamlit's shared cookie secret, the allocators; raises ConfigError."""
    settings = get_settings()
    setup_logging(settings)
    settings.check_production()
    share_cookie_secret(settings)
    # Memory held after use (dashboard/web/memory.py): pyarrow on the system allocator, glibc trimmed.
    memory.use_system_arrow_pool()
    memory.start_trimmer()


def derived_cookie_secret(auth_secret: str) -> str:
    """Streamlit's cookie secret as a function of AUTH_SECRET: equal on every instance, and not AUTH_SECRET itself."""
    return hmac.new(auth_secret.encode(), _COOKIE_SECRET_LABEL, hashlib.sha256).hexdigest()


def share_cookie_secret(settings: Settings) -> str:
    """Give Streamlit a cookie secret every instance shares; says where it came from.

    Streamlit draws a random one per process by default, so with several web instances a cookie it signed on one
    is refused by the next. An explicit `server.cookieSecret` (config.toml or STREAMLIT_SERVER_COOKIE_SECRET) wins;
    otherwise it is derived from AUTH_SECRET, which production requires (rotating AUTH_SECRET rotates it too).
    """
    from streamlit import config

    if config.is_manually_set(COOKIE_SECRET_OPTION):
        return "configured"
    if settings.auth_secret is None:
        return "per process"  # development: one process, Streamlit's random default is fine
    secret = derived_cookie_secret(settings.auth_secret.get_secret_value())
    register_secrets([secret])
    # The variable as well: Streamlit reads its config files again when they change, and variables with them.
    os.environ[COOKIE_SECRET_VARIABLE] = secret
    config.set_option(COOKIE_SECRET_OPTION, secret, where_defined="derived from AUTH_SECRET")
    return "derived from AUTH_SECRET"


def _set(phase: str, message: str) -> None:
    _state.phase, _state.message = phase, message


def _database_is_empty(engine) -> bool:  # noqa: ANN001
    """No daily bar stored, or no table for them yet (a database never migrated)."""
    with engine.connect() as conn:
        return not sa.inspect(conn).has_table(tables.daily_bars.name) or database_is_empty(conn)


def _schema_is_current(engine) -> bool:  # noqa: ANN001
    with engine.connect() as conn:
        return schema_revision(conn) == SCHEMA_HEAD


def in_child(what: str, *command: str) -> None:
    """`python -m ingestion <command>` on this process's database (the embedded one too), run to its end: what it
    imports and allocates leaves with it: Alembic and the migration scripts held 10.5 MiB in the app after an
    upgrade (measured). Its log is the app's (stderr); what it prints for a person (the load's batches, its summary)
    is logged here line by line, so the app's output stays one log record per line. RuntimeError when it fails."""
    url = get_engine().url.render_as_string(hide_password=False)
    argv = [sys.executable, "-m", "ingestion", *command]
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(argv, env=env, cwd=PROJECT_ROOT, check=False, stdout=subprocess.PIPE, text=True)  # noqa: S603
    for line in done.stdout.splitlines():
        if line.strip():
            log.info("%s: %s", what, line.strip())
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed (`python -m ingestion {' '.join(command)}` exited with status {done.returncode}; "
            "the log says why)"
        )


def run_startup() -> None:
    """One attempt at everything start-up needs; raises on failure."""
    settings = get_settings()
    t0 = time.perf_counter()
    _set("starting", "Starting the embedded database" if settings.uses_embedded_database else "Connecting")
    engine = get_engine()
    _state.database = describe_url(engine.url)
    _set("starting", f"Waiting for the database at {_state.database}")
    wait_for_database(engine, attempts=3)
    _state.timings["database"] = time.perf_counter() - t0
    # In a child, what a first start needs beyond this process's own work: the bundle's reader (pyarrow's Parquet,
    # its file systems and dataset libraries: 19 MiB resident, measured) and Alembic stay out of the app for good.
    if settings.load_sample_on_empty and _database_is_empty(engine):
        _set("starting", "Applying migrations and loading the bundled sample data (first start)")
        in_child("Loading the bundled sample data", "load-sample")  # migrates first, as every ingestion command
        _state.timings["sample_load"] = time.perf_counter() - t0
    elif not _schema_is_current(engine):
        _set("starting", "Applying migrations")
        in_child("Applying the migrations", "migrate")
    _state.timings["migrations"] = time.perf_counter() - t0
    ensure_login_credentials(engine, settings)
    _state.ready_at = clock.epoch_seconds()
    _set("ready", "")
    log.info("ready in %.2fs (%s)", time.perf_counter() - t0, _state.database)


def _run_until_ready() -> None:
    while not _stop.is_set():
        _state.attempts += 1
        try:
            run_startup()
            return
        except ConfigError as exc:
            _set("error", str(exc))
            log.error("%s", exc)
            return
        except DatabaseUnavailable as exc:
            _set("error", f"{exc}. Retrying every {RETRY_SECONDS:.0f} s.")
            log.error("start-up attempt %d: %s", _state.attempts, exc)
        except Exception as exc:  # noqa: BLE001 - keep retrying; the page and /healthz show why
            _set("error", f"Start-up failed: {exc}. Retrying every {RETRY_SECONDS:.0f} s.")
            log.exception("start-up attempt %d failed", _state.attempts)
            reset_engine()
        _stop.wait(RETRY_SECONDS)


def ensure_started() -> StartupState:
    """Start the start-up thread once per process; returns the current state."""
    global _thread
    with _lock:
        if _thread is None and not _state.ready:
            _stop.clear()
            _thread = threading.Thread(target=_run_until_ready, name="startup", daemon=True)
            _thread.start()
    return _state


def wait_until_ready(timeout: float) -> StartupState:
    ensure_started()
    if _thread is not None:
        _thread.join(timeout)
    return _state


def shutdown() -> None:
    _stop.set()
    reset_engine()
    stop_embedded()


def reset() -> None:
    """Forget start-up (tests, and an app that reconnects from scratch): the next ensure_started() runs it again."""
    global _thread, _state
    _stop.set()
    if _thread is not None:
        _thread.join(timeout=5)
    with _lock:
        _thread = None
        _state = StartupState()
        _stop.clear()
