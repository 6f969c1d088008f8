"""loaders.ticker_view caches each symbol's whole view, not each list's: any list, range and price basis gives what
analytics.market.ticker_frames gives over the list's bars read at once, each symbol is read once, and the symbols a
list misses are read together."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pandas as pd
import sqlalchemy as sa

from analytics import market
from dashboard.ui import loaders
from store.reads import market as market_reads


def test_per_symbol_views_join_to_the_lists_frames(app_on, sample_database_url, monkeypatch):
    engine = app_on(sample_database_url)
    read_for: Counter[str] = Counter()
    reads: list[tuple[str, ...]] = []
    real = market_reads.bars_through_copy

    def counted(conn: sa.Connection, symbols: tuple[str, ...]) -> pd.DataFrame:
        read_for.update(symbols)
        reads.append(tuple(symbols))
        return real(conn, symbols)

    monkeypatch.setattr(market_reads, "bars_through_copy", counted)
    lists = [("AAPL", "MSFT", "SPY"), ("SPY", "QQQ", "AAPL", "ZZZZ"), ("ZZZZ",), ("QQQ", "MSFT")]
    ranges = [
        (date(2019, 1, 1), date(2026, 12, 31)),
        (date(2021, 3, 1), date(2021, 6, 30)),
        (date(2031, 1, 1), date(2031, 2, 1)),
    ]
    chosen = ("SMA20", "RSI")
    for adjusted in (True, False):
        for tickers in lists:
            with engine.connect() as conn:  # the oracle: the list's bars in one read, through ticker_frames
                bars = market_reads.bars(conn, tickers)
            for start, end in ranges:
                view = loaders.ticker_view(1, tickers, adjusted, start, end, chosen)
                frames, notes = market.ticker_frames(bars, tickers, adjusted, start, end, chosen)
                assert list(view.frames) == list(tickers) and view.notes == notes
                for symbol, frame in frames.items():
                    pd.testing.assert_frame_equal(view.frames[symbol], frame, check_freq=False)
                shown = [t for t in tickers if not frames[t].empty]
                assert view.primary == (shown[0] if shown else None)
                if view.primary is not None:
                    own = bars[bars["symbol"] == view.primary]
                    last = pd.Timestamp(own["date"].max())
                    first = (last - pd.Timedelta(days=loaders.QUOTE_HISTORY_DAYS)).date()
                    quoted, _ = market.ticker_frames(own, [view.primary], adjusted, first, last)
                    pd.testing.assert_frame_equal(
                        view.quote, quoted[view.primary][["open", "high", "low", "close", "volume"]], check_freq=False
                    )
                stored = {t: sorted(bars.loc[bars["symbol"] == t, "source"].unique()) for t in tickers}
                assert view.sources == stored and ("ZZZZ" not in tickers or stored["ZZZZ"] == [])
    # Each symbol read once per price basis, whatever the lists and ranges it appeared in.
    assert read_for == dict.fromkeys(("AAPL", "MSFT", "SPY", "QQQ", "ZZZZ"), 2)
    # One read per list that misses any: the first list's three, then what the second adds; none for the others.
    assert reads == [("AAPL", "MSFT", "SPY"), ("QQQ", "ZZZZ")] * 2
