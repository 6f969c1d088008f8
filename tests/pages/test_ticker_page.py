"""AppTest: the Ticker page on the sample data and on real-shaped split/dividend rows; URL state; bad input."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.app import ROUTER, figures, log_in, page, shown, texts, traces
from tests.support.market_data import load_yahoo_aapl


def open_ticker(params: dict | None = None) -> AppTest:
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    at.switch_page(page("ticker"))
    at.query_params.update(params or {})
    return at.run()


def link(at: AppTest) -> str:
    caption = next(shown(c.value) for c in at.caption if c.value.startswith("Link to this view"))
    return caption.split("`")[1]


@pytest.fixture
def yahoo_app(app_on, make_database):
    """The app on a database holding AAPL with raw and adjusted closes, a 4:1 split and a dividend."""
    url = make_database()
    load_yahoo_aapl(url)
    app_on(url)


def test_default_view_is_a_year_of_spy_candles_with_its_source(ready_app):
    at = open_ticker()
    assert not at.exception
    assert at.title[0].value == "Ticker"
    [price] = figures(at)
    candles = traces(price)["SPY"]
    assert candles["type"] == "candlestick"
    assert candles["x"][0] >= "2025-06-25" and candles["x"][-1] == "2026-06-25"
    assert candles["close"][-1] == pytest.approx(traces(price)["SPY"]["close"][-1])
    assert "bundled sample dataset" in texts(at) and "SPY: sample, stored 2019-01-02 → 2026-06-25" in texts(at)
    assert [b.label for b in at.get("download_button")] == ["CSV", "XLSX"]


def test_the_url_reproduces_the_view(ready_app):
    params = {"t": "aapl, msft", "range": "3M", "chart": "Line", "ind": ["SMA20", "RSI"], "adj": "true"}
    at = open_ticker(params)
    assert not at.exception
    assert at.text_input(key="t").value == "aapl, msft"
    assert at.get("segmented_control")[0].value == "3M" and at.get("segmented_control")[1].value == "Line"
    assert at.get("pills")[0].value == ["SMA20", "RSI"]
    price, compare = figures(at)
    assert set(traces(price)) >= {"AAPL", "SMA 20", "RSI 14", "Volume"}
    assert list(traces(compare)) == ["AAPL", "MSFT"]
    shared = link(at)
    assert parse_qs(shared[1:]) == {
        "t": ["AAPL,MSFT"],
        "range": ["3M"],
        "chart": ["Line"],
        "ind": ["SMA20", "RSI"],
        "adj": ["true"],
    }
    # Opening the shared link in a new session gives the same view, down to the figures.
    again = open_ticker({k: v if len(v) > 1 else v[0] for k, v in parse_qs(shared[1:]).items()})
    assert not again.exception
    assert link(again) == shared and figures(again) == figures(at)


def test_custom_range_from_the_url(ready_app):
    at = open_ticker({"t": "MSFT", "range": "Custom", "dates": ["2024-01-02", "2024-01-31"]})
    assert not at.exception
    candles = traces(figures(at)[0])["MSFT"]
    assert candles["x"][0] == "2024-01-02" and candles["x"][-1] == "2024-01-31" and len(candles["x"]) == 21
    assert "dates=2024-01-02&dates=2024-01-31" in link(at)


def test_unknown_ticker_lists_close_matches_and_keeps_the_known_ones(ready_app):
    at = open_ticker({"t": "APPL,MSFT"})
    assert not at.exception
    assert [shown(w.value) for w in at.warning] == ["Unknown ticker “APPL”. Did you mean AAPL?"]
    assert "MSFT" in traces(figures(at)[0])

    at = open_ticker({"t": "GOGL"})
    assert not at.exception
    assert (
        len(at.error) == 1
        and "Unknown ticker “GOGL”" in shown(at.error[0].value)
        and "GOOGL" in shown(at.error[0].value)
    )
    assert figures(at) == []


def test_typing_an_unknown_ticker_in_the_box(ready_app):
    at = open_ticker()
    at.text_input(key="t").input("NVDA, TSLAA").run()
    assert not at.exception
    assert shown(at.warning[0].value) == "Unknown ticker “TSLAA”. Did you mean TSLA?"
    assert "NVDA" in traces(figures(at)[0])


def test_too_many_tickers_are_cut_to_eight_with_a_message(ready_app):
    at = open_ticker({"t": "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,SPY,QQQ,IWM"})
    assert not at.exception
    assert any("At most 8 tickers" in shown(w.value) for w in at.warning)
    assert len(traces(figures(at)[1])) == 8


def test_a_range_with_no_data_is_a_message(ready_app):
    at = open_ticker({"t": "AAPL", "range": "Custom", "dates": ["2001-01-01", "2001-12-31"]})
    assert not at.exception
    assert len(at.warning) == 1
    assert shown(at.warning[0].value).startswith("No prices between 2001-01-01 and 2001-12-31 for AAPL.")
    assert "AAPL: 2019-01-02 → 2026-06-25" in shown(at.warning[0].value)
    assert figures(at) == []


def test_five_tickers_over_the_whole_history_stay_small(ready_app):
    at = open_ticker({"t": "AAPL,MSFT,NVDA,SPY,QQQ", "range": "Max", "ind": ["SMA50", "BB", "MACD"]})
    assert not at.exception
    price, compare = figures(at)
    assert len(traces(price)["AAPL"]["x"]) <= 500 and "weekly bars" in price["layout"]["title"]["text"]
    assert all(len(t["x"]) <= 1000 for t in compare["data"])
    assert sum(len(chart.proto.spec) for chart in at.get("plotly_chart")) < 600_000


def test_unadjusted_is_refused_clearly_for_the_adjusted_only_sample(ready_app):
    at = open_ticker({"t": "AAPL", "adj": "false"})
    assert not at.exception
    assert [shown(i.value) for i in at.info] == [
        "Unadjusted prices are not available for AAPL: the bundled sample dataset stores split- and "
        "dividend-adjusted prices only. Showing adjusted prices."
    ]
    assert "prices adjusted (splits and dividends): the sources store adjusted prices only" in texts(at)


def test_unadjusted_on_five_adjusted_only_tickers_says_so_once(ready_app):
    at = open_ticker({"t": "AAPL,MSFT,NVDA,SPY,QQQ", "adj": "false"})
    assert not at.exception
    assert [shown(i.value) for i in at.info] == [
        "Unadjusted prices are not available for AAPL, MSFT, NVDA, QQQ and SPY: the bundled sample dataset stores "
        "split- and dividend-adjusted prices only. Showing adjusted prices."
    ]
    assert "unadjusted (as traded)" not in texts(at)


def test_unadjusted_prices_and_split_dividend_markers_when_stored(yahoo_app):
    adjusted = open_ticker({"t": "AAPL", "range": "Max"})
    raw = open_ticker({"t": "AAPL", "range": "Max", "adj": "false"})
    for at in (adjusted, raw):
        assert not at.exception and not at.info
    adj_candles = traces(figures(adjusted)[0])["AAPL"]
    raw_candles = traces(figures(raw)[0])["AAPL"]
    assert raw_candles["x"][0] == "2020-08-31"
    assert raw_candles["close"][0] == pytest.approx(129.04, abs=0.005)  # as traded
    assert adj_candles["close"][0] == pytest.approx(125.8267, abs=1e-3)  # dividend-adjusted
    for at in (adjusted, raw):
        shown = traces(figures(at)[0])
        assert shown["Splits"]["x"] == ["2020-08-31"] and shown["Splits"]["text"] == ["Split 4:1"]
        assert shown["Dividends"]["x"] == ["2020-11-06"] and shown["Dividends"]["text"] == ["Dividend 0.205"]
    assert "Corporate actions in range (AAPL): 2020-08-31 split 4:1, 2020-11-06 dividend $0.205" in texts(raw)
    assert "AAPL: yahoo, stored 2020-08-31 → 2020-11-06" in texts(raw)
    assert texts(raw).count("prices unadjusted (as traded)") == 1 and "prices adjusted" in texts(adjusted)


def test_exports_hold_the_rows_shown_and_the_parameters(ready_app):
    """The page's export path (query -> ticker_frames -> export_frame -> CSV/XLSX) matches what it draws."""
    import io
    from datetime import date

    import pandas as pd

    from analytics import market
    from dashboard.ui import exports, loaders, url_state

    at = open_ticker({"t": "AAPL,MSFT", "range": "Custom", "dates": ["2024-01-02", "2024-03-28"], "ind": ["RSI"]})
    drawn = traces(figures(at)[0])["AAPL"]
    view = url_state.View(("AAPL", "MSFT"), "Custom", date(2024, 1, 2), date(2024, 3, 28), "Candlestick", ("RSI",))
    version = loaders.data_version()
    frames, notes = market.ticker_frames(loaders.bars(version, ["AAPL", "MSFT"]), ["AAPL", "MSFT"], True, view.start,
                                         view.end, view.indicators)  # fmt: skip
    info = loaders.freshness(version)
    params = exports.export_parameters(view, view.start, view.end, info["as_of"], info["sources"])
    data = exports.export_frame(frames)

    csv, header = exports.read_csv_export(exports.to_csv(data, params))
    sheets = pd.read_excel(io.BytesIO(exports.to_xlsx(data, params)), sheet_name=None)
    xlsx_params = dict(zip(sheets["parameters"]["parameter"], sheets["parameters"]["value"], strict=True))
    for table, meta in ((csv, header), (sheets["data"], xlsx_params)):
        assert meta["data_as_of"] == "2026-06-25" and meta["source"] == "sample"
        assert meta["tickers"] == "AAPL,MSFT" and meta["range"] == "Custom" and meta["indicators"] == "RSI"
        assert (meta["start"], meta["end"]) == ("2024-01-02", "2024-03-28")
        aapl = table[table["symbol"] == "AAPL"]
        assert [str(d)[:10] for d in aapl["date"]] == drawn["x"]
        assert aapl["close"].to_numpy() == pytest.approx(drawn["close"], abs=1e-6)
        assert aapl["rsi"].notna().all() and set(table["symbol"]) == {"AAPL", "MSFT"}
    assert notes == {}


