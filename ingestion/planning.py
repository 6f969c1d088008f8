"""Request planning: which items and date ranges each provider is asked for, from how it pages history.

A provider with `window_days = None` returns a symbol's whole history in one request (Alpha Vantage's
`outputsize=full`): its pending ranges for an item merge into one request, so a backfill costs one request
per symbol per run. Other providers are asked in windows (a backfill cut into `backfill_window_days`, or
the provider's own limit), with items sharing a range batched together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from ingestion.config import IngestionConfig
from ingestion.datasets import Dataset
from ingestion.providers.base import Provider, chunks
from store import calendar


@dataclass(frozen=True, order=True)
class Span:
    """A date range an item still needs (None: the dataset is not ranged)."""

    start: date | None
    end: date | None


@dataclass(frozen=True)
class Request:
    """One call to a provider: these items over this range."""

    items: list[str]
    start: date | None
    end: date | None

    def describe(self) -> str:
        shown = ",".join(self.items[:3]) + ("..." if len(self.items) > 3 else "")
        span = f" {self.start}..{self.end}" if self.start or self.end else ""
        return f"{shown}{span}"


def last_dates(engine: sa.Engine, dataset: Dataset, items: list[str]) -> dict[str, date]:
    """Each item's latest stored date in `dataset`'s table."""
    table = dataset.table
    column = table.c[dataset.key]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(column, sa.func.max(table.c.date)).where(column.in_(items)).group_by(column)
        ).all()
    return {item: last for item, last in rows}


def has_session(start: date, end: date) -> bool:
    return len(calendar.sessions_between(start, end)) > 0


def windows(start: date, end: date, days: int | None) -> Iterator[tuple[date, date]]:
    """[start, end] cut into consecutive windows of `days` days (one window when days is None)."""
    if days is None:
        yield start, end
        return
    while start <= end:
        stop = min(end, start + timedelta(days=days - 1))
        yield start, stop
        start = stop + timedelta(days=1)


def plan(
    provider: Provider,
    pending: dict[str, list[Span]],
    chunk: int,
    config: IngestionConfig,
    windowed: bool,
    sessions: bool,
) -> list[Request]:
    """The requests `provider` gets for the pending (item, range) pairs, items with equal ranges batched."""
    by_range: dict[Span, list[str]] = {}
    for item, spans in pending.items():
        if provider.window_days is None and spans[0].start is not None:
            # The whole history in one request: one call covers every range the item still needs.
            spans = [Span(min(s.start for s in spans), max(s.end for s in spans))]  # type: ignore[type-var]
        for span in spans:
            if span.start is None or span.end is None:
                by_range.setdefault(span, []).append(item)
                continue
            days = None
            if windowed and provider.window_days is not None:
                days = min(config.backfill_window_days, provider.window_days)
            for start, end in windows(span.start, span.end, days):
                if sessions and not has_session(start, end):
                    continue
                by_range.setdefault(Span(start, end), []).append(item)
    requests: list[Request] = []
    for span in sorted(by_range, key=lambda s: (s.start or date.min, s.end or date.min)):
        requests.extend(Request(part, span.start, span.end) for part in chunks(by_range[span], chunk))
    return requests
