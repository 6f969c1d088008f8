"""The bundled datasets through the normal path (sample provider -> validate -> upsert), and the universe seed."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ingestion.datasets import (
    DAILY_BARS,
    INDEX_MEMBERS,
    INSTRUMENTS,
    KEY_STATISTICS,
    MACRO_OBSERVATIONS,
    OPTION_QUOTES,
    RAW_CLOSES,
    SHARES_OUTSTANDING,
    Dataset,
)
from ingestion.locks import job_lock
from ingestion.progress import Progress
from ingestion.providers.base import chunks
from ingestion.providers.sample import OptionsSampleProvider, SampleDataError, SampleProvider, SP500SampleProvider
from ingestion.runs import close_abandoned_runs, recorded_run
from ingestion.validate import Validated, validate_daily_bars, validate_macro_observations
from ingestion.writer import quarantine, upsert
from store import tables
from store.identifiers import SYMBOL
from store.settings import get_settings

log = logging.getLogger(__name__)

# Added to the bundled universe when it lacks them: the market benchmark every page compares against.
DEFAULT_EXTRA_INSTRUMENTS = [
    {"symbol": "SPY", "name": "SPDR S&P 500 ETF Trust", "asset_class": "etf", "currency": "USD"},
]


# `load-sample --dataset`: the 35-ticker sample (default), the S&P 500 demo, the option-chain demo.
SAMPLE_DATASETS = ("sample", "sp500", "options")
# The job name each bundled load is recorded (and queued) under: "options" is the live option-chain job's name.
SAMPLE_JOBS = {"sample": "sample", "sp500": "sp500", "options": "options-demo"}


def load_sample(
    engine: sa.Engine,
    root: Path,
    dataset: str = "sample",
    *,
    symbols: Sequence[str] | None = None,
    keep: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Load a bundled dataset; all files are parsed first and written in one transaction.

    A corrupt file therefore fails the whole load (naming the file and line) and writes nothing.
    Loading twice leaves the same rows: every write is an upsert on the natural key. The load holds the
    `sample` job lock, so two first starts do not load at once, and a load killed half-way is closed as
    abandoned by the next one instead of staying `running` for ever. Returns {} when another process is loading.

    `dataset` "sample" is the 35-ticker sample under `root` (run recorded as job "sample"); "sp500" the S&P 500
    demo bundle under `root` (job "sp500"; see `_load_sp500` for `symbols`, `keep` and `progress`). Both hold the
    same lock: one bundled load at a time. "options" is the option-chain demo under `root` (job "options-demo"; see
    `_load_options`, which takes `symbols` and `progress` too).
    """
    if dataset not in SAMPLE_DATASETS:
        raise ValueError(f"unknown sample dataset {dataset!r}; expected one of {', '.join(SAMPLE_DATASETS)}")
    if dataset == "sample" and (symbols is not None or keep is not None):
        raise ValueError("the 35-ticker sample loads whole: symbols and keep are for the sp500 dataset")
    if dataset == "options" and keep is not None:
        raise ValueError("keep is for the sp500 dataset")
    with job_lock(engine, "sample") as lock:
        if lock is None:
            log.info("a sample dataset is being loaded by another process; not loading it twice")
            return {}
        for job in SAMPLE_JOBS.values():
            close_abandoned_runs(engine, job)
        if dataset == "sample":
            return _load(engine, root)
        if dataset == "options":
            return _load_options(engine, root, symbols, progress or Progress())
        return _load_sp500(engine, root, symbols, keep, progress or Progress())


