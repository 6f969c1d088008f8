"""AppTest: the Risk page on the sample data: metrics vs an independent computation, charts, bad input."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from dashboard.access import users
from dashboard.ui import figures as figures_module
from tests.conftest import ROOT
from tests.support.app import ROUTER, figures, frame, log_in, messages, page, shown, texts, traces

PRICES = ROOT / "data" / "sample" / "prices"
MACRO = ROOT / "data" / "sample" / "macro"
TWENTY = "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,JPM,V,MA,UNH,JNJ,XOM,CVX,HD,MCD,BA,CAT,GLD,TLT"


def open_risk(params: dict | None = None) -> AppTest:
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    at.switch_page(page("risk"))
    at.query_params.update(params or {})
    return at.run()


def closes(symbol: str, start: str, end: str) -> pd.Series:
    frame = pd.read_csv(PRICES / f"{symbol}.csv", parse_dates=["Date"]).set_index("Date")["Close"]
    return frame.loc[start:end]


def bill_rate(start: str, end: str) -> float:
    """The mean of the stored DGS3MO values (percent a year) from `start` to `end`, read from the sample's CSV."""
    rates = pd.read_csv(MACRO / "DGS3MO.csv", parse_dates=["date"], na_values=".").set_index("date")["value"]
    return float(rates.loc[start:end].dropna().mean())


def test_metrics_match_an_independent_computation(ready_app):
    at = open_risk({"rk_t": "AAPL,MSFT", "rk_bench": "SPY", "rk_range": "1Y"})
    assert not at.exception
    assert at.subheader[0].value == "Metrics vs SPY, 2025-06-25 → 2026-06-25"
    table = at.dataframe[0].value.set_index("symbol")
    assert list(table.index) == ["AAPL", "MSFT", "SPY"]
    aapl = closes("AAPL", "2025-06-25", "2026-06-25")
    spy = closes("SPY", "2025-06-25", "2026-06-25")
    r, b = aapl.pct_change().dropna().to_numpy(), spy.pct_change().dropna().to_numpy()
    row = table.loc["AAPL"]
    assert row["total_return"] == pytest.approx(aapl.iloc[-1] / aapl.iloc[0] - 1, rel=1e-9)
    assert row["volatility"] == pytest.approx(np.std(r, ddof=1) * np.sqrt(252), rel=1e-9)
    # The risk-free rate defaults to the mean 3-month bill rate over the range, compounded to a daily rate.
    rf = bill_rate("2025-06-25", "2026-06-25") / 100
    daily = r - ((1 + rf) ** (1 / 252) - 1)
    assert row["sharpe"] == pytest.approx(daily.mean() / daily.std(ddof=1) * np.sqrt(252), rel=1e-9)
    assert f"Risk-free rate {rf * 100:.2f}% a year: the average of DGS3MO" in texts(at)
    assert row["beta"] == pytest.approx(np.cov(r, b)[0, 1] / np.var(b, ddof=1), rel=1e-9)
    assert row["var_95"] == pytest.approx(np.quantile(r, 0.05), rel=1e-9)
    assert row["max_drawdown"] == pytest.approx((aapl / aapl.cummax() - 1).min(), rel=1e-9)
    assert table.loc["SPY", "beta"] == pytest.approx(1.0) and table.loc["SPY", "correlation"] == pytest.approx(1.0)
    assert "bundled sample dataset" in texts(at)


def test_rolling_drawdown_correlation_and_distribution_charts(ready_app):
    at = open_risk({"rk_t": "AAPL,MSFT", "rk_range": "5Y", "rk_window": "63"})
    assert not at.exception
    vol, drawdown, corr, dist = figures(at)[:4]  # only the open rolling tab is drawn (the portfolio charts follow)
    assert list(traces(vol)) == ["AAPL", "MSFT"] and vol["layout"]["title"]["text"].startswith("Rolling volatility")
    assert all(max(v for v in t["y"] if v is not None) <= 0 for t in drawdown["data"])
    heat = corr["data"][0]
    assert heat["type"] == "heatmap" and heat["x"] == ["AAPL", "MSFT", "SPY"]
    assert np.diag(np.asarray(heat["z"], dtype=float)) == pytest.approx(1.0)
    table = at.dataframe[0].value.set_index("symbol")
    var_lines = sorted(shape["x0"] for shape in dist["layout"]["shapes"])
    assert var_lines == pytest.approx(sorted([table.loc["AAPL", "var_95"], table.loc["AAPL", "cvar_95"]]))
    at.selectbox(key="rk_dist").set_value("MSFT").run()
    assert "MSFT: distribution" in figures(at)[3]["layout"]["title"]["text"]


