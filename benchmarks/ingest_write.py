"""Bulk write speed: the project's upsert vs raw COPY, pandas to_sql (default, multi) and execute_values.

    python benchmarks/ingest_write.py [--rows 500000] [--chunk-rows 100000] [--database-url URL]

Writes synthetic daily bars (consistent OHLC, `datetime.date` dates as providers return them) in chunks,
each chunk one transaction, into empty tables shaped like daily_bars (same keys and indexes). The
database is --database-url, else $BENCH_DATABASE_URL or $TEST_DATABASE_URL (a server where a scratch
database is created and dropped), else an embedded server in a temporary folder. Peak memory is
measured with tracemalloc in a separate pass at two sizes, streaming chunks, to show it does not grow
with the number of rows. Goals (issue 3): upsert >= 0.65x raw COPY, >= 5x to_sql(method="multi"),
re-ingest (all conflicts) >= 0.5x raw COPY.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2.extras
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingestion.writer import _csv_buffer, upsert  # noqa: E402
from store import tables  # noqa: E402
from store.db import create_db_engine, migrate  # noqa: E402

COLUMNS = ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume", "flags"]


def synthetic_chunks(rows: int, chunk_rows: int, days_per_symbol: int = 2500, seed: int = 7) -> Iterator[pd.DataFrame]:
    """`rows` bars in chunks: symbol S00000.. with `days_per_symbol` weekdays each, random-walk prices."""
    rng = np.random.default_rng(seed)
    start = date(2000, 1, 3)
    weekdays = [start + timedelta(days=7 * (i // 5) + i % 5) for i in range(days_per_symbol)]
    for first in range(0, rows, chunk_rows):
        index = np.arange(first, min(rows, first + chunk_rows))
        close = 50 + 40 * rng.random(len(index))
        spread = close * 0.02 * rng.random(len(index))
        yield pd.DataFrame(
            {
                "symbol": [f"S{i // days_per_symbol:05d}" for i in index],
                "date": [weekdays[i % days_per_symbol] for i in index],
                "open": close + spread * (rng.random(len(index)) - 0.5),
                "high": close + spread,
                "low": close - spread,
                "close": close,
                "adj_close": close * 0.97,
                "volume": rng.integers(1_000, 50_000_000, len(index)),
                "flags": None,
            }
        )


# -- the writers under test ---------------------------------------------------------------------


def project_upsert(engine: sa.Engine, chunks: list[pd.DataFrame], table: str) -> None:
    for chunk in chunks:
        with engine.begin() as conn:
            upsert(conn, tables.daily_bars, chunk, source="bench")


def raw_copy(engine: sa.Engine, chunks: list[pd.DataFrame], table: str) -> None:
    """The floor: the same CSV, COPY straight into an empty table, no staging, no conflict handling."""
    column_list = ", ".join(f'"{c}"' for c in [*COLUMNS, "source"])
    for chunk in chunks:
        with engine.begin() as conn, conn.connection.dbapi_connection.cursor() as cursor:
            cursor.copy_expert(
                f"COPY {table} ({column_list}) FROM STDIN WITH (FORMAT csv, NULL '')",
                _csv_buffer(chunk.assign(source="bench")),
            )


def to_sql_default(engine: sa.Engine, chunks: list[pd.DataFrame], table: str) -> None:
    for chunk in chunks:
        with engine.begin() as conn:
            chunk.assign(source="bench").to_sql(table, conn, if_exists="append", index=False)


def to_sql_multi(engine: sa.Engine, chunks: list[pd.DataFrame], table: str) -> None:
    for chunk in chunks:
        with engine.begin() as conn:
            chunk.assign(source="bench").to_sql(
                table, conn, if_exists="append", index=False, method="multi", chunksize=1000
            )


def execute_values(engine: sa.Engine, chunks: list[pd.DataFrame], table: str) -> None:
    column_list = ", ".join(f'"{c}"' for c in [*COLUMNS, "source"])
    for chunk in chunks:
        frame = chunk.assign(source="bench")
        rows = list(frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None))
        with engine.begin() as conn, conn.connection.dbapi_connection.cursor() as cursor:
            psycopg2.extras.execute_values(
                cursor, f"INSERT INTO {table} ({column_list}) VALUES %s", rows, page_size=1000
            )


# -- harness ------------------------------------------------------------------------------------


def fresh_table(engine: sa.Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE TABLE {name} (LIKE daily_bars INCLUDING ALL)"))


def timed(engine: sa.Engine, write: Callable, chunks: list[pd.DataFrame], table: str, expect: int) -> float:
    with engine.begin() as conn:
        conn.execute(sa.text("CHECKPOINT"))
    gc.collect()
    started = time.perf_counter()
    write(engine, chunks, table)
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        stored = conn.execute(sa.text(f"select count(*) from {table}")).scalar_one()
    assert stored == expect, f"{table}: {stored} rows stored, expected {expect}"
    return elapsed


def peak_memory(engine: sa.Engine, rows: int, chunk_rows: int) -> float:
    """Peak traced Python memory (MiB) while generating and upserting `rows` bars chunk by chunk."""
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE daily_bars"))
    gc.collect()
    tracemalloc.start()
    for chunk in synthetic_chunks(rows, chunk_rows):
        with engine.begin() as conn:
            upsert(conn, tables.daily_bars, chunk, source="bench")
        del chunk
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def database(url: str | None, embedded: bool = False) -> tuple[str, Callable[[], None]]:
    """A scratch database URL and its cleanup: on the server of `url` (else $BENCH_DATABASE_URL or
    $TEST_DATABASE_URL), or on an embedded server in a temporary folder (with `embedded`, or without any URL)."""
    url = url or os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if url and not embedded:
        server = make_url(url.replace("postgres://", "postgresql://", 1)).set(drivername="postgresql+psycopg2")
        name = f"md_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        return server.set(database=name).render_as_string(hide_password=False), drop
    from store.embedded import start_embedded, stop_embedded

    folder = Path(tempfile.mkdtemp(prefix="md-bench-pg-"))
    embedded = start_embedded(folder / "pgdata")

    def stop() -> None:
        stop_embedded()
        shutil.rmtree(folder, ignore_errors=True)

    return embedded, stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, help="rows for to_sql/execute_values (default: --rows)")
    parser.add_argument("--database-url")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    baseline_rows = args.baseline_rows or args.rows

    url, cleanup = database(args.database_url)
    engine = create_db_engine(url)
    try:
        migrate(engine)
        chunks = list(synthetic_chunks(args.rows, args.chunk_rows))
        slow_chunks = list(synthetic_chunks(baseline_rows, args.chunk_rows))
        print(f"{args.rows:,} synthetic daily bars in chunks of {args.chunk_rows:,} (one transaction each)")
        print(f"database: {engine.url.render_as_string(hide_password=True)}\n")

        results: dict[str, tuple[int, float]] = {}
        fresh_table(engine, "bench_copy")
        results["raw COPY (empty table)"] = (args.rows, timed(engine, raw_copy, chunks, "bench_copy", args.rows))
        results["project upsert (new rows)"] = (
            args.rows,
            timed(engine, project_upsert, chunks, "daily_bars", args.rows),
        )
        results["project re-ingest (all conflicts)"] = (
            args.rows,
            timed(engine, project_upsert, chunks, "daily_bars", args.rows),
        )
        for label, writer in (
            ("psycopg2 execute_values", execute_values),
            ('to_sql(method="multi")', to_sql_multi),
            ("to_sql (default)", to_sql_default),
        ):
            table = "bench_" + writer.__name__
            fresh_table(engine, table)
            results[label] = (baseline_rows, timed(engine, writer, slow_chunks, table, baseline_rows))

        rate = {label: rows / seconds for label, (rows, seconds) in results.items()}
        print(f"{'method':<36}{'rows':>10}{'seconds':>10}{'rows/s':>12}")
        for label, (rows, seconds) in results.items():
            print(f"{label:<36}{rows:>10,}{seconds:>10.2f}{rate[label]:>12,.0f}")
        copy = rate["raw COPY (empty table)"]
        ratios = {
            "upsert / raw COPY": (rate["project upsert (new rows)"] / copy, 0.65),
            'upsert / to_sql(method="multi")': (
                rate["project upsert (new rows)"] / rate['to_sql(method="multi")'],
                5.0,
            ),
            "re-ingest / raw COPY": (rate["project re-ingest (all conflicts)"] / copy, 0.5),
            "upsert / execute_values": (rate["project upsert (new rows)"] / rate["psycopg2 execute_values"], None),
            "upsert / to_sql (default)": (rate["project upsert (new rows)"] / rate["to_sql (default)"], None),
        }
        print()
        for label, (ratio, goal) in ratios.items():
            verdict = "" if goal is None else f"   goal >= {goal:g}x: {'met' if ratio >= goal else 'MISSED'}"
            print(f"{label:<36}{ratio:>8.2f}x{verdict}")

        if not args.skip_memory:
            print("\npeak traced memory while streaming (tracemalloc, generation + upsert):")
            for rows in (args.rows // 5, args.rows):
                print(f"  {rows:>10,} rows: {peak_memory(engine, rows, args.chunk_rows):8.1f} MiB")
        from benchmarks.suite import emit

        figures = {f"{label} (rows/s)": value for label, value in rate.items()}
        figures.update({f"{label} (x)": ratio for label, (ratio, _) in ratios.items()})
        emit(figures, {f"{k} >= {g:g}x": r >= g for k, (r, g) in ratios.items() if g is not None})
        return 0
    finally:
        engine.dispose()
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
