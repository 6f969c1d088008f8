"""Reads of stored option chains (option_quotes): which underlyings and sessions, one session's chain, many sessions.

Every read is a range of the table's key (symbol, session_date, ...). Many sessions go through COPY (`bulk`): the
63-session SPY history is about 257k rows.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from store import tables
from store.identifiers import SYMBOL
from store.reads import bulk
from store.reads import macro as macro_reads
from store.reads.market import check_dates

TREASURY_SERIES = ("DGS1MO", "DGS3MO", "DGS6MO", "DGS1", "DGS2")  # the short end a chain's rates come from

# What a chain read returns, in order (the columns analytics.options.chain_greeks and select_contract_series read,
# plus the provider's own figures and the quality marks).
CHAIN_TYPES: dict[str, pa.DataType] = {
    "underlying": bulk.TEXT,
    "session_date": bulk.DATE,
    "expiration": bulk.DATE,
    "type": bulk.TEXT,
    "strike": bulk.FLOAT,
    "bid": bulk.FLOAT,
    "ask": bulk.FLOAT,
    "price": bulk.FLOAT,  # the last trade price
    "volume": bulk.FLOAT,
    "open_interest": bulk.FLOAT,
    "provider_iv": bulk.FLOAT,
    "delta": bulk.FLOAT,  # the source's delta (analytics reports it beside ours as source_delta)
    "delta_inconsistent": pa.bool_(),
    "underlying_close": bulk.FLOAT,
    "snapshot_ts": pa.timestamp("us", tz="UTC"),
    "last_trade_ts": pa.timestamp("us", tz="UTC"),
    "source": bulk.TEXT,
}


def _chain_query(symbol: str) -> sa.Select:
    t = tables.option_quotes
    columns = [
        t.c.symbol.label("underlying"),
        t.c.session_date,
        t.c.expiration,
        t.c.type,
        t.c.strike,
        t.c.bid,
        t.c.ask,
        t.c.last.label("price"),
        t.c.volume,
        t.c.open_interest,
        t.c.provider_iv,
        t.c.provider_delta.label("delta"),
        t.c.delta_inconsistent,
        t.c.underlying_price.label("underlying_close"),
        t.c.snapshot_ts,
        t.c.last_trade_ts,
        t.c.source,
    ]
    return sa.select(*columns).where(t.c.symbol == SYMBOL.validate([symbol])[0])


def underlyings(conn: sa.Connection) -> pd.DataFrame:
    """Underlyings with stored chains: symbol, first and last session, sessions, rows, sources (comma-separated)."""
    t = tables.option_quotes
    query = (
        sa.select(
            t.c.symbol,
            sa.func.min(t.c.session_date).label("first"),
            sa.func.max(t.c.session_date).label("last"),
            sa.func.count(sa.distinct(t.c.session_date)).label("sessions"),
            sa.func.count().label("rows"),
            sa.func.string_agg(sa.distinct(t.c.source), sa.literal_column("', '")).label("sources"),
        )
        .group_by(t.c.symbol)
        .order_by(t.c.symbol)
    )
    return pd.read_sql(query, conn)


def sessions(conn: sa.Connection, symbol: str) -> list[date]:
    """The sessions with a stored chain for `symbol`, ascending."""
    t = tables.option_quotes
    query = sa.select(t.c.session_date).where(t.c.symbol == SYMBOL.validate([symbol])[0]).distinct()
    return sorted(conn.execute(query).scalars())


def chain(conn: sa.Connection, symbol: str, session: date) -> pd.DataFrame:
    """One session's chain of `symbol` (CHAIN_TYPES columns; expiration, type, strike ascending); empty if none."""
    t = tables.option_quotes
    query = _chain_query(symbol).where(t.c.session_date == session).order_by(t.c.expiration, t.c.type, t.c.strike)
    return bulk.copy_frame(conn, query, CHAIN_TYPES)


def chains(
    conn: sa.Connection,
    symbol: str,
    start: date | None = None,
    end: date | None = None,
    kind: str | None = None,
    max_days: int | None = None,
    min_days: int | None = None,
) -> pd.DataFrame:
    """Every stored session of `symbol` in [start, end] (CHAIN_TYPES columns; by session, expiration, strike).

    `kind` "C" or "P" keeps one type; `max_days` / `min_days` keep expiries at most / more than that many calendar
    days after their session.
    """
    check_dates(start, end)
    t = tables.option_quotes
    query = _chain_query(symbol)
    if start is not None:
        query = query.where(t.c.session_date >= start)
    if end is not None:
        query = query.where(t.c.session_date <= end)
    if kind is not None:
        if kind not in ("C", "P"):
            raise ValueError(f"kind must be 'C' or 'P', got {kind!r}")
        query = query.where(t.c.type == kind)
    if max_days is not None:
        query = query.where(t.c.expiration - t.c.session_date <= int(max_days))
    if min_days is not None:
        query = query.where(t.c.expiration - t.c.session_date > int(min_days))
    query = query.order_by(t.c.session_date, t.c.expiration, t.c.type, t.c.strike)
    return bulk.copy_frame(conn, query, CHAIN_TYPES)


def treasury_yields(conn: sa.Connection, end: date | None = None) -> pd.DataFrame:
    """Stored short-end Treasury yields in percent (DatetimeIndex x the TREASURY_SERIES stored), up to `end`."""
    return macro_reads.wide_observations(conn, TREASURY_SERIES, end=end)


def dividends(conn: sa.Connection, symbol: str, end: date | None = None) -> pd.Series:
    """Cash dividends of `symbol` by ex-date (DatetimeIndex), up to `end`; empty when none is stored."""
    t = tables.corporate_actions
    query = sa.select(t.c.date, t.c.value).where(t.c.symbol == SYMBOL.validate([symbol])[0], t.c.action == "dividend")
    if end is not None:
        query = query.where(t.c.date <= end)
    rows = conn.execute(query.order_by(t.c.date)).all()
    index = pd.DatetimeIndex([pd.Timestamp(r.date) for r in rows], name="date")
    return pd.Series([float(r.value) for r in rows], index=index, name=symbol, dtype="float64")
