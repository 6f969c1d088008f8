"""Ingestion jobs: provider chain -> validate -> one upsert transaction per batch, recorded in ingestion_runs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg2
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ingestion.config import IngestionConfig
from ingestion.locks import JobLock, job_lock
from ingestion.providers.base import (
    CORPORATE_ACTION_COLUMNS,
    DAILY_BAR_COLUMNS,
    INSTRUMENT_COLUMNS,
    INTRADAY_QUOTE_COLUMNS,
    MACRO_OBSERVATION_COLUMNS,
    SERIES_METADATA_COLUMNS,
    SHARES_OUTSTANDING_COLUMNS,
    NotFound,
    Provider,
    ProviderError,
    failures_of,
)
from ingestion.providers.sample import SampleProvider
from ingestion.runs import Run, close_abandoned_runs, recorded_run
from ingestion.validate import (
    Validated,
    trading_calendar,
    validate_corporate_actions,
    validate_daily_bars,
    validate_instruments,
    validate_intraday_quotes,
    validate_macro_observations,
    validate_shares_outstanding,
)
from ingestion.writer import quarantine, upsert
from store import clock, tables

log = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
JOBS = ("prices", "quotes", "macro", "reference")
# Added to the bundled universe when it lacks them: the market benchmark every page compares against.
DEFAULT_EXTRA_INSTRUMENTS = [
    {"symbol": "SPY", "name": "SPDR S&P 500 ETF Trust", "asset_class": "etf", "currency": "USD"},
]


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


# -- the universe ------------------------------------------------------------------------------------


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


def active_symbols(engine: sa.Engine) -> list[str]:
    t = tables.instruments
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t.c.symbol).where(t.c.active).order_by(t.c.symbol)).scalars())


def active_series(engine: sa.Engine) -> list[str]:
    t = tables.macro_series
    with engine.connect() as conn:
        return list(conn.execute(sa.select(t.c.series_id).where(t.c.active).order_by(t.c.series_id)).scalars())


# -- requests, results, progress ----------------------------------------------------------------------


@dataclass
class JobRequest:
    """What to run. `items` are symbols (prices, quotes, reference) or FRED ids (macro); None = the active universe.

    Without `start` each item resumes from its last stored date (minus a small overlap); with it, the
    range is fetched as given (a backfill).
    """

    job: str
    items: list[str] | None = None
    start: date | None = None
    end: date | None = None
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.job not in JOBS:
            raise ValueError(f"unknown job {self.job!r}; expected one of {', '.join(JOBS)}")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")


@dataclass
class JobResult:
    job: str
    status: str  # success | partial | failed | skipped (another process holds the job's lock)
    run_id: int = 0
    rows_written: int = 0
    quarantined: int = 0
    items: dict[str, dict] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False


class Progress:
    """Progress of a job over its batches; the CLI shows a bar in a terminal and plain lines otherwise."""

    def start(self, job: str, total: int) -> None:  # noqa: B027 - a no-op by default
        pass

    def advance(self, note: str) -> None:  # noqa: B027
        pass

    def close(self) -> None:  # noqa: B027
        pass


@dataclass
class _Batch:
    items: list[str]
    start: date | None
    end: date | None


def new_york_today(now: datetime | None = None) -> date:
    return clock.new_york_today(now)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _windows(start: date, end: date, days: int | None) -> Iterator[tuple[date, date]]:
    if days is None:
        yield start, end
        return
    while start <= end:
        stop = min(end, start + timedelta(days=days - 1))
        yield start, stop
        start = stop + timedelta(days=1)


def _has_session(start: date, end: date) -> bool:
    calendar = trading_calendar()
    sessions = calendar.sessions_in_range(
        max(pd.Timestamp(start), calendar.first_session), min(pd.Timestamp(end), calendar.last_session)
    )
    return len(sessions) > 0


# -- fetching with fallback -------------------------------------------------------------------------


def _supports(provider: Provider, method: str) -> bool:
    """True when the provider overrides `method` (the base class raises NotSupported)."""
    return getattr(type(provider), method, None) is not getattr(Provider, method)


@dataclass
class _Fetched:
    frames: list[tuple[str, pd.DataFrame]]  # (provider name, rows of the items it delivered)
    failures: dict[str, str]  # item -> reasons from every provider tried


def _call_one(
    provider: Provider,
    call: Callable[[Provider, list[str]], pd.DataFrame],
    items: list[str],
    key: str,
    columns: list[str],
) -> tuple[pd.DataFrame | None, dict[str, str]]:
    """One provider, some items: (rows of requested items or None, item -> reason for the rest)."""
    try:
        frame = call(provider, items)
    except NotFound as exc:
        failures = dict(getattr(exc, "failures", {}) or {})
        if len(items) > 1 and not failures:
            # The provider rejected the batch for one unknown item without saying which: ask item by item.
            frames, reasons = [], {}
            for item in items:
                part, part_reasons = _call_one(provider, call, [item], key, columns)
                if part is not None:
                    frames.append(part)
                reasons.update(part_reasons)
            return (pd.concat(frames, ignore_index=True) if frames else None), reasons
        return None, {item: failures.get(item, str(exc)) for item in items}
    except ProviderError as exc:  # rate limited, daily limit, circuit open, authentication, provider error
        return None, {item: str(exc) or type(exc).__name__ for item in items}
    except Exception as exc:  # noqa: BLE001 - a provider bug or a payload its transform did not expect
        log.exception("%s failed unexpectedly for %s", provider.name, ", ".join(items[:5]))
        return None, {item: f"unexpected {type(exc).__name__}: {exc}" for item in items}
    if not isinstance(frame, pd.DataFrame):
        return None, {item: f"malformed result (a {type(frame).__name__}, not a table)" for item in items}
    if any(c not in frame.columns for c in columns):
        return None, {item: f"malformed result (columns {list(frame.columns)})" for item in items}
    reported = failures_of(frame)
    frame = frame[frame[key].isin(items)][columns]
    delivered = set(frame[key])
    missing = {item: reported.get(item, "no data returned") for item in items if item not in delivered}
    return (frame if not frame.empty else None), missing


def fetch_with_fallback(
    providers: list[Provider],
    method: str,
    call: Callable[[Provider, list[str]], pd.DataFrame],
    items: list[str],
    key: str,
    columns: list[str],
) -> _Fetched:
    """Ask each provider in turn for the items the previous ones could not deliver."""
    remaining = list(items)
    reasons: dict[str, list[str]] = {item: [] for item in items}
    frames: list[tuple[str, pd.DataFrame]] = []
    candidates = [p for p in providers if _supports(p, method)]
    for provider in candidates:
        if not remaining:
            break
        frame, missing = _call_one(provider, call, remaining, key, columns)
        if frame is not None:
            frames.append((provider.name, frame))
        for item, reason in missing.items():
            # Provider messages usually start with the provider's name already; do not say it twice.
            reasons[item].append(reason if reason.startswith(f"{provider.name}:") else f"{provider.name}: {reason}")
        remaining = [item for item in remaining if item in missing]
    if not candidates:
        return _Fetched(frames, {item: f"no provider offers {method.replace('_', ' ')}" for item in items})
    return _Fetched(frames, {item: "; ".join(reasons[item]) for item in remaining})


# -- the generic run loop --------------------------------------------------------------------------


@dataclass
class _Dataset:
    """How one kind of record is fetched, validated and written."""

    method: str  # the Provider method
    table: sa.Table
    key: str
    columns: list[str]
    call: Callable[[Provider, list[str], date | None, date | None], pd.DataFrame]
    validate: Callable[[pd.DataFrame, sa.Engine], Validated]


def _previous_closes(engine: sa.Engine, bars: pd.DataFrame) -> dict[str, float]:
    """Each symbol's last stored adjusted close before its first date in `bars` (for the jump check)."""
    if bars.empty:
        return {}
    firsts = bars.groupby("symbol")["date"].min()
    t = tables.daily_bars
    lookup = sa.values(sa.column("symbol", sa.String), sa.column("first", sa.Date), name="firsts").data(
        list(zip(firsts.index, firsts.to_numpy(), strict=True))
    )
    ranked = (
        sa.select(
            t.c.symbol,
            t.c.adj_close,
            sa.func.row_number().over(partition_by=t.c.symbol, order_by=t.c.date.desc()).label("rank"),
        )
        .join(lookup, sa.and_(t.c.symbol == lookup.c.symbol, t.c.date < lookup.c.first))
        .subquery()
    )
    query = sa.select(ranked.c.symbol, ranked.c.adj_close).where(ranked.c.rank == 1)
    with engine.connect() as conn:
        return {row.symbol: row.adj_close for row in conn.execute(query)}


