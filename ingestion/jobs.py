"""The job registry (what each job fetches, from which providers) and the run: plan, fetch, validate, write.

`JOBS` is read by the CLI (its choices), the web process (its checks before queueing) and the task children of the
worker (its provider chains). When each job runs is declared beside the scheduler (`ingestion.scheduler.SCHEDULES`),
which the worker's small parent process reads without loading this module: adding a job is one `Job(...)` here and
its `Schedule(...)` there (a job without one fails at import). A run goes step by step (a step is one dataset); within a
step, each provider in the chain gets what the previous ones could not deliver, in requests planned from
how that provider pages history (see `planning`). Every batch is validated and written in one transaction,
and the run is recorded in ingestion_runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd
import psycopg2
import sqlalchemy as sa

from ingestion import planning
from ingestion.config import IngestionConfig
from ingestion.datasets import (
    CORPORATE_ACTIONS,
    DAILY_BARS,
    INSTRUMENTS,
    INTRADAY_QUOTES,
    KEY_STATISTICS,
    MACRO_OBSERVATIONS,
    MACRO_SERIES,
    OPTION_QUOTES,
    SHARES_OUTSTANDING,
    Dataset,
)
from ingestion.fetch import call_provider
from ingestion.locks import JobLock, job_lock
from ingestion.planning import Span
from ingestion.progress import Progress
from ingestion.providers import registry
from ingestion.providers.base import NOT_FETCHED, Provider, ProviderError, reason_is_no_network
from ingestion.runs import Run, close_abandoned_runs, recorded_run
from ingestion.scheduler import SCHEDULES, Schedule
from ingestion.writer import quarantine, upsert
from store import clock
from store.errors import first_line
from store.identifiers import SERIES_ID, SYMBOL, Identifier
from store.reads import core as reads

log = logging.getLogger(__name__)

STOPPED = "stopped before this batch ran (worker shutting down)"


# -- the registry ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One dataset of a job and the date range each item asks for.

    `range`: "resume" (from the item's last stored date minus `overlap` days, or the configured history
    start; a request with a start date is a backfill), "lookback" (the last `reference_lookback_days`), or
    None (not ranged). `sessions`: only NYSE sessions hold data (ranges without one are skipped).
    `windowed`: a backfill is cut into the provider's windows (bounded requests and write batches).
    """

    dataset: Dataset
    range: Literal["resume", "lookback"] | None = None
    overlap: Callable[[IngestionConfig], int] = lambda config: 0
    sessions: bool = False
    windowed: bool = False
    optional: bool = False  # left out when no provider in the chain offers it


@dataclass(frozen=True)
class Job:
    name: str
    items: Identifier  # what the items are: symbols or FRED ids
    steps: tuple[Step, ...]
    chain: Callable[[Any], list[Provider]]  # settings -> providers in fallback order
    backfill: bool = False  # accepts an explicit date range
    universe: Callable[[], list[str]] | None = None  # its own default items (else the active universe)

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"job {self.name!r} has no schedule in ingestion.scheduler.SCHEDULES")

    def chunk(self, config: IngestionConfig) -> int:
        return config.chunk_series if self.items is SERIES_ID else config.chunk_symbols

    @property
    def schedule(self) -> Schedule:
        """When it runs: its New York cron, its NYSE gate, whether a missed run is caught up."""
        return SCHEDULES[self.name]


def option_underlyings() -> list[str]:
    """The underlyings the `options` job snapshots (setting OPTIONS_UNDERLYINGS, comma-separated)."""
    from store.settings import get_settings

    return [s.strip().upper() for s in get_settings().options_underlyings.split(",") if s.strip()]


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "prices",
            SYMBOL,
            (Step(DAILY_BARS, "resume", lambda c: c.price_overlap_days, sessions=True, windowed=True),),
            registry.price_chain,
            backfill=True,
        ),
        Job(
            "quotes",
            SYMBOL,
            (Step(INTRADAY_QUOTES),),
            registry.price_chain,
        ),
        Job(
            "macro",
            SERIES_ID,
            (Step(MACRO_SERIES), Step(MACRO_OBSERVATIONS, "resume", lambda c: c.macro_overlap_days)),
            registry.macro_chain,
            backfill=True,
        ),
        Job(
            "reference",
            SYMBOL,
            (
                Step(INSTRUMENTS),
                Step(SHARES_OUTSTANDING, "lookback", optional=True),
                Step(CORPORATE_ACTIONS, "lookback", optional=True),
                Step(KEY_STATISTICS, optional=True),
            ),
            registry.price_chain,
        ),
        # Option chains: one snapshot per session (a later run the same day replaces it); see its schedule.
        Job(
            "options",
            SYMBOL,
            (Step(OPTION_QUOTES),),
            registry.price_chain,
            universe=option_underlyings,
        ),
    )
}


