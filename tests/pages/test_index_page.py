"""AppTest: the Index page on the sample data (tickers universe): levels against a hand oracle, bad input, saving
and the stored levels, exports; the S&P 500 offer for admins and viewers."""

from __future__ import annotations

import io
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from dashboard.ui import exports, index_loaders
from ingestion import indices as builder
from store import indices
from store.indices import IndexDefinition
from tests.support.app import ROUTER, figures, log_in, messages, page, texts, traces

VIEWER_PASSWORD = "viewer-password-5678"


@pytest.fixture
def index_db(app_on, make_sample_database):
    """A writable copy of the sample database (saving writes definitions and queues tasks) with a viewer."""
    from dashboard.access.auth import hash_password
    from ingestion import queue
    from store import tables

    engine = app_on(make_sample_database())
    with engine.begin() as conn:
        conn.execute(
            tables.users.insert().values(username="reader", password_hash=hash_password(VIEWER_PASSWORD), role="viewer")
        )
    yield engine
    queue.close_sync()


def open_index(params: dict | None = None, username: str = "admin") -> AppTest:
    at = AppTest.from_file(ROUTER, default_timeout=60).run()
    at = log_in(at, username) if username == "admin" else log_in(at, username, VIEWER_PASSWORD)
    at.switch_page(page("index_tracker"))
    at.query_params.update(params or {})
    return at.run()


def closes(engine: sa.Engine, symbols: list[str]) -> pd.DataFrame:
    """Adjusted closes straight from the table, not through the reads the page uses."""
    query = sa.text("select date, symbol, adj_close from daily_bars where symbol = any(:s)")
    with engine.connect() as conn:
        long = pd.read_sql(query, conn, params={"s": symbols})
    wide = long.pivot(index="date", columns="symbol", values="adj_close")
    wide.index = pd.to_datetime(wide.index)
    return wide.sort_index()


def level_line(at: AppTest, name: str = "Index (net)") -> pd.Series:
    trace = traces(figures(at)[0])[name]
    return pd.Series(trace["y"], index=pd.to_datetime(trace["x"]), dtype=float)


def test_daily_equal_weight_index_matches_the_average_return_compounded(index_db):
    at = open_index({"ix_universe": "Tickers", "ix_tickers": "AAPL,MSFT,NVDA", "ix_rebalance": "Daily"})
    at.number_input(key="ix_cost").set_value(0.0).run()
    assert not at.exception, at.exception
    assert "S&P 500 demo dataset is not loaded" in texts(at)
    wide = closes(index_db, ["AAPL", "MSFT", "NVDA"]).dropna()
    oracle = 1000.0 * (1.0 + wide.pct_change().fillna(0.0).mean(axis=1)).cumprod()
    line = level_line(at)
    assert line.index[-1] == oracle.index[-1]
    assert line.iloc[-1] == pytest.approx(oracle.iloc[-1], rel=1e-9)
    assert "SPY (rebased)" in traces(figures(at)[0])
    perf = at.dataframe[0].value.set_index("series")
    assert perf.loc["index (net)", "total_return"] == pytest.approx(oracle.iloc[-1] / 1000.0 - 1, rel=1e-9)


def test_costs_show_as_a_gap_between_gross_and_net(index_db):
    at = open_index({"ix_universe": "Tickers", "ix_tickers": "AAPL,MSFT", "ix_rebalance": "Month end"})
    at.number_input(key="ix_cost").set_value(20.0).run()
    assert not at.exception
    net, gross = level_line(at), level_line(at, "Index (gross)")
    assert (net <= gross + 1e-9).all() and net.iloc[-1] < gross.iloc[-1]
    assert net.iloc[0] == pytest.approx(1000.0 * (1 - 0.002))  # the initial construction: 100% one-way, 20 bps


@pytest.mark.parametrize(
    ("tickers", "message"),
    [("AAPL,ZZZZ", "no stored prices for ZZZZ"), ("AAPL,BAD SYMBOL!", "invalid symbol"), ("", "choose at least one")],
)
def test_bad_input_is_a_message_not_a_traceback(index_db, tickers, message):
    at = open_index({"ix_universe": "Tickers", "ix_tickers": tickers})
    assert not at.exception
    assert message in messages(at)


