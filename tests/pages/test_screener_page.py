"""AppTest: the Screener on the sample data: filters against an independent pandas filter, sort, saved screens,
sending the result on, bad filter values, an empty result, the link and the audited export."""

from __future__ import annotations

import io
from urllib.parse import parse_qs

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from tests.conftest import TEST_PASSWORD
from tests.support.app import ROUTER, log_in, messages, shown, texts


def open_screener(params: dict | None = None, username: str = "admin") -> AppTest:
    """The Screener in a fresh session whose first request carries `params`, as a browser opening a link does."""
    at = AppTest.from_file(ROUTER, default_timeout=30)
    at.query_params.update(params or {})
    at = log_in(at.run(), username)
    at.switch_page("../../pages/screener.py")
    at.query_params.update(params or {})
    return at.run()


def universe() -> pd.DataFrame:
    """The screener's table as the page's loader builds it (the data both sides filter)."""
    from dashboard.ui import loaders, screener_loaders

    return screener_loaders.screen_table(loaders.data_version())


def result(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value


def link(at: AppTest) -> dict[str, list[str]]:
    assert any(c.value.startswith("Link to this view") for c in at.caption)
    [box] = at.code
    return parse_qs(box.value.split("?", 1)[1])


def single(query: dict[str, list[str]]) -> dict:
    return {k: v if len(v) > 1 else v[0] for k, v in query.items()}


@pytest.fixture
def own_app(app_on, make_sample_database):
    """A private copy of the sample database (these tests save screens and watchlists), with a second user, bob."""
    from dashboard.access.auth import hash_password
    from store import tables

    engine = app_on(make_sample_database())
    with engine.begin() as conn:
        conn.execute(tables.users.insert().values(username="bob", password_hash=hash_password(TEST_PASSWORD)))
    return engine


def test_the_whole_universe_with_its_metrics(ready_app):
    at = open_screener()
    assert not at.exception
    table = result(at)
    assert len(table) == 35 and "35 of 35 instruments match" in texts(at)
    expected = universe().set_index("symbol")
    for column in ("rsi_14", "chg_ytd", "volatility_3m", "vs_sma_200"):
        pd.testing.assert_series_equal(
            table.set_index("symbol")[column], expected.loc[table["symbol"], column], check_names=False
        )
    # Shown in $bn; by default the largest first (symbols without a share count last).
    caps = table["market_cap"].dropna()
    assert caps.is_monotonic_decreasing and caps.iloc[0] == pytest.approx(expected["market_cap"].max() / 1e9)


def test_filters_narrow_the_table_as_a_pandas_filter_says(ready_app):
    params = {
        "sc_sector": ["Information Technology", "Financials", "Energy"],
        "sc_rsi_14_min": "35",
        "sc_chg_ytd_min": "-10",
        "sc_sma200": "Above",
    }
    at = open_screener(params)
    assert not at.exception and not at.warning
    t = universe()
    mask = (
        t["sector"].isin(["Information Technology", "Financials", "Energy"])
        & (t["rsi_14"] >= 35)
        & (t["chg_ytd"] >= -0.10)
        & (t["sma_200"] < t["last"])
    )
    expected = set(t.loc[mask, "symbol"])
    got = set(result(at)["symbol"])
    assert got == expected and 0 < len(got) < 35
    assert f"{len(got)} of 35 instruments match" in texts(at)

    # A filter on a column typed in "More filters", in percent: 1M >= 2%.
    at.selectbox(key="sc_x1_col").set_value("1M (%)").run()
    at.selectbox(key="sc_x1_op").set_value(">=").run()
    at.text_input(key="sc_x1_val").input("2").run()
    assert not at.exception
    assert set(result(at)["symbol"]) == set(t.loc[mask & (t["chg_1m"] >= 0.02), "symbol"])


def test_sort_and_the_link_reproduce_the_view(ready_app):
    at = open_screener({"sc_sector": ["Energy", "Financials", "Health Care"]})
    at.selectbox(key="sc_sort").set_value("RSI 14").run()
    at.toggle(key="sc_desc").set_value(False).run()
    at.number_input(key="sc_volatility_3m_max").set_value(60.0).run()
    assert not at.exception
    table = result(at)
    t = universe()
    picked = t[t["sector"].isin(["Energy", "Financials", "Health Care"]) & (t["volatility_3m"] <= 0.60)]
    assert list(table["symbol"]) == list(picked.sort_values("rsi_14", kind="stable")["symbol"])
    assert table["rsi_14"].is_monotonic_increasing

    query = link(at)
    assert query == {
        "sc_sector": ["Energy", "Financials", "Health Care"],
        "sc_sma50": ["Any"],
        "sc_sma200": ["Any"],
        "sc_volatility_3m_max": ["60"],
        "sc_sort": ["RSI 14"],
        "sc_desc": ["false"],
    }
    again = open_screener(single(query))
    assert not again.exception
    assert again.dataframe[0].value.reset_index(drop=True).equals(table.reset_index(drop=True))
    assert link(again) == query


def test_send_the_result_to_ticker_and_risk(ready_app):
    at = open_screener({"sc_sort": "1D (%)", "sc_desc": "true"})
    symbols = list(result(at)["symbol"])
    assert symbols == list(universe().sort_values("chg_1d", ascending=False, kind="stable")["symbol"])
    links = {e.proto.page: parse_qs(e.proto.query_string) for e in at.get("page_link")}
    assert links["ticker"] == {"tk_t": [",".join(symbols[:8])]}
    assert links["risk"] == {"rk_t": [",".join(symbols[:30])]}

    # The Ticker page opened with that link compares those eight.
    ticker = AppTest.from_file(ROUTER, default_timeout=30)
    ticker = log_in(ticker.run())
    ticker.switch_page("../../pages/ticker.py")
    ticker.query_params.update({"tk_t": ",".join(symbols[:8])})
    ticker = ticker.run()
    assert not ticker.exception
    assert ticker.text_input(key="tk_t").value == ",".join(symbols[:8])


def test_bad_filter_values_give_a_message_not_an_exception(ready_app):
    at = open_screener({"sc_rsi_14_min": "abc", "sc_x1_col": "No such column"})
    assert not at.exception
    said = messages(at)
    assert "The link's value abc for sc_rsi_14_min is not allowed here" in said
    assert "The link's value No such column for sc_x1_col is not allowed here" in said
    assert len(result(at)) == 35

    at.selectbox(key="sc_x1_col").set_value("RSI 14").run()
    at.text_input(key="sc_x1_val").input("abc").run()
    at.number_input(key="sc_chg_1m_min").set_value(5.0).run()
    at.number_input(key="sc_chg_1m_max").set_value(-5.0).run()
    assert not at.exception
    said = messages(at)
    assert "More filters, row 1 (RSI 14 >= abc): 'abc' is not a number; this filter is ignored." in said
    assert "1M (%): the minimum 5 is above the maximum -5; this filter is ignored." in said
    assert len(result(at)) == 35  # both refused, nothing else filters


def test_an_empty_result_says_so(ready_app):
    at = open_screener({"sc_market_cap_min": "1000000"})  # a quadrillion dollars
    assert not at.exception
    assert not at.dataframe
    assert "No instrument matches these filters" in messages(at)
    assert "0 of 35 instruments match" in texts(at)
    assert not at.get("page_link")


def test_save_load_and_delete_a_screen(own_app):
    at = open_screener()
    assert "No saved screen yet" in texts(at)
    at.multiselect(key="sc_sector").set_value(["Information Technology"]).run()
    at.number_input(key="sc_rsi_14_min").set_value(30.0).run()
    at.selectbox(key="sc_sma50").set_value("Below").run()
    at.selectbox(key="sc_sort").set_value("YTD (%)").run()
    screened = result(at)
    assert set(screened["symbol"]) == {"AAPL", "NVDA"}  # IT, RSI 14 >= 30, below SMA 50 (MSFT's RSI is 28.8)
    at.text_input(key="sc_save_name").input("Tech dips")
    at = next(b for b in at.button if b.label == "Save screen").click().run()
    assert not at.exception and not at.error
    assert "Saved the screen “Tech dips”" in "\n".join(shown(s.value) for s in at.success)

    # A fresh session: reset, then load the screen: the widgets and the table come back.
    again = open_screener()
    assert len(result(again)) == 35
    assert again.selectbox(key="sc_saved_pick").options == ["Tech dips"]
    again = again.button(key="sc_load").click().run()
    assert not again.exception
    assert again.multiselect(key="sc_sector").value == ["Information Technology"]
    assert again.number_input(key="sc_rsi_14_min").value == 30.0
    assert again.selectbox(key="sc_sma50").value == "Below"
    assert again.selectbox(key="sc_sort").value == "YTD (%)"
    assert result(again).reset_index(drop=True).equals(screened.reset_index(drop=True))
    assert link(again)["sc_rsi_14_min"] == ["30"]  # the loaded screen is in the URL too

    # Screens are per user.
    bob = open_screener(username="bob")
    assert "No saved screen yet" in texts(bob)

    again = again.button(key="sc_delete").click().run()
    assert not again.exception
    assert "No saved screen yet" in texts(again)
    with own_app.connect() as conn:
        assert conn.execute(sa.text("select count(*) from saved_views where kind = 'screen'")).scalar_one() == 0


def test_a_screen_without_a_name_is_refused(own_app):
    at = open_screener()
    at = next(b for b in at.button if b.label == "Save screen").click().run()
    assert not at.exception
    assert [shown(e.value) for e in at.error] == ["Not saved: a name is 1 to 64 printable characters."]


def test_send_the_result_to_a_watchlist(own_app):
    from dashboard.ui import loaders

    at = open_screener({"sc_sector": "Energy", "sc_sort": "Symbol", "sc_desc": "false"})
    energy = list(result(at)["symbol"])
    assert energy == sorted(energy) and len(energy) == 4
    at.text_input(key="sc_watchlist_name").input("Energy screen")
    at = at.button(key="sc_watchlist_save").click().run()
    assert not at.exception
    assert "Saved the watchlist “Energy screen” (4 symbols)" in "\n".join(shown(s.value) for s in at.success)
    [saved] = loaders.watchlists("admin")
    assert saved.name == "Energy screen" and list(saved.symbols) == energy


def test_the_export_is_audited_and_holds_the_result(ready_app, monkeypatch):
    from streamlit.elements.widgets.button import ButtonMixin

    from store.db import get_engine

    captured = {}
    original = ButtonMixin.download_button

    def spy(self, label, data, *args, **kwargs):
        captured[(kwargs.get("key"), label)] = (data, kwargs.get("file_name"))
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(ButtonMixin, "download_button", spy)
    at = open_screener({"sc_sector": "Energy"})
    assert not at.exception
    build, name = captured[("sc_export_csv", "CSV")]
    with get_engine().connect() as conn:
        before = conn.execute(sa.text("select count(*) from audit_log where action = 'export'")).scalar_one()
    data = pd.read_csv(io.BytesIO(build()))
    assert name.startswith("market-desk_screener_") and set(data["symbol"]) == set(result(at)["symbol"])
    energy = universe().set_index("symbol").loc[data["symbol"]]
    assert data["market_cap"].to_numpy() == pytest.approx(energy["market_cap"].to_numpy(), rel=1e-6)  # in USD
    with get_engine().connect() as conn:
        after = conn.execute(
            sa.text("select details from audit_log where action = 'export' order by id desc limit 1")
        ).scalar_one()
        count = conn.execute(sa.text("select count(*) from audit_log where action = 'export'")).scalar_one()
    assert count == before + 1
    assert after["page"] == "screener" and after["format"] == "csv" and after["rows"] == len(data)


def test_stored_key_statistics_are_columns_and_filters(ready_app):
    from tests.conftest import ROOT

    stored = pd.read_csv(ROOT / "data" / "sample" / "reference" / "key_statistics.csv")
    at = open_screener({"sc_x1_col": "P/E (trailing)", "sc_x1_op": "<", "sc_x1_val": "1,000"})
    assert not at.exception and not at.warning
    table = result(at)
    aapl = stored[stored["symbol"] == "AAPL"].iloc[-1]
    assert list(table["symbol"]) == ["AAPL"]  # the sample stores key statistics for AAPL only
    assert table["trailing_pe"].iloc[0] == pytest.approx(aapl["trailing_pe"])
    assert table["dividend_yield"].iloc[0] == pytest.approx(aapl["dividend_yield"])