# -- requests, results, progress ----------------------------------------------------------------------


@dataclass
class JobRequest:
    """What to run. `items` are symbols or FRED ids (the job says which); None = the active universe.

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


# -- the run ------------------------------------------------------------------------------------------


def _first_spans(
    engine: sa.Engine, job: Job, step: Step, request: JobRequest, items: list[str], config: IngestionConfig, end: date
) -> tuple[dict[str, list[Span]], list[str]]:
    """Each item's date range for `step`, and the items that are already up to date."""
    if step.range is None:
        return {item: [Span(None, None)] for item in items}, []
    if request.start is not None:
        starts = dict.fromkeys(items, request.start)
    elif step.range == "lookback":
        starts = dict.fromkeys(items, end - timedelta(days=config.reference_lookback_days))
    else:
        last = planning.last_dates(engine, step.dataset, items)
        overlap = timedelta(days=step.overlap(config))
        starts = {item: (last[item] - overlap) if item in last else config.history_start for item in items}
    spans: dict[str, list[Span]] = {}
    up_to_date = []
    for item, start in starts.items():
        if start > end or (step.sessions and not planning.has_session(start, end)):
            up_to_date.append(item)
        else:
            spans[item] = [Span(start, end)]
    return spans, up_to_date


def _write(
    engine: sa.Engine,
    run: Run,
    step: Step,
    provider: Provider,
    frame: pd.DataFrame,
    lock: JobLock | None,
    dry_run: bool,
) -> tuple[int, int, dict[str, str]]:
    """Validate and write one delivered frame in one transaction: (rows written, quarantined, item -> why not).

    Items delivered are recorded as ok; the others come back with the reason (every row quarantined, or the
    write failed: a failing write rolls its whole batch back). A lost database connection ends the run (its
    advisory lock is gone with the connection: going on could mean two writers).
    """
    dataset = step.dataset
    checked = dataset.validate(frame.reset_index(drop=True), engine)
    key = dataset.key
    delivered = checked.valid.groupby(key).size().to_dict() if not checked.valid.empty else {}
    rejected = checked.rejected.groupby(key).size().to_dict() if not checked.rejected.empty else {}
    items = sorted(set(frame[key]))
    written = quarantined = 0
    if not dry_run:
        if lock is not None:
            lock.check()  # right before writing: a restarted server has silently dropped the lock
        try:
            with engine.begin() as conn:
                written = upsert(conn, dataset.table, checked.valid, source=provider.name)
                quarantined = quarantine(conn, run.id, dataset.table, checked.rejected)
        except (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg2.OperationalError, psycopg2.InterfaceError):
            raise
        except (sa.exc.DBAPIError, psycopg2.Error) as exc:
            reason = first_line(exc)
            log.error("%s: writing %s from %s failed: %s", run.job, dataset.name, provider.name, reason)
            return 0, 0, dict.fromkeys(items, f"{provider.name}: write failed: {reason}")
    else:
        quarantined = len(checked.rejected)
    missing = {}
    for item in items:
        if not delivered.get(item):
            first = checked.rejected.loc[checked.rejected[key] == item, "reason"].iloc[0]
            missing[item] = f"{provider.name}: all {rejected[item]} row(s) quarantined ({first})"
            continue
        info = {"rejected": rejected[item]} if item in rejected else {}
        run.ok(item, provider.name, int(delivered[item]), **info)
    return written, quarantined, missing


def _ask(
    run: Run, provider: Provider, dataset: Dataset, request: planning.Request
) -> tuple[pd.DataFrame | None, dict[str, str]]:
    """`call_provider`, where no network is the run's reason, recorded once, and each item it cost is NOT_FETCHED
    (not a per-symbol guess such as "possibly delisted"); a provider that found no network is not asked again."""
    mine = f"{provider.name}: "
    if any(note.startswith(mine) and reason_is_no_network(note) for note in run.notes):
        return None, dict.fromkeys(request.items, NOT_FETCHED)
    frame, missing = call_provider(provider, dataset, request)
    for item, reason in missing.items():
        if reason_is_no_network(reason):
            run.note(reason if reason.startswith(mine) else mine + reason)
            missing[item] = NOT_FETCHED
    return frame, missing


