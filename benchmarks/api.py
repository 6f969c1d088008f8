"""The read API's heaviest everyday answer: GET /api/v1/prices over HTTP (uvicorn), JSON and CSV, vs pandas.read_sql.

Two requests, each in one page (`limit=50000`): 5 tickers over their whole stored history (7 years of the sample)
and the whole 35-ticker universe over its last year. Each is timed as a client sees it (request sent to the last
byte read, on a keep-alive connection) for N runs after a warm-up; the baseline of the same run reads the same
bars (same columns, symbols and range) with `pandas.read_sql` on a pooled connection, in this process. The three
readers take turns run by run, so a busy moment of the machine falls on all of them alike.

The API runs in its own process: uvicorn serving a Starlette app of `dashboard.web.api.routes` on a free
127.0.0.1 port, on a scratch database (as benchmarks/ingest_write.py makes one: --database-url, else
$BENCH_DATABASE_URL or $TEST_DATABASE_URL, else an embedded server) migrated and loaded with the sample, with an
admin's token and the per-token limit raised out of the way.

Goals: the API (JSON and CSV alike) within 2x of read_sql for the request with more rows; p95 < 150 ms for the
5-ticker request. `--profile` adds a cProfile of one in-process pass (parameters, handler, response) per format.
`--gc-freeze` calls gc.freeze() once everything is imported, in the server and here: the slowest answers are full
(generation 2) garbage collections, about 100 ms over the whole heap every 10 to 20 requests, set off by the
per-row objects of the read (psycopg2 rows), the baseline's as much as the API's; frozen, the heap of imports is
not traversed again. Exit code 1 when a goal is missed.

    python benchmarks/api.py [--runs 30] [--database-url URL] [--profile] [--gc-freeze]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gc
import io
import json
import os
import pstats
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import httpx2  # noqa: E402
import pandas as pd  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from benchmarks.ingest_write import database  # noqa: E402

FIVE = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"]
PASSWORD = "benchmark-password-1234"  # noqa: S105 - an admin of a throwaway database
GOALS = {"ratio": 2.0, "small_p95_ms": 150.0}
LIMIT = 50_000


@dataclass(frozen=True)
class Ask:
    label: str
    symbols: list[str]
    start: date | None
    end: date | None

    def query(self, fmt: str) -> str:
        params = {"symbols": ",".join(self.symbols), "limit": str(LIMIT), "format": fmt}
        params.update({k: v.isoformat() for k, v in (("start", self.start), ("end", self.end)) if v is not None})
        return urlencode(params)


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if len(samples) > 1 else samples[0]


def timed(calls: dict[str, Callable[[], object]], runs: int, warmup: int = 3) -> dict[str, tuple[list[float], object]]:
    """Milliseconds per call of each reader, the readers taking turns run by run (so a busy moment of the machine
    falls on all of them alike), after `warmup` calls each; with each reader's last output."""
    out: dict[str, object] = {}
    for name, call in calls.items():
        for _ in range(warmup):
            out[name] = call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            started = time.perf_counter()
            out[name] = call()
            samples[name].append((time.perf_counter() - started) * 1000)
    return {name: (samples[name], out[name]) for name in calls}


# -- the server (its own process) ----------------------------------------------------------------------------


