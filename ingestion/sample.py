"""The bundled sample dataset through the normal path (sample provider -> validate -> upsert), and the universe seed."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ingestion.datasets import DAILY_BARS, MACRO_OBSERVATIONS
from ingestion.locks import job_lock
from ingestion.providers.sample import SampleProvider
from ingestion.runs import close_abandoned_runs, recorded_run
from ingestion.validate import validate_daily_bars, validate_macro_observations
from ingestion.writer import quarantine, upsert
from store import tables

log = logging.getLogger(__name__)

# Added to the bundled universe when it lacks them: the market benchmark every page compares against.
DEFAULT_EXTRA_INSTRUMENTS = [
    {"symbol": "SPY", "name": "SPDR S&P 500 ETF Trust", "asset_class": "etf", "currency": "USD"},
]


def load_sample(engine: sa.Engine, root: Path) -> dict[str, int]:
    """Load the bundled dataset; all files are parsed first and written in one transaction.

    A corrupt file therefore fails the whole load (naming the file and line) and writes nothing.
    Loading twice leaves the same rows: every write is an upsert on the natural key. The load holds the
    `sample` job lock, so two first starts do not load at once, and a load killed half-way is closed as
    abandoned by the next one instead of staying `running` for ever. Returns {} when another process is loading.
    """
    with job_lock(engine, "sample") as lock:
        if lock is None:
            log.info("the sample is being loaded by another process; not loading it twice")
            return {}
        close_abandoned_runs(engine, "sample")
        return _load(engine, root)


def _load(engine: sa.Engine, root: Path) -> dict[str, int]:
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
            counts["daily_bars"] = upsert(conn, DAILY_BARS.table, bars.valid, source=provider.name)
            counts["macro_observations"] = upsert(
                conn, MACRO_OBSERVATIONS.table, observations.valid, source=provider.name
            )
            counts["quarantined"] = quarantine(conn, run.id, DAILY_BARS.table, bars.rejected) + quarantine(
                conn, run.id, MACRO_OBSERVATIONS.table, observations.rejected
            )
        run.rows_written = counts["daily_bars"] + counts["macro_observations"]
        run.succeeded = len(instruments) + len(series)
        run.details = counts
        if counts["quarantined"]:
            run.failures["validation"] = f"{counts['quarantined']} row(s) quarantined"
    return counts


def ensure_universe(engine: sa.Engine, sample_root: Path) -> dict[str, int]:
    """Seed instruments and macro_series with the defaults (bundled universe plus SPY, the bundled FRED series).

    Existing rows are left alone (ON CONFLICT DO NOTHING), so an edited universe (a symbol set inactive,
    a better name from a live provider) survives every start.
    """
    provider = SampleProvider(sample_root)
    instruments = provider.instruments()
    extra = pd.DataFrame(DEFAULT_EXTRA_INSTRUMENTS)
    instruments = pd.concat([instruments, extra[~extra["symbol"].isin(instruments["symbol"])]], ignore_index=True)
    series = provider.series_metadata()
    added = {}
    with engine.begin() as conn:
        for table, frame in ((tables.instruments, instruments), (tables.macro_series, series)):
            records = frame.astype(object).where(frame.notna(), None).to_dict("records")
            for record in records:
                record["source"] = provider.name
            result = conn.execute(pg_insert(table).values(records).on_conflict_do_nothing())
            added[table.name] = max(result.rowcount, 0)
    if any(added.values()):
        log.info("seeded the default universe: %s", added)
    return added
