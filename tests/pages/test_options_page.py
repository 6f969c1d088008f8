"""AppTest: the Options page on the bundled option-chain demo (SPY and AAPL calls, 63 sessions) against the same
computations run straight on the stored rows; the demo offer when no chain is stored; bad series parameters; links.

The demo is loaded once for the module (about 6 s) into a copy of the sample database.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard.ui import exports
from ingestion import options as chains
from tests.conftest import ROOT
from tests.support.app import figures, frame, messages, open_page, texts

VIEWER_PASSWORD = "viewer-password-5678"
LAST = date(2026, 8, 21)  # the demo's last session


def add_viewer(url: str) -> None:
    from dashboard.access.auth import hash_password
    from store import tables

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                tables.users.insert().values(
                    username="reader", password_hash=hash_password(VIEWER_PASSWORD), role="viewer"
                )
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def bare_url(make_sample_database) -> str:
    """The sample database (prices, Treasury yields) without any option chain, with a viewer."""
    url = make_sample_database()
    add_viewer(url)
    return url


@pytest.fixture(scope="module")
def demo_url(make_sample_database) -> str:
    """The sample database with the option-chain demo loaded (once for the module), with a viewer."""
    from ingestion.sample import load_sample
    from store.db import create_db_engine

    url = make_sample_database()
    engine = create_db_engine(url)
    try:
        load_sample(engine, ROOT / "data" / "options", "options")
    finally:
        engine.dispose()
    add_viewer(url)
    return url


@pytest.fixture
def demo(app_on, demo_url) -> sa.Engine:
    return app_on(demo_url)


def ok(at) -> None:
    assert not at.exception, at.exception
    assert not at.error, messages(at)


def charts(at) -> dict[str, dict]:
    return {f["layout"]["title"]["text"]: f for f in figures(at)}


# -- no chain stored ----------------------------------------------------------------------------------------------


@pytest.fixture
def bare(app_on, bare_url) -> Iterator[sa.Engine]:
    from ingestion import queue

    yield app_on(bare_url)
    queue.close_sync()


def test_without_chains_an_admin_can_queue_the_demo_load(bare):
    at = open_page("options")
    ok(at)
    assert "No option chains are stored yet" in messages(at)
    assert "calls only (no puts)" in messages(at)
    at.button(key="op_load").click().run()
    assert not at.exception, at.exception
    with bare.connect() as conn:
        tasks = conn.execute(sa.text("select task, state, requested_by from task_progress")).all()
    assert [tuple(t) for t in tasks] == [("ingest.options-demo", "queued", "admin")]
    assert "options-demo" in texts(at)  # the page watches the queued task


def test_without_chains_a_viewer_is_told_to_ask_an_admin(bare):
    at = open_page("options", username="reader", password=VIEWER_PASSWORD)
    ok(at)
    assert "No option chains are stored yet" in messages(at)
    assert "Ask an admin" in texts(at)
    assert not [b for b in at.button if b.key == "op_load"]


# -- the demo -----------------------------------------------------------------------------------------------------


def test_spy_opens_on_the_last_session_with_our_iv_and_says_what_went_in(demo, downloads):
    at = open_page("options")
    ok(at)
    assert at.selectbox(key="op_symbol").value == "SPY"
    assert at.selectbox(key="op_session").value == LAST
    expiry = at.selectbox(key="op_expiry").value

    # The chain table: calls of the chosen expiry with our IV, as ingestion.options prices the stored rows.
    expected = chains.session_chain(demo, "SPY", LAST)
    table = frame(at, "call_iv")
    assert "put_iv" not in table and "Puts are not in the stored data for SPY" in texts(at)
    assert len(table) == 50  # 25 strikes each side of the close
    assert table["strike"].min() < expected.spot < table["strike"].max()
    ours = expected.chain[pd.to_datetime(expected.chain["expiration"]).dt.date == expiry].set_index("strike")
    np.testing.assert_allclose(
        table["call_iv"].to_numpy(dtype=float), ours.loc[table["strike"], "iv"].to_numpy(dtype=float), rtol=1e-12
    )
    assert table["call_iv"].notna().sum() > 30
    assert (table.loc[table["call_iv"].isna(), "call_reason"] != "").all()  # a contract without IV says why

    # The caption: the chain's own underlying close, the rates (carried forward), the basis counts, the model.
    text = texts(at)
    assert f"SPY close {expected.spot:,.2f} on 2026-08-21" in text
    note = expected.rates.note(LAST)
    assert "(carried forward)" in note and note in text
    assert f"Priced off the last trade for {len(expected.chain):,} contracts; mid for 0" in text
    assert "European Black-Scholes" in text and "early-exercise" in text

    titles = set(charts(at))
    assert {"SPY IV smile (our IV by strike)", "SPY ATM IV term structure"} <= titles
    assert f"SPY open interest by strike, expiring {expiry:%Y-%m-%d}" in titles

    # The series: one row per stored session, the contract changes analytics reports.
    series = chains.contract_series(demo, chains.SeriesParams(underlying="SPY"))
    shown = frame(at, "contract")
    assert len(shown) == len(series) == 63
    changes = int(series["changed"].sum())
    assert int(shown["changed"].sum()) == changes > 0
    assert f"{changes} contract changes over 63 sessions" in texts(at)
    markers = {t["name"]: t for t in charts(at)["SPY close and the calls series' contract changes"]["data"]}
    assert len(markers["Contract change"]["x"]) == changes

    # The CSV the download button serves reads back to the same contracts; the parameters are in its sidecar.
    data, header = exports.read_csv_export(downloads["CSV"](), downloads["Parameters"]())
    assert data["contract"].tolist() == series["contract"].tolist()
    assert data["changed"].sum() == changes
    assert header["underlying"] == "SPY" and header["target_delta"] == "0.15" and header["band_high"] == "0.3"
    book = pd.read_excel(io.BytesIO(downloads["XLSX"]()), sheet_name=None)
    assert list(book) == ["data", "parameters"] and book["data"]["contract"].tolist() == series["contract"].tolist()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"op_band_lo": "0.3", "op_band_hi": "0.2"}, "band must satisfy 0 <= low < high <= 1"),
        ({"op_delta": "0.4"}, "does not contain target_delta 0.4"),
    ],
)
def test_bad_series_parameters_are_a_message_not_a_traceback(demo, params, message):
    at = open_page("options", params)
    assert not at.exception, at.exception
    assert "These series parameters cannot be used" in messages(at) and message in messages(at)
    assert frame(at, "call_iv") is not None  # the chain above is still shown
    assert not [d for d in at.dataframe if "contract" in d.value.columns]


def test_a_put_series_without_stored_puts_says_so(demo):
    at = open_page("options", {"op_kind": "Put"})
    ok(at)
    assert "No puts of SPY are stored, so there is no series to follow" in messages(at)
    assert not [d for d in at.dataframe if "contract" in d.value.columns]


def test_a_link_reproduces_the_view(demo):
    session, expiry = date(2026, 7, 1), date(2026, 8, 21)
    link = {
        "op_symbol": "AAPL",
        "op_session": session.isoformat(),
        "op_expiry": expiry.isoformat(),
        "op_all": "true",
        "op_smile": ["2026-07-17", "2026-09-18"],
        "op_delta": "0.2",
        "op_months": "1",
        "op_roll": "10",
    }
    at = open_page("options", link)
    ok(at)
    assert at.selectbox(key="op_symbol").value == "AAPL"
    assert at.selectbox(key="op_session").value == session
    assert at.selectbox(key="op_expiry").value == expiry
    assert at.toggle(key="op_all").value is True
    assert at.multiselect(key="op_smile").value == [date(2026, 7, 17), date(2026, 9, 18)]
    assert at.number_input(key="op_delta").value == pytest.approx(0.2)
    assert at.number_input(key="op_months").value == 1
    assert at.number_input(key="op_roll").value == 10

    expected = chains.session_chain(demo, "AAPL", session)
    stored = expected.chain[pd.to_datetime(expected.chain["expiration"]).dt.date == expiry]
    assert len(frame(at, "call_iv")) == len(stored)  # all strikes
    smile = charts(at)["AAPL IV smile (our IV by strike)"]["data"]
    assert [t["name"].split(" ")[0] for t in smile] == ["2026-07-17", "2026-09-18"]
    params = chains.SeriesParams(underlying="AAPL", target_delta=0.2, months=1, roll_dte=10)
    series = chains.contract_series(demo, params)
    assert frame(at, "contract")["contract"].tolist() == series["contract"].tolist()


def test_aapl_opens_on_its_last_session_with_a_close_and_says_when_one_is_missing(demo):
    at = open_page("options", {"op_symbol": "AAPL"})
    ok(at)
    assert at.selectbox(key="op_session").value == date(2026, 8, 14)  # the source has no close after it
    at.selectbox(key="op_session").set_value(LAST).run()
    assert not at.exception, at.exception
    assert "No AAPL close is stored with the chain of 2026-08-21" in messages(at)
    assert frame(at, "call_iv")["call_iv"].isna().all()
    assert "AAPL IV smile (our IV by strike)" not in charts(at)
    assert "No AAPL contract of these expiries has an IV to draw" in messages(at)
    # The series keeps going: sessions without a close are counted and explained.
    assert "5 (underlying close missing)" in texts(at)


# -- the shaping, on a small chain with both sides ------------------------------------------------------------------


def test_calls_and_puts_sit_side_by_side_around_the_strike():
    from analytics.options import chain_greeks, occ_symbol
    from dashboard.ui import options_loaders as ol

    session, expiry, spot = date(2026, 6, 1), date(2026, 7, 17), 100.0
    strikes = np.arange(50.0, 151.0, 1.0)
    raw = pd.DataFrame(
        {
            "expiration": pd.Timestamp(expiry),
            "type": np.repeat(["C", "P"], len(strikes)),
            "strike": np.tile(strikes, 2),
            "price": np.concatenate([np.maximum(spot - strikes, 0.0), np.maximum(strikes - spot, 0.0)]) + 2.0,
            "volume": 0.0,
            "open_interest": 10.0,
        }
    )
    chain = chain_greeks(raw, spot, 0.04, 0.0, session)
    chain["dte"] = (chain["expiration"] - pd.Timestamp(session)).dt.days
    chain["contract"] = occ_symbol("XYZ", chain["expiration"], chain["type"], chain["strike"])
    table = ol.chain_table(chain, expiry, spot)
    columns = list(table.columns)
    assert columns.index("call_price_used") == columns.index("strike") - 1  # mirrored: price next to the strike
    assert columns[0] == "call_reason" and columns[-1] == "put_reason"
    assert columns.index("put_price_used") == columns.index("moneyness") + 1
    assert len(table) == 2 * ol.STRIKES_EACH_SIDE and table["strike"].min() < spot < table["strike"].max()
    assert len(ol.chain_table(chain, expiry, spot, all_strikes=True)) == len(strikes)
    row = table.set_index("strike").loc[110.0]
    put = chain[(chain["type"] == "P") & (chain["strike"] == 110.0)].iloc[0]
    assert np.isfinite(put["iv"]) and row["put_iv"] == put["iv"] and row["put_vega"] == pytest.approx(put["vega"] / 100)
    assert row["put_theta"] == pytest.approx(put["theta"] / 365)
    # Every contract here has volume 0: the smile leaves them out unless asked to keep stale prices.
    assert ol.smile_rows(chain, [expiry], spot).empty
    near = chain["iv"].notna() & ((chain["strike"] / spot - 1).abs() <= ol.CHART_MONEYNESS)
    assert len(ol.smile_rows(chain, [expiry], spot, traded_only=False)) == near.sum() > 60


@pytest.mark.parametrize("value", ["inf", "-Infinity", "1e400"])
def test_an_infinite_integer_in_a_link_falls_back_to_the_default(demo, value):
    """Streamlit's integer number_input raises OverflowError on an infinite bound value; the page drops it from the
    URL first (components.drop_unbounded_numbers), so the series runs on the default months."""
    at = open_page("options", {"op_months": value, "op_window": "20"})
    assert not at.exception, at.exception
    from dashboard.ui import options_loaders as ol

    assert at.number_input(key="op_months").value == ol.DEFAULTS.months
    assert "op_months" not in at.query_params and at.number_input(key="op_window").value == 20  # the others stay


def test_expiries_count_the_calls_and_puts_of_each_expiry():
    from dashboard.ui import options_loaders as ol

    chain = pd.DataFrame(
        {
            "expiration": pd.to_datetime(["2026-07-17"] * 3 + ["2026-06-19"] * 2),
            "dte": [46] * 3 + [18] * 2,
            "type": ["C", "P", "C", "C", "C"],
            "strike": [100.0, 100.0, 105.0, 100.0, 105.0],
        }
    )
    assert ol.expiries(chain).to_dict("records") == [
        {"expiration": date(2026, 6, 19), "dte": 18, "calls": 2, "puts": 0},
        {"expiration": date(2026, 7, 17), "dte": 46, "calls": 2, "puts": 1},
    ]
    assert ol.expiries(chain.iloc[:0]).empty