def assert_same_result(left, right) -> None:
    for name in ("levels", "gross_levels", "turnover", "costs"):
        pd.testing.assert_series_equal(getattr(left, name), getattr(right, name), check_exact=True)
    for name in ("weights", "schedule", "changes", "ranks"):
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name), check_exact=True)
    pd.testing.assert_index_equal(left.rebalance_dates, right.rebalance_dates)
    assert (left.base, left.cost_bps, left.notes) == (right.base, right.cost_bps, right.notes)


def test_the_shared_index_result_is_never_changed_by_a_page_run(index_db, monkeypatch, downloads):
    """index_result is one object every session reads (st.cache_resource): drawing every view of the page, the
    other weighting and each export leaves it equal to a fresh computation of its definition."""
    built = []
    compute = index_loaders.index_builder.compute

    def recorded(conn, definition):
        built.append((definition, compute(conn, definition)))
        return built[-1][1]

    monkeypatch.setattr(index_loaders.index_builder, "compute", recorded)
    at = open_index({"ix_universe": "Tickers", "ix_tickers": "AAPL,MSFT,NVDA", "ix_rebalance": "Month end"})
    at.toggle(key="ix_other").set_value(True).run()
    for tab in ("Changes", "Turnover and costs", "Composition"):
        at.query_params["ix_tab"] = tab
        at.run()
        assert not at.exception, at.exception
    assert {"Levels CSV", "Members CSV", "Changes CSV", "JSON", "XLSX"} <= set(downloads)
    assert all(downloads[label]() for label in ("Levels CSV", "Members CSV", "Changes CSV", "JSON", "XLSX"))

    assert sorted(d.weighting for d, _ in built) == ["cap", "equal"]  # each built once, for every run
    with index_db.connect() as conn:
        for definition, shared in built:
            assert_same_result(shared, compute(conn, definition))  # the original, not the recording wrapper


def test_saving_queues_the_levels_and_the_saved_index_is_drawn_from_them(index_db):
    at = open_index({"ix_universe": "Tickers", "ix_tickers": "AAPL,MSFT,JPM", "ix_rebalance": "Quarter end"})
    at.text_input(key="ix_name").input("Three names").run()
    at.button(key="ix_save").click().run()
    assert not at.exception
    assert "Saved “Three names”" in messages(at)
    engine = index_db
    [saved] = indices.list_for(engine, "admin")
    assert saved.definition.tickers == ("AAPL", "MSFT", "JPM") and saved.definition.rebalance == "Q"
    with engine.connect() as conn:
        queued = conn.execute(
            sa.text("select args from procrastinate_jobs where task_name = 'derive.index_levels'")
        ).scalar_one()
    assert queued == {"definition_ids": [saved.id]}

    builder.refresh_levels(engine, [saved.id])  # what the worker runs for that task
    again = open_index()
    again.selectbox(key="ix_saved").set_value("Three names").run()
    assert not again.exception
    assert "as the worker stored them" in texts(again)
    stored = level_line(again)
    with engine.connect() as conn:
        computed = builder.compute(conn, saved.definition).levels
    assert stored.iloc[-1] == pytest.approx(computed.iloc[-1], rel=1e-12)


def test_exports_carry_the_definition_and_read_back(index_db):
    d = IndexDefinition(universe="tickers", tickers=("AAPL", "MSFT"), rebalance="SPX", cost_bps=5)
    with index_db.connect() as conn:
        result = builder.compute(conn, d)
    tables = index_loaders.export_tables(result, result.levels.index[-1].date())
    params = {"definition": index_loaders.key(d), "as_of": str(result.levels.index[-1].date())}

    body = json.loads(index_loaders.export_file("json", tables, params))
    assert json.loads(body["parameters"]["definition"])["tickers"] == ["AAPL", "MSFT"]
    assert len(body["levels"]) == len(result.levels) and body["levels"][-1]["level_net"] == pytest.approx(
        result.levels.iloc[-1]
    )
    assert {row["symbol"] for row in body["composition"]} == {"AAPL", "MSFT"}

    csv = index_loaders.export_file("csv:levels", tables, params)  # data only; the parameters are in the sidecar
    data, header = exports.read_csv_export(csv, exports.params_json(params))
    assert header["as_of"] == params["as_of"] and list(data.columns) == ["date", "level_net", "level_gross"]
    np.testing.assert_allclose(data["level_net"].to_numpy(), result.levels.to_numpy(), rtol=1e-6)

    book = pd.read_excel(io.BytesIO(index_loaders.export_file("xlsx", tables, params)), sheet_name=None)
    assert list(book) == ["levels", "composition", "changes", "parameters"]
    assert len(book["levels"]) == len(result.levels)


