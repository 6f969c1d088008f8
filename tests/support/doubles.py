"""Test doubles of the provider boundary (never of our database) and helpers for the job, worker and fault tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
import sqlalchemy as sa

from ingestion.datasets import DAILY_BARS
from ingestion.providers.base import (
    NotFound,
    Provider,
    with_failures,
)
from store import calendar, tables
from store.db import create_db_engine, migrate


def sessions(start: str, end: str) -> list[date]:
    return [d.date() for d in calendar.sessions_between(date.fromisoformat(start), date.fromisoformat(end))]


def synthetic_bars(symbol: str, days: list[date], base: float = 100.0) -> pd.DataFrame:
    """Consistent OHLC bars moving 0.1% a calendar day (no jumps); a bar's values depend only on its date."""
    closes = [base * (1.001 ** (d - date(2024, 1, 1)).days) for d in days]
    return pd.DataFrame(
        {
            "symbol": symbol,
            "date": days,
            "open": closes,
            "high": [c * 1.01 for c in closes],
            "low": [c * 0.99 for c in closes],
            "close": closes,
            "adj_close": closes,
            "volume": [1_000 + d.toordinal() % 1000 for d in days],
        }
    )[DAILY_BARS.columns]


class SyntheticPrices(Provider):
    """A deterministic price source for any symbol on NYSE sessions; records every call it gets.

    `behaviour(call_number, symbols)` may raise (to fail the call) or return a frame to replace the result.
    """

    def __init__(
        self,
        name: str = "synthetic",
        unknown: frozenset[str] = frozenset(),
        behaviour: Callable[[int, list[str], pd.DataFrame], pd.DataFrame | None] | None = None,
    ) -> None:
        self.name = name
        self.unknown = unknown
        self.behaviour = behaviour
        self.calls: list[tuple[list[str], date | None, date | None]] = []

    def daily_bars(self, symbols: list[str], start: date | None, end: date | None) -> pd.DataFrame:
        self.calls.append((list(symbols), start, end))
        days = sessions(str(start or "2024-01-01"), str(end or "2024-12-31"))
        known = [s for s in symbols if s not in self.unknown]
        failures = {s: f"{self.name}: no such ticker {s}" for s in symbols if s in self.unknown}
        if not known:
            raise NotFound(f"{self.name}: none of {', '.join(symbols)} found", failures)
        frame = pd.concat([synthetic_bars(s, days, base=50 + 10 * (ord(s[0]) % 7)) for s in known], ignore_index=True)
        if self.behaviour is not None:
            replaced = self.behaviour(len(self.calls), list(symbols), frame)
            if replaced is not None:
                frame = replaced
        return with_failures(frame, failures)


def expected_bars(symbols: list[str], start: str, end: str) -> int:
    return len(symbols) * len(sessions(start, end))


def migrated_engine(url: str) -> sa.Engine:
    """An engine on `url` with the schema at head."""
    engine = create_db_engine(url)
    migrate(engine)
    return engine


def bar_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(tables.daily_bars.c.symbol, sa.func.count()).group_by(tables.daily_bars.c.symbol)
        ).all()
    return dict(rows)


def duplicate_keys(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("select count(*) - count(distinct (symbol, date)) from daily_bars")).scalar_one()


def runs(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(sa.select(tables.ingestion_runs).order_by(tables.ingestion_runs.c.id)).mappings()
        ]
