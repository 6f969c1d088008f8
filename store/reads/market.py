"""Market reads: daily bars, adjusted closes, corporate actions, intraday quotes, sources; inputs checked first."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from store import tables
from store.identifiers import SYMBOL
from store.reads import bulk

BAR_COLUMNS = ["date", "symbol", "open", "high", "low", "close", "adj_close", "volume", "source"]
QUOTE_COLUMNS = ["symbol", "ts", "price", "volume", "source"]
MAX_SYMBOLS = 600


def clean_symbols(symbols: Iterable[str]) -> tuple[str, ...]:
    """Validated, upper-cased, sorted, de-duplicated symbols (a cache key); ValueError on a malformed one."""
    if isinstance(symbols, str):
        raise ValueError(f"expected a list of symbols, got the single string {symbols[:24]!r}")
    out = set(SYMBOL.validate(list(symbols)))
    if len(out) > MAX_SYMBOLS:
        raise ValueError(f"at most {MAX_SYMBOLS} symbols per query, got {len(out)}")
    return tuple(sorted(out))


def check_dates(start: date | None, end: date | None) -> None:
    """ValueError unless start and end are dates (or None) in order."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
            raise ValueError(f"{name} must be a date or None, got {type(value).__name__}")
    if start is not None and end is not None and start > end:
        raise ValueError(f"start {start} is after end {end}")


def _in_range(query: sa.Select, column: sa.ColumnElement, start: date | None, end: date | None) -> sa.Select:
    if start is not None:
        query = query.where(column >= start)
    if end is not None:
        query = query.where(column <= end)
    return query


