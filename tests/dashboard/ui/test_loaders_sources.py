"""loaders.sources remembers sources per symbol: for any list, the distinct sources of its stored bars."""

from __future__ import annotations

import sqlalchemy as sa

from dashboard.ui import loaders
from store.reads import market as market_reads


def test_sources_per_symbol_are_the_lists_sources(app_on, make_sample_database):
    """Overlapping lists (the memo filled by the first ones), a symbol with no bars, any order and case; one symbol's
    early bars from a second source, so lists differ."""
    engine = app_on(make_sample_database())
    with engine.begin() as conn:
        conn.execute(
            sa.text("update daily_bars set source = 'second-source' where symbol = 'MSFT' and date < '2020-01-01'")
        )
    lists = [["AAPL", "SPY"], ["msft", "QQQ", "AAPL", "ZZZZ"], ["^VIX", "TLT", "GLD", "SPY"], ["MSFT"], []]
    distinct = sa.text("select distinct source from daily_bars where symbol = any(:s) order by source")
    with engine.connect() as conn:  # the oracle: the bars' distinct sources, straight from the table
        expected = [list(conn.execute(distinct, {"s": [x.upper() for x in symbols]}).scalars()) for symbols in lists]
        assert [market_reads.sources(conn, symbols) for symbols in lists] == expected
        by_symbol = market_reads.sources_by_symbol(conn, ["AAPL", "MSFT", "ZZZZ"])
    assert len(expected[1]) == 2 and len(expected[0]) == 1 and expected[-1] == []  # the lists do differ
    assert set(by_symbol) == {"AAPL", "MSFT"} and "second-source" in by_symbol["MSFT"]
    assert by_symbol["MSFT"] == tuple(sorted(by_symbol["MSFT"]))

    got = [loaders.sources(1, symbols) for symbols in [*lists, *reversed(lists)]]
    assert got == [*expected, *reversed(expected)]
    assert loaders._sources_by_symbol(1)["ZZZZ"] == ()  # known to have none: not read again