def _load(engine: sa.Engine, root: Path) -> dict[str, int]:
    provider = SampleProvider(root)
    with recorded_run(engine, job="sample", source=provider.name) as run:
        instruments = provider.instruments()
        series = provider.series_metadata()
        bars = validate_daily_bars(provider.daily_bars())
        observations = validate_macro_observations(provider.macro_observations())
        # The quote header's market cap and key statistics (Ticker page): Yahoo's figures, as recorded.
        shares = SHARES_OUTSTANDING.validate(provider.shares_outstanding(), engine)
        statistics = KEY_STATISTICS.validate(provider.key_statistics(), engine)
        counts = {}
        with engine.begin() as conn:
            counts["instruments"] = upsert(conn, tables.instruments, instruments, source=provider.name)
            counts["macro_series"] = upsert(conn, tables.macro_series, series, source=provider.name)
            counts["daily_bars"] = upsert(conn, DAILY_BARS.table, bars.valid, source=provider.name)
            counts["macro_observations"] = upsert(
                conn, MACRO_OBSERVATIONS.table, observations.valid, source=provider.name
            )
            counts["shares_outstanding"] = upsert(conn, SHARES_OUTSTANDING.table, shares.valid, source=provider.name)
            counts["key_statistics"] = upsert(conn, KEY_STATISTICS.table, statistics.valid, source=provider.name)
            counts["quarantined"] = sum(
                quarantine(conn, run.id, dataset.table, checked.rejected)
                for dataset, checked in (
                    (DAILY_BARS, bars),
                    (MACRO_OBSERVATIONS, observations),
                    (SHARES_OUTSTANDING, shares),
                    (KEY_STATISTICS, statistics),
                )
            )
        run.rows_written = counts["daily_bars"] + counts["macro_observations"]
        run.succeeded = len(instruments) + len(series)
        run.details = counts
        if counts["quarantined"]:
            run.failures["validation"] = f"{counts['quarantined']} row(s) quarantined"
    return counts


def symbols_kept(engine: sa.Engine, symbols: Sequence[str], source: str, keep: Iterable[str]) -> list[str]:
    """Of `symbols`, those whose bars the S&P 500 load must leave alone: named in `keep` (the 35-ticker sample's),
    or with a bar stored from any other source (a live provider). Two adjustment vintages never meet in a symbol."""
    t = tables.daily_bars
    wanted = sa.values(sa.column("symbol", sa.String), name="wanted").data([(s,) for s in symbols])
    elsewhere = sa.exists().where(t.c.symbol == wanted.c.symbol, t.c.source != source)
    with engine.connect() as conn:
        stored = set(conn.execute(sa.select(wanted.c.symbol).where(elsewhere)).scalars()) if symbols else set()
    return sorted((set(keep) & set(symbols)) | stored)


SP500_CHUNK = 50  # symbols converted, validated and written at a time: the load adds about 125 MB to a process


def _sample_symbols() -> list[str]:
    """The 35-ticker sample's symbols (none when it is not installed: then only the stored sources count)."""
    try:
        return SampleProvider(get_settings().sample_data_dir).symbols()
    except SampleDataError:
        return []