def bars(
    conn: sa.Connection, symbols: Iterable[str], start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Daily bars (date as datetime64, symbol, OHLC, adj_close, volume, source) by symbol and date, inclusive range.

    Prices are float64; a bar that carries only its adjusted close (source "sample-sp500") has open, high, low and
    close NaN, and volume NaN (volume is int64 when every bar read has one, float64 otherwise).
    """
    check_dates(start, end)
    cleaned = clean_symbols(symbols)
    if not cleaned:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else object) for c in BAR_COLUMNS})
    t = tables.daily_bars
    query = _in_range(sa.select(*(t.c[c] for c in BAR_COLUMNS)).where(t.c.symbol.in_(cleaned)), t.c.date, start, end)
    frame = pd.read_sql(query.order_by(t.c.symbol, t.c.date), conn)
    frame["date"] = pd.to_datetime(frame["date"])
    # All-NULL columns (adjusted-close-only bars) come back as objects holding None: numbers with NaN instead.
    prices = ["open", "high", "low", "close", "adj_close"]
    frame[prices] = frame[prices].astype("float64")
    volume = frame["volume"]
    frame["volume"] = volume.astype("int64") if volume.notna().all() else volume.astype("float64")
    return frame


# The arrow types of BAR_COLUMNS for bars_through_copy (volume: int64, float64 with NaN where some bar has none).
BAR_TYPES = {
    "date": bulk.DATE,
    "symbol": bulk.TEXT,
    **dict.fromkeys(["open", "high", "low", "close", "adj_close"], bulk.FLOAT),
    "volume": bulk.INTEGER,
    "source": bulk.TEXT,
}


def bars_through_copy(
    conn: sa.Connection, symbols: Iterable[str], start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """`bars` read through COPY (bulk.copy_frame): the same rows and columns, a few times faster for whole histories
    (the Ticker page reads every stored bar of its tickers)."""
    check_dates(start, end)
    cleaned = clean_symbols(symbols)
    if not cleaned:
        return bars(conn, cleaned)
    t = tables.daily_bars
    query = _in_range(sa.select(*(t.c[c] for c in BAR_COLUMNS)).where(t.c.symbol.in_(cleaned)), t.c.date, start, end)
    frame = bulk.copy_frame(conn, query.order_by(t.c.symbol, t.c.date), BAR_TYPES)
    return frame if not frame.empty else bars(conn, cleaned, start, end)  # bars' column types when none is stored


def adjusted_closes(
    conn: sa.Connection, symbols: Iterable[str], start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Adjusted closes, one column per symbol (date index, ascending); NaN where a symbol has no bar.

    Read through COPY, bulk.CHUNK symbols at a time (bulk.copy_wide): the S&P 500 over seven years is a million rows.
    """
    check_dates(start, end)
    cleaned = clean_symbols(symbols)
    t = tables.daily_bars
    if not cleaned:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"), columns=pd.Index([], name="symbol"), dtype=float)

    def select(some: list[str]) -> sa.Select:
        return _in_range(
            sa.select(t.c.date, t.c.symbol, t.c.adj_close).where(t.c.symbol.in_(some)), t.c.date, start, end
        )

    types = {"date": bulk.DATE, "symbol": bulk.TEXT, "adj_close": bulk.FLOAT}
    read = bulk.copy_wide(conn, select, cleaned, types, ["adj_close"])
    if not read:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"), columns=pd.Index([], name="symbol"), dtype=float)
    return read["adj_close"]


def corporate_actions(
    conn: sa.Connection, symbols: Iterable[str], start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Splits and dividends (symbol, date, action, value, source); split value = new shares per old share."""
    check_dates(start, end)
    cleaned = clean_symbols(symbols)
    t = tables.corporate_actions
    columns = [t.c.symbol, t.c.date, t.c.action, t.c.value, t.c.source]
    query = _in_range(sa.select(*columns).where(t.c.symbol.in_(cleaned)), t.c.date, start, end)
    frame = pd.read_sql(query.order_by(t.c.symbol, t.c.date, t.c.action), conn)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def latest_quotes(conn: sa.Connection, symbols: Iterable[str], since: datetime) -> pd.DataFrame:
    """The latest intraday quote per symbol at or after `since` (symbol, ts, price, volume, source)."""
    cleaned = clean_symbols(symbols)
    t = tables.intraday_quotes
    if not cleaned:
        return pd.DataFrame(columns=QUOTE_COLUMNS)
    query = (
        sa.select(*(t.c[c] for c in QUOTE_COLUMNS))
        .where(t.c.symbol.in_(cleaned), t.c.ts >= since)
        .ext(distinct_on(t.c.symbol))
        .order_by(t.c.symbol, t.c.ts.desc())
    )
    return pd.read_sql(query, conn)


def quotes_stored(conn: sa.Connection) -> bool:
    """Whether any intraday quote is stored at all."""
    return conn.execute(sa.select(sa.exists().select_from(tables.intraday_quotes))).scalar_one()


def sources(conn: sa.Connection, symbols: Iterable[str]) -> list[str]:
    """The distinct sources of the stored bars of `symbols`, sorted."""
    return sorted({source for found in sources_by_symbol(conn, symbols).values() for source in found})


def sources_by_symbol(conn: sa.Connection, symbols: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Per symbol of `symbols` with stored bars, the distinct sources of its bars (sorted); `sources`, by symbol."""
    cleaned = clean_symbols(symbols)
    if not cleaned:
        return {}
    t = tables.daily_bars
    query = sa.select(t.c.symbol, t.c.source).where(t.c.symbol.in_(cleaned)).distinct().order_by(t.c.symbol, t.c.source)
    found: dict[str, tuple[str, ...]] = {}
    for symbol, source in conn.execute(query):
        found[symbol] = (*found.get(symbol, ()), source)
    return found


def quote_window_start(now: datetime, hours: float) -> datetime:
    """The start of a look-back window of `hours` hours (0 < hours <= 336) before `now`."""
    if not (0 < hours <= 24 * 14):
        raise ValueError(f"the look-back must be in (0, 336] hours, got {hours!r}")
    return now - timedelta(hours=hours)


KEY_STATISTICS_COLUMNS = ["symbol", "as_of", "trailing_pe", "trailing_eps", "dividend_yield", "beta", "next_earnings",
                          "source"]  # fmt: skip


def key_statistics(conn: sa.Connection, symbols: Iterable[str], as_of: date | None = None) -> pd.DataFrame:
    """Each symbol's latest key statistics seen on or before `as_of` (None: the latest of all), one row per symbol:
    symbol, as_of (date), trailing_pe, trailing_eps, dividend_yield (a fraction), beta (float64, NaN where the
    provider gave none), next_earnings (date or None), source. Symbols with none stored have no row."""
    check_dates(as_of, None)
    cleaned = clean_symbols(symbols)
    if not cleaned:
        return pd.DataFrame(columns=KEY_STATISTICS_COLUMNS)
    t = tables.key_statistics
    query = sa.select(*(t.c[c] for c in KEY_STATISTICS_COLUMNS)).where(t.c.symbol.in_(cleaned))
    if as_of is not None:
        query = query.where(t.c.as_of <= as_of)
    query = query.ext(distinct_on(t.c.symbol)).order_by(t.c.symbol, t.c.as_of.desc(), t.c.source)
    frame = pd.read_sql(query, conn)
    numbers = ["trailing_pe", "trailing_eps", "dividend_yield", "beta"]
    frame[numbers] = frame[numbers].astype("float64")
    frame["next_earnings"] = frame["next_earnings"].astype(object).where(frame["next_earnings"].notna(), None)
    return frame
