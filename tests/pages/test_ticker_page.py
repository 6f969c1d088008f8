"""AppTest: the Ticker page on the sample data and on real-shaped split/dividend rows; URL state; bad input."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace
from urllib.parse import parse_qs

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import SAMPLE as ROOT_SAMPLE
from tests.support.app import ROUTER, figures, log_in, page, shown, texts, traces
from tests.support.market_data import load_yahoo_aapl


def open_ticker(params: dict | None = None) -> AppTest:
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    at.switch_page(page("ticker"))
    at.query_params.update(params or {})
    return at.run()


def link(at: AppTest) -> str:
    """The page's "Link to this view" (a code box, which has the copy button; the query alone in tests)."""
    assert any(c.value.startswith("Link to this view") for c in at.caption)
    [box] = at.code
    return box.value


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
    assert [b.label for b in at.get("download_button")] == ["CSV", "XLSX", "Parameters"]


def test_the_url_reproduces_the_view(ready_app):
    params = {"tk_t": "aapl, msft", "tk_range": "3M", "tk_chart": "Line", "tk_ind": ["SMA20", "RSI"], "tk_adj": "true"}
    at = open_ticker(params)
    assert not at.exception
    assert at.text_input(key="tk_t").value == "aapl, msft"
    assert at.get("segmented_control")[0].value == "3M" and at.get("segmented_control")[1].value == "Line"
    assert at.get("pills")[0].value == ["SMA20", "RSI"]
    price, compare = figures(at)
    assert set(traces(price)) >= {"AAPL", "SMA 20", "RSI 14", "Volume"}
    assert list(traces(compare)) == ["AAPL", "MSFT"]
    shared = link(at)
    assert parse_qs(shared[1:]) == {
        "tk_t": ["AAPL,MSFT"],
        "tk_range": ["3M"],
        "tk_chart": ["Line"],
        "tk_ind": ["SMA20", "RSI"],
        "tk_adj": ["true"],
    }
    # Opening the shared link in a new session gives the same view, down to the figures.
    again = open_ticker({k: v if len(v) > 1 else v[0] for k, v in parse_qs(shared[1:]).items()})
    assert not again.exception
    assert link(again) == shared and figures(again) == figures(at)


def test_custom_range_from_the_url(ready_app):
    at = open_ticker({"tk_t": "MSFT", "tk_range": "Custom", "tk_dates": ["2024-01-02", "2024-01-31"]})
    assert not at.exception
    candles = traces(figures(at)[0])["MSFT"]
    assert candles["x"][0] == "2024-01-02" and candles["x"][-1] == "2024-01-31" and len(candles["x"]) == 21
    assert "tk_dates=2024-01-02&tk_dates=2024-01-31" in link(at)


def test_unknown_ticker_lists_close_matches_and_keeps_the_known_ones(ready_app):
    at = open_ticker({"tk_t": "APPL,MSFT"})
    assert not at.exception
    assert [shown(w.value) for w in at.warning] == ["Unknown ticker “APPL”. Did you mean AAPL?"]
    assert "MSFT" in traces(figures(at)[0])

    at = open_ticker({"tk_t": "GOGL"})
    assert not at.exception
    assert (
        len(at.error) == 1
        and "Unknown ticker “GOGL”" in shown(at.error[0].value)
        and "GOOGL" in shown(at.error[0].value)
    )
    assert figures(at) == []


def test_typing_an_unknown_ticker_in_the_box(ready_app):
    at = open_ticker()
    at.text_input(key="tk_t").input("NVDA, TSLAA").run()
    assert not at.exception
    assert shown(at.warning[0].value) == "Unknown ticker “TSLAA”. Did you mean TSLA?"
    assert "NVDA" in traces(figures(at)[0])


def test_too_many_tickers_are_cut_to_eight_with_a_message(ready_app):
    at = open_ticker({"tk_t": "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,SPY,QQQ,IWM"})
    assert not at.exception
    assert any("At most 8 tickers" in shown(w.value) for w in at.warning)
    assert len(traces(figures(at)[1])) == 8


def test_a_range_with_no_data_is_a_message(ready_app):
    at = open_ticker({"tk_t": "AAPL", "tk_range": "Custom", "tk_dates": ["2024-01-06", "2024-01-07"]})  # a weekend
    assert not at.exception
    assert len(at.warning) == 1
    assert shown(at.warning[0].value).startswith("No prices between 2024-01-06 and 2024-01-07 for AAPL.")
    assert "AAPL: 2019-01-02 → 2026-06-25" in shown(at.warning[0].value)
    assert figures(at) == []