@pytest.mark.parametrize(("tab", "title"), [("Beta", "Rolling beta vs SPY"), ("Sharpe", "Rolling Sharpe")])
def test_the_other_rolling_tabs(ready_app, tab, title):
    at = open_risk({"rk_t": "AAPL,MSFT", "rk_range": "5Y", "rk_window": "126", "rk_rolling": tab})
    assert not at.exception
    rolling = figures(at)[0]
    assert rolling["layout"]["title"]["text"].startswith(f"{title}, 126-day")
    assert list(traces(rolling)) == ["AAPL", "MSFT"]


def test_twenty_tickers(ready_app):
    at = open_risk({"rk_t": TWENTY, "rk_range": "Max"})
    assert not at.exception and not at.warning
    assert len(at.dataframe[0].value) == 21  # twenty and the benchmark
    assert len(figures(at)[2]["data"][0]["x"]) == 21


def test_unknown_ticker_and_benchmark_give_suggestions(ready_app):
    at = open_risk({"rk_t": "AAPL,MSFTT", "rk_bench": "SPYY"})
    assert not at.exception
    assert len(at.error) == 1
    assert "Unknown ticker “MSFTT”. Did you mean MSFT?" in shown(at.error[0].value)
    assert "Unknown ticker “SPYY”. Did you mean SPY?" in shown(at.error[0].value)
    assert len(at.dataframe) == 0

    at = open_risk({"rk_t": "AAPL,MSFTT"})
    assert [shown(w.value) for w in at.warning] == ["Unknown ticker “MSFTT”. Did you mean MSFT?"]
    assert list(at.dataframe[0].value["symbol"]) == ["AAPL", "SPY"]


def test_short_range_and_empty_box(ready_app):
    at = open_risk({"rk_t": "AAPL", "rk_range": "1M"})
    assert not at.exception and len(at.dataframe[0].value) == 2
    at = open_risk({"rk_t": "", "rk_bench": "SPY"})
    assert not at.exception and [shown(i.value) for i in at.info] == ["Enter at least one ticker."]


