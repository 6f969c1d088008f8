"""Watchlists: per-user lists (owner = username) with a shared default list (owner NULL) seeded at first use."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from store import tables
from store.identifiers import SYMBOL

log = logging.getLogger(__name__)

DEFAULT_NAME = "Mega caps"
# The largest US companies by market cap in the bundled universe, plus the S&P 500 ETF as the yardstick.
DEFAULT_SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "SPY")
MAX_SYMBOLS = 50
MAX_NAME = 64


@dataclass(frozen=True)
class Watchlist:
    name: str
    symbols: tuple[str, ...]
    owner: str | None  # None: the shared default list

    @property
    def is_default(self) -> bool:
        return self.owner is None


def _rows(conn: sa.Connection, owner: str | None) -> list[Watchlist]:
    t = tables.watchlists
    owner_match = t.c.owner.is_(None) if owner is None else t.c.owner == owner
    rows = conn.execute(sa.select(t.c.owner, t.c.name, t.c.symbols).where(owner_match).order_by(t.c.name)).all()
    return [Watchlist(r.name, tuple(r.symbols), r.owner) for r in rows]


def ensure_default(engine: sa.Engine) -> None:
    """Create the default list once (a no-op when it exists, also under concurrent first uses)."""
    t = tables.watchlists
    with engine.begin() as conn:
        conn.execute(
            insert(t)
            .values(owner=None, name=DEFAULT_NAME, symbols=list(DEFAULT_SYMBOLS))
            .on_conflict_do_nothing(constraint="uq_watchlists_owner_name")
        )


def lists_for(engine: sa.Engine, username: str | None) -> list[Watchlist]:
    """The user's own lists when they have saved any, otherwise the default list(s)."""
    with engine.connect() as conn:
        own = _rows(conn, username) if username else []
        if own:
            return own
        defaults = _rows(conn, None)
    if not defaults:
        ensure_default(engine)
        with engine.connect() as conn:
            defaults = _rows(conn, None)
    return defaults


def _validate(username: str, name: str, symbols: list[str]) -> tuple[str, list[str]]:
    if not username or not isinstance(username, str):
        raise ValueError("only a signed-in user can save a watchlist")
    name = (name or "").strip()
    if not name:
        raise ValueError("a watchlist needs a name")
    if len(name) > MAX_NAME:
        raise ValueError(f"a watchlist name has at most {MAX_NAME} characters")
    if not name.isprintable():
        raise ValueError("a watchlist name cannot contain control characters")
    cleaned = SYMBOL.validate(symbols)
    if not cleaned:
        raise ValueError("a watchlist needs at least one symbol")
    if len(cleaned) > MAX_SYMBOLS:
        raise ValueError(f"a watchlist holds at most {MAX_SYMBOLS} symbols")
    return name, cleaned


def save(
    engine: sa.Engine, username: str, name: str, symbols: Iterable[str], known: Iterable[str] | None = None
) -> Watchlist:
    """Create or replace the user's list `name`; symbols keep the order given. ValueError on bad input."""
    name, ordered = _validate(username, name, list(symbols))
    if known is not None:
        missing = sorted(set(ordered) - set(known))
        if missing:
            raise ValueError(f"unknown symbols: {', '.join(missing)}")
    t = tables.watchlists
    stmt = insert(t).values(owner=username, name=name, symbols=ordered)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_watchlists_owner_name", set_={"symbols": stmt.excluded.symbols, "updated_at": sa.func.now()}
    )
    with engine.begin() as conn:
        conn.execute(stmt)
    log.info("watchlist saved: owner=%s name=%s symbols=%d", username, name, len(ordered))
    return Watchlist(name, tuple(ordered), username)


def delete(engine: sa.Engine, username: str, name: str) -> bool:
    """Delete the user's list `name` (never the default); True when a row was deleted."""
    if not username:
        raise ValueError("only a signed-in user can delete a watchlist")
    t = tables.watchlists
    with engine.begin() as conn:
        result = conn.execute(t.delete().where(t.c.owner == username, t.c.name == name))
    return result.rowcount > 0