def test_custom_dates_offer_only_the_stored_span_and_refuse_others_from_a_link(ready_app):
    at = open_ticker({"tk_t": "AAPL", "tk_range": "Custom", "tk_dates": ["2001-01-01", "2001-12-31"]})
    assert not at.exception
    [picker] = at.date_input
    assert (picker.min, picker.max) == (date(2019, 1, 2), date(2026, 6, 25))  # AAPL's stored history
    assert [shown(w.value) for w in at.warning] == [
        "The dates 2001-01-01 → 2001-12-31 are not a range inside the stored data (2019-01-02 → 2026-06-25); "
        "showing 2025-06-01 → 2026-06-25 instead."
    ]
    candles = traces(figures(at)[0])["AAPL"]
    assert candles["x"][0] == "2025-06-02" and candles["x"][-1] == "2026-06-25"


def test_reversed_dates_from_a_link_are_shown_and_used_swapped(ready_app):
    at = open_ticker({"tk_t": "MSFT", "tk_range": "Custom", "tk_dates": ["2024-01-31", "2024-01-02"]})
    assert not at.exception and not at.warning
    assert at.date_input[0].value == (date(2024, 1, 2), date(2024, 1, 31))
    candles = traces(figures(at)[0])["MSFT"]
    assert candles["x"][0] == "2024-01-02" and candles["x"][-1] == "2024-01-31"
    assert "tk_dates=2024-01-02&tk_dates=2024-01-31" in link(at)


def test_five_tickers_over_the_whole_history_stay_small(ready_app):
    at = open_ticker({"tk_t": "AAPL,MSFT,NVDA,SPY,QQQ", "tk_range": "Max", "tk_ind": ["SMA50", "BB", "MACD"]})
    assert not at.exception
    price, compare = figures(at)
    assert len(traces(price)["AAPL"]["x"]) <= 500 and "weekly bars" in price["layout"]["title"]["text"]
    assert all(len(t["x"]) <= 1000 for t in compare["data"])
    assert sum(len(chart.proto.spec) for chart in at.get("plotly_chart")) < 600_000


def test_unadjusted_is_refused_clearly_for_the_adjusted_only_sample(ready_app):
    at = open_ticker({"tk_t": "AAPL", "tk_adj": "false"})
    assert not at.exception
    assert [shown(i.value) for i in at.info] == [
        "Unadjusted prices are not available for AAPL: the bundled sample dataset stores split- and "
        "dividend-adjusted prices only. Showing adjusted prices."
    ]
    assert "prices adjusted (splits and dividends): the sources store adjusted prices only" in texts(at)


def test_unadjusted_on_five_adjusted_only_tickers_says_so_once(ready_app):
    at = open_ticker({"tk_t": "AAPL,MSFT,NVDA,SPY,QQQ", "tk_adj": "false"})
    assert not at.exception
    assert [shown(i.value) for i in at.info] == [
        "Unadjusted prices are not available for AAPL, MSFT, NVDA, QQQ and SPY: the bundled sample dataset stores "
        "split- and dividend-adjusted prices only. Showing adjusted prices."
    ]
    assert "unadjusted (as traded)" not in texts(at)