@pytest.mark.fuzz
def test_any_query_string_renders_without_an_exception(ready_app):
    """Property: whatever a URL carries, the Risk page answers with content or a message, never a traceback."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as hs

    junk = hs.text(max_size=30)
    params = hs.fixed_dictionaries(
        {},
        optional={
            "rk_t": hs.one_of(junk, hs.sampled_from(["", "AAPL", "aapl,msft,xom", "APPL", TWENTY + ",X" * 15])),
            "rk_bench": hs.one_of(junk, hs.sampled_from(["", "SPY", "QQQ", "AAPL", "SPYY"])),
            "rk_range": hs.one_of(junk, hs.sampled_from(["", "1M", "YTD", "Max", "Custom"])),
            "rk_dates": hs.lists(hs.one_of(junk, hs.dates().map(str)), max_size=3),
            "rk_focus": hs.one_of(junk, hs.sampled_from(["", "AAPL", "MSFT", "SPY"])),
            "rk_dist": hs.one_of(junk, hs.sampled_from(["", "AAPL", "XOM"])),
            "t": hs.one_of(junk, hs.sampled_from(["AAPL", "MSFT,QQQ"])),  # a link from before the page keys
            "rk_window": hs.one_of(junk, hs.sampled_from(["", "21", "252", "-1"])),
            "rk_rf": hs.one_of(junk, hs.sampled_from(["", "0", "5.5", "1e9", "nan"])),
            "rk_rolling": hs.one_of(junk, hs.sampled_from(["", "Beta", "Sharpe"])),
            "rk_weights": hs.one_of(junk, hs.sampled_from(["", "Equal", "Custom"])),
            "rk_pw": hs.one_of(junk, hs.sampled_from(["", "AAPL:50,MSFT:50", "AAPL:0", "AAPL:-1,X:y", "AAPL:1e308"])),
        },
    )

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(params=params)
    def check(params):
        at = open_risk(params)
        assert not at.exception, (params, at.exception)
        assert at.dataframe or at.warning or at.error or at.info

    check()


WIDGETS = ("text_input", "segmented_control", "pills", "toggle", "date_input", "selectbox", "number_input")


def widget_values(at: AppTest) -> dict[str, object]:
    """Every keyed widget's value on the page (the sidebar's display currency included)."""
    return {w.key: w.value for kind in WIDGETS for w in at.get(kind) if getattr(w, "key", None)}


def reopen(shared: str) -> AppTest:
    """The Risk page's link opened in a fresh session (whose first request carries it, as a browser's does)."""
    params = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(shared.split("?", 1)[1]).items()}
    at = AppTest.from_file(ROUTER, default_timeout=30)
    at.query_params.update(params)
    at = log_in(at.run())
    at.switch_page(page("risk"))
    at.query_params.update(params)
    return at.run()


def test_the_link_reproduces_every_choice(ready_app):
    at = open_risk({"rk_t": "AAPL,MSFT,NVDA", "rk_bench": "QQQ", "rk_range": "Custom"})
    at.date_input(key="rk_dates").set_value((date(2023, 1, 3), date(2024, 12, 31))).run()
    at.selectbox(key="rk_window").set_value(126).run()
    at.number_input(key="rk_rf").set_value(4.5).run()
    at.selectbox(key="rk_focus").set_value("MSFT").run()
    at.selectbox(key="rk_dist").set_value("NVDA").run()
    at.selectbox(key="display_currency").select("EUR").run()
    assert not at.exception
    shared = at.code[0].value
    assert parse_qs(shared[1:]) == {
        "rk_t": ["AAPL,MSFT,NVDA"],
        "rk_bench": ["QQQ"],
        "rk_range": ["Custom"],
        "rk_dates": ["2023-01-03", "2024-12-31"],
        "rk_window": ["126"],
        "rk_rf": ["4.5"],
        "rk_rolling": ["Volatility"],
        "rk_focus": ["MSFT"],
        "rk_dist": ["NVDA"],
        "rk_weights": ["Equal"],
        "ccy": ["EUR"],
    }
    again = reopen(shared)
    assert not again.exception
    assert widget_values(again) == widget_values(at)
    assert again.code[0].value == shared and figures(again) == figures(at)
    assert again.dataframe[0].value.equals(at.dataframe[0].value)


def test_custom_range_bounds_and_reversed_dates(ready_app):
    at = open_risk({"rk_t": "AAPL", "rk_range": "Custom", "rk_dates": ["2024-12-31", "2024-01-02"]})
    assert not at.exception and not at.warning
    picker = at.date_input(key="rk_dates")
    assert picker.value == (date(2024, 1, 2), date(2024, 12, 31))  # shown swapped, not only used swapped
    assert (picker.min, picker.max) == (date(2019, 1, 2), date(2026, 6, 25))
    assert at.subheader[0].value == "Metrics vs SPY, 2024-01-02 → 2024-12-31"
    aapl = closes("AAPL", "2024-01-02", "2024-12-31")
    assert at.dataframe[0].value.set_index("symbol").loc["AAPL", "total_return"] == pytest.approx(
        aapl.iloc[-1] / aapl.iloc[0] - 1, rel=1e-9
    )


def test_a_window_longer_than_the_range_says_what_is_missing(ready_app):
    at = open_risk({"rk_t": "AAPL,MSFT", "rk_range": "1M", "rk_window": "63"})
    assert not at.exception
    returns = len(closes("AAPL", "2026-05-25", "2026-06-25")) - 1
    assert [shown(i.value) for i in at.info] == [
        f"A 63-day rolling window needs at least 63 daily returns; 2026-05-25 → 2026-06-25 holds {returns} at most. "
        "Pick a shorter window or a longer range."
    ]
    assert not any(f["layout"]["title"]["text"].startswith("Rolling") for f in figures(at))
    [caveat] = [shown(w.value) for w in at.warning]
    assert caveat.startswith("Annualised figures (CAGR, volatility, Sharpe, Sortino, Calmar, alpha) rest on less ")
    assert f"AAPL ({returns} daily returns), MSFT ({returns} daily returns), SPY ({returns} daily returns)" in caveat
    # Three months and more: no caveat; a 21-day window on a month draws its chart.
    assert not open_risk({"rk_t": "AAPL,MSFT", "rk_range": "6M"}).warning
    at = open_risk({"rk_t": "AAPL,MSFT", "rk_range": "1M", "rk_window": "21"})
    assert figures(at)[0]["layout"]["title"]["text"].startswith("Rolling volatility, 21-day") and not at.info


def test_a_typed_risk_free_rate_replaces_the_bill_average(ready_app):
    at = open_risk({"rk_t": "AAPL", "rk_range": "1Y", "rk_rf": "5"})
    assert not at.exception
    r = closes("AAPL", "2025-06-25", "2026-06-25").pct_change().dropna() - (1.05 ** (1 / 252) - 1)
    sharpe = at.dataframe[0].value.set_index("symbol").loc["AAPL", "sharpe"]
    assert sharpe == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(252), rel=1e-9)
    assert "Risk-free rate 5.00% a year, as typed" in texts(at)


@pytest.fixture
def no_bill_rate_app(app_on, make_sample_database):
    """The app on the sample database without its DGS3MO observations."""
    from store.db import create_db_engine

    url = make_sample_database()
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM macro_observations WHERE series_id = 'DGS3MO'"))
    engine.dispose()
    app_on(url)


def test_without_the_bill_rate_the_risk_free_rate_is_zero_and_says_why(no_bill_rate_app):
    at = open_risk({"rk_t": "AAPL", "rk_range": "1Y"})
    assert not at.exception
    r = closes("AAPL", "2025-06-25", "2026-06-25").pct_change().dropna()
    sharpe = at.dataframe[0].value.set_index("symbol").loc["AAPL", "sharpe"]
    assert sharpe == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(252), rel=1e-9)
    assert "Risk-free rate 0%: DGS3MO (3-month Treasury bill, FRED) is not stored for 2025-06-25 → 2026-06-25" in texts(
        at
    )


THIRTY = TWENTY + ",SPY,QQQ,IWM,DIA,AMD,BAC,GS,HON,MRK,PFE"


def test_thirty_tickers_focus_one_and_label_every_heat_map_row(ready_app):
    at = open_risk({"rk_t": THIRTY, "rk_bench": "XLE", "rk_range": "1Y", "rk_focus": "NVDA"})
    assert not at.exception and not at.warning
    rolling, drawdown, heat, _ = figures(at)[:4]
    for chart in (rolling, drawdown):
        drawn = chart["data"]
        assert len(drawn) == 30 and drawn[-1]["name"] == "NVDA"  # on top
        assert drawn[-1]["line"]["width"] > 2 and drawn[-1]["line"].get("color") != figures_module.FADED
        assert {t["line"]["color"] for t in drawn[:-1]} == {figures_module.FADED}
    labels = [*THIRTY.split(","), "XLE"]
    assert heat["data"][0]["x"] == labels and heat["layout"]["xaxis"]["ticktext"] == labels
    assert heat["layout"]["yaxis"]["tickvals"] == labels
    # Without a focus every line keeps its own colour.
    at.selectbox(key="rk_focus").set_value(None).run()
    assert figures_module.FADED not in {t["line"].get("color") for t in figures(at)[0]["data"]}


# -- the portfolio section -----------------------------------------------------------------------------------------


def portfolio_by_hand(symbols: list[str], weights: list[float], start: str, end: str) -> tuple[np.ndarray, list[float]]:
    """The daily returns of the portfolio rebalanced to `weights` every day, and each holding's contribution to its
    annualised volatility w_i (S w)_i / sigma_p, from the sample's CSVs with numpy."""
    r = np.column_stack([closes(s, start, end).pct_change().dropna().to_numpy() for s in symbols])
    w = np.asarray(weights)
    cov = np.cov(r, rowvar=False, ddof=1) * 252
    sigma = float(np.sqrt(w @ cov @ w))
    return r @ w, list(w * (cov @ w) / sigma)


