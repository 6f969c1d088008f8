"""Market queries and watchlists on real PostgreSQL: ranges, actions, quotes, validation, hypothesis over inputs."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
import streamlit as st
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from dashboard import watchlists
from dashboard.queries import market as mq
from tests.conftest import ROOT
from tests.dashboard.market_data import load_yahoo_aapl, yahoo_bars_and_actions

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
    frame = mq.bars(1, ["msft", "AAPL"], date(2024, 1, 1), date(2024, 3, 31))
    assert list(frame.columns) == mq.BAR_COLUMNS
    assert set(frame["symbol"]) == {"AAPL", "MSFT"}
    assert frame["date"].min() >= pd.Timestamp("2024-01-01") and frame["date"].max() <= pd.Timestamp("2024-03-31")
    aapl = frame[frame["symbol"] == "AAPL"].set_index("date")
    expected = SAMPLE_AAPL.set_index("Date").loc["2024-01-01":"2024-03-31"]
    assert len(aapl) == len(expected)
    assert aapl["close"].to_numpy() == pytest.approx(expected["Close"].to_numpy(), rel=1e-12)
    assert (aapl["volume"].to_numpy() == expected["Volume"].to_numpy()).all()


def test_bars_without_bounds_give_the_whole_history_and_unknown_symbols_nothing(sample_db):
    full = mq.bars(1, ["AAPL"])
    assert len(full) == len(SAMPLE_AAPL)
    assert mq.bars(1, ["NOPE"]).empty
    assert mq.bars(1, []).empty


def test_symbol_spans_cover_the_universe(sample_db):
    spans = mq.symbol_spans(1).set_index("symbol")
    assert len(spans) == 35
    assert spans.loc["AAPL", "first"] == date(2019, 1, 2) and spans.loc["AAPL", "last"] == date(2026, 6, 25)


@pytest.mark.parametrize(
    ("symbols", "start", "end", "message"),
    [
        (["AAPL; DROP TABLE daily_bars"], None, None, "malformed symbol"),
        (["A" * 17], None, None, "malformed symbol"),
        ([""], None, None, "malformed symbol"),
        ([42], None, None, "must be text"),
        (["AAPL"], date(2024, 2, 1), date(2024, 1, 1), "after end"),
        (["AAPL"], "2024-01-01", None, "must be a date"),
    ],
)
def test_bad_query_input_is_a_clear_value_error(sample_db, symbols, start, end, message):
    with pytest.raises(ValueError, match=message):
        mq.bars(1, symbols, start, end)


def test_corporate_actions_and_raw_closes_are_stored_as_yahoo_reports_them(yahoo_db):
    actions = mq.corporate_actions(1, ["AAPL"])
    assert actions[["action", "value"]].to_dict("records") == [
        {"action": "split", "value": 4.0},
        {"action": "dividend", "value": 0.205},
    ]
    assert [d.date() for d in actions["date"]] == [date(2020, 8, 31), date(2020, 11, 6)]
    assert mq.corporate_actions(1, ["AAPL"], date(2020, 9, 1), date(2020, 10, 1)).empty
    bars = mq.bars(1, ["AAPL"]).set_index("date")
    first = bars.loc["2020-08-31"]
    assert first["close"] == pytest.approx(129.04, abs=0.005)  # post-split raw close on the split day
    assert first["adj_close"] == pytest.approx(125.8267, abs=1e-3)  # dividend-adjusted


def test_latest_quote_per_symbol(yahoo_db):
    quotes = mq.latest_quotes(["AAPL", "MSFT"])
    assert quotes[["symbol", "price", "volume"]].to_dict("records") == [
        {"symbol": "AAPL", "price": 121.5, "volume": 2500}
    ]
    assert mq.quotes_stored()
    with pytest.raises(ValueError, match="since_hours"):
        mq.latest_quotes(["AAPL"], since_hours=0)


def test_yahoo_fixture_is_the_real_payload():
    bars, actions = yahoo_bars_and_actions()
    assert len(bars) == 49 and bars["date"].min() == date(2020, 8, 31)
    assert set(actions["action"]) == {"split", "dividend"}


# -- watchlists -------------------------------------------------------------------------------------


def test_default_watchlist_is_seeded_once_and_users_get_their_own(yahoo_db, engine_for):
    lists = watchlists.lists_for("alice")
    assert [(w.name, w.symbols, w.is_default) for w in lists] == [
        (watchlists.DEFAULT_NAME, watchlists.DEFAULT_SYMBOLS, True)
    ]
    watchlists.ensure_default()  # idempotent: still one default list
    assert len(mq.watchlist_rows(None)) == 1

    saved = watchlists.save("alice", " Tech ", ["nvda", "AAPL", "NVDA"])
    assert saved == watchlists.Watchlist("Tech", ("NVDA", "AAPL"), "alice")
    assert [(w.name, w.symbols) for w in watchlists.lists_for("alice")] == [("Tech", ("NVDA", "AAPL"))]
    assert watchlists.lists_for("bob")[0].is_default  # bob has none of his own

    watchlists.save("alice", "Tech", ["MSFT"])  # same name: replaced, not duplicated
    assert [(w.name, w.symbols) for w in watchlists.lists_for("alice")] == [("Tech", ("MSFT",))]
    assert watchlists.delete("alice", "Tech") is True
    assert watchlists.lists_for("alice")[0].is_default
    assert watchlists.delete("alice", watchlists.DEFAULT_NAME) is False  # the default is not hers to delete


@pytest.mark.parametrize(
    ("user", "name", "symbols", "message"),
    [
        ("", "x", ["AAPL"], "signed-in"),
        ("alice", "  ", ["AAPL"], "needs a name"),
        ("alice", "n" * 65, ["AAPL"], "at most 64"),
        ("alice", "x", [], "at least one symbol"),
        ("alice", "x", ["AA PL"], "malformed"),
        ("alice", "x", [f"S{i}" for i in range(51)], "at most 50"),
    ],
)
def test_bad_watchlists_are_refused(yahoo_db, user, name, symbols, message):
    with pytest.raises(ValueError, match=message):
        watchlists.save(user, name, symbols)


def test_unknown_symbols_are_refused_when_the_universe_is_given(yahoo_db):
    with pytest.raises(ValueError, match="unknown symbols: ZZZ"):
        watchlists.save("alice", "x", ["AAPL", "ZZZ"], known={"AAPL"})


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
        frame = mq.bars(1, symbols, start, end)
    except ValueError:
        return
    assert list(frame.columns) == mq.BAR_COLUMNS
    assert set(frame["symbol"]) <= {s.strip().upper() for s in symbols}
    if start is not None and not frame.empty:
        assert frame["date"].min() >= pd.Timestamp(start)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(symbols=hs.lists(symbol_text, max_size=4), start=some_date, end=some_date)
def test_corporate_actions_never_fail_uncaught(sample_db, symbols, start, end):
    try:
        frame = mq.corporate_actions(1, symbols, start, end)
    except ValueError:
        return
    assert frame.empty  # the sample has no corporate actions


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hs.text(max_size=70), symbols=hs.lists(symbol_text, max_size=5))
def test_watchlist_save_never_fails_uncaught(yahoo_db, name, symbols):
    try:
        saved = watchlists.save("hypo", name, symbols)
    except ValueError:
        return
    assert saved in watchlists.lists_for("hypo")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hours=hs.floats(allow_nan=True, allow_infinity=True), symbols=hs.lists(symbol_text, max_size=4))
def test_quotes_never_fail_uncaught(yahoo_db, hours, symbols):
    try:
        frame = mq.latest_quotes(symbols, hours)
    except ValueError:
        return
    assert set(frame["symbol"]) <= {"AAPL"}


def test_dates_far_apart_are_fine(sample_db):
    assert len(mq.bars(1, ["SPY"], date(1, 1, 1), date(9999, 12, 31))) == len(mq.bars(1, ["SPY"]))
    assert mq.bars(1, ["SPY"], date(2030, 1, 1), date(2030, 1, 1) + timedelta(days=1)).empty
