"""One declaration per dataset: its record columns, table, item key, provider fetcher and validator.

Adding a dataset is one `Dataset(...)` here (plus the provider methods that fetch it); the writer reads the
conflict keys from the table's primary key, and jobs name datasets by these declarations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ingestion import validate as checks
from ingestion.validate import Validated
from store import tables


@dataclass(frozen=True)
class Dataset:
    """How one kind of standard record is fetched, checked and stored."""

    name: str  # also the table's name
    table: sa.Table
    key: str  # the item column: symbol or series_id
    columns: list[str]  # the standard record every provider returns (see providers/base.py)
    fetch: str  # the Provider method
    ranged: bool  # the fetcher takes a start and an end date
    validate: Callable[[pd.DataFrame, sa.Engine], Validated]

    @property
    def conflict_keys(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.table.primary_key.columns)

    def call(self, provider, items: list[str], start: date | None, end: date | None) -> pd.DataFrame:
        method = getattr(provider, self.fetch)
        return method(items, start, end) if self.ranged else method(items)


def previous_closes(engine: sa.Engine, bars: pd.DataFrame) -> dict[str, float]:
    """Each symbol's last stored adjusted close before its first date in `bars` (for the jump check)."""
    if bars.empty:
        return {}
    firsts = bars.groupby("symbol")["date"].min()
    t = tables.daily_bars
    lookup = sa.values(sa.column("symbol", sa.String), sa.column("first", sa.Date), name="firsts").data(
        list(zip(firsts.index, firsts.to_numpy(), strict=True))
    )
    ranked = (
        sa.select(
            t.c.symbol,
            t.c.adj_close,
            sa.func.row_number().over(partition_by=t.c.symbol, order_by=t.c.date.desc()).label("rank"),
        )
        .join(lookup, sa.and_(t.c.symbol == lookup.c.symbol, t.c.date < lookup.c.first))
        .subquery()
    )
    query = sa.select(ranked.c.symbol, ranked.c.adj_close).where(ranked.c.rank == 1)
    with engine.connect() as conn:
        return {row.symbol: row.adj_close for row in conn.execute(query)}


DAILY_BARS = Dataset(
    "daily_bars",
    tables.daily_bars,
    "symbol",
    ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume"],
    "daily_bars",
    True,
    lambda frame, engine: checks.validate_daily_bars(frame, previous_closes(engine, frame)),
)
INTRADAY_QUOTES = Dataset(
    "intraday_quotes",
    tables.intraday_quotes,
    "symbol",
    ["symbol", "ts", "price", "volume"],  # ts: tz-aware UTC timestamp
    "intraday_quotes",
    False,
    lambda frame, engine: checks.validate_intraday_quotes(frame),
)
MACRO_OBSERVATIONS = Dataset(
    "macro_observations",
    tables.macro_observations,
    "series_id",
    ["series_id", "date", "value"],
    "macro_observations",
    True,
    lambda frame, engine: checks.validate_macro_observations(frame),
)
MACRO_SERIES = Dataset(
    "macro_series",
    tables.macro_series,
    "series_id",
    ["series_id", "title", "units", "frequency", "seasonal_adjustment", "last_updated"],
    "series_metadata",
    False,
    lambda frame, engine: checks.validate_series_metadata(frame),
)
INSTRUMENTS = Dataset(
    "instruments",
    tables.instruments,
    "symbol",
    ["symbol", "name", "asset_class", "sector", "industry", "currency"],
    "instruments",
    False,
    lambda frame, engine: checks.validate_instruments(frame),
)
SHARES_OUTSTANDING = Dataset(
    "shares_outstanding",
    tables.shares_outstanding,
    "symbol",
    # period_end: the day the figure describes; filing_date: the day it became public (point in time).
    ["symbol", "period_end", "filing_date", "shares"],
    "shares_outstanding",
    True,
    lambda frame, engine: checks.validate_shares_outstanding(frame),
)
RAW_CLOSES = Dataset(
    "raw_closes",
    tables.raw_closes,
    "symbol",
    ["symbol", "date", "close", "volume"],  # close as traded (split-adjusted, not dividend-adjusted)
    "raw_closes",
    True,
    lambda frame, engine: checks.validate_raw_closes(frame),
)
INDEX_MEMBERS = Dataset(
    "index_members",
    tables.index_members,
    "symbol",
    ["index_code", "symbol", "is_current", "sector", "sub_industry", "date_added"],
    "index_members",
    False,
    lambda frame, engine: checks.validate_index_members(frame),
)
CORPORATE_ACTIONS = Dataset(
    "corporate_actions",
    tables.corporate_actions,
    "symbol",
    ["symbol", "date", "action", "value"],  # action: split | dividend
    "corporate_actions",
    True,
    lambda frame, engine: checks.validate_corporate_actions(frame),
)