DATASETS: dict[str, _Dataset] = {
    "daily_bars": _Dataset(
        "daily_bars",
        tables.daily_bars,
        "symbol",
        DAILY_BAR_COLUMNS,
        lambda p, items, start, end: p.daily_bars(items, start, end),
        lambda frame, engine: validate_daily_bars(frame, _previous_closes(engine, frame)),
    ),
    "intraday_quotes": _Dataset(
        "intraday_quotes",
        tables.intraday_quotes,
        "symbol",
        INTRADAY_QUOTE_COLUMNS,
        lambda p, items, start, end: p.intraday_quotes(items),
        lambda frame, engine: validate_intraday_quotes(frame),
    ),
    "macro_observations": _Dataset(
        "macro_observations",
        tables.macro_observations,
        "series_id",
        MACRO_OBSERVATION_COLUMNS,
        lambda p, items, start, end: p.macro_observations(items, start, end),
        lambda frame, engine: validate_macro_observations(frame),
    ),
    "macro_series": _Dataset(
        "series_metadata",
        tables.macro_series,
        "series_id",
        SERIES_METADATA_COLUMNS,
        lambda p, items, start, end: p.series_metadata(items),
        lambda frame, engine: _validate_series_metadata(frame),
    ),
    "instruments": _Dataset(
        "instruments",
        tables.instruments,
        "symbol",
        INSTRUMENT_COLUMNS,
        lambda p, items, start, end: p.instruments(items),
        lambda frame, engine: validate_instruments(frame),
    ),
    "shares_outstanding": _Dataset(
        "shares_outstanding",
        tables.shares_outstanding,
        "symbol",
        SHARES_OUTSTANDING_COLUMNS,
        lambda p, items, start, end: p.shares_outstanding(items, start, end),
        lambda frame, engine: validate_shares_outstanding(frame),
    ),
    "corporate_actions": _Dataset(
        "corporate_actions",
        tables.corporate_actions,
        "symbol",
        CORPORATE_ACTION_COLUMNS,
        lambda p, items, start, end: p.corporate_actions(items, start, end),
        lambda frame, engine: validate_corporate_actions(frame),
    ),
}


