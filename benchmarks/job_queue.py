"""Job queue throughput and latency: Procrastinate (ingestion/queue.py) with one and with two worker processes.

    python benchmarks/job_queue.py [--tasks 1000] [--singles 100] [--concurrency N] [--database-url URL | --embedded]

Goals (job queue issue): enqueue-to-start latency p95 < 1 s into an idle worker, and two workers draining the
small upsert tasks at >= 1.3x the rate of one (the baseline measured in the same run; this machine has 2 cores,
shared with PostgreSQL). Exit code 1 when a goal is missed or a task did not succeed.

How it measures:
- A scratch database is created on the --database-url server ($BENCH_DATABASE_URL, else the local server),
  migrated with our Alembic migrations (Procrastinate's schema included) and dropped at the end; --embedded
  uses the embedded PostgreSQL in a temporary folder instead.
- Workers are real `queue.serve` processes (what `python -m ingestion worker` runs after its set-up child):
  this script started again with --serve, which first registers two benchmark tasks on `queue.app`, on the
  ingestion queue, and in that process only: `bench.noop` (returns) and `bench.upsert` (one row, `insert ...
  on conflict do update`, into a scratch table, through the app's engine). Both are sync tasks run in the
  worker itself, without a per-job lock: what is measured is the queue (an ingestion task adds the start of its
  child process, `python -m ingestion task-run`, about a second). The schedule's periodic tasks are switched off in
  these processes: the catch-up would queue every ingestion job of the empty scratch database. WORKER_CONCURRENCY
  (--concurrency) is the same in every worker; the other settings are the defaults (or the environment).
- Throughput: the N workers are started on an empty queue and are ready (registered in procrastinate_workers,
  LISTEN issued) before a batch is queued in one `batch_defer`; tasks/s = tasks / (last job finished - first
  job started), both from procrastinate_events (the database's clock), so start-up, the insert of the batch
  and this script's polling are not counted. A short warm-up batch of each task runs first, untimed.
- Latency: one idle worker; each of --singles no-op tasks is queued alone (`defer`) after the previous one has
  finished and the worker has been idle for 0.1 s; latency = its 'started' event - its 'deferred' event.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import sqlalchemy as sa  # noqa: E402

from benchmarks.ingest_write import database  # noqa: E402
from ingestion import queue  # noqa: E402
from ingestion.supervisor import PARENT_ENV  # noqa: E402
from store.db import get_engine, migrate, reset_engine  # noqa: E402

GOALS = {"latency_p95_s": 1.0, "upsert_speedup": 1.3}
TABLE = "bench_queue_upserts"
UPSERT = sa.text(
    f"insert into {TABLE} (key, value, updated_at) values (:key, :key * 2, now()) on conflict (key)"
    f" do update set value = excluded.value, hits = {TABLE}.hits + 1, updated_at = excluded.updated_at"
)
WORKER_ENV = {"YFINANCE_ENABLED": "false", "FRED_GRAPH_ENABLED": "false"}  # no live provider in a heartbeat


def register(app: Any) -> tuple[Any, Any]:
    """The benchmark's tasks, on the product's app and ingestion queue, in this process only."""

    @app.task(name="bench.noop", queue=queue.INGESTION_QUEUE)
    def noop() -> None:
        return None

    @app.task(name="bench.upsert", queue=queue.INGESTION_QUEUE)
    def upsert(key: int) -> None:
        with get_engine().begin() as conn:
            conn.execute(UPSERT, {"key": key})

    return noop, upsert


def serve() -> int:
    """The worker role (--serve): a queue worker as the product runs it, plus the benchmark's tasks."""
    from ingestion.config import load_config
    from store.logs import setup_logging
    from store.settings import get_settings

    settings = get_settings()
    setup_logging(settings)
    register(queue.app)
    queue.app.periodic_registry.periodic_tasks.clear()
    return asyncio.run(queue.serve(settings, load_config()))


# -- harness --------------------------------------------------------------------------------------------


def scratch_database(url: str, embedded: bool) -> tuple[str, Callable[[], None]]:
    """A new empty database (URL, cleanup): on the server of `url`, or on an embedded server."""
    return database(url, embedded)