def _run_step(
    engine: sa.Engine,
    run: Run,
    job: Job,
    step: Step,
    spans: dict[str, list[Span]],
    providers: list[Provider],
    request: JobRequest,
    config: IngestionConfig,
    lock: JobLock | None,
    progress: Progress,
    should_stop: Callable[[], bool],
    first_step: bool,
) -> tuple[int, int]:
    """Fetch `spans` through the chain: each provider gets what the ones before it could not deliver."""
    dataset = step.dataset
    candidates = [p for p in providers if p.supports(dataset.fetch)]
    reasons: dict[str, list[str]] = {item: [] for item in spans}
    written = quarantined = 0
    if not candidates:
        for item in spans:
            run.fail(item, f"{dataset.name}: no provider offers {dataset.fetch.replace('_', ' ')}")
        return 0, 0
    pending = dict(spans)
    for number, provider in enumerate(candidates):
        if not pending:
            break
        windowed = step.windowed and request.start is not None
        requests = planning.plan(provider, pending, job.chunk(config), config, windowed, step.sessions)
        if number == 0 and first_step:
            progress.start(request.job, len(requests))
        else:
            progress.grow(len(requests))
        failed: dict[str, list[Span]] = {}
        for position, req in enumerate(requests):
            if should_stop():
                for rest in requests[position:]:
                    for item in rest.items:
                        run.fail(item, STOPPED)
                return written, quarantined
            frame, missing = _ask(run, provider, dataset, req)
            w = 0
            if frame is not None:
                w, q, not_written = _write(engine, run, step, provider, frame, lock, request.dry_run)
                written, quarantined = written + w, quarantined + q
                missing.update(not_written)
            for item in req.items:
                if item not in missing:
                    continue
                reason = missing[item]
                # Provider messages usually start with the provider's name already; do not say it twice.
                reasons[item].append(reason if reason.startswith(f"{provider.name}:") else f"{provider.name}: {reason}")
                failed.setdefault(item, []).append(Span(req.start, req.end))
            done = len(req.items) - len([i for i in req.items if i in missing])
            progress.advance(f"{dataset.name} {req.describe()}: {done} of {len(req.items)} ok, {w} rows", w)
        pending = failed
    for item in pending:
        run.fail(item, f"{dataset.name}: " + "; ".join(dict.fromkeys(reasons[item])))
    return written, quarantined


def run_job(
    engine: sa.Engine,
    request: JobRequest,
    providers: list[Provider],
    config: IngestionConfig | None = None,
    *,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> JobResult:
    """Run one job with `providers` tried in order for every request (the first that delivers wins)."""
    config = config or IngestionConfig()
    progress = progress or Progress()
    stop = should_stop or (lambda: False)
    job = JOBS[request.job]
    if not providers:
        raise ProviderError(f"no provider is available for the {request.job} job")
    if request.items is not None:
        items, malformed = job.items.split(request.items)
    elif job.universe is not None:
        items, malformed = job.items.split(job.universe())
    else:
        with engine.connect() as conn:
            items = reads.active_series(conn) if job.items is SERIES_ID else reads.active_symbols(conn)
        malformed = {}
    end = request.end or clock.new_york_today()
    details: dict = {"requested": len(items) + len(malformed), "end": end.isoformat()}
    if request.start:
        details["start"] = request.start.isoformat()
    steps = [s for s in job.steps if not s.optional or any(p.supports(s.dataset.fetch) for p in providers)]
    not_offered = [s.dataset.name for s in job.steps if s not in steps]
    if not_offered:
        details["not_offered"] = not_offered

    def body(lock: JobLock | None) -> JobResult:
        with recorded_run(engine, job=request.job, source=providers[0].name, record=not request.dry_run) as run:
            for item, reason in malformed.items():
                run.fail(item, reason)
            written = quarantined = 0
            try:
                for number, step in enumerate(steps):
                    spans, up_to_date = _first_spans(engine, job, step, request, items, config, end)
                    for item in up_to_date:
                        run.ok(item, None, 0, note="up to date")
                    w, q = _run_step(
                        engine, run, job, step, spans, providers, request, config, lock, progress, stop, number == 0
                    )
                    written, quarantined = written + w, quarantined + q
            finally:
                progress.close()
            run.rows_written = written
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