def test_an_equally_weighted_portfolio_against_the_benchmark(ready_app):
    at = open_risk({"rk_t": "AAPL,MSFT,XOM", "rk_range": "1Y", "rk_rf": "0"})
    assert not at.exception and not at.warning
    assert at.segmented_control(key="rk_weights").value == "Equal" and not at.data_editor
    start, end = "2025-06-25", "2026-06-25"
    r, contributions = portfolio_by_hand(["AAPL", "MSFT", "XOM"], [1 / 3] * 3, start, end)
    b = closes("SPY", start, end).pct_change().dropna().to_numpy()
    metrics = frame(at, "beta", 1).set_index("symbol")  # the second metrics table: the portfolio's
    assert list(metrics.index) == ["Portfolio", "SPY"]
    assert metrics.loc["Portfolio", "total_return"] == pytest.approx(np.prod(1 + r) - 1, rel=1e-10)
    assert metrics.loc["Portfolio", "volatility"] == pytest.approx(np.std(r, ddof=1) * np.sqrt(252), rel=1e-10)
    assert metrics.loc["Portfolio", "sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(252), rel=1e-10)
    assert metrics.loc["Portfolio", "beta"] == pytest.approx(np.cov(r, b)[0, 1] / np.var(b, ddof=1), rel=1e-10)
    table = frame(at, "contribution").set_index("symbol")
    assert table["weight"].tolist() == pytest.approx([1 / 3] * 3)
    assert table["contribution"].tolist() == pytest.approx(contributions, rel=1e-10)
    assert table["contribution"].sum() == pytest.approx(metrics.loc["Portfolio", "volatility"], rel=1e-10)
    assert table["share"].sum() == pytest.approx(1.0)
    assert "Rebalanced daily to the target weights (a fixed-weight portfolio)" in texts(at)
    charts = {f["layout"]["title"]["text"]: f for f in figures(at)}
    growth = traces(charts["Portfolio vs SPY, rebased to 100"])
    assert growth["Portfolio"]["y"][-1] == pytest.approx(100 * np.prod(1 + r), rel=1e-10)
    bars = traces(charts["Weight and share of portfolio volatility"])
    assert bars["Share of volatility"]["y"] == pytest.approx(table["share"].tolist())


def test_custom_weights_from_the_link_and_the_weights_table(ready_app):
    at = open_risk(
        {"rk_t": "AAPL,MSFT,XOM", "rk_range": "1Y", "rk_weights": "Custom", "rk_pw": "AAPL:50,MSFT:30,XOM:20"}
    )
    assert not at.exception and not at.warning
    [editor] = at.data_editor
    assert editor.value.to_dict("list") == {"symbol": ["AAPL", "MSFT", "XOM"], "weight": [50.0, 30.0, 20.0]}
    _, contributions = portfolio_by_hand(["AAPL", "MSFT", "XOM"], [0.5, 0.3, 0.2], "2025-06-25", "2026-06-25")
    assert frame(at, "contribution")["contribution"].tolist() == pytest.approx(contributions, rel=1e-10)
    assert parse_qs(at.code[0].value[1:])["rk_pw"] == ["AAPL:50,MSFT:30,XOM:20"]
    # A weight typed in the table (AppTest seeds the editor's edit state): MSFT 30 -> 60, so 50/60/20 of 130.
    at.session_state[editor.key] = {"edited_rows": {1: {"weight": 60.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    assert frame(at, "contribution")["weight"].tolist() == pytest.approx([50 / 130, 60 / 130, 20 / 130])
    assert "The weights add up to 130.00%: each is divided by that total." in texts(at)
    shared = at.code[0].value
    assert parse_qs(shared[1:])["rk_pw"] == ["AAPL:50,MSFT:60,XOM:20"]
    assert at.query_params["rk_pw"] == "AAPL:50,MSFT:60,XOM:20"  # the address bar follows the table
    again = reopen(shared)
    assert not again.exception
    assert frame(again, "contribution").equals(frame(at, "contribution"))
    # Other weights arriving in the URL of the same session (the browser's back button, a link) start the table anew.
    at.query_params["rk_pw"] = "AAPL:10,MSFT:10,XOM:80"
    at.run()
    assert at.data_editor[0].value["weight"].tolist() == [10.0, 10.0, 80.0]
    assert frame(at, "contribution")["weight"].tolist() == pytest.approx([0.1, 0.1, 0.8])


def test_weights_that_make_no_portfolio_get_a_message(ready_app):
    at = open_risk({"rk_t": "AAPL,MSFT", "rk_range": "1Y", "rk_weights": "Custom", "rk_pw": "AAPL:0,MSFT:0"})
    assert not at.exception
    assert "These weights make no portfolio: the weights add up to 0" in messages(at)
    assert not [d for d in at.dataframe if "contribution" in d.value.columns]
    at = open_risk({"rk_t": "AAPL,MSFT", "rk_range": "1Y", "rk_weights": "Custom", "rk_pw": "AAPL:x,[a](b):1"})
    assert not at.exception
    assert "Weights in the link not understood (SYMBOL:percent expected): AAPL:x, [a](b):1." in messages(at)
    # Nothing usable in the link: the table starts from equal weights.
    assert at.data_editor[0].value["weight"].tolist() == [50.0, 50.0]


VIEWER, VIEWER_PASSWORD = "rita", "rita-password-1"


@pytest.fixture
def portfolio_app(app_on, make_sample_database):
    """The app on a sample database of its own (saved portfolios are written), with a viewer besides the admin."""
    engine = app_on(make_sample_database())
    users.add_user(engine, VIEWER, "viewer", VIEWER_PASSWORD)
    return engine


def test_save_load_and_delete_a_named_portfolio_per_user(portfolio_app):
    at = open_risk(
        {"rk_t": "AAPL,MSFT,XOM", "rk_range": "1Y", "rk_weights": "Custom", "rk_pw": "AAPL:50,MSFT:30,XOM:20"}
    )
    at.text_input(key="risk_pf_name").input("Core three").run()
    at.button(key="risk_pf_save").click().run()
    assert not at.exception and "Saved “Core three” (3 holdings)." in messages(at)
    assert at.selectbox(key="risk_pf_pick").options == ["Core three"]
    # Another view, then load: the tickers, the weights mode and the typed weights come back, in the URL too.
    at.text_input(key="rk_t").input("NVDA,TSLA").run()
    at.segmented_control(key="rk_weights").set_value("Equal").run()
    assert frame(at, "contribution")["symbol"].tolist() == ["NVDA", "TSLA"]
    at.selectbox(key="risk_pf_pick").set_value("Core three").run()
    at.button(key="risk_pf_load").click().run()
    assert not at.exception and "Loaded “Core three”." in messages(at)
    assert at.text_input(key="rk_t").value == "AAPL,MSFT,XOM"
    assert at.segmented_control(key="rk_weights").value == "Custom"
    assert at.data_editor[0].value["weight"].tolist() == [50.0, 30.0, 20.0]
    assert frame(at, "contribution")["weight"].tolist() == pytest.approx([0.5, 0.3, 0.2])
    link = parse_qs(at.code[0].value[1:])
    assert link["rk_t"] == ["AAPL,MSFT,XOM"] and link["rk_pw"] == ["AAPL:50,MSFT:30,XOM:20"]
    # A bad name is refused with the reason; the list is the user's own.
    at.text_input(key="risk_pf_name").input("   ").run()
    at.button(key="risk_pf_save").click().run()
    assert "Not saved: a name is 1 to 64 printable characters." in messages(at)
    viewer = log_in(AppTest.from_file(ROUTER, default_timeout=30).run(), VIEWER, VIEWER_PASSWORD)
    viewer.switch_page(page("risk"))
    viewer.query_params.update({"rk_t": "AAPL", "rk_range": "1Y"})
    viewer.run()
    assert not viewer.exception and viewer.selectbox(key="risk_pf_pick").options == []
    # Delete.
    at.selectbox(key="risk_pf_pick").set_value("Core three").run()
    at.button(key="risk_pf_delete").click().run()
    assert "Deleted “Core three”." in messages(at) and at.selectbox(key="risk_pf_pick").options == []