class Workers:
    """N `--serve` processes on the scratch database; their logs go to files in `logs`."""

    def __init__(self, n: int, env: dict[str, str], logs: Path) -> None:
        self.logs = [logs / f"worker-{n}-{i}.log" for i in range(n)]
        self.processes = []
        for i, log_path in enumerate(self.logs):
            with log_path.open("wb") as out:
                env_i = {**env, "WORKER_ID": f"bench-{n}-{i}"}
                command = [sys.executable, str(Path(__file__).resolve()), "--serve"]
                self.processes.append(subprocess.Popen(command, cwd=ROOT, env=env_i, stdout=out, stderr=out))

    def wait_ready(self, engine: sa.Engine, timeout: float = 60.0) -> None:
        """Registered with Procrastinate and listening (so a queued job is noticed at once, not by polling)."""
        ready = sa.text(
            "select (select count(*) from procrastinate_workers), (select count(distinct pid) from pg_stat_activity"
            " where datname = current_database() and query ilike 'LISTEN %')"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with engine.connect() as conn:
                registered, listening = conn.execute(ready).one()
            if registered >= len(self.processes) and listening >= len(self.processes):
                time.sleep(0.5)  # past the worker's first (empty) fetch
                return
            time.sleep(0.1)
        raise RuntimeError(f"workers not ready within {timeout:.0f} s")

    def check_alive(self) -> None:
        for process, log_path in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"worker exited with code {process.returncode}:\n{tail}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def wait_done(engine: sa.Engine, ids: list[int], workers: Workers, every: float, timeout: float = 600.0) -> None:
    pending = sa.text("select count(*) from procrastinate_jobs where id = any(:ids) and status in ('todo', 'doing')")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(pending, {"ids": ids}).scalar_one() == 0:
                return
        workers.check_alive()
        time.sleep(every)
    raise RuntimeError(f"{len(ids)} job(s) not finished within {timeout:.0f} s")


def events(engine: sa.Engine, ids: list[int]) -> list[Any]:
    """Per job: when it was deferred, started and finished (the database's clock), and its status."""
    query = sa.text(
        "select j.id, j.status, min(e.at) filter (where e.type = 'deferred') as deferred,"
        " min(e.at) filter (where e.type = 'started') as started,"
        " max(e.at) filter (where e.type in ('succeeded', 'failed')) as finished"
        " from procrastinate_jobs j join procrastinate_events e on e.job_id = j.id"
        " where j.id = any(:ids) group by j.id, j.status"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"ids": ids}).all()
    failed = [r.id for r in rows if r.status != "succeeded"]
    if failed or len(rows) != len(ids):
        raise RuntimeError(f"{len(failed)} job(s) did not succeed (ids {failed[:5]}...), {len(rows)}/{len(ids)} seen")
    return rows


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (Linux /proc; 0 for a process that is gone or elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine since boot, all cores together (/proc/stat)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"), sum(ticks) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit: float, patience: float) -> float:
    """Wait (at most `patience` s) for a second in which the machine uses <= `limit` cores; returns the last load.

    The workers, PostgreSQL and anything else running here share 2 cores: a drain timed while another process
    takes one of them measures that process, not the queue."""
    deadline = time.monotonic() + patience
    while True:
        busy0, total0 = machine_busy()
        time.sleep(1.0)
        busy1, total1 = machine_busy()
        load = (busy1 - busy0) / ((total1 - total0) / (os.cpu_count() or 1))
        if load <= limit or time.monotonic() > deadline:
            return load


@dataclass
class Drain:
    rate: float  # tasks/s, first start -> last finish
    enqueue: float  # seconds for the batch_defer
    worker_ms: float  # CPU per task: the worker processes
    postgres_ms: float  # CPU per task: the scratch database's backends (not this script's)
    others: float  # cores busy with anything else on the machine meanwhile (other loads, this script)


def drain(engine: sa.Engine, task: Any, kwargs: list[dict], workers: Workers) -> Drain:
    """Queue a batch in one statement and wait until it is done."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Every drain starts from the same tables: no finished jobs, no dead rows of the previous drains (each
        # drain leaves thousands; the fetch query, and so each later configuration, would pay for them).
        conn.execute(sa.text("delete from procrastinate_jobs where status not in ('todo', 'doing')"))
        conn.execute(sa.text(f"truncate {TABLE}"))
        conn.execute(sa.text(f"vacuum analyze procrastinate_jobs, procrastinate_events, {TABLE}"))
    backends = sa.text(
        "select pid from pg_stat_activity where datname = current_database() and application_name <> 'bench-queue'"
    )
    started = time.perf_counter()
    ids = task.batch_defer(*kwargs)
    enqueue_seconds = time.perf_counter() - started
    with engine.connect() as conn:
        pids = list(conn.execute(backends).scalars())
    workers_pids = [p.pid for p in workers.processes]
    before = (cpu_seconds(workers_pids), cpu_seconds(pids), *machine_busy())
    wait_done(engine, ids, workers, every=0.05)
    after = (cpu_seconds(workers_pids), cpu_seconds(pids), *machine_busy())
    worker_cpu, postgres_cpu, busy, total = (b - a for a, b in zip(before, after, strict=True))
    rows = events(engine, ids)
    span = (max(r.finished for r in rows) - min(r.started for r in rows)).total_seconds()
    if task.name == "bench.upsert":
        with engine.connect() as conn:
            stored = conn.execute(sa.text(f"select count(*) from {TABLE}")).scalar_one()
        assert stored == len({k["key"] for k in kwargs}), f"{stored} rows upserted"
    others = (busy - worker_cpu - postgres_cpu) / (total / (os.cpu_count() or 1))  # per second of wall time
    n = len(ids)
    return Drain(n / span, enqueue_seconds, worker_cpu * 1000 / n, postgres_cpu * 1000 / n, others)


def latencies(engine: sa.Engine, task: Any, singles: int, workers: Workers) -> tuple[list[float], list[float]]:
    """Enqueue -> start and enqueue -> finish (seconds) of `singles` jobs queued one at a time into an idle worker."""
    ids = []
    for _ in range(singles):
        time.sleep(0.1)  # the worker is back waiting for a notification
        ids.append(task.defer())
        wait_done(engine, ids[-1:], workers, every=0.005)
    rows = events(engine, ids)
    return [(r.started - r.deferred).total_seconds() for r in rows], [
        (r.finished - r.deferred).total_seconds() for r in rows
    ]


def spread(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    return {"p50": statistics.median(ms), "p95": statistics.quantiles(ms, n=100, method="inclusive")[94], "max": ms[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000, help="tasks per batch (each kind, each worker count)")
    parser.add_argument("--singles", type=int, default=100, help="single enqueues for the latency")
    parser.add_argument("--concurrency", type=int, help="WORKER_CONCURRENCY of each worker (default: the setting)")
    parser.add_argument("--rounds", type=int, default=3, help="1-worker and 2-worker drains, interleaved")
    parser.add_argument("--quiet", type=float, default=0.3, help="most cores other loads may use during a drain")
    parser.add_argument("--patience", type=float, default=60, help="seconds to wait for a quiet machine per drain")
    parser.add_argument("--attempts", type=int, default=3, help="drains per round when other loads disturb them")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres",
        help="a server where a scratch database is created and dropped ($BENCH_DATABASE_URL)",
    )
    parser.add_argument("--embedded", action="store_true", help="use an embedded PostgreSQL instead")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the worker role
    args = parser.parse_args()
    if args.serve:
        return serve()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress as it comes

    from store.settings import Settings

    concurrency = args.concurrency or Settings().worker_concurrency
    url, cleanup = scratch_database(args.database_url, args.embedded)
    os.environ.update(DATABASE_URL=url, WORKER_CONCURRENCY=str(concurrency), **WORKER_ENV)
    env = {**os.environ, PARENT_ENV: str(os.getpid())}  # the workers stop if this script dies
    logs = Path(tempfile.mkdtemp(prefix="md-bench-queue-"))
    engine = sa.create_engine(url, connect_args={"application_name": "bench-queue"})
    running: list[Workers] = []
    code = 1
    try:
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"create table {TABLE} (key integer primary key, value integer not null,"
                    " hits integer not null default 1, updated_at timestamptz not null)"
                )
            )
            server = conn.execute(sa.text("show server_version")).scalar_one()
        noop, upsert = register(queue.app)
        queue.open_sync()
        batches = {"noop": (noop, [{}] * args.tasks), "upsert": (upsert, [{"key": i} for i in range(args.tasks)])}
        warm = {"noop": (noop, [{}] * 50), "upsert": (upsert, [{"key": i} for i in range(50)])}
        print(f"{args.tasks:,} tasks per batch, {args.rounds} round(s); WORKER_CONCURRENCY={concurrency} per worker")
        print(f"PostgreSQL {server} at {engine.url.render_as_string(hide_password=True)}; {os.cpu_count()} CPU(s)\n")
        print(f"{'':<20}{'tasks/s':>9}{'worker CPU':>12}{'PG CPU':>9}{'others':>9}{'enqueue':>9}")
        print(f"{'':<20}{'':>9}{'ms/task':>12}{'ms/task':>9}{'cores':>9}{'ms':>9}")
        drains: dict[tuple[str, int], list[Drain]] = {key: [] for key in ((k, n) for k in batches for n in (1, 2))}
        start_latency: list[float] = []
        done_latency: list[float] = []
        for round_ in range(args.rounds):
            for n in (1, 2):
                workers = Workers(n, env, logs)
                running.append(workers)
                workers.wait_ready(engine)
                if n == 1 and round_ == 0:
                    wait_quiet(args.quiet, args.patience)
                    start_latency, done_latency = latencies(engine, noop, args.singles, workers)
                for kind, (task, kwargs) in batches.items():
                    for _attempt in range(args.attempts):  # again while another load took a core meanwhile
                        wait_quiet(args.quiet, args.patience)
                        drain(engine, *warm[kind], workers)
                        d = drain(engine, task, kwargs, workers)
                        drains[kind, n].append(d)
                        label = f"{kind} {n} worker{'s' if n > 1 else ''}"
                        print(
                            f"{label:<20}{d.rate:>9.1f}{d.worker_ms:>12.2f}{d.postgres_ms:>9.2f}{d.others:>9.2f}"
                            f"{d.enqueue * 1000:>9.0f}{'' if d.others <= args.quiet else '  (disturbed)'}"
                        )
                        if d.others <= args.quiet:
                            break
                workers.stop()
                running.remove(workers)

        rate = {key: max(d.rate for d in values) for key, values in drains.items()}
        disturbed = [f"{k} {n}" for (k, n), values in drains.items() if min(d.others for d in values) > args.quiet]
        print(f"\n{'tasks/s (best)':<20}{'1 worker':>10}{'2 workers':>11}{'speed-up':>10}")
        for kind in batches:
            one, two = rate[kind, 1], rate[kind, 2]
            print(f"{kind:<20}{one:>10.1f}{two:>11.1f}{two / one:>9.2f}x")
        print(f"\n{'latency (ms)':<20}{'p50':>10}{'p95':>11}{'max':>10}")
        for label, values in (("enqueue -> start", start_latency), ("enqueue -> finished", done_latency)):
            s = spread(values)
            print(f"{label:<20}{s['p50']:>10.1f}{s['p95']:>11.1f}{s['max']:>10.1f}")

        speedup = rate["upsert", 2] / rate["upsert", 1]
        p95 = spread(start_latency)["p95"] / 1000
        checks = {
            f"enqueue -> start p95 < {GOALS['latency_p95_s']:g} s": p95 < GOALS["latency_p95_s"],
            f"2 workers >= {GOALS['upsert_speedup']:g}x 1 worker on upserts": speedup >= GOALS["upsert_speedup"],
        }
        print()
        if disturbed:
            print(f"warning: other loads took > {args.quiet:g} core in every drain of: {', '.join(disturbed)}")
        for label, met in checks.items():
            print(f"goal {label}: {'met' if met else 'MISSED'}")
        from benchmarks.suite import emit

        figures = {f"{kind} tasks/s, {n} worker(s)": value for (kind, n), value in rate.items()}
        emit({**figures, "enqueue -> start p95 (s)": p95, "upsert speed-up, 2 workers (x)": speedup}, checks)
        code = 0 if all(checks.values()) else 1
        return code
    finally:
        for workers in running:
            workers.stop()
        queue.close_sync()
        engine.dispose()
        reset_engine()
        cleanup()
        if code == 0:
            shutil.rmtree(logs, ignore_errors=True)
        else:
            print(f"worker logs kept in {logs}")


if __name__ == "__main__":
    sys.exit(main())
