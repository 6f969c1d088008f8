"""Command line: `python -m ingestion run | backfill [--queue] | worker | status [--json] | load-sample | migrate`.

Light at import (no pandas): `python -m ingestion worker` is the worker's long-lived parent process. Hidden
subcommands are what the worker starts as children (ingestion/horse.py): `task-run` (one queue task),
`worker-setup` (migrate, seed the universe, print the NYSE session table) and `calendar-dump` (the table again).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from ingestion import horse
from ingestion.progress import Progress
from store import tables
from store.db import DatabaseUnavailable, get_engine, prepare_database, wait_for_database
from store.identifiers import SYMBOL
from store.logs import setup_logging
from store.reads.workers import worker_states
from store.settings import ConfigError, get_settings

log = logging.getLogger("ingestion")


def _status(engine: sa.Engine, as_json: bool, limit: int) -> None:
    runs = tables.ingestion_runs
    with engine.connect() as conn:
        rows = conn.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(limit)).mappings().all()
    if as_json:
        print(json.dumps([dict(r) for r in rows], default=str, indent=2))
        return
    with engine.connect() as conn:
        workers = worker_states(conn, get_settings().worker_heartbeat_seconds)
    for worker in workers:
        print(
            f"worker {worker.worker_id}: {worker.status}, last beat {worker.beat_age_seconds:.0f} s ago"
            + (f", running {worker.current_job}" if worker.current_job else "")
        )
    if not rows:
        print("no ingestion runs yet")
    for r in rows:
        finished = r["finished_at"].strftime("%Y-%m-%d %H:%M:%S") if r["finished_at"] else "-"
        print(
            f"{r['id']:>5}  {r['job']:<10} {r['source']:<14} {r['status']:<8} "
            f"{r['rows_written']:>9} rows  finished {finished}  {r['error_summary'] or ''}"
        )


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _band(value: str) -> tuple[float, float]:
    parts = _list(value)
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a band LOW,HIGH (e.g. 0.05,0.30)") from None
    return low, high


def _options_series(args: argparse.Namespace, engine) -> int:
    """`options-series`: the delta-targeted contract per stored session, written to --out."""
    import pandas as pd

    from ingestion import options

    params = options.SeriesParams(
        underlying=SYMBOL.validate([args.underlying])[0],
        kind=args.kind,
        target_delta=args.target_delta,
        months=args.months,
        window_days=args.window_days,
        roll_dte=args.roll_dte,
        band_low=args.band[0],
        band_high=args.band[1],
        start=args.start,
        end=args.end,
    )
    series = options.contract_series(engine, params)
    if series.empty:
        print(f"error: no option chains stored for {params.underlying} in that range", file=sys.stderr)
        return 1
    written = options.write_series(series, params, args.out)
    picked = int(series["contract"].notna().sum())
    changes = int(series["changed"].sum())
    print(
        f"{len(series)} session(s), a contract on {picked}, {changes} pick(s) or roll(s): "
        + ", ".join(map(str, written))
    )
    missing = series.loc[series["reason"] != "", ["session_date", "reason"]]
    for row in missing.itertuples(index=False):
        print(f"  {pd.Timestamp(row.session_date):%Y-%m-%d}: no contract ({row.reason})")
    return 0


def _list(value: str) -> list[str]:
    return [part for part in (p.strip() for p in value.split(",")) if part] if value else []


def _add_job_arguments(parser: argparse.ArgumentParser, *, backfill: bool, registry: bool) -> None:
    """The options of `run` and `backfill`. Their --job choices come from the job registry (pandas) only when one of
    them is the command (`registry`): any other command, the worker's parent above all, does not load it."""
    if registry:
        from ingestion.jobs import JOBS

        jobs = [name for name, job in JOBS.items() if job.backfill or not backfill]
    else:
        from ingestion.scheduler import SCHEDULES

        jobs = list(SCHEDULES)
    parser.add_argument("--job", choices=jobs, default="prices" if backfill else None, required=not backfill)
    parser.add_argument("--symbols", type=_list, help="comma-separated tickers (default: the active universe)")
    parser.add_argument("--series", type=_list, help="comma-separated FRED ids for the macro job")
    parser.add_argument("--start", type=_date, required=backfill, help="first date (default: resume incrementally)")
    parser.add_argument("--end", type=_date, help="last date (default: today in New York)")
    parser.add_argument("--provider", help="use only this provider (default: the fallback chain)")
    parser.add_argument("--dry-run", action="store_true", help="fetch and validate, write nothing, record nothing")
    parser.add_argument(
        "--queue", action="store_true", help="queue the run for a worker (prints its task id) instead of running here"
    )
    parser.add_argument("--chunk-size", type=int, help="symbols per request and write batch")
    parser.add_argument(
        "--config", help="TOML file with ingestion settings (default: $INGESTION_CONFIG, ./ingestion.toml)"
    )