OPTION_QUOTES = Dataset(
    "option_quotes",
    tables.option_quotes,
    "symbol",  # the underlying
    # One row per contract per session. bid/ask/last: as published (NaN where the source has none; 0/0 = not quoted);
    # provider_iv: decimal; snapshot_ts / last_trade_ts: tz-aware UTC or NaT; delta_inconsistent: the source's flag.
    [
        "symbol",
        "session_date",
        "expiration",
        "type",
        "strike",
        "bid",
        "ask",
        "last",
        "volume",
        "open_interest",
        "provider_iv",
        "provider_delta",
        "delta_inconsistent",
        "underlying_price",
        "snapshot_ts",
        "last_trade_ts",
    ],
    "option_chains",
    False,
    lambda frame, engine: checks.validate_option_quotes(frame),
)

KEY_STATISTIC_COLUMNS = ["trailing_pe", "trailing_eps", "dividend_yield", "beta"]


def validate_key_statistics(stats: pd.DataFrame) -> Validated:
    """A symbol and the day the figures were seen; each figure finite when given (NaN: not given), a P/E positive
    (a provider leaves it out for a loss) and a dividend yield a fraction in [0, 1) (1 or more is a percentage
    sent as a fraction's number: refused, never shown a hundred times too high); one row per symbol and day."""
    numbers = stats[KEY_STATISTIC_COLUMNS].apply(pd.to_numeric, errors="coerce")
    given = stats[KEY_STATISTIC_COLUMNS].notna()
    checks = [
        (stats[["symbol", "as_of"]].isna().any(axis=1), "missing value"),
        ((given & ~np.isfinite(numbers)).any(axis=1), "not a number"),  # text, or infinite
        (numbers["trailing_pe"] <= 0, "non-positive P/E"),
        ((numbers["dividend_yield"] < 0) | (numbers["dividend_yield"] >= 1), "dividend yield not a fraction in [0, 1)"),
        (stats.duplicated(["symbol", "as_of"], keep="first"), "duplicate figure"),
    ]
    reasons = pd.Series(np.nan, index=stats.index, dtype=object)
    for failed, reason in reversed(checks):  # each row gets the first reason that applies
        reasons = reasons.mask(failed.fillna(False).astype(bool), reason)
    bad = reasons.notna()
    valid = stats[~bad].assign(**{c: numbers.loc[~bad, c] for c in KEY_STATISTIC_COLUMNS})
    rejected = stats[bad].assign(reason=reasons[bad])
    return Validated(valid=valid.reset_index(drop=True), rejected=rejected.reset_index(drop=True))


KEY_STATISTICS = Dataset(
    "key_statistics",
    tables.key_statistics,
    "symbol",
    # as_of: the day the figures were read (the provider keeps no history of them); next_earnings: a date or None.
    ["symbol", "as_of", *KEY_STATISTIC_COLUMNS, "next_earnings"],
    "key_statistics",
    False,
    lambda frame, engine: validate_key_statistics(frame),
)

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        DAILY_BARS,
        INTRADAY_QUOTES,
        MACRO_OBSERVATIONS,
        MACRO_SERIES,
        INSTRUMENTS,
        SHARES_OUTSTANDING,
        CORPORATE_ACTIONS,
        RAW_CLOSES,
        INDEX_MEMBERS,
        OPTION_QUOTES,
        KEY_STATISTICS,
    )
}
