"""Command line: `python -m ingestion load-sample | status [--json] | migrate`."""

from __future__ import annotations

import argparse
import json
import logging
import sys

import sqlalchemy as sa

from store import tables
from store.db import DatabaseUnavailable, prepare_database
from store.logs import setup_logging
from store.settings import ConfigError, get_settings

log = logging.getLogger("ingestion")


def _status(engine: sa.Engine, as_json: bool, limit: int) -> None:
    runs = tables.ingestion_runs
    with engine.connect() as conn:
        rows = conn.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(limit)).mappings().all()
    if as_json:
        print(json.dumps([dict(r) for r in rows], default=str, indent=2))
        return
    if not rows:
        print("no ingestion runs yet")
    for r in rows:
        finished = r["finished_at"].strftime("%Y-%m-%d %H:%M:%S") if r["finished_at"] else "-"
        print(
            f"{r['id']:>5}  {r['job']:<10} {r['source']:<14} {r['status']:<8} "
            f"{r['rows_written']:>9} rows  finished {finished}  {r['error_summary'] or ''}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="bring the schema to the latest migration")
    sub.add_parser("load-sample", help="load the bundled sample dataset (idempotent)")
    status = sub.add_parser("status", help="show the last ingestion runs")
    status.add_argument("--json", action="store_true")
    status.add_argument("--limit", type=int, default=20)
    args = parser.parse_args(argv)

    try:
        settings = get_settings()
        setup_logging(settings)
        settings.check_production()
        engine = prepare_database(settings)
        if args.command == "load-sample":
            from ingestion.jobs import load_sample

            counts = load_sample(engine, settings.sample_data_dir)
            print(", ".join(f"{k}: {v}" for k, v in counts.items()))
        elif args.command == "status":
            _status(engine, args.json, args.limit)
        return 0
    except (ConfigError, DatabaseUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a CLI reports, it does not dump a traceback on the user
        log.exception("command %s failed", args.command)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        from store.db import reset_engine
        from store.embedded import stop_embedded

        reset_engine()
        stop_embedded()


if __name__ == "__main__":
    sys.exit(main())
