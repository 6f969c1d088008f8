"""The Risk page's unvalidated figures (dashboard.ui.risk_figures) send what dashboard.ui.figures' validated ones
send; its per-symbol loaders (dashboard.ui.risk_loaders) give analytics.risk's per-list tables to the last bit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.io as pio
import plotly.tools
import pytest
import streamlit as st

from analytics import market, risk
from dashboard.ui import figures, loaders, risk_figures, risk_loaders, shared_figures
from tests.conftest import ROOT

PRICES = ROOT / "data" / "sample" / "prices"
SYMBOLS = ["AAPL", "MSFT", "NVDA", "TLT", "GLD", "SPY"]


def spec(fig: object) -> dict:
    """What st.plotly_chart sends for `fig` (its own two calls), parsed."""
    figure = plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)
    return _dates_as_days(json.loads(pio.to_json(figure, validate=False)))


def _dates_as_days(value: object) -> object:
    """Midnight timestamps as the day: plotly's JSON engines write a date index as "2019-06-03" (json) or
    "2019-06-03T00:00:00" (orjson, which the app installs); plotly.js reads both as the same day."""
    if isinstance(value, dict):
        return {k: _dates_as_days(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_days(v) for v in value]
    if isinstance(value, str) and len(value) == 19 and value.endswith("T00:00:00"):
        return value[:10]
    return value


@pytest.fixture(scope="module")
def wide() -> pd.DataFrame:
    closes = {s: pd.read_csv(PRICES / f"{s}.csv", parse_dates=["Date"]).set_index("Date")["Close"] for s in SYMBOLS}
    frame = pd.DataFrame(closes)
    frame.iloc[[5, 6, 700], 1] = np.nan  # gaps in MSFT
    frame.iloc[:40, 2] = np.nan  # NVDA starts later
    return frame


@pytest.mark.parametrize("focus", [None, "MSFT", "QQQ"])
@pytest.mark.parametrize("columns", [3, 6, 25])
def test_line_charts_send_the_validated_figures(wide, focus, columns):
    many = pd.concat([wide] * 5, axis=1).iloc[:, :columns]
    many.columns = [*wide.columns, *[f"X{i}" for i in range(many.shape[1] - wide.shape[1])]][:columns]
    vol = pd.DataFrame({c: risk.rolling_volatility(many.iloc[:, i], 63) for i, c in enumerate(many.columns)})
    dd = pd.DataFrame({c: risk.drawdown_series(many.iloc[:, i]) for i, c in enumerate(many.columns)})
    assert spec(risk_figures.lines_figure(vol, "Vol", "", percent=True, focus=focus)) == spec(
        figures.lines_figure(vol, "Vol", "", percent=True, focus=focus)
    )
    assert spec(risk_figures.lines_figure(vol, "Beta", "Beta", focus=focus)) == spec(
        figures.lines_figure(vol, "Beta", "Beta", focus=focus)
    )
    assert spec(risk_figures.drawdown_figure(dd, focus=focus)) == spec(figures.drawdown_figure(dd, focus=focus))


def test_the_lines_of_a_figure_share_one_string_per_day(wide):
    fig = risk_figures.lines_figure(wide, "Closes", "")
    by_day: dict[str, set[int]] = {}
    for trace in fig.to_dict()["data"]:
        for day in trace["x"]:
            by_day.setdefault(day, set()).add(id(day))
    assert len(by_day) > 1000 and all(len(ids) == 1 for ids in by_day.values())


def test_portfolio_and_single_charts_send_the_validated_figures(wide):
    one = risk.drawdown_series(wide["AAPL"]).to_frame("Portfolio")
    assert spec(risk_figures.drawdown_figure(one, title="Portfolio drawdown")) == spec(
        figures.drawdown_figure(one).update_layout(title_text="Portfolio drawdown")
    )
    rebased = market.normalise(wide[["AAPL", "SPY"]].dropna())
    assert spec(risk_figures.compare_figure(rebased, "P vs SPY")) == spec(figures.compare_figure(rebased, "P vs SPY"))
    returns = risk.returns(wide["MSFT"])
    m = risk.risk_metrics(wide["MSFT"])
    assert spec(risk_figures.distribution_figure(returns, m["var_95"], m["cvar_95"], "MSFT")) == spec(
        figures.distribution_figure(returns, m["var_95"], m["cvar_95"], "MSFT")
    )
    shares = pd.DataFrame({"symbol": ["AAPL", "MSFT"], "weight": [0.5, 0.5], "share": [0.42, 0.58]})
    assert spec(risk_figures.risk_contribution_figure(shares)) == spec(figures.risk_contribution_figure(shares))


@pytest.mark.parametrize("copies", [1, 4])  # 6 labels (values printed) and 24 (not printed, smaller type)
def test_heatmap_sends_the_validated_figure(wide, copies):
    many = pd.concat([wide] * copies, axis=1)
    many.columns = [f"{c}{i}" for i in range(copies) for c in wide.columns]
    corr = risk.correlation_matrix(many)
    assert spec(risk_figures.correlation_heatmap(corr)) == spec(figures.correlation_heatmap(corr))


def test_per_symbol_loaders_give_the_per_list_tables(ready_app):
    version = loaders.data_version()
    tickers, bench = ("AAPL", "MSFT", "NVDA", "TLT"), "SPY"
    for start, end, rf in ((pd.Timestamp("2019-01-02").date(), pd.Timestamp("2026-06-25").date(), 0.031),
                           (pd.Timestamp("2025-06-25").date(), pd.Timestamp("2026-06-25").date(), 0.0),
                           (pd.Timestamp("2026-06-24").date(), pd.Timestamp("2026-06-25").date(), 0.0)):  # fmt: skip
        # The oracle: analytics.risk on the list's closes at once, uncached (what a per-list loader would compute).
        wide = loaders.adjusted_closes(version, [*tickers, bench], start, end)
        metrics, correlation, shown, drawn = risk_loaders.list_tables(version, tickers, bench, start, end, rf)
        theirs = risk.risk_report(wide, list(tickers), bench, rf)
        assert theirs["metrics"].empty == (start.year == 2026)  # two sessions: fewer closes than MIN_PRICES
        pd.testing.assert_frame_equal(metrics, theirs["metrics"], check_exact=True)
        pd.testing.assert_frame_equal(correlation, theirs["correlation"], check_exact=True)
        pd.testing.assert_frame_equal(wide.reindex(columns=shown), theirs["prices"], check_exact=True)
        pd.testing.assert_frame_equal(risk_loaders.drawdowns(wide, drawn), theirs["drawdowns"], check_exact=True)
        if drawn:  # the page's figure: the same as drawn from the report's drawdowns
            assert spec(risk_loaders.drawdown_figure(wide, drawn, focus="MSFT")) == spec(
                risk_figures.drawdown_figure(theirs["drawdowns"], focus="MSFT")
            )
        for kind in risk.ROLLING_KINDS:
            pd.testing.assert_frame_equal(
                risk_loaders.rolling_stats(version, kind, tickers, bench, start, end, 21, rf),
                risk.rolling_table(kind, wide, list(tickers), bench, 21, rf),
                check_exact=True,
            )
    # Another list holding AAPL reuses AAPL's entry: the same numbers again.
    start, end, rf = pd.Timestamp("2025-06-25").date(), pd.Timestamp("2026-06-25").date(), 0.0
    again = risk_loaders.list_tables(version, ("AAPL", "GLD"), bench, start, end, rf)[0].set_index("symbol")
    first = risk_loaders.list_tables(version, tickers, bench, start, end, rf)[0].set_index("symbol")
    pd.testing.assert_series_equal(again.loc["AAPL"], first.loc["AAPL"], check_exact=True)


def test_a_shared_figure_is_built_once_per_key():
    built: list[int] = []

    def build() -> object:
        built.append(1)
        return risk_figures.risk_contribution_figure(pd.DataFrame({"symbol": ["A"], "weight": [1.0], "share": [1.0]}))

    st.cache_resource.clear()
    first = shared_figures.shared_figure("test: one view", build)
    assert shared_figures.shared_figure("test: one view", build) is first
    shared_figures.shared_figure("test: another view", build)
    assert len(built) == 2


def test_a_shared_figure_sends_what_the_figure_sends_and_copies_it_once(wide):
    """A shared figure hands st.plotly_chart the same dict at every call instead of plotly's deep copy of every
    trace; what Streamlit sends is unchanged, whatever the figure holds (lists of dates, base64 numbers, a heatmap)."""
    built = [
        lambda: risk_figures.drawdown_figure(wide.apply(risk.drawdown_series), focus="MSFT"),
        lambda: risk_figures.correlation_heatmap(wide.pct_change().corr()),
        lambda: figures.lines_figure(wide / wide.iloc[0], "Rebased", "x"),  # a validated figure (datetime64 x)
    ]
    for build in built:
        expected = spec(build())
        shared = shared_figures.share(build())
        assert isinstance(shared, shared_figures.SharedFigure)
        assert spec(shared) == expected
        assert spec(shared) == expected  # the second run sends the same: Streamlit did not change the shared dict
        assert shared.to_dict() is shared.to_dict()


def test_a_figure_from_dicts_is_plotlys_own_to_dict_without_building_a_figure(wide, monkeypatch):
    """from_dicts gives what go.Figure(..., _validate=False).to_dict() gives (the default template included), and the
    Risk page's builders make their figures without constructing a plotly trace or figure object."""
    import plotly.graph_objects as go
    from plotly.basedatatypes import BaseFigure, BaseTraceType

    data = [{"mode": "lines", "name": "A", "x": ["2024-01-02", "2024-01-03"], "y": [1.0, 2.0], "type": "scatter"}]
    layout = {"title": {"text": "T"}, "height": 300}
    expected = go.Figure({"data": data, "layout": layout}, _validate=False).to_dict()
    assert shared_figures.from_dicts(data, layout).to_dict() == expected

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a plotly object was built")

    monkeypatch.setattr(BaseTraceType, "__init__", refuse)
    monkeypatch.setattr(BaseFigure, "__init__", refuse)
    drawn = risk_figures.lines_figure(wide, "Closes", "", focus="MSFT")
    assert isinstance(drawn, shared_figures.SharedFigure) and len(drawn.to_dict()["data"]) == wide.shape[1]
