"""Index tracker reads: the stored S&P 500 list and sectors, point-in-time shares, raw closes, inputs, levels."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa

from store import tables
from store.indices import IndexDefinition
from store.reads import bulk
from store.reads.market import adjusted_closes, check_dates, clean_symbols

SP500 = "SP500"  # index_members.index_code of the S&P 500 demo bundle's list
MEMBER_COLUMNS = ["symbol", "name", "sector", "sub_industry", "date_added", "is_current"]
SHARES_COLUMNS = ["symbol", "published", "period_end", "shares", "source"]


def _in_range(query: sa.Select, column: sa.ColumnElement, start: date | None, end: date | None) -> sa.Select:
    if start is not None:
        query = query.where(column >= start)
    if end is not None:
        query = query.where(column <= end)
    return query


def sp500_loaded(conn: sa.Connection) -> bool:
    """Whether the S&P 500 list is stored (`python -m ingestion load-sample --dataset sp500` has run)."""
    m = tables.index_members
    return conn.execute(sa.select(sa.exists().where(m.c.index_code == SP500, m.c.is_current))).scalar_one()


def sp500_members(conn: sa.Connection, *, include_former: bool = False) -> pd.DataFrame:
    """The stored S&P 500 list by symbol: symbol, name, GICS sector and sub-industry, date added (datetime64; NaT
    when unknown), is_current. With `include_former`, also the former members the dataset has prices for (no
    name or sector: the name is the ticker)."""
    m, inst = tables.index_members, tables.instruments
    query = (
        sa.select(
            m.c.symbol,
            sa.func.coalesce(inst.c.name, m.c.symbol).label("name"),
            m.c.sector,
            m.c.sub_industry,
            m.c.date_added,
            m.c.is_current,
        )
        .outerjoin(inst, inst.c.symbol == m.c.symbol)
        .where(m.c.index_code == SP500)
        .order_by(m.c.symbol)
    )
    if not include_former:
        query = query.where(m.c.is_current)
    frame = pd.read_sql(query, conn)
    frame["date_added"] = pd.to_datetime(frame["date_added"])
    frame["is_current"] = frame["is_current"].astype(bool)
    return frame[MEMBER_COLUMNS]


def sectors(conn: sa.Connection) -> list[str]:
    """The GICS sectors of the current S&P 500 members, sorted."""
    m = tables.index_members
    query = (
        sa.select(m.c.sector)
        .where(m.c.index_code == SP500, m.c.is_current, m.c.sector.is_not(None))
        .distinct()
        .order_by(m.c.sector)
    )
    return list(conn.execute(query).scalars())


def universe_symbols(conn: sa.Connection, definition: IndexDefinition) -> list[str]:
    """The symbols a definition's universe names, sorted (before any top-N ranking, which `build_index` does).

    tickers: as given (input order); sector: its current S&P 500 members; sp500: the current members; top_n: the
    whole stored S&P 500 dataset, former members included (ranked at each rebalance). ValueError when the
    universe is empty here (an unknown sector, the S&P 500 dataset not loaded), with what to do about it.
    """
    definition = definition.check()
    if definition.universe == "tickers":
        return list(definition.tickers)
    members = sp500_members(conn, include_former=definition.universe == "top_n")
    if members.empty:
        raise ValueError(
            "the S&P 500 list is not stored: load it with `python -m ingestion load-sample --dataset sp500` "
            "or from the Data health page"
        )
    if definition.universe == "sector":
        members = members[members["sector"] == definition.sector]
        if members.empty:
            known = ", ".join(sectors(conn)) or "none stored"
            raise ValueError(f"no S&P 500 member in the sector {definition.sector!r} (sectors: {known})")
    return members["symbol"].tolist()


def shares_published(
    conn: sa.Connection,
    symbols: Iterable[str],
    as_of: date | None = None,
    sources: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Share counts as published: symbol, published (the filing date, datetime64), period_end (datetime64),
    shares (float64), source; by symbol, published, period_end.

    Only figures public on or before `as_of` (by filing date, never by period end; None: all). What
    `analytics.index.build_index(shares=...)` takes: it picks, at each reference date, the latest figure
    published by then. `sources` limits the origins (e.g. only the FMP filings); None: every source.
    """
    check_dates(as_of, None)
    cleaned = clean_symbols(symbols)
    s = tables.shares_outstanding
    query = sa.select(s.c.symbol, s.c.filing_date.label("published"), s.c.period_end, s.c.shares, s.c.source).where(
        s.c.symbol.in_(cleaned)
    )
    if as_of is not None:
        query = query.where(s.c.filing_date <= as_of)
    if sources is not None:
        query = query.where(s.c.source.in_(list(sources)))
    query = query.order_by(s.c.symbol, s.c.filing_date, s.c.period_end, s.c.source)
    # Through COPY (bulk.copy_frame): every figure of the S&P 500's members is 65,000 rows, read 4x faster than
    # pd.read_sql, holding a fraction of its Python objects.
    types = {"symbol": bulk.TEXT, "published": bulk.DATE, "period_end": bulk.DATE}
    return bulk.copy_frame(conn, query, {**types, "shares": bulk.FLOAT, "source": bulk.TEXT})[SHARES_COLUMNS]


