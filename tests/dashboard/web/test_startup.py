"""Start-up migrates (and on a first start loads the sample) in a child process, only when needed: the web app never
imports Alembic, nor the bundle's Parquet reader."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from store.db import SCHEMA_HEAD, create_db_engine, schema_revision
from tests.conftest import ROOT, TEST_PASSWORD
from tests.support.server import guarded_env

START = """
import json, sys
from dashboard.web import startup
from store.logs import setup_logging
from store.settings import get_settings
setup_logging(get_settings())  # as the app's configure()
startup.run_startup()
state = startup.state()
print(json.dumps({"phase": state.phase, "timings": sorted(state.timings),
                  "alembic": any(m == "alembic" or m.startswith("alembic.") for m in sys.modules),
                  "parquet": "pyarrow.parquet" in sys.modules}))
"""


def start(url: str, **env: str) -> dict:
    return start_run(url, **env)[0]


def start_run(url: str, **env: str) -> tuple[dict, subprocess.CompletedProcess]:
    run = subprocess.run(
        [sys.executable, "-c", START],
        env=guarded_env({"DATABASE_URL": url, "TERMINAL_PASSWORD": TEST_PASSWORD, **env}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1]), run


def test_a_first_start_migrates_and_loads_the_sample_in_a_child(empty_database_url):
    engine = create_db_engine(empty_database_url)
    with engine.connect() as conn:
        assert schema_revision(conn) is None
    first, run = start_run(empty_database_url)
    # What the child prints for a person (each batch, the summary) reaches the app's log as records, not its stdout.
    assert run.stdout.strip().count("\n") == 0
    assert re.search(
        r"Loading the bundled sample data: instruments: \d+, .*daily_bars: \d+.*\(\d+\.\d s\)", run.stderr
    ), run.stderr[-3000:]
    assert all(json.loads(line) for line in run.stderr.splitlines() if line.strip())  # one JSON record per line
    assert first == {
        "phase": "ready",
        "timings": ["database", "migrations", "sample_load"],
        "alembic": False,
        "parquet": False,
    }
    with engine.connect() as conn:
        assert schema_revision(conn) == SCHEMA_HEAD
        assert conn.execute(sa.text("select count(distinct symbol) from daily_bars")).scalar_one() >= 30

    # A restart on the current schema starts no child (nothing to migrate) and loads nothing (not empty).
    with engine.begin() as conn:
        conn.execute(sa.text("delete from daily_bars where symbol = 'AAPL'"))
    again = start(empty_database_url)
    assert again == {"phase": "ready", "timings": ["database", "migrations"], "alembic": False, "parquet": False}
    with engine.connect() as conn:
        assert not conn.execute(sa.text("select exists (select 1 from daily_bars where symbol = 'AAPL')")).scalar()
    engine.dispose()


@pytest.mark.parametrize(
    ("load_sample", "failed"),
    [
        ("false", "Applying the migrations failed (`python -m ingestion migrate`"),
        ("true", "Loading the bundled sample data failed (`python -m ingestion load-sample`"),
    ],
)
def test_a_failed_start_up_child_is_a_clear_start_up_error(empty_database_url, monkeypatch, load_sample, failed):
    """The child refuses to run (production without AUTH_SECRET, which the app's own check would have stopped
    earlier): start-up fails with what failed and where to look, never the database URL. Without the sample load
    on an empty database, the child migrates; with it (the default), it loads the sample, migrating first."""
    from dashboard.web import startup
    from store.db import reset_engine
    from store.settings import get_settings

    monkeypatch.setenv("LOAD_SAMPLE_ON_EMPTY", load_sample)
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    get_settings.cache_clear()
    reset_engine()
    try:
        with pytest.raises(RuntimeError, match=re.escape(f"{failed} exited")):
            startup.run_startup()
        assert startup.state().phase == "starting" and "postgres" not in startup.state().message
    finally:
        startup.reset()
        reset_engine()
        get_settings.cache_clear()
    engine = create_db_engine(empty_database_url)
    with engine.connect() as conn:
        assert schema_revision(conn) is None  # nothing half-done
    engine.dispose()