def _load_sp500(
    engine: sa.Engine, root: Path, symbols: Sequence[str] | None, keep: Iterable[str] | None, progress: Progress
) -> dict[str, int]:
    """The S&P 500 demo bundle (all its symbols, or `symbols`): instruments for symbols not stored yet (today's
    constituents active, former members inactive), "SP500" membership with GICS sectors, adjusted-close-only daily
    bars, raw closes and volumes, and shares outstanding (FMP filings and Yahoo snapshots, each its own source).

    Bars are not written for the symbols `symbols_kept` names (`keep` defaults to the 35-ticker sample's symbols):
    they keep the rows they have. Every file is read first; then the symbols go through validation and the bulk
    upsert `SP500_CHUNK` at a time, all in one transaction (a failure anywhere writes nothing); `progress` hears
    of each slice.
    """
    provider = SP500SampleProvider(root)
    with recorded_run(engine, job="sp500", source=provider.name) as run:
        provider.check()
        keep = _sample_symbols() if keep is None else keep
        chosen = provider.symbols() if symbols is None else SYMBOL.validate(list(symbols))
        if not chosen:
            raise ValueError("no symbols to load")
        kept = set(symbols_kept(engine, chosen, provider.name, keep))
        current = set(provider.members())
        instruments = INSTRUMENTS.validate(
            provider.instruments(chosen).assign(active=lambda f: f["symbol"].isin(current)), engine
        )
        members = INDEX_MEMBERS.validate(provider.index_members(chosen), engine)
        counts = dict.fromkeys(
            ["instruments", "index_members", "daily_bars", "raw_closes", "shares_outstanding", "quarantined"], 0
        )

        def write(conn: sa.Connection, dataset: Dataset, checked: Validated, source: str) -> None:
            counts[dataset.name] += upsert(conn, dataset.table, checked.valid, source=source)
            counts["quarantined"] += quarantine(conn, run.id, dataset.table, checked.rejected)

        slices = list(chunks(chosen, SP500_CHUNK))
        progress.start("sp500", len(slices) + 1)
        with engine.begin() as conn:
            inst = tables.instruments
            stored = set(conn.execute(sa.select(inst.c.symbol).where(inst.c.symbol.in_(chosen))).scalars())
            # Stored instruments keep their row (an edited universe, a live provider's names): only new ones land.
            new = instruments.valid["symbol"].isin(stored)
            write(conn, INSTRUMENTS, Validated(instruments.valid[~new], instruments.rejected), provider.name)
            write(conn, INDEX_MEMBERS, members, provider.name)
            for number, part in enumerate(slices, 1):
                priced = [s for s in part if s not in kept]
                if priced:
                    write(conn, DAILY_BARS, DAILY_BARS.validate(provider.daily_bars(priced), engine), provider.name)
                write(conn, RAW_CLOSES, RAW_CLOSES.validate(provider.raw_closes(part), engine), provider.name)
                for origin, source in provider.SHARES_SOURCES.items():
                    shares = SHARES_OUTSTANDING.validate(provider.shares_outstanding(part, origin=origin), engine)
                    write(conn, SHARES_OUTSTANDING, shares, source)
                progress.advance(f"symbols {part[0]}..{part[-1]} ({number}/{len(slices)})")
        progress.advance("committed")
        progress.close()
        run.rows_written = sum(v for k, v in counts.items() if k != "quarantined")
        run.succeeded = len(chosen)
        run.details = {"dataset": "sp500", "symbols": len(chosen), "kept": sorted(kept), **counts}
        if counts["quarantined"]:
            run.failures["validation"] = f"{counts['quarantined']} row(s) quarantined"
    log.info("S&P 500 demo: %s; bars kept as stored for %d symbol(s)", counts, len(kept))
    return counts


def _load_options(engine: sa.Engine, root: Path, symbols: Sequence[str] | None, progress: Progress) -> dict[str, int]:
    """The option-chain demo bundle (all its underlyings, or `symbols`) into option_quotes, one underlying at a time
    through validation and the bulk upsert, all in one transaction (a failure anywhere writes nothing). The
    underlyings become instruments when they are not stored yet (SPY and AAPL are in the 35-ticker sample)."""
    provider = OptionsSampleProvider(root)
    with recorded_run(engine, job=SAMPLE_JOBS["options"], source=provider.name) as run:
        available = provider.symbols()
        chosen = available if symbols is None else SYMBOL.validate(list(symbols))
        unknown = sorted(set(chosen) - set(available))
        if unknown:
            raise ValueError(
                f"no bundled option chains for {', '.join(unknown)}; the bundle has {', '.join(available)}"
            )
        counts = {"option_quotes": 0, "quarantined": 0}
        progress.start(SAMPLE_JOBS["options"], len(chosen) + 1)
        with engine.begin() as conn:
            for symbol in chosen:
                checked = OPTION_QUOTES.validate(provider.option_chains([symbol]), engine)
                counts["option_quotes"] += upsert(conn, OPTION_QUOTES.table, checked.valid, source=provider.name)
                counts["quarantined"] += quarantine(conn, run.id, OPTION_QUOTES.table, checked.rejected)
                run.ok(symbol, provider.name, len(checked.valid))
                progress.advance(f"{symbol}: {len(checked.valid)} contracts-sessions", len(checked.valid))
        progress.advance("committed")
        progress.close()
        run.rows_written = counts["option_quotes"]
        run.details = {"dataset": "options", "symbols": chosen, **counts}
        if counts["quarantined"]:
            run.failures["validation"] = f"{counts['quarantined']} row(s) quarantined"
    log.info("option-chain demo: %s", counts)
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