def test_unadjusted_prices_and_split_dividend_markers_when_stored(yahoo_app):
    adjusted = open_ticker({"tk_t": "AAPL", "tk_range": "Max"})
    raw = open_ticker({"tk_t": "AAPL", "tk_range": "Max", "tk_adj": "false"})
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

    at = open_ticker(
        {"tk_t": "AAPL,MSFT", "tk_range": "Custom", "tk_dates": ["2024-01-02", "2024-03-28"], "tk_ind": ["RSI"]}
    )
    drawn = traces(figures(at)[0])["AAPL"]
    view = url_state.View(("AAPL", "MSFT"), "Custom", date(2024, 1, 2), date(2024, 3, 28), "Candlestick", ("RSI",))
    version = loaders.data_version()
    frames, notes = market.ticker_frames(loaders.bars(version, ["AAPL", "MSFT"]), ["AAPL", "MSFT"], True, view.start,
                                         view.end, view.indicators)  # fmt: skip
    info = loaders.freshness(version)
    params = exports.export_parameters(view, view.start, view.end, info["as_of"], info["sources"])
    data = exports.export_frame(frames)

    csv, header = exports.read_csv_export(exports.to_csv(data), exports.params_json(params))
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
            "tk_t": hs.one_of(junk, hs.sampled_from(["AAPL", "aapl,msft", "APPL", ",,,", "SPY " * 12, "^GSPC;DROP"])),
            "tk_range": hs.one_of(junk, hs.sampled_from(["", "1M", "YTD", "Max", "Custom"])),
            "tk_dates": hs.lists(hs.one_of(junk, hs.dates().map(str)), max_size=3),
            "tk_chart": hs.one_of(junk, hs.sampled_from(["", "Line", "OHLC"])),
            "tk_ind": hs.lists(hs.one_of(junk, hs.sampled_from(["RSI", "MACD", "BB"])), max_size=4),
            "tk_adj": hs.one_of(junk, hs.sampled_from(["", "true", "false"])),
            "range": hs.one_of(junk, hs.sampled_from(["3M", "Custom"])),  # a link from before the page keys
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

    usd = open_ticker({"tk_t": "AAPL,MSFT", "tk_range": "1M", "tk_chart": "Line"})
    usd_price, usd_compare = figures(usd)
    at = open_ticker({"tk_t": "AAPL,MSFT", "tk_range": "1M", "tk_chart": "Line"})
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
    at = open_ticker({"tk_t": "NFLX,AAPL", "tk_range": "1Y", "tk_chart": "Candlestick", "tk_adj": "false"})
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
    assert "tk_chart=Candlestick" in link(at)  # the link keeps the choice: AAPL opens as candles
    at = open_ticker({"tk_t": "AAPL,NFLX", "tk_chart": "Candlestick"})
    assert traces(figures(at)[0])["AAPL"]["type"] == "candlestick"
    at = open_ticker({"tk_t": "DFS", "tk_range": "Max"})  # a former member: its data ends in 2024
    assert not at.exception and traces(figures(at)[0])["DFS"]["x"][-1] == "2024-09-10"


WIDGETS = ("text_input", "segmented_control", "pills", "toggle", "date_input", "selectbox", "number_input")


def widget_values(at: AppTest) -> dict[str, object]:
    """Every keyed widget's value on the page (the sidebar's display currency included)."""
    return {w.key: w.value for kind in WIDGETS for w in at.get(kind) if getattr(w, "key", None)}


def reopen(shared: str, page_name: str = "ticker") -> AppTest:
    """The link opened in a fresh session."""
    params = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(shared.split("?", 1)[1]).items()}
    at = AppTest.from_file(ROUTER, default_timeout=30)
    at.query_params.update(params)  # the session's first request carries the link, as a browser's does
    at = log_in(at.run())
    at.switch_page(page(page_name))
    at.query_params.update(params)
    return at.run()


def test_the_link_carries_every_piece_of_state_including_the_currency(ready_app):
    at = open_ticker({"tk_t": "AAPL,MSFT", "tk_range": "Custom", "tk_dates": ["2024-02-01", "2024-04-30"]})
    at.segmented_control(key="tk_chart").set_value("OHLC").run()
    at.pills(key="tk_ind").set_value(["SMA20", "BB", "RSI"]).run()
    at.toggle(key="tk_adj").set_value(False).run()
    at.selectbox(key="display_currency").select("GBP").run()
    assert not at.exception
    shared = link(at)
    assert parse_qs(shared[1:]) == {
        "tk_t": ["AAPL,MSFT"],
        "tk_range": ["Custom"],
        "tk_dates": ["2024-02-01", "2024-04-30"],
        "tk_chart": ["OHLC"],
        "tk_ind": ["SMA20", "BB", "RSI"],
        "tk_adj": ["false"],
        "ccy": ["GBP"],
    }
    again = reopen(shared)
    assert not again.exception
    assert widget_values(again) == widget_values(at)
    assert widget_values(again)["display_currency"] == "GBP" and widget_values(again)["tk_adj"] is False
    assert link(again) == shared and figures(again) == figures(at)


def test_ticker_and_risk_keep_their_own_state_across_page_switches(ready_app):
    at = open_ticker()
    at.text_input(key="tk_t").input("QQQ").run()
    at.segmented_control(key="tk_range").set_value("Custom").run()
    at.date_input(key="tk_dates").set_value((date(2024, 3, 1), date(2024, 5, 31))).run()
    ticker_state = widget_values(at)

    at.switch_page(page("risk")).run()
    assert not at.exception
    assert "QQQ" not in at.text_input(key="rk_t").value  # Risk's default (a watchlist), not what Ticker has
    assert at.segmented_control(key="rk_range").value == "5Y" and not at.date_input
    assert not any(key.startswith("tk_") for key in widget_values(at))
    at.text_input(key="rk_t").input("XOM,CVX").run()
    at.segmented_control(key="rk_range").set_value("1Y").run()
    risk_state = widget_values(at)
    assert "rk_t=XOM%2CCVX" in at.code[0].value and "tk_" not in at.code[0].value

    at.switch_page(page("ticker")).run()
    assert not at.exception
    assert widget_values(at) == ticker_state
    assert traces(figures(at)[0])["QQQ"]["x"][0] == "2024-03-01"
    at.switch_page(page("risk")).run()
    assert widget_values(at) == risk_state
    assert list(at.dataframe[0].value["symbol"]) == ["XOM", "CVX", "SPY"]