def test_viewers_are_told_to_ask_an_admin_for_the_sp500_dataset(index_db):
    at = open_index({"ix_universe": "Tickers", "ix_tickers": "AAPL"}, username="reader")
    assert not at.exception
    assert "Ask an admin" in texts(at)
    assert not [b for b in at.button if b.key == "ix_load"]


# -- with the S&P 500 demo dataset (a 40-symbol slice of it) -------------------------------------------------------

SLICE = [
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "JPM", "XOM", "JNJ", "PG", "KO", "PEP", "WMT", "HD", "CVX",
    "MRK", "ABBV", "COST", "ORCL", "CSCO", "INTC", "T", "VZ", "PFE", "BAC", "WFC", "C", "MCD", "NKE", "DIS",
    "ADBE", "CRM", "NFLX", "AMD", "QCOM", "TXN", "IBM", "GE", "CAT", "BA",
]  # fmt: skip


@pytest.fixture
def sp500_db(index_db, tmp_path):
    from ingestion.sample import load_sample
    from tests.support.sp500 import write_bundle

    load_sample(index_db, write_bundle(tmp_path / "sp500", SLICE), "sp500")
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    return index_db


def test_top_n_by_point_in_time_market_cap_on_the_sp500_slice(sp500_db):
    at = open_index({"ix_universe": "Top N by market cap", "ix_tab": "Changes"})
    at.number_input(key="ix_n").set_value(10).run()
    assert not at.exception, at.exception
    assert "not loaded" not in texts(at)
    assert "latest share count published on or before each reference date" in texts(at)
    assert "Survivorship" in texts(at)
    changes = at.dataframe[1].value
    assert len(changes) > 10 and set(changes["symbol"]) <= set(SLICE)

    # What the page drew is the index the worker would store for the same definition.
    d = IndexDefinition(universe="top_n", top_n=10, rebalance="SPX", cost_bps=5.0, start=date(2019, 1, 2))
    with sp500_db.connect() as conn:
        expected = builder.compute(conn, d)
    assert level_line(at).iloc[-1] == pytest.approx(expected.levels.iloc[-1], rel=1e-12)
    members = expected.composition(expected.levels.index[-1])
    assert len(members) == 10 and members["rank"].max() <= 10


def test_the_shared_result_keeps_the_weights_of_the_symbols_ever_held(sp500_db):
    d = IndexDefinition(universe="top_n", top_n=10, rebalance="SPX", cost_bps=5.0, start=date(2019, 1, 2))
    with sp500_db.connect() as conn:
        full = builder.compute(conn, d)
    index_loaders.index_result.clear()
    shared = index_loaders.index_result(0, index_loaders.key(d))
    held = [s for s in full.weights.columns if (full.weights[s] != 0).any()]
    assert 10 <= len(held) < full.weights.shape[1]
    pd.testing.assert_frame_equal(shared.weights, full.weights[held], check_exact=True)
    for day in [*full.rebalance_dates, full.levels.index[-1]]:
        pd.testing.assert_frame_equal(shared.composition(day), full.composition(day), check_exact=True)
    pd.testing.assert_series_equal(shared.levels, full.levels, check_exact=True)


def test_a_sector_universe_and_n_larger_than_the_universe(sp500_db):
    at = open_index({"ix_universe": "A sector"})
    assert not at.exception
    sectors = at.selectbox(key="ix_sector").options
    assert "Information Technology" in sectors
    at.selectbox(key="ix_sector").set_value("Energy").run()
    assert not at.exception and not at.error
    at.number_input(key="ix_n").set_value(5).run()
    assert not at.exception
    assert "top_n=5 is larger than the universe (2 symbols)" in messages(at)  # XOM and CVX in the slice
