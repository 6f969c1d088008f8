"""Saved indices: a definition computed from the stored data (the page and the worker), and the stored levels.

One function turns a saved definition into an `analytics.index.IndexResult`, so the Index page (composition,
changes, turnover of what the user is looking at) and the worker's `derive.index_levels` task (the daily levels
the page and the API read) never disagree. The task recomputes every saved index after each prices run that
wrote rows, and one index when it is saved; a definition that cannot be computed (its tickers have no prices
any more, say) keeps its last levels and records why, and never stops the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from analytics.index import IndexResult, build_index
from store import indices
from store.errors import first_line
from store.indices import IndexDefinition
from store.reads import core
from store.reads import index as index_reads
from store.reads import market as market_reads

log = logging.getLogger(__name__)

# Ranking at the first rebalance looks back 60 sessions of dollar volume: read about four months before the start.
RANKING_LOOKBACK = timedelta(days=130)


def build_kwargs(definition: IndexDefinition) -> dict:
    """build_index's keyword arguments for a definition (the universe is read separately)."""
    return {
        "top_n": definition.top_n,
        "weighting": definition.weighting,
        "cap": definition.cap,
        "rebalance": definition.rebalance,
        "base": definition.base,
        "cost_bps": definition.cost_bps,
    }


def compute(conn: sa.Connection, definition: IndexDefinition, end: date | None = None) -> IndexResult:
    """The index a definition describes, on the stored data up to `end` (None: all). ValueError with a page-ready
    reason when it cannot be built (empty universe, no prices, N larger than the universe...)."""
    definition = definition.check()
    symbols = index_reads.universe_symbols(conn, definition)
    read_from = definition.start - RANKING_LOOKBACK if definition.start else None
    ranked = definition.top_n is not None or definition.weighting == "cap"
    # Share counts, raw closes and dollar volumes only rank: an unranked index reads its prices alone.
    inputs = index_reads.index_inputs(conn, symbols, read_from, end) if ranked else None
    prices = inputs.prices if inputs is not None else market_reads.adjusted_closes(conn, symbols, read_from, end)
    priced = set(prices.columns[prices.notna().any()]) if not prices.empty else set()
    missing = sorted(set(symbols) - priced)
    if definition.universe == "tickers" and missing:
        more = " …" if len(missing) > 10 else ""
        raise ValueError(f"no stored prices for {', '.join(missing[:10])}{more}")
    if not priced:
        since = f" from {definition.start}" if definition.start else ""
        raise ValueError(f"no stored prices for this universe{since}")
    start = definition.start
    if start is not None and pd.Timestamp(start) < prices.index[0]:
        start = None  # before the data: from its first session (said by the page)
    return build_index(
        prices,
        **(inputs.ranking() if inputs is not None else {}),
        **build_kwargs(definition),
        universe=list(definition.tickers) or None,  # tickers: all priced (checked above); else every column
        start=start,
    )


def levels_frame(result: IndexResult) -> pd.DataFrame:
    """The levels as index_levels stores them."""
    frame = pd.DataFrame({"level_gross": result.gross_levels, "level_net": result.levels})
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    return frame


@dataclass
class Refresh:
    computed: list[int]
    failed: dict[int, str]


def refresh_levels(engine: sa.Engine, definition_ids: list[int] | None = None) -> Refresh:
    """Recompute and store the levels of the given saved indices (None: all of them), one at a time."""
    with engine.connect() as conn:
        version = core.data_version(conn)  # what the levels are computed from (the pages' cache key too)
    saved = indices.all_definitions(engine)
    if definition_ids is not None:
        wanted = set(definition_ids)
        saved = [s for s in saved if s.id in wanted]
    outcome = Refresh([], {})
    for item in saved:
        try:
            with engine.connect() as conn:
                result = compute(conn, item.definition)
            indices.write_levels(engine, item.id, levels_frame(result), data_version=version)
            outcome.computed.append(item.id)
        except Exception as exc:  # noqa: BLE001 - one index never fails the others; the reason is stored
            reason = first_line(exc)
            level = logging.INFO if isinstance(exc, ValueError) else logging.ERROR
            log.log(level, "index %s (%s/%s): levels not computed: %s", item.id, item.owner, item.name, reason)
            outcome.failed[item.id] = reason
            try:
                indices.record_levels_error(engine, item.id, reason, data_version=version)
            except sa.exc.SQLAlchemyError as again:
                log.error("index %s: the failure could not be recorded: %s", item.id, first_line(again))
    return outcome