def serve(port: int, freeze: bool) -> None:
    import uvicorn
    from starlette.applications import Starlette

    from dashboard.web.api import routes

    if freeze:
        gc.freeze()  # what a start-up hook would do once everything is imported
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], freeze: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", str(port), *(["--gc-freeze"] if freeze else [])]
    process = subprocess.Popen(command, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the API server exited with {process.returncode}")
        try:
            if httpx2.get(base + "/api/v1/openapi.json", timeout=2).status_code == 200:
                return process, base
        except httpx2.TransportError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the API server did not answer within 60 s")


# -- the measurements ---------------------------------------------------------------------------------------


def baseline(engine: sa.Engine, ask: Ask) -> Callable[[], pd.DataFrame]:
    """The same bars read straight with pandas.read_sql: the columns the API reads, symbols in, date in range."""
    from store import tables

    t = tables.daily_bars
    columns = ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume", "source"]
    query = sa.select(*(t.c[c] for c in columns)).where(t.c.symbol.in_(ask.symbols))
    if ask.start is not None:
        query = query.where(t.c.date >= ask.start)
    if ask.end is not None:
        query = query.where(t.c.date <= ask.end)
    query = query.order_by(t.c.symbol, t.c.date)

    def read() -> pd.DataFrame:
        with engine.connect() as conn:
            return pd.read_sql(query, conn)

    return read


def rows_in(fmt: str, body: bytes) -> int:
    if fmt == "json":
        document = json.loads(body)
        assert document["meta"]["next_cursor"] is None, "the answer must fit one page"
        return len(document["data"])
    return sum(1 for _ in csv.reader(io.StringIO(body.decode()))) - 1


def profile(ask: Ask, fmt: str) -> None:
    """One in-process pass through the request path (parameters, handler, response with its body), profiled."""
    from starlette.requests import Request

    from dashboard.web.api import ENDPOINTS, framework

    endpoint = next(e for e in ENDPOINTS if e.path == "/prices")
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/prices",
        "query_string": ask.query(fmt).encode(),
        "headers": [],
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "root_path": "",
    }

    def once() -> None:
        request = Request(scope)
        ctx = framework.Context(request, framework.parse_params(endpoint, request), None)
        framework.respond(endpoint, ctx, endpoint.handler(ctx))

    once()  # warm
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        once()
    profiler.disable()
    print(f"\ncProfile, 5 in-process passes: {ask.label}, {fmt}")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(22)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url")
    parser.add_argument("--profile", action="store_true", help="also profile one in-process pass per format")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() after the imports, in the server and here (the baseline)"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.gc_freeze)
        return 0

    from dashboard.access import tokens, users
    from ingestion.sample import load_sample
    from store.db import create_db_engine, migrate, reset_engine
    from store.settings import get_settings

    url, cleanup = database(args.database_url)
    env = {
        "DATABASE_URL": url,
        "TERMINAL_PASSWORD": PASSWORD,
        "API_REQUESTS_PER_MINUTE": "100000",  # the settings' maximum: the limit never answers 429 here
        "WORKER_ENABLED": "false",
    }
    os.environ.update(env)
    get_settings.cache_clear()
    reset_engine()
    engine = create_db_engine(url)
    server = None
    missed = False
    try:
        migrate(engine)
        load_sample(engine, ROOT / "data" / "sample")
        users.add_user(engine, "bench", "admin", PASSWORD, actor="benchmark")
        _, token = tokens.create(engine, "bench", "benchmark", actor="benchmark")
        with engine.connect() as conn:
            universe = conn.execute(sa.text("select symbol from instruments where active order by 1")).scalars().all()
            last = conn.execute(sa.text("select max(date) from daily_bars")).scalar_one()
        asks = [
            Ask(f"{len(FIVE)} tickers, whole history", FIVE, None, None),
            Ask(f"{len(universe)} tickers, last year", list(universe), last.replace(year=last.year - 1), last),
        ]
        if args.gc_freeze:
            gc.freeze()
        server, base = start_server(env, args.gc_freeze)
        frozen = "; gc.freeze()" if args.gc_freeze else ""
        print(f"API on uvicorn at {base} (own process); sample database; {args.runs} runs after 3 warm-up each{frozen}")
        print()
        print(f"{'request':<28} {'reader':<27} {'rows':>7} {'p50 ms':>8} {'p95 ms':>8} {'rows/s (p50)':>13}")
        figures: dict[tuple[str, str], tuple[float, float, int]] = {}
        with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            for ask in asks:

                def get(fmt: str, ask: Ask = ask) -> bytes:
                    response = client.get("/api/v1/prices?" + ask.query(fmt))
                    response.raise_for_status()
                    return response.content

                readers: dict[str, Callable[[], object]] = {
                    "read_sql": baseline(engine, ask),
                    "json": lambda: get("json"),
                    "csv": lambda: get("csv"),
                }
                results = timed(readers, args.runs)
                rows = len(results["read_sql"][1])  # type: ignore[arg-type]
                for reader, (samples, out) in results.items():
                    got = rows if reader == "read_sql" else rows_in(reader, out)  # type: ignore[arg-type]
                    assert got == rows, f"{ask.label} {reader}: {got} rows, read_sql read {rows}"
                    figures[(ask.label, reader)] = (statistics.median(samples), percentile(samples, 95), got)
                    p50, p95 = figures[(ask.label, reader)][:2]
                    name = "pandas.read_sql (baseline)" if reader == "read_sql" else f"API {reader.upper()}"
                    print(f"{ask.label:<28} {name:<27} {got:>7,} {p50:8.1f} {p95:8.1f} {got / p50 * 1000:13,.0f}")

        larger = max(asks, key=lambda a: figures[(a.label, "read_sql")][2])
        small = asks[0]
        print()
        for fmt in ("json", "csv"):
            ratio = figures[(larger.label, fmt)][0] / figures[(larger.label, "read_sql")][0]
            ok = ratio <= GOALS["ratio"]
            missed |= not ok
            print(
                f"goal {fmt.upper():<4} p50 within {GOALS['ratio']:.0f}x of read_sql ({larger.label}): "
                f"{ratio:.2f}x  {'PASS' if ok else 'FAIL'}"
            )
        for fmt in ("json", "csv"):
            p95 = figures[(small.label, fmt)][1]
            ok = p95 < GOALS["small_p95_ms"]
            missed |= not ok
            verdict = "PASS" if ok else "FAIL"
            goal = f"p95 < {GOALS['small_p95_ms']:.0f} ms"
            print(f"goal {fmt.upper():<4} {goal} ({small.label}): {p95:.1f} ms  {verdict}")
        from benchmarks.suite import emit

        emit({f"{ask} {reader} p50 (ms)": v[0] for (ask, reader), v in figures.items()}, {})  # goals: the lines
        if args.profile:
            for fmt in ("json", "csv"):
                profile(larger, fmt)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        engine.dispose()
        reset_engine()
        cleanup()
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