def _validate_series_metadata(frame: pd.DataFrame) -> Validated:
    from ingestion.validate import _first_reason, _split

    width = tables.macro_series.c.frequency.type.length
    checks = [
        (frame[["series_id", "title", "units", "frequency"]].isna().any(axis=1), "missing value"),
        (frame["frequency"].astype(str).str.len() > width, f"frequency longer than {width} characters"),
        (frame.duplicated(["series_id"], keep="first"), "duplicate series"),
    ]
    return _split(frame, _first_reason(checks, frame.index))


def _process_batch(
    engine: sa.Engine,
    run: Run,
    dataset: _Dataset,
    providers: list[Provider],
    batch: _Batch,
    dry_run: bool,
    lock: JobLock | None,
) -> tuple[int, int]:
    """Fetch one batch through the chain, validate it, and write each provider's rows in one transaction.

    Returns (rows written, rows quarantined). A write that fails rolls its whole batch back: the batch's
    items are recorded as failed and the run goes on with the next batch. A lost database connection
    ends the run (its advisory lock is gone with the connection, so going on could mean two writers).
    """
    fetched = fetch_with_fallback(
        providers,
        dataset.method,
        lambda p, items: dataset.call(p, items, batch.start, batch.end),
        batch.items,
        dataset.key,
        dataset.columns,
    )
    label = dataset.table.name
    for item, reason in fetched.failures.items():
        run.fail(item, f"{label}: {reason}")
    written = quarantined = 0
    for provider_name, frame in fetched.frames:
        checked = dataset.validate(frame.reset_index(drop=True), engine)
        delivered = checked.valid.groupby(dataset.key).size().to_dict() if not checked.valid.empty else {}
        rejected = checked.rejected.groupby(dataset.key).size().to_dict() if not checked.rejected.empty else {}
        if not dry_run:
            if lock is not None:
                lock.check()  # right before writing: a restarted server has silently dropped the lock
            try:
                with engine.begin() as conn:
                    batch_written = upsert(conn, dataset.table, checked.valid, source=provider_name)
                    quarantined += quarantine(conn, run.id, label, checked.rejected)
                written += batch_written
            except (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg2.OperationalError, psycopg2.InterfaceError):
                raise  # the connection is gone: see the docstring
            except (sa.exc.DBAPIError, psycopg2.Error) as exc:
                cause = getattr(exc, "orig", None) or exc
                reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(exc).__name__
                log.error("%s: writing %s from %s failed: %s", run.job, label, provider_name, reason)
                for item in sorted(set(frame[dataset.key])):
                    run.fail(item, f"{label}: write failed: {reason}")
                continue
        else:
            quarantined += len(checked.rejected)
        for item in sorted(set(frame[dataset.key])):
            if not delivered.get(item):
                first = checked.rejected.loc[checked.rejected[dataset.key] == item, "reason"].iloc[0]
                run.fail(item, f"{label}: {provider_name}: all {rejected[item]} row(s) quarantined ({first})")
                continue
            info = {"rejected": rejected[item]} if item in rejected else {}
            run.ok(item, provider_name, int(delivered[item]), **info)
    return written, quarantined