def _url_params():
    from hypothesis import strategies as hs

    junk = hs.text(max_size=30)
    return hs.fixed_dictionaries(
        {},
        optional={
            "t": hs.one_of(junk, hs.sampled_from(["AAPL", "aapl,msft", "APPL", ",,,", "SPY " * 12, "^GSPC;DROP"])),
            "range": hs.one_of(junk, hs.sampled_from(["", "1M", "YTD", "Max", "Custom"])),
            "dates": hs.lists(hs.one_of(junk, hs.dates().map(str)), max_size=3),
            "chart": hs.one_of(junk, hs.sampled_from(["", "Line", "OHLC"])),
            "ind": hs.lists(hs.one_of(junk, hs.sampled_from(["RSI", "MACD", "BB"])), max_size=4),
            "adj": hs.one_of(junk, hs.sampled_from(["", "true", "false"])),
        },
    )


@pytest.mark.fuzz
def test_any_query_string_renders_without_an_exception(ready_app):
    """Property: whatever a URL carries, the page answers with content or a message, never a traceback."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(params=_url_params())
    def check(params):
        at = open_ticker(params)
        assert not at.exception, (params, at.exception)
        assert figures(at) or at.warning or at.error or at.info

    check()


def test_display_currency_converts_prices_at_each_days_rate_but_not_the_comparison(ready_app):
    import csv

    from tests.conftest import ROOT

    usd = open_ticker({"t": "AAPL,MSFT", "range": "1M", "chart": "Line"})
    usd_price, usd_compare = figures(usd)
    at = open_ticker({"t": "AAPL,MSFT", "range": "1M", "chart": "Line"})
    at.selectbox(key="display_currency").select("GBP").run()
    assert not at.exception
    gbp_price, gbp_compare = figures(at)

    with open(ROOT / "data" / "sample" / "macro" / "DEXUSUK.csv") as fh:
        rates = {r["date"]: float(r["value"]) for r in csv.DictReader(fh) if r["value"]}
    aapl_usd, aapl_gbp = traces(usd_price)["AAPL"], traces(gbp_price)["AAPL"]
    assert aapl_gbp["x"] == aapl_usd["x"]
    for day, usd_close, gbp_close in zip(aapl_usd["x"], aapl_usd["y"], aapl_gbp["y"], strict=True):
        rate = rates[max(d for d in rates if d <= day[:10])]  # that day's rate, else the last before it
        assert gbp_close == pytest.approx(usd_close / rate, rel=1e-12)
    assert traces(gbp_compare)["MSFT"]["y"] == pytest.approx(traces(usd_compare)["MSFT"]["y"], rel=1e-12)
    assert "in GBP £" in texts(at)


@pytest.fixture
def sp500_app(app_on, make_sample_database):
    """The app on the sample database plus two stocks of the S&P 500 demo dataset (adjusted closes only)."""
    from ingestion.sample import load_sample
    from store.db import create_db_engine
    from tests.support.sp500 import SP500

    url = make_sample_database()
    engine = create_db_engine(url)
    load_sample(engine, SP500, "sp500", symbols=["NFLX", "DFS"])
    engine.dispose()
    app_on(url)


def test_a_symbol_with_adjusted_closes_only_is_drawn_as_a_line(sp500_app):
    at = open_ticker({"t": "NFLX,AAPL", "range": "1Y", "chart": "Candlestick", "adj": "false"})
    assert not at.exception
    price, compare = figures(at)
    drawn = traces(price)
    assert drawn["NFLX"]["type"] == "scatter" and drawn["NFLX"]["mode"] == "lines"
    assert "Volume" not in drawn  # no volume is stored: none is drawn
    assert list(traces(compare)) == ["NFLX", "AAPL"]
    text = texts(at)
    assert "Only adjusted closes are stored for NFLX" in text
    assert "the S&P 500 demo dataset stores split- and dividend-adjusted prices only" in text
    assert "NFLX: sample-sp500, stored 2019-01-02 → 2026-06-25" in text
    assert "chart=Candlestick" in link(at)  # the link keeps the choice: AAPL opens as candles
    at = open_ticker({"t": "AAPL,NFLX", "chart": "Candlestick"})
    assert traces(figures(at)[0])["AAPL"]["type"] == "candlestick"
    at = open_ticker({"t": "DFS", "range": "Max"})  # a former member: its data ends in 2024
    assert not at.exception and traces(figures(at)[0])["DFS"]["x"][-1] == "2024-09-10"