@dataclass(frozen=True)
class RawCloses:
    """Closes as traded and dollar volume (close x volume), wide (dates x symbols, NaN where not stored)."""

    close: pd.DataFrame
    dollar_volume: pd.DataFrame


def raw_closes(
    conn: sa.Connection, symbols: Iterable[str], start: date | None = None, end: date | None = None
) -> RawCloses:
    """Stored closes as traded (raw_closes: split-adjusted, not dividend-adjusted) and dollar volumes of `symbols`
    in [start, end], wide with one column per requested symbol, sorted (all NaN for a symbol with none)."""
    check_dates(start, end)
    cleaned = clean_symbols(symbols)
    r = tables.raw_closes

    def select(some: list[str]) -> sa.Select:
        query = sa.select(r.c.date, r.c.symbol, r.c.close, r.c.volume).where(r.c.symbol.in_(some))
        return _in_range(query, r.c.date, start, end)

    types = {"date": bulk.DATE, "symbol": bulk.TEXT, "close": bulk.FLOAT, "volume": bulk.FLOAT}
    read = bulk.copy_wide(conn, select, cleaned, types, ["close", "volume"], every_symbol=True)
    if not read:
        empty = pd.DataFrame(
            index=pd.DatetimeIndex([], name="date", dtype="datetime64[s]"),
            columns=pd.Index(list(cleaned), name="symbol"),
            dtype="float64",
        )
        return RawCloses(empty, empty.copy())
    return RawCloses(read["close"], read["close"] * read["volume"])


@dataclass(frozen=True)
class IndexInputs:
    """Everything `analytics.index.build_index` reads from the database, shaped as it takes it:
    `build_index(inputs.prices, **inputs.ranking(), top_n=..., ...)`."""

    prices: pd.DataFrame  # adjusted closes, dates x symbols
    shares: pd.DataFrame  # long: symbol, published, period_end, shares, source
    raw_close: pd.DataFrame  # closes as traded where stored (else build_index uses the adjusted close)
    dollar_volume: pd.DataFrame  # close x volume where stored (the ranking fallback without shares)

    def ranking(self) -> dict[str, Any]:
        """The keyword arguments of build_index that rank by market cap."""
        return {"shares": self.shares, "raw_close": self.raw_close, "dollar_volume": self.dollar_volume}


def index_inputs(
    conn: sa.Connection,
    symbols: Iterable[str],
    start: date | None = None,
    end: date | None = None,
    *,
    as_of: date | None = None,
    share_sources: Iterable[str] | None = None,
) -> IndexInputs:
    """Prices, published shares, raw closes and dollar volume of `symbols` over [start, end].

    Ranking at a reference date uses data before the index's first session (60 sessions of dollar volume): read
    from a few months before the index's start and pass that start to build_index. `as_of` leaves out share
    figures published after it (None: all; build_index never uses a figure before it was published anyway).
    """
    cleaned = clean_symbols(symbols)
    raw = raw_closes(conn, cleaned, start, end)
    return IndexInputs(
        prices=adjusted_closes(conn, cleaned, start, end),
        shares=shares_published(conn, cleaned, as_of, share_sources),
        raw_close=raw.close,
        dollar_volume=raw.dollar_volume,
    )


def index_levels(
    conn: sa.Connection, definition_id: int, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """A saved index's stored levels: date index (datetime64, ascending), level_gross, level_net; empty when none."""
    check_dates(start, end)
    t = tables.index_levels
    query = _in_range(
        sa.select(t.c.date, t.c.level_gross, t.c.level_net).where(t.c.definition_id == definition_id),
        t.c.date,
        start,
        end,
    )
    frame = pd.read_sql(query.order_by(t.c.date), conn)
    frame["date"] = pd.to_datetime(frame["date"])
    frame = frame.set_index("date").astype("float64")
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    return frame