def _last_dates(engine: sa.Engine, table: sa.Table, key: str, items: list[str]) -> dict[str, date]:
    column = table.c[key]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(column, sa.func.max(table.c.date)).where(column.in_(items)).group_by(column)
        ).all()
    return {item: last for item, last in rows}


def _plan(
    engine: sa.Engine,
    request: JobRequest,
    items: list[str],
    table: sa.Table,
    key: str,
    config: IngestionConfig,
    overlap_days: int,
    chunk: int,
    trading_days: bool,
) -> tuple[list[_Batch], list[str]]:
    """Batches of items sharing a date range: explicit (backfill, in windows) or from each item's last date.

    Returns (batches, items already up to date).
    """
    end = request.end or new_york_today()
    if request.start is not None:
        starts = dict.fromkeys(items, request.start)
    else:
        last = _last_dates(engine, table, key, items)
        starts = {
            item: (last[item] - timedelta(days=overlap_days)) if item in last else config.history_start
            for item in items
        }
    groups: dict[date, list[str]] = {}
    up_to_date = []
    for item, start in starts.items():
        if start > end or (trading_days and not _has_session(start, end)):
            up_to_date.append(item)
        else:
            groups.setdefault(start, []).append(item)
    # Only an explicit price backfill is cut into date windows (bounded requests and batches); an incremental
    # run or a macro series is small enough for one request per chunk of items.
    window_days = config.backfill_window_days if (request.start is not None and trading_days) else None
    batches = []
    for start, group in sorted(groups.items()):
        for window_start, window_end in _windows(start, end, window_days):
            if trading_days and not _has_session(window_start, window_end):
                continue
            batches.extend(_Batch(part, window_start, window_end) for part in _chunks(group, chunk))
    return batches, up_to_date


@dataclass
class _Step:
    dataset: _Dataset
    batches: list[_Batch]


