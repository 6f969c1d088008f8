"""The universe: the symbols and FRED series ingestion keeps fresh. Add, deactivate, reactivate, one rule each.

Ids are checked by the one shared rule (store.identifiers: the same strings the CHECK constraints accept). A new
entry starts with placeholder metadata ("pending") until its job fetches the real one (the reference job for a
symbol's name and sector, the macro job for a series' title, units and frequency). Nothing is ever deleted:
deactivating keeps the stored history and only stops the fetching.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from store import tables
from store.identifiers import SERIES_ID, SYMBOL, Identifier

log = logging.getLogger(__name__)

PENDING = "pending"
Kind = Literal["symbol", "series"]


@dataclass(frozen=True)
class Universe:
    """Where one kind of universe entry lives and what a new one starts with."""

    kind: Kind
    rule: Identifier
    table: sa.Table
    key: str
    job: str  # the ingestion job that fetches it
    placeholder: dict[str, object]


UNIVERSES: dict[Kind, Universe] = {
    "symbol": Universe(
        "symbol",
        SYMBOL,
        tables.instruments,
        "symbol",
        "prices",
        {"asset_class": PENDING, "source": "manual"},
    ),
    "series": Universe(
        "series",
        SERIES_ID,
        tables.macro_series,
        "series_id",
        "macro",
        {"units": PENDING, "frequency": PENDING, "seasonal_adjustment": None, "last_updated": None, "source": "fred"},
    ),
}


@dataclass(frozen=True)
class Change:
    """What a universe change did: status is "added", "reactivated", "deactivated" or "unchanged"."""

    kind: Kind
    id: str
    status: str
    message: str

    @property
    def changed(self) -> bool:
        return self.status != "unchanged"


def add(engine: sa.Engine, kind: Kind, raw_id: str) -> Change:
    """Put an id in the universe (active): new, or an inactive one switched back on. Idempotent.

    Invalid ids raise ValueError with the reason (nothing is written).
    """
    spec = UNIVERSES[kind]
    item = spec.rule.normalise(raw_id)
    table, key = spec.table, spec.table.c[spec.key]
    title = "name" if kind == "symbol" else "title"
    with engine.begin() as conn:
        inserted = conn.execute(
            insert(table)
            .values({spec.key: item, title: item, "active": True, **spec.placeholder})
            .on_conflict_do_nothing(index_elements=[key])
            .returning(key)
        ).first()
        if inserted is not None:
            log.info("universe: added %s %s (pending its first fetch)", kind, item)
            return Change(kind, item, "added", f"{item} was added; the next {spec.job} run fetches it.")
        switched = _switch(conn, spec, item, True)
    if switched:
        log.info("universe: reactivated %s %s", kind, item)
        return Change(kind, item, "reactivated", f"{item} was switched back on; the next {spec.job} run updates it.")
    return Change(kind, item, "unchanged", f"{item} is already in the universe.")


def set_active(engine: sa.Engine, kind: Kind, raw_id: str, active: bool) -> Change:
    """Switch an entry on or off (its stored history stays). ValueError for an invalid or unknown id."""
    spec = UNIVERSES[kind]
    item = spec.rule.normalise(raw_id)
    with engine.begin() as conn:
        known = conn.execute(sa.select(spec.table.c[spec.key]).where(spec.table.c[spec.key] == item)).first()
        if known is None:
            raise ValueError(f"{item} is not in the universe")
        switched = _switch(conn, spec, item, active)
    if not switched:
        return Change(kind, item, "unchanged", f"{item} is already {'active' if active else 'inactive'}.")
    log.info("universe: %s %s %s", "reactivated" if active else "deactivated", kind, item)
    if active:
        return Change(kind, item, "reactivated", f"{item} was switched back on; the next {spec.job} run updates it.")
    return Change(kind, item, "deactivated", f"{item} is no longer fetched; its stored history is kept.")


def _switch(conn: sa.Connection, spec: Universe, item: str, active: bool) -> bool:
    table = spec.table
    return (
        conn.execute(
            table.update()
            .where(table.c[spec.key] == item, table.c.active.is_(not active))
            .values(active=active, updated_at=sa.func.now())
            .returning(table.c[spec.key])
        ).first()
        is not None
    )


def entries(conn: sa.Connection, kind: Kind) -> list[dict[str, object]]:
    """Every entry of one kind, active and inactive, for the operations page."""
    spec = UNIVERSES[kind]
    t = spec.table
    title = t.c.name if kind == "symbol" else t.c.title
    query = sa.select(t.c[spec.key].label("id"), title.label("name"), t.c.active, t.c.source, t.c.updated_at)
    return [dict(r) for r in conn.execute(query.order_by(t.c.active.desc(), t.c[spec.key])).mappings()]
