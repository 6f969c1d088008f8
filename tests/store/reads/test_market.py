"""Market reads (through the pages' cached loaders) and watchlists on real PostgreSQL, hypothesis over inputs."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
import streamlit as st
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from dashboard.ui import loaders
from store import watchlists
from store.db import get_engine
from store.reads.market import BAR_COLUMNS
from tests.conftest import ROOT
from tests.support.market_data import load_yahoo_aapl, yahoo_bars_and_actions

SAMPLE_AAPL = pd.read_csv(ROOT / "data" / "sample" / "prices" / "AAPL.csv", parse_dates=["Date"])


@pytest.fixture
def sample_db(engine_for, sample_database_url):
    engine_for(sample_database_url)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def yahoo_db(engine_for, make_database):
    url = make_database()
    load_yahoo_aapl(url, with_quotes=True)
    engine_for(url)
    st.cache_data.clear()
    yield url
    st.cache_data.clear()


def test_bars_over_a_range_match_the_sample_file(sample_db):
    frame = loaders.bars(1, ["msft", "AAPL"], date(2024, 1, 1), date(2024, 3, 31))
    assert list(frame.columns) == BAR_COLUMNS
    assert set(frame["symbol"]) == {"AAPL", "MSFT"}
    assert frame["date"].min() >= pd.Timestamp("2024-01-01") and frame["date"].max() <= pd.Timestamp("2024-03-31")
    aapl = frame[frame["symbol"] == "AAPL"].set_index("date")
    expected = SAMPLE_AAPL.set_index("Date").loc["2024-01-01":"2024-03-31"]
    assert len(aapl) == len(expected)
    assert aapl["close"].to_numpy() == pytest.approx(expected["Close"].to_numpy(), rel=1e-12)
    assert (aapl["volume"].to_numpy() == expected["Volume"].to_numpy()).all()


def test_bars_without_bounds_give_the_whole_history_and_unknown_symbols_nothing(sample_db):
    full = loaders.bars(1, ["AAPL"])
    assert len(full) == len(SAMPLE_AAPL)
    assert loaders.bars(1, ["NOPE"]).empty
    assert loaders.bars(1, []).empty


def test_symbol_spans_cover_the_universe(sample_db):
    spans = loaders.symbol_spans(1).set_index("symbol")
    assert len(spans) == 35
    assert spans.loc["AAPL", "first"] == date(2019, 1, 2) and spans.loc["AAPL", "last"] == date(2026, 6, 25)


def test_bars_through_copy_are_the_bars(sample_database_url, yahoo_db):
    """The Ticker page's COPY read gives the frame `bars` gives: on the sample (whole history, a range, nothing
    stored) and on Yahoo's as-traded AAPL; symbol_dates gives symbol_spans' dates."""
    from store.reads import core, market

    for url in (sample_database_url, yahoo_db):
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            for symbols, start, end in (
                (["AAPL", "MSFT", "SPY"], None, None),
                (["AAPL"], date(2020, 9, 1), date(2020, 10, 31)),
                (["AAPL", "NOPE"], None, date(2020, 9, 30)),
                (["NOPE"], None, None),
            ):
                pd.testing.assert_frame_equal(
                    market.bars_through_copy(conn, symbols, start, end), market.bars(conn, symbols, start, end)
                )
            assert market.bars_through_copy(conn, []).empty
            pd.testing.assert_frame_equal(core.symbol_dates(conn), core.symbol_spans(conn).drop(columns="bars"))
        engine.dispose()


@pytest.mark.parametrize(
    ("symbols", "start", "end", "message"),
    [
        (["AAPL; DROP TABLE daily_bars"], None, None, "invalid symbol"),
        (["A" * 17], None, None, "invalid symbol"),
        ([""], None, None, "invalid symbol"),
        ([42], None, None, "not text"),
        (["AAPL"], date(2024, 2, 1), date(2024, 1, 1), "after end"),
        (["AAPL"], "2024-01-01", None, "must be a date"),
    ],
)
def test_bad_query_input_is_a_clear_value_error(sample_db, symbols, start, end, message):
    with pytest.raises(ValueError, match=message):
        loaders.bars(1, symbols, start, end)


def test_corporate_actions_and_raw_closes_are_stored_as_yahoo_reports_them(yahoo_db):
    actions = loaders.corporate_actions(1, ["AAPL"])
    assert actions[["action", "value"]].to_dict("records") == [
        {"action": "split", "value": 4.0},
        {"action": "dividend", "value": 0.205},
    ]
    assert [d.date() for d in actions["date"]] == [date(2020, 8, 31), date(2020, 11, 6)]
    assert loaders.corporate_actions(1, ["AAPL"], date(2020, 9, 1), date(2020, 10, 1)).empty
    bars = loaders.bars(1, ["AAPL"]).set_index("date")
    first = bars.loc["2020-08-31"]
    assert first["close"] == pytest.approx(129.04, abs=0.005)  # post-split raw close on the split day
    assert first["adj_close"] == pytest.approx(125.8267, abs=1e-3)  # dividend-adjusted


def test_latest_quote_per_symbol(yahoo_db):
    quotes = loaders.latest_quotes(["AAPL", "MSFT"])
    assert quotes[["symbol", "price", "volume"]].to_dict("records") == [
        {"symbol": "AAPL", "price": 121.5, "volume": 2500}
    ]
    assert loaders.quotes_stored()
    with pytest.raises(ValueError, match="look-back"):
        loaders.latest_quotes(["AAPL"], since_hours=0)


def test_yahoo_fixture_is_the_real_payload():
    bars, actions = yahoo_bars_and_actions()
    assert len(bars) == 49 and bars["date"].min() == date(2020, 8, 31)
    assert set(actions["action"]) == {"split", "dividend"}


# -- watchlists -------------------------------------------------------------------------------------


def test_default_watchlist_is_seeded_once_and_users_get_their_own(yahoo_db, engine_for):
    lists = loaders.watchlists("alice")
    assert [(w.name, w.symbols, w.is_default) for w in lists] == [
        (watchlists.DEFAULT_NAME, watchlists.DEFAULT_SYMBOLS, True)
    ]
    watchlists.ensure_default(get_engine())  # idempotent: still one default list
    assert len(loaders.watchlists(None)) == 1

    saved = loaders.save_watchlist("alice", " Tech ", ["nvda", "AAPL", "NVDA"])
    assert saved == watchlists.Watchlist("Tech", ("NVDA", "AAPL"), "alice")
    assert [(w.name, w.symbols) for w in loaders.watchlists("alice")] == [("Tech", ("NVDA", "AAPL"))]
    assert loaders.watchlists("bob")[0].is_default  # bob has none of his own

    loaders.save_watchlist("alice", "Tech", ["MSFT"])  # same name: replaced, not duplicated
    assert [(w.name, w.symbols) for w in loaders.watchlists("alice")] == [("Tech", ("MSFT",))]
    assert loaders.delete_watchlist("alice", "Tech") is True
    assert loaders.watchlists("alice")[0].is_default
    assert loaders.delete_watchlist("alice", watchlists.DEFAULT_NAME) is False  # the default is not hers to delete


@pytest.mark.parametrize(
    ("user", "name", "symbols", "message"),
    [
        ("", "x", ["AAPL"], "signed-in"),
        ("alice", "  ", ["AAPL"], "needs a name"),
        ("alice", "n" * 65, ["AAPL"], "at most 64"),
        ("alice", "x", [], "at least one symbol"),
        ("alice", "x", ["AA PL"], "invalid symbol"),
        ("alice", "x", [f"S{i}" for i in range(51)], "at most 50"),
    ],
)
def test_bad_watchlists_are_refused(yahoo_db, user, name, symbols, message):
    with pytest.raises(ValueError, match=message):
        loaders.save_watchlist(user, name, symbols)


def test_unknown_symbols_are_refused_when_the_universe_is_given(yahoo_db):
    with pytest.raises(ValueError, match="unknown symbols: ZZZ"):
        loaders.save_watchlist("alice", "x", ["AAPL", "ZZZ"], known={"AAPL"})


# -- property-based: whatever reaches a query, no uncaught exception --------------------------------

symbol_text = hs.one_of(
    hs.text(max_size=20),
    hs.sampled_from(["AAPL", "aapl", "SPY", "BRK.B", "^GSPC", "EURUSD=X", "'; --", "A" * 16, "ÄPFEL", "\x00"]),
)
some_date = hs.one_of(hs.none(), hs.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(symbols=hs.lists(symbol_text, max_size=6), start=some_date, end=some_date)
def test_bars_never_fail_uncaught(sample_db, symbols, start, end):
    try:
        frame = loaders.bars(1, symbols, start, end)
    except ValueError:
        return
    assert list(frame.columns) == BAR_COLUMNS
    assert set(frame["symbol"]) <= {s.strip().upper() for s in symbols}
    if start is not None and not frame.empty:
        assert frame["date"].min() >= pd.Timestamp(start)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(symbols=hs.lists(symbol_text, max_size=4), start=some_date, end=some_date)
def test_corporate_actions_never_fail_uncaught(sample_db, symbols, start, end):
    try:
        frame = loaders.corporate_actions(1, symbols, start, end)
    except ValueError:
        return
    assert frame.empty  # the sample has no corporate actions


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hs.text(max_size=70), symbols=hs.lists(symbol_text, max_size=5))
def test_watchlist_save_never_fails_uncaught(yahoo_db, name, symbols):
    try:
        saved = loaders.save_watchlist("hypo", name, symbols)
    except ValueError:
        return
    assert saved in loaders.watchlists("hypo")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hours=hs.floats(allow_nan=True, allow_infinity=True), symbols=hs.lists(symbol_text, max_size=4))
def test_quotes_never_fail_uncaught(yahoo_db, hours, symbols):
    try:
        frame = loaders.latest_quotes(symbols, hours)
    except ValueError:
        return
    assert set(frame["symbol"]) <= {"AAPL"}


def test_dates_far_apart_are_fine(sample_db):
    assert len(loaders.bars(1, ["SPY"], date(1, 1, 1), date(9999, 12, 31))) == len(loaders.bars(1, ["SPY"]))
    assert loaders.bars(1, ["SPY"], date(2030, 1, 1), date(2030, 1, 1) + timedelta(days=1)).empty
