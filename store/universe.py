"""The macro universe: add a FRED series id (the one shared id rule) so the next macro ingestion run fetches it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from store import tables
from store.identifiers import normalise_series_id

log = logging.getLogger(__name__)

PENDING = "pending"
SOURCE = "fred"


@dataclass(frozen=True)
class AddSeriesResult:
    """What `add_series` did: status is "added", "reactivated" or "exists"; message is for the user."""

    series_id: str
    status: str
    message: str


def add_series(engine: sa.Engine, raw_id: str) -> AddSeriesResult:
    """Put a FRED id in the macro universe (active), with placeholder metadata until ingestion fetches it.

    A new id gets title = the id and units/frequency "pending", source "fred"; the next macro ingestion
    run fetches its metadata and observations. Idempotent: an active id is left untouched ("exists"),
    an inactive one is switched back on ("reactivated"). Invalid ids raise ValueError.
    """
    series_id = normalise_series_id(raw_id)
    series = tables.macro_series
    with engine.begin() as conn:
        inserted = conn.execute(
            insert(series)
            .values(
                series_id=series_id,
                title=series_id,
                units=PENDING,
                frequency=PENDING,
                seasonal_adjustment=None,
                last_updated=None,
                source=SOURCE,
                active=True,
            )
            .on_conflict_do_nothing(index_elements=[series.c.series_id])
            .returning(series.c.series_id)
        ).first()
        if inserted is not None:
            log.info("macro universe: added %s (pending its first fetch)", series_id)
            return AddSeriesResult(
                series_id,
                "added",
                f"{series_id} was added to the macro universe; it will be fetched on the next macro ingestion run.",
            )
        reactivated = conn.execute(
            series.update()
            .where(series.c.series_id == series_id, sa.not_(series.c.active))
            .values(active=True, updated_at=sa.func.now())
            .returning(series.c.series_id)
        ).first()
    if reactivated is not None:
        log.info("macro universe: reactivated %s", series_id)
        return AddSeriesResult(
            series_id,
            "reactivated",
            f"{series_id} was switched back on; the next macro ingestion run will update it.",
        )
    return AddSeriesResult(series_id, "exists", f"{series_id} is already in the macro universe.")