def _execute(
    engine: sa.Engine,
    request: JobRequest,
    steps: list[_Step],
    providers: list[Provider],
    up_to_date: list[str],
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
    details: dict,
) -> JobResult:
    progress = progress or Progress()
    source = providers[0].name if providers else "none"
    if not providers:
        raise ProviderError(f"no provider is available for the {request.job} job")

    def body(lock: JobLock | None) -> JobResult:
        with recorded_run(engine, job=request.job, source=source, record=not request.dry_run) as run:
            for item in up_to_date:
                run.ok(item, None, 0, note="up to date")
            total = sum(len(step.batches) for step in steps)
            progress.start(request.job, total)
            quarantined = 0
            try:
                for step in steps:
                    for number, batch in enumerate(step.batches):
                        if should_stop is not None and should_stop():
                            for rest in step.batches[number:]:
                                for item in rest.items:
                                    run.fail(item, "stopped before this batch ran (worker shutting down)")
                            break
                        written, rejected = _process_batch(
                            engine, run, step.dataset, providers, batch, request.dry_run, lock
                        )
                        run.rows_written += written
                        quarantined += rejected
                        progress.advance(
                            f"{step.dataset.table.name} {','.join(batch.items[:3])}"
                            f"{'...' if len(batch.items) > 3 else ''}: {written} rows"
                        )
            finally:
                progress.close()
            run.details = {**details, "quarantined": quarantined, "dry_run": request.dry_run}
        return JobResult(
            job=request.job,
            status=run.status,
            run_id=run.id,
            rows_written=run.rows_written,
            quarantined=quarantined,
            items=run.items,
            failures=dict(run.failures),
            dry_run=request.dry_run,
        )

    if request.dry_run:
        return body(None)
    with job_lock(engine, request.job) as lock:
        if lock is None:
            return JobResult(job=request.job, status="skipped", dry_run=False)
        close_abandoned_runs(engine, request.job)
        return body(lock)


# -- the jobs ---------------------------------------------------------------------------------------


def run_job(
    engine: sa.Engine,
    request: JobRequest,
    providers: list[Provider],
    config: IngestionConfig | None = None,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> JobResult:
    """Run one job with `providers` tried in order for every batch (the first that delivers wins)."""
    config = config or IngestionConfig()
    if request.job == "macro":
        items = request.items or active_series(engine)
    else:
        items = request.items or active_symbols(engine)
    end = request.end or new_york_today()
    details: dict = {"requested": len(items), "end": end.isoformat()}
    if request.start:
        details["start"] = request.start.isoformat()
    up_to_date: list[str] = []

    if request.job == "prices":
        batches, up_to_date = _plan(
            engine,
            request,
            items,
            tables.daily_bars,
            "symbol",
            config,
            config.price_overlap_days,
            config.chunk_symbols,
            trading_days=True,
        )
        steps = [_Step(DATASETS["daily_bars"], batches)]
    elif request.job == "macro":
        batches, up_to_date = _plan(
            engine,
            request,
            items,
            tables.macro_observations,
            "series_id",
            config,
            config.macro_overlap_days,
            config.chunk_series,
            trading_days=False,
        )
        meta = [_Batch(part, None, None) for part in _chunks(items, config.chunk_series)]
        steps = [_Step(DATASETS["macro_series"], meta), _Step(DATASETS["macro_observations"], batches)]
    elif request.job == "quotes":
        quote_batches = [_Batch(part, None, None) for part in _chunks(items, config.chunk_symbols)]
        steps = [_Step(DATASETS["intraday_quotes"], quote_batches)]
    else:  # reference
        start = request.start or end - timedelta(days=config.reference_lookback_days)
        batches = [_Batch(part, start, end) for part in _chunks(items, config.chunk_symbols)]
        steps = [
            _Step(DATASETS[name], batches)
            for name in ("instruments", "shares_outstanding", "corporate_actions")
            if any(_supports(p, DATASETS[name].method) for p in providers)
        ]
        planned = {step.dataset.table.name for step in steps}
        skipped = [name for name in ("shares_outstanding", "corporate_actions") if name not in planned]
        if skipped:
            details["not_offered"] = skipped
    return _execute(engine, request, steps, providers, up_to_date, progress, should_stop, details)