def test_links_from_before_the_page_keys_still_open(ready_app):
    at = open_ticker({"t": "MSFT", "range": "Custom", "dates": ["2024-01-02", "2024-01-31"], "chart": "Line"})
    assert not at.exception
    assert at.text_input(key="tk_t").value == "MSFT" and at.segmented_control(key="tk_chart").value == "Line"
    assert at.date_input(key="tk_dates").value == (date(2024, 1, 2), date(2024, 1, 31))
    assert "t" not in at.query_params and link(at).startswith("?tk_t=MSFT&tk_range=Custom")


def test_short_ranges_skip_weekends_and_nyse_holidays(ready_app):
    at = open_ticker({"tk_t": "AAPL", "tk_range": "Custom", "tk_dates": ["2024-06-03", "2024-07-31"], "tk_ind": "RSI"})
    price = figures(at)[0]
    breaks = price["layout"]["xaxis"]["rangebreaks"]
    assert breaks == [{"bounds": ["sat", "mon"]}, {"values": ["2024-06-19", "2024-07-04"]}]  # Juneteenth, 4 July
    assert price["layout"]["xaxis3"]["rangebreaks"] == breaks  # the volume and RSI panels skip the same days
    # Over the whole history the bars are weekly: no gaps to skip, no breaks.
    at = open_ticker({"tk_t": "AAPL", "tk_range": "Max"})
    assert "rangebreaks" not in figures(at)[0]["layout"]["xaxis"]


# -- the quote header, the log scale and the crosshair ------------------------------------------------------


def metrics(at: AppTest) -> dict[str, SimpleNamespace]:
    """The quote header's figures by label: the last-price metric (its label names the symbol and the close's date)
    and the label/value lines (":gray[label]  \\n**value**", escaped), each with its value, delta and tooltip."""
    out = {m.label: SimpleNamespace(value=m.value, delta=m.delta, help=m.help) for m in at.metric}
    for line in at.markdown:
        match = re.fullmatch(r":gray\[(.+?)\]  \n\*\*(.+)\*\*", line.value, flags=re.S)
        if match:
            label, value = (re.sub(r"\\(.)", r"\1", g) for g in match.groups())
            out[label] = SimpleNamespace(value=value, delta=None, help=line.proto.help)
    return out


def aapl_by_hand() -> dict[str, float]:
    """AAPL's quote figures from the bundled CSVs with plain pandas, independently of analytics.market."""
    bars = pd.read_csv(ROOT_SAMPLE / "prices" / "AAPL.csv", parse_dates=["Date"]).set_index("Date")
    last, previous = bars.iloc[-1], bars.iloc[-2]
    year = bars[bars.index > pd.Timestamp("2025-06-25")]  # the 52 weeks to 2026-06-25: after the same day in 2025
    shares = pd.read_csv(ROOT_SAMPLE / "reference" / "shares_outstanding.csv")
    seen = pd.to_datetime(shares["fetched_utc"], utc=True).dt.tz_convert("America/New_York").dt.tz_localize(None)
    public = shares[(shares["ticker"] == "AAPL") & (seen.dt.normalize() <= pd.Timestamp("2026-06-25"))]
    latest = public.loc[seen[public.index].idxmax()]
    return {
        "last": last["Close"],
        "change": last["Close"] - previous["Close"],
        "change_pct": last["Close"] / previous["Close"] - 1,
        "day_low": last["Low"],
        "day_high": last["High"],
        "low_52w": year["Low"].min(),
        "high_52w": year["High"].max(),
        "position": (last["Close"] - year["Low"].min()) / (year["High"].max() - year["Low"].min()),
        "volume": bars["Volume"].iloc[-63:].mean(),
        "shares": latest["shares_outstanding"],
        "filed": seen[latest.name].date().isoformat(),
    }


