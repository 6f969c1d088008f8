"""AppTest: the Risk page on the sample data: metrics vs an independent computation, charts, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.support.app import ROUTER, figures, log_in, page, shown, texts, traces

PRICES = ROOT / "data" / "sample" / "prices"
TWENTY = "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,JPM,V,MA,UNH,JNJ,XOM,CVX,HD,MCD,BA,CAT,GLD,TLT"


def open_risk(params: dict | None = None) -> AppTest:
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    at.switch_page(page("risk"))
    at.query_params.update(params or {})
    return at.run()


def closes(symbol: str, start: str, end: str) -> pd.Series:
    frame = pd.read_csv(PRICES / f"{symbol}.csv", parse_dates=["Date"]).set_index("Date")["Close"]
    return frame.loc[start:end]


def test_metrics_match_an_independent_computation(ready_app):
    at = open_risk({"t": "AAPL,MSFT", "bench": "SPY", "range": "1Y"})
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
    assert row["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(252), rel=1e-9)
    assert row["beta"] == pytest.approx(np.cov(r, b)[0, 1] / np.var(b, ddof=1), rel=1e-9)
    assert row["var_95"] == pytest.approx(np.quantile(r, 0.05), rel=1e-9)
    assert row["max_drawdown"] == pytest.approx((aapl / aapl.cummax() - 1).min(), rel=1e-9)
    assert table.loc["SPY", "beta"] == pytest.approx(1.0) and table.loc["SPY", "correlation"] == pytest.approx(1.0)
    assert "bundled sample dataset" in texts(at)


def test_rolling_drawdown_correlation_and_distribution_charts(ready_app):
    at = open_risk({"t": "AAPL,MSFT", "range": "5Y", "window": "63"})
    assert not at.exception
    vol, drawdown, corr, dist = figures(at)  # only the open rolling tab is drawn
    assert list(traces(vol)) == ["AAPL", "MSFT"] and vol["layout"]["title"]["text"].startswith("Rolling volatility")
    assert all(max(v for v in t["y"] if v is not None) <= 0 for t in drawdown["data"])
    heat = corr["data"][0]
    assert heat["type"] == "heatmap" and heat["x"] == ["AAPL", "MSFT", "SPY"]
    assert np.diag(np.asarray(heat["z"], dtype=float)) == pytest.approx(1.0)
    table = at.dataframe[0].value.set_index("symbol")
    var_lines = sorted(shape["x0"] for shape in dist["layout"]["shapes"])
    assert var_lines == pytest.approx(sorted([table.loc["AAPL", "var_95"], table.loc["AAPL", "cvar_95"]]))
    at.selectbox(key="dist").set_value("MSFT").run()
    assert "MSFT: distribution" in figures(at)[-1]["layout"]["title"]["text"]


@pytest.mark.parametrize(("tab", "title"), [("Beta", "Rolling beta vs SPY"), ("Sharpe", "Rolling Sharpe")])
def test_the_other_rolling_tabs(ready_app, tab, title):
    at = open_risk({"t": "AAPL,MSFT", "range": "5Y", "window": "126", "rolling": tab})
    assert not at.exception
    rolling = figures(at)[0]
    assert rolling["layout"]["title"]["text"].startswith(f"{title}, 126-day")
    assert list(traces(rolling)) == ["AAPL", "MSFT"]


def test_twenty_tickers(ready_app):
    at = open_risk({"t": TWENTY, "range": "Max"})
    assert not at.exception and not at.warning
    assert len(at.dataframe[0].value) == 21  # twenty and the benchmark
    assert len(figures(at)[2]["data"][0]["x"]) == 21


def test_unknown_ticker_and_benchmark_give_suggestions(ready_app):
    at = open_risk({"t": "AAPL,MSFTT", "bench": "SPYY"})
    assert not at.exception
    assert len(at.error) == 1
    assert "Unknown ticker “MSFTT”. Did you mean MSFT?" in shown(at.error[0].value)
    assert "Unknown ticker “SPYY”. Did you mean SPY?" in shown(at.error[0].value)
    assert len(at.dataframe) == 0

    at = open_risk({"t": "AAPL,MSFTT"})
    assert [shown(w.value) for w in at.warning] == ["Unknown ticker “MSFTT”. Did you mean MSFT?"]
    assert list(at.dataframe[0].value["symbol"]) == ["AAPL", "SPY"]


def test_short_range_and_empty_box(ready_app):
    at = open_risk({"t": "AAPL", "range": "1M"})
    assert not at.exception and len(at.dataframe[0].value) == 2
    at = open_risk({"t": "", "bench": "SPY"})
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
            "t": hs.one_of(junk, hs.sampled_from(["", "AAPL", "aapl,msft,xom", "APPL", TWENTY + ",X" * 15])),
            "bench": hs.one_of(junk, hs.sampled_from(["", "SPY", "QQQ", "AAPL", "SPYY"])),
            "range": hs.one_of(junk, hs.sampled_from(["", "1M", "YTD", "Max"])),
            "window": hs.one_of(junk, hs.sampled_from(["", "21", "252", "-1"])),
            "rf": hs.one_of(junk, hs.sampled_from(["", "0", "5.5", "1e9", "nan"])),
            "rolling": hs.one_of(junk, hs.sampled_from(["", "Beta", "Sharpe"])),
        },
    )

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(params=params)
    def check(params):
        at = open_risk(params)
        assert not at.exception, (params, at.exception)
        assert at.dataframe or at.warning or at.error or at.info

    check()
