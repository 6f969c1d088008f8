"""Ingestion jobs: provider -> validate -> bulk upsert, each recorded in ingestion_runs."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa

from ingestion.providers.sample import SampleProvider
from ingestion.runs import recorded_run
from ingestion.validate import validate_daily_bars, validate_macro_observations
from ingestion.writer import quarantine, upsert
from store import tables

log = logging.getLogger(__name__)


def database_is_empty(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.exists().select_from(tables.daily_bars))).scalar_one() is False


def load_sample(engine: sa.Engine, root: Path) -> dict[str, int]:
    """Load the bundled dataset; all files are parsed first and written in one transaction.

    A corrupt file therefore fails the whole load (naming the file and line) and writes nothing.
    Loading twice leaves the same rows: every write is an upsert on the natural key.
    """
    provider = SampleProvider(root)
    with recorded_run(engine, job="sample", source=provider.name) as run:
        instruments = provider.instruments()
        series = provider.series_metadata()
        bars = validate_daily_bars(provider.daily_bars())
        observations = validate_macro_observations(provider.macro_observations())
        counts = {}
        with engine.begin() as conn:
            counts["instruments"] = upsert(conn, tables.instruments, instruments, source=provider.name)
            counts["macro_series"] = upsert(conn, tables.macro_series, series, source=provider.name)
            counts["daily_bars"] = upsert(conn, tables.daily_bars, bars.valid, source=provider.name)
            counts["macro_observations"] = upsert(
                conn, tables.macro_observations, observations.valid, source=provider.name
            )
            counts["quarantined"] = quarantine(conn, run.id, "daily_bars", bars.rejected) + quarantine(
                conn, run.id, "macro_observations", observations.rejected
            )
        run.rows_written = counts["daily_bars"] + counts["macro_observations"]
        run.succeeded = len(instruments) + len(series)
        run.details = counts
        if counts["quarantined"]:
            run.failures["validation"] = f"{counts['quarantined']} row(s) quarantined"
    return counts