def test_the_quote_header_shows_aapls_figures_from_the_sample(ready_app):
    at = open_ticker({"tk_t": "AAPL", "tk_range": "3M"})
    assert not at.exception
    want = aapl_by_hand()
    shown_metrics = metrics(at)
    last = shown_metrics["AAPL · close 2026-06-25"]
    assert last.value == f"${want['last']:,.2f}"
    sign = "-" if want["change"] < 0 else "+"
    assert last.delta == f"{sign}${abs(want['change']):,.2f} ({want['change_pct'] * 100:+,.2f}%)"
    assert shown_metrics["Day range"].value == f"${want['day_low']:,.2f} – ${want['day_high']:,.2f}"
    week52 = shown_metrics["52-week range"]
    assert week52.value == f"${want['low_52w']:,.2f} – ${want['high_52w']:,.2f}"
    assert f"the close is at {want['position'] * 100:,.0f}% of it" in week52.help
    assert at.get("progress")[0].value == int(want["position"] * 100)  # st.progress keeps whole percents
    assert shown_metrics["Avg. volume (3M)"].value == f"{want['volume']:,.0f}"
    assert "last 63 sessions" in shown_metrics["Avg. volume (3M)"].help
    cap = want["shares"] * want["last"]
    assert shown_metrics["Market cap"].value == f"${cap / 1e12:,.2f}T"
    assert f"{want['shares']:,.0f} shares (as of {want['filed']}, sample)" in shown_metrics["Market cap"].help
    # Key statistics: the recorded Yahoo figures (data/sample/reference/key_statistics.csv), with their date.
    stats = pd.read_csv(ROOT_SAMPLE / "reference" / "key_statistics.csv").iloc[0]
    assert shown_metrics["P/E (TTM)"].value == f"{stats['trailing_pe']:,.2f}"
    assert shown_metrics["EPS (TTM)"].value == f"${stats['trailing_eps']:,.2f}"
    assert shown_metrics["Dividend yield"].value == f"{stats['dividend_yield'] * 100:,.2f}%" == "0.41%"
    assert shown_metrics["Beta"].value == "1.20" and "sample, as of 2025-02-17" in shown_metrics["Beta"].help
    # Yahoo's next earnings (2025-04-30) lies before the sample's last close: not shown as upcoming.
    earnings = shown_metrics["Next earnings"]
    assert earnings.value == "–" and "2025-04-30" in earnings.help and "has passed" in earnings.help


def test_statistics_not_stored_are_a_dash_with_the_reason(ready_app):
    at = open_ticker({"tk_t": "SPY"})
    assert not at.exception
    shown_metrics = metrics(at)
    for label in ("P/E (TTM)", "EPS (TTM)", "Dividend yield", "Beta", "Next earnings", "Market cap"):
        assert shown_metrics[label].value == "–", label
        assert "reference" in shown_metrics[label].help, label
    assert shown_metrics["SPY · close 2026-06-25"].value.startswith("$")


def test_the_quote_follows_the_display_currency(ready_app):
    usd, gbp = open_ticker({"tk_t": "AAPL"}), open_ticker({"tk_t": "AAPL"})
    gbp.selectbox(key="display_currency").select("GBP").run()
    assert not gbp.exception
    assert metrics(gbp)["AAPL · close 2026-06-25"].value.startswith("£")
    assert metrics(gbp)["Market cap"].value.startswith("£") and metrics(usd)["Market cap"].value.startswith("$")
    assert metrics(gbp)["P/E (TTM)"].value == metrics(usd)["P/E (TTM)"].value  # a ratio has no currency


def test_log_scale_and_crosshair_in_the_figure_and_the_link(ready_app):
    plain = open_ticker({"tk_t": "AAPL", "tk_range": "1M"})
    logged = open_ticker({"tk_t": "AAPL", "tk_range": "1M", "tk_log": "true"})
    assert not logged.exception
    assert figures(plain)[0]["layout"]["yaxis"].get("type") != "log"
    layout = figures(logged)[0]["layout"]
    assert layout["yaxis"]["type"] == "log" and layout["yaxis2"].get("type") != "log"  # the price axis only
    assert layout["hovermode"] == "x unified" and layout["xaxis"]["showspikes"] is True
    candles = traces(figures(logged)[0])["AAPL"]
    assert candles["hovertemplate"].startswith("O %{customdata[0]}")
    want = pd.read_csv(ROOT_SAMPLE / "prices" / "AAPL.csv").iloc[-1]
    assert candles["customdata"][-1] == [f"${want[c]:,.2f}" for c in ("Open", "High", "Low", "Close")] + [
        f"{want['Volume']:,.0f}"
    ]
    assert "tk_log=true" in link(logged) and "tk_log" not in link(plain)
    # The toggle itself changes the figure.
    plain.toggle(key="tk_log").set_value(True).run()
    assert figures(plain)[0]["layout"]["yaxis"]["type"] == "log"