class _CliProgress(Progress):
    """A tqdm bar on a terminal; one plain line per batch otherwise (logs, cron mail, CI)."""

    def __init__(self) -> None:
        self.bar = None
        self.total = 0
        self.done = 0
        self.job = ""

    def start(self, job: str, total: int) -> None:
        self.job, self.total, self.done = job, total, 0
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=job, unit="batch", file=sys.stderr)

    def grow(self, more: int) -> None:
        self.total += more
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def advance(self, note: str, rows: int = 0) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(note[:60], refresh=False)
            self.bar.update(1)
        else:
            print(f"{self.job}: batch {self.done}/{self.total}: {note}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _queue(args: argparse.Namespace, items: list[str] | None, engine: sa.Engine) -> int:
    """Queue the run for a worker instead of running it here."""
    if args.dry_run:
        raise ValueError("--dry-run runs here: it cannot be queued")
    from ingestion import queue

    task = queue.request_run(args.job, items, args.start, args.end, provider=args.provider, engine=engine)
    print(f"queued {args.job} as task {task}; a worker runs it (progress: the Data health page)")
    queue.close_sync()
    return 0


def _run(args: argparse.Namespace, engine: sa.Engine) -> int:
    from ingestion.config import load_config
    from ingestion.jobs import JOBS, JobRequest, run_job
    from ingestion.providers import registry
    from ingestion.sample import ensure_universe
    from store.identifiers import SERIES_ID

    settings = get_settings()
    config = load_config(args.config, chunk_symbols=args.chunk_size, chunk_series=args.chunk_size)
    job = JOBS[args.job]
    by_series = job.items is SERIES_ID
    if by_series and args.symbols:
        raise ValueError(f"the {args.job} job takes FRED ids with --series, not --symbols")
    if not by_series and args.series:
        raise ValueError(f"--series is for the macro job; the {args.job} job takes --symbols")
    given = args.series if by_series else args.symbols
    items = job.items.validate(given) if given else None
    request = JobRequest(args.job, items=items, start=args.start, end=args.end, dry_run=args.dry_run)
    if args.provider:
        available = registry.available_providers(settings)
        if args.provider not in available:
            disabled = registry.disabled_providers(settings)
            why = f": {disabled[args.provider]}" if args.provider in disabled else ""
            known = ", ".join(sorted(set(available) | set(disabled)))
            raise ValueError(f"provider {args.provider!r} is not available{why} (providers: {known})")
        providers = [available[args.provider]]
    if args.queue:
        return _queue(args, items, engine)
    if not args.provider:
        providers = job.chain(settings)
        if not providers:
            disabled = registry.disabled_providers(settings)
            raise ValueError(
                f"no live provider for the {args.job} job ("
                + "; ".join(f"{k}: {v}" for k, v in disabled.items())
                + "); pass --provider sample for the bundled data"
            )
    ensure_universe(engine, settings.sample_data_dir)
    result = run_job(engine, request, providers, config, progress=_CliProgress())
    if result.status == "skipped":
        print(f"{args.job}: skipped, the job is already running in another process (advisory lock held)")
        return 0
    prefix = "dry run, nothing written: " if result.dry_run else f"run {result.run_id}: "
    ok = sum(1 for i in result.items.values() if i["status"] == "ok")
    rows = sum(i.get("rows", 0) for i in result.items.values())
    print(
        f"{prefix}{args.job} {result.status}: {ok} ok, {len(result.failures)} failed, "
        f"{rows} valid rows, {result.rows_written} written or changed, {result.quarantined} quarantined"
    )
    for item, reason in sorted(result.failures.items()):
        print(f"  failed {item}: {reason}")
    return 0 if result.status == "success" else 1


CHILD_COMMANDS = ("task-run", "worker-setup", "calendar-dump")
SESSION_TABLE_DAYS = (-10, 400)  # the worker's session table: from 10 days ago to 400 days ahead (clipped)


def _session_table() -> dict:
    """The NYSE sessions around today as JSON (store.calendar -> store.sessions), for the worker's schedule gates."""
    from datetime import timedelta

    from store import calendar, clock

    today = clock.new_york_today()
    before, after = SESSION_TABLE_DAYS
    return calendar.session_table(today + timedelta(days=before), today + timedelta(days=after)).to_json()


def _task_run(args: argparse.Namespace) -> int:
    """`task-run`: one queue task in this child; its return value goes to the worker on stdout."""
    from ingestion import queue
    from ingestion.tasks import run_task

    try:
        params = json.loads(args.params)
        result = run_task(
            args.task,
            params,
            queue_job_id=args.queue_job_id,
            worker_id=args.worker_id,
            should_stop=horse.stop_requested.is_set,
        )
    finally:
        queue.close_sync()
    horse.print_result(result)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion", description=__doc__)
    public = "migrate,load-sample,status,run,backfill,options-series,worker"
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + public + "}")
    sub.add_parser("migrate", help="bring the schema to the latest migration")
    load = sub.add_parser("load-sample", help="load a bundled dataset (idempotent)")
    load.add_argument(
        "--dataset",
        choices=["sample", "sp500", "options"],
        default="sample",
        help="sample: the 35-ticker sample (loaded at first start); sp500: the S&P 500 demo bundle (data/sp500); "
        "options: the option-chain demo, SPY and AAPL calls 2026-05-22..08-21 (data/options)",
    )
    load.add_argument("--symbols", type=_list, help="sp500 or options: load just these tickers (default: all)")
    status = sub.add_parser("status", help="show the worker and the last ingestion runs")
    status.add_argument("--json", action="store_true")
    status.add_argument("--limit", type=int, default=20)
    command = next((a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")), None)
    registry = command in ("run", "backfill")
    _add_job_arguments(sub.add_parser("run", help="run one job now"), backfill=False, registry=registry)
    _add_job_arguments(
        sub.add_parser("backfill", help="fetch a date range (prices or macro)"), backfill=True, registry=registry
    )
    series = sub.add_parser(
        "options-series",
        help="follow the delta-targeted option contract through the stored chains; write it as CSV or XLSX",
    )
    series.add_argument("--underlying", required=True, help="e.g. SPY (its chains must be stored)")
    series.add_argument("--type", choices=["C", "P"], default="C", dest="kind", help="calls (default) or puts")
    series.add_argument("--target-delta", type=float, default=0.15, help="|delta| aimed at (default 0.15)")
    series.add_argument("--months", type=int, default=2, help="expiry about this many months out (default 2)")
    series.add_argument("--window-days", type=int, default=15, help="expiry within +/- these days (default 15)")
    series.add_argument("--roll-dte", type=int, default=21, help="roll at this many days to expiry (default 21)")
    series.add_argument("--band", type=_band, default=(0.05, 0.30), help="|delta| band, LOW,HIGH (default 0.05,0.30)")
    series.add_argument("--start", type=_date, help="first session (default: the first stored)")
    series.add_argument("--end", type=_date, help="last session (default: the last stored)")
    series.add_argument("--out", required=True, type=Path, help="series.csv (parameters beside it) or series.xlsx")
    worker = sub.add_parser("worker", help="a queue worker: scheduled and queued runs (a long-running process)")
    worker.add_argument("--once", action="store_true", help="queue the jobs that are due, run the queue dry, exit")
    worker.add_argument("--config", help="TOML file with ingestion settings")
    # What the worker starts as children (not for people; hidden from the help).
    task = sub.add_parser("task-run")
    task.add_argument("--task", required=True, help="a queue task's name, e.g. ingest.prices")
    task.add_argument("--params", default="{}", help="its parameters as a JSON object")
    task.add_argument("--queue-job-id", type=int)
    task.add_argument("--worker-id", help="the worker whose heartbeat gets the providers' counters")
    sub.add_parser("worker-setup")
    sub.add_parser("calendar-dump")
    args = parser.parse_args(argv)
    if args.command in CHILD_COMMANDS:
        horse.become_child()  # first: die with the worker, stop between batches on SIGTERM

    try:
        settings = get_settings()
        setup_logging(settings)
        if args.command == "worker":
            # The long-lived parent stays small: its first child (worker-setup) checks the production settings and
            # migrates; here only the wait for the database.
            engine = get_engine()
            wait_for_database(engine, attempts=settings.db_connect_retries)
        elif args.command in ("task-run", "calendar-dump"):
            engine = get_engine()  # the worker that started this child has migrated
        else:
            settings.check_production()
            engine = prepare_database(settings)
        if args.command == "task-run":
            return _task_run(args)
        if args.command == "calendar-dump":
            horse.print_result(_session_table())
        elif args.command == "worker-setup":
            from ingestion.sample import ensure_universe

            ensure_universe(engine, settings.sample_data_dir)
            horse.print_result(_session_table())
        elif args.command == "load-sample":
            from ingestion.sample import load_sample

            if args.symbols and args.dataset == "sample":
                raise ValueError("--symbols is for --dataset sp500 or options; the 35-ticker sample loads whole")
            roots = {"sp500": settings.sp500_data_dir, "options": settings.options_data_dir}
            root = roots.get(args.dataset, settings.sample_data_dir)
            started = time.monotonic()
            counts = load_sample(engine, root, args.dataset, symbols=args.symbols or None, progress=_CliProgress())
            summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
            print(
                f"{summary} ({time.monotonic() - started:.1f} s)" if counts else "skipped: another process is loading"
            )
        elif args.command == "status":
            _status(engine, args.json, args.limit)
        elif args.command == "options-series":
            return _options_series(args, engine)
        elif args.command in ("run", "backfill"):
            return _run(args, engine)
        elif args.command == "worker":
            from ingestion.config import load_config
            from ingestion.worker import run_worker

            return run_worker(engine, settings, load_config(args.config), once=args.once)
        return 0
    except (ConfigError, DatabaseUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad input: symbols, dates, provider names, configuration files
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a CLI reports, it does not dump a traceback on the user
        log.exception("command %s failed", args.command)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        from store.db import reset_engine

        # An embedded server this command started stops at interpreter exit (pgserver's atexit hook) and only
        # when no other process uses it; stopping it here would also stop one the caller's process started.
        reset_engine()


if __name__ == "__main__":
    sys.exit(main())
