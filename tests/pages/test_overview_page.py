"""AppTest: the Overview's watchlists (per user, default list), top movers and live quotes; market hours."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from store import calendar
from tests.conftest import ROOT, TEST_PASSWORD
from tests.support.app import ROUTER, log_in, shown, texts
from tests.support.market_data import load_yahoo_aapl

MEGA = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "SPY"]


@pytest.fixture
def own_sample_app(app_on, make_sample_database):
    """A private copy of the sample database (these tests write watchlists), with a second user, bob."""
    from dashboard.access.auth import hash_password
    from store import tables

    url = make_sample_database()
    engine = app_on(url)
    with engine.begin() as conn:
        conn.execute(tables.users.insert().values(username="bob", password_hash=hash_password(TEST_PASSWORD)))
    return url


@pytest.fixture
def quotes_app(app_on, make_database):
    url = make_database()
    load_yahoo_aapl(url, with_quotes=True)
    app_on(url)


def test_default_watchlist_and_top_movers_on_the_sample(ready_app):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    assert not at.exception
    universe = at.dataframe[0].value  # the universe table stays first
    assert len(universe) == 35
    assert at.selectbox(key="watchlist_pick").value == "Mega caps"
    watch = at.dataframe[1].value
    assert list(watch["symbol"]) == MEGA
    assert "the default list" in texts(at)

    gainers = at.dataframe[2].value
    losers = at.dataframe[3].value
    ranked = universe.sort_values("chg_1d")
    assert list(gainers["symbol"]) == list(ranked["symbol"].tail(5).iloc[::-1])
    assert list(losers["symbol"]) == list(ranked["symbol"].head(5))
    assert gainers["chg_1d"].is_monotonic_decreasing and losers["chg_1d"].is_monotonic_increasing
    assert "Live quotes" not in [s.value for s in at.subheader]  # the sample stores no intraday quotes


def test_watchlists_are_saved_per_user(own_sample_app):
    admin = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    form_name = next(t for t in admin.text_input if t.label == "Name")
    form_name.input("Energy")
    next(m for m in admin.multiselect if m.label == "Symbols").set_value(["XOM", "CVX", "COP", "SLB"])
    admin = next(b for b in admin.button if b.label == "Save list").click().run()
    assert not admin.exception and not admin.error
    assert admin.selectbox(key="watchlist_pick").value == "Energy"
    watch = admin.dataframe[1].value
    assert list(watch["symbol"]) == ["XOM", "CVX", "COP", "SLB"]
    assert "admin's list" in texts(admin)

    # A fresh session of the same user loads the saved list; another user still gets the default.
    again = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    assert again.selectbox(key="watchlist_pick").options == ["Energy"]
    bob = log_in(AppTest.from_file(ROUTER, default_timeout=30).run(), username="bob")
    assert not bob.exception
    assert bob.selectbox(key="watchlist_pick").value == "Mega caps"
    assert list(bob.dataframe[1].value["symbol"]) == MEGA

    # Deleting it brings the default list back.
    again.button(key="watchlist_delete").click().run()
    assert again.selectbox(key="watchlist_pick").value == "Mega caps"


def test_saving_an_empty_watchlist_is_refused_with_a_message(own_sample_app):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    next(m for m in at.multiselect if m.label == "Symbols").set_value([])
    at = next(b for b in at.button if b.label == "Save list").click().run()
    assert not at.exception
    assert [shown(e.value) for e in at.error] == ["Not saved: a watchlist needs at least one symbol."]


def test_live_quotes_when_stored(quotes_app):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    assert not at.exception
    assert "Live quotes" in [s.value for s in at.subheader]
    # Only AAPL is stored here: the rest of the default list is named, not silently dropped.
    assert any("No stored prices for MSFT, NVDA" in shown(w.value) for w in at.warning)
    quotes = at.dataframe[4].value
    assert quotes[["symbol", "price", "volume"]].to_dict("records") == [
        {"symbol": "AAPL", "price": 121.5, "volume": 2500}
    ]
    last_close = 118.69000244140625  # the last stored AAPL close (2020-11-06)
    assert quotes["change"].iloc[0] == pytest.approx(121.5 / last_close - 1)
    assert "NYSE is" in texts(at)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (datetime(2026, 11, 25, 15, 0, tzinfo=UTC), True),  # Wednesday 10:00 New York
        (datetime(2026, 11, 25, 14, 29, tzinfo=UTC), False),  # 09:29, before the open
        (datetime(2026, 11, 25, 21, 0, tzinfo=UTC), False),  # 16:00, closed
        (datetime(2026, 11, 26, 15, 0, tzinfo=UTC), False),  # Thanksgiving
        (datetime(2026, 11, 27, 17, 30, tzinfo=UTC), True),  # day after Thanksgiving, 12:30
        (datetime(2026, 11, 27, 18, 30, tzinfo=UTC), False),  # ... early close at 13:00
        (datetime(2026, 11, 28, 15, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 7, 6, 14, 0, tzinfo=UTC), True),  # summer time: 10:00 New York
    ],
)
def test_market_hours_follow_the_nyse_calendar(moment, is_open):
    assert calendar.is_market_open(moment) is is_open


def test_next_open_and_naive_times():
    assert calendar.next_open(datetime(2026, 11, 26, 15, 0, tzinfo=UTC)) == datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_market_open(datetime(2026, 11, 25, 15, 0))  # noqa: DTZ001 - the point of the test


def test_live_quote_prices_follow_the_display_currency(quotes_app):
    from ingestion.providers.sample import SampleProvider
    from ingestion.writer import upsert
    from store import tables
    from store.db import get_engine

    rates = SampleProvider(ROOT / "data" / "sample").macro_observations(["DEXUSUK"])
    with get_engine().begin() as conn:
        upsert(conn, tables.macro_observations, rates, source="sample")
    import streamlit as st

    st.cache_data.clear()
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    usd = at.dataframe[4].value
    at.selectbox(key="display_currency").select("GBP").run()
    assert not at.exception
    gbp = at.dataframe[4].value
    day = pd.Timestamp(usd["ts"].iloc[0]).normalize()
    known = rates.assign(date=pd.to_datetime(rates["date"])).set_index("date")["value"].dropna()
    rate = known.loc[:day].iloc[-1]  # that day's rate, else the last one before it
    assert gbp["price"].iloc[0] == pytest.approx(usd["price"].iloc[0] / rate, rel=1e-12)
    assert gbp["change"].iloc[0] == pytest.approx(usd["change"].iloc[0], rel=1e-12)


# -- filters and sort in the URL, empty selections, names, table heights, audited exports (issue 16) -----------------


def open_overview(params: dict | None = None) -> AppTest:
    """The Overview in a fresh session whose first request carries `params`, as a browser opening a link does."""
    at = AppTest.from_file(ROUTER, default_timeout=30)
    at.query_params.update(params or {})
    at = log_in(at.run())
    at.query_params.update(params or {})
    return at.run()


def overview_link(at: AppTest) -> str:
    assert any(c.value.startswith("Link to this view") for c in at.caption)
    [box] = at.code
    return box.value


def test_deselecting_every_asset_class_says_so_instead_of_an_empty_table(ready_app):
    at = open_overview()
    assert len(at.dataframe[0].value) == 35
    at.pills(key="ov_ac").set_value([]).run()
    assert not at.exception
    assert "No asset class selected" in "\n".join(i.value for i in at.info)
    # The universe table is gone; the watchlist (still first among the tables now) and the movers remain.
    assert list(at.dataframe[0].value["symbol"]) == MEGA
    assert "0 of 35 instruments" in texts(at)


def test_filters_and_sort_travel_in_the_link(ready_app):
    at = open_overview()
    at.pills(key="ov_ac").set_value(["stock"]).run()
    at.multiselect(key="ov_sector").set_value(["Energy", "Financials"]).run()
    at.selectbox(key="ov_sort").set_value("YTD").run()
    at.toggle(key="ov_desc").set_value(True).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["sector"]) == {"Energy", "Financials"} and len(table) == 9  # 4 energy + 5 financials
    assert table["chg_ytd"].is_monotonic_decreasing
    shared = overview_link(at)
    query = parse_qs(shared.split("?", 1)[1])
    assert query == {"ov_ac": ["stock"], "ov_sector": ["Energy", "Financials"], "ov_sort": ["YTD"],
                     "ov_desc": ["true"]}  # fmt: skip

    again = open_overview({k: v if len(v) > 1 else v[0] for k, v in query.items()})
    assert not again.exception
    assert again.dataframe[0].value.reset_index(drop=True).equals(table.reset_index(drop=True))
    assert overview_link(again) == shared


def test_etfs_have_names_and_tables_show_all_their_rows(ready_app, monkeypatch):
    import streamlit as st
    from streamlit.elements.arrow import ArrowMixin

    heights = []
    original = ArrowMixin.dataframe

    def spy(self, data=None, *args, **kwargs):
        heights.append(kwargs.get("height"))
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(ArrowMixin, "dataframe", spy)  # tables drawn in columns (the movers)
    top_level = st.dataframe
    monkeypatch.setattr(st, "dataframe", lambda *a, **k: heights.append(k.get("height")) or top_level(*a, **k))
    at = open_overview()
    universe = at.dataframe[0].value.set_index("symbol")
    assert universe.loc["SPY", "name"] == "SPDR S&P 500 ETF Trust"
    assert universe.loc["TLT", "name"] == "iShares 20+ Year Treasury Bond ETF"
    assert (universe["name"] != universe.index).all()  # no instrument is named by its ticker any more
    # Height from the row count (35 px a row plus the header): no inner scrolling for the 35 instruments.
    assert heights[:4] == [35 * 36 + 3, 35 * (len(MEGA) + 1) + 3, 35 * 6 + 3, 35 * 6 + 3]  # universe, watchlist, movers


def test_the_universe_export_is_audited_and_its_files_read_back(ready_app, monkeypatch):
    import io
    import json

    import openpyxl
    import sqlalchemy as sa
    from streamlit.elements.widgets.button import ButtonMixin

    from store.db import get_engine

    captured = {}
    original = ButtonMixin.download_button

    def spy(self, label, data, *args, **kwargs):
        captured[(kwargs.get("key"), label)] = (data, kwargs.get("file_name"))
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(ButtonMixin, "download_button", spy)
    at = open_overview({"ov_ac": "etf"})
    assert not at.exception
    build, name = captured[("ov_export_csv", "CSV")]
    with get_engine().connect() as conn:
        before = conn.execute(sa.text("select count(*) from audit_log where action = 'export'")).scalar_one()
    data = pd.read_csv(io.BytesIO(build()))
    assert name.endswith(".csv") and list(data["symbol"]) == sorted(data["symbol"]) and len(data) == 7
    assert "trend" not in data.columns and data.loc[data["symbol"] == "SPY", "name"].item() == "SPDR S&P 500 ETF Trust"
    params_build, params_name = captured[("ov_export_parameters", "Parameters")]
    assert params_name == name + ".params.json"
    assert json.loads(params_build())["asset_classes"] == "etf"
    book = openpyxl.load_workbook(io.BytesIO(captured[("ov_export_xlsx", "XLSX")][0]()))
    assert book["data"]["E2"].number_format == "0.00%" and book["data"].freeze_panes == "A2"  # chg_1d
    with get_engine().connect() as conn:
        rows = (
            conn.execute(sa.text("select details from audit_log where action = 'export' order by id desc limit 2"))
            .scalars()
            .all()
        )
        after = conn.execute(sa.text("select count(*) from audit_log where action = 'export'")).scalar_one()
    assert after == before + 2  # the CSV and the XLSX, each when built; the parameters file holds no data
    assert [r["format"] for r in rows] == ["xlsx", "csv"] and all(r["page"] == "overview" for r in rows)
