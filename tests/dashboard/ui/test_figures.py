"""Figure builders (dashboard.charts): the expected traces, downsampling that keeps what is visible, markers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from analytics import market, risk
from dashboard.ui import figures
from tests.conftest import ROOT
from tests.support.market_data import yahoo_bars_and_actions

PRICES = ROOT / "data" / "sample" / "prices"


def sample_bars(symbol: str) -> pd.DataFrame:
    frame = pd.read_csv(PRICES / f"{symbol}.csv", parse_dates=["Date"]).rename(columns=str.lower)
    return frame.assign(adj_close=frame["close"], symbol=symbol, source="sample")


@pytest.fixture(scope="module")
def aapl() -> pd.DataFrame:
    return market.display_prices(sample_bars("AAPL"), adjusted=True)


def names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data]


def test_candlestick_with_overlays_volume_and_panels(aapl):
    chosen = ["SMA20", "EMA50", "BB", "RSI", "MACD"]
    prices = market.with_indicators(aapl, chosen).loc["2025-06-25":]
    fig = figures.price_figure(prices, "AAPL", "Candlestick", chosen)
    assert names(fig) == [
        "AAPL",
        "SMA 20",
        "EMA 50",
        "BB upper",
        "BB lower",
        "Volume",
        "RSI 14",
        "MACD histogram",
        "MACD",
        "Signal",
    ]
    assert isinstance(fig.data[0], go.Candlestick) and isinstance(fig.data[5], go.Bar)
    # Four stacked panels: price, volume, RSI, MACD; RSI traces sit on the third y axis.
    assert fig.layout.yaxis4 is not None and fig.data[6].yaxis == "y3" and fig.data[8].yaxis == "y4"
    assert len(fig.data[0].x) == len(prices) and fig.layout.meta["bar_size"] == "daily"  # a year stays daily
    assert fig.data[0].close[-1] == pytest.approx(prices["close"].iloc[-1])
    assert fig.data[1].y[-1] == pytest.approx(prices["close"].iloc[-20:].mean())


def test_ohlc_and_no_panels_when_none_chosen(aapl):
    fig = figures.price_figure(aapl.loc["2026-01-01":], "AAPL", "OHLC")
    assert [type(t) for t in fig.data] == [go.Ohlc, go.Bar]
    assert "yaxis3" not in fig.layout.to_plotly_json()  # price and volume only


def test_long_history_is_drawn_as_weekly_bars_that_keep_every_high_and_low(aapl):
    fig = figures.price_figure(aapl, "AAPL", "Candlestick")
    candles = fig.data[0]
    assert len(aapl) > market.MAX_CANDLES >= len(candles.x)
    assert fig.layout.meta["bar_size"] == "weekly" and "weekly bars" in fig.layout.title.text
    assert max(candles.high) == pytest.approx(aapl["high"].max())
    assert min(candles.low) == pytest.approx(aapl["low"].min())
    assert sum(fig.data[1].y) == pytest.approx(aapl["volume"].sum())
    # Each weekly bar is labelled with its last trading day and closes at that day's close.
    last_day = pd.Timestamp(candles.x[-1])
    assert last_day == aapl.index[-1] and candles.close[-1] == pytest.approx(aapl["close"].iloc[-1])
    week = aapl.loc[last_day - pd.Timedelta(days=last_day.weekday()) : last_day]
    assert candles.open[-1] == pytest.approx(week["open"].iloc[0])


def test_line_chart_is_downsampled_but_keeps_the_extremes(aapl):
    fig = figures.price_figure(aapl, "AAPL", "Line")
    line = fig.data[0]
    assert isinstance(line, go.Scatter) and len(line.x) <= market.MAX_LINE_POINTS < len(aapl)
    assert max(line.y) == pytest.approx(aapl["close"].max()) and min(line.y) == pytest.approx(aapl["close"].min())
    assert str(line.x[0]) == "2019-01-02" and str(line.x[-1]) == "2026-06-25"


def test_split_and_dividend_markers_from_stored_actions():
    bars, actions = yahoo_bars_and_actions()
    prices = market.display_prices(bars, adjusted=False)
    fig = figures.price_figure(prices, "AAPL", "Candlestick", actions=actions)
    splits = next(t for t in fig.data if t.name == "Splits")
    dividends = next(t for t in fig.data if t.name == "Dividends")
    assert list(map(str, splits.x)) == ["2020-08-31"] and list(splits.text) == ["Split 4:1"]
    assert list(map(str, dividends.x)) == ["2020-11-06"] and list(dividends.text) == ["Dividend 0.205"]
    assert splits.y[0] > prices.loc["2020-08-31", "high"]  # drawn above the bar, dividends below
    assert dividends.y[0] < prices.loc["2020-11-06", "low"]
    # Outside the range shown, no marker.
    later = figures.price_figure(prices.loc["2020-09-01":"2020-10-30"], "AAPL", "Candlestick", actions=actions)
    assert "Splits" not in names(later) and "Dividends" not in names(later)


def test_compare_starts_every_line_at_100():
    wide = pd.DataFrame({s: market.display_prices(sample_bars(s), True)["close"] for s in ("AAPL", "MSFT", "SPY")})
    fig = figures.compare_figure(market.normalise(wide.loc["2024-01-01":]))
    assert names(fig) == ["AAPL", "MSFT", "SPY"]
    assert all(t.y[0] == pytest.approx(100.0) for t in fig.data)


def test_risk_figures():
    wide = pd.DataFrame({s: sample_bars(s).set_index("date")["close"] for s in ("AAPL", "MSFT", "SPY")})
    vol = pd.DataFrame({s: risk.rolling_volatility(wide[s], 63) for s in wide})
    fig = figures.lines_figure(vol, "Volatility", "", percent=True)
    assert names(fig) == ["AAPL", "MSFT", "SPY"] and all(len(t.x) == market.MAX_LINE_POINTS for t in fig.data)
    assert fig.layout.yaxis.tickformat == ".0%"

    dd = figures.drawdown_figure(pd.DataFrame({s: risk.drawdown_series(wide[s]) for s in wide}))
    assert all(max(t.y) <= 0 for t in dd.data) and dd.data[0].fill == "tozeroy"  # three series: filled
    spy_dd = risk.drawdown_series(wide["SPY"])
    assert min(dd.data[2].y) == pytest.approx(spy_dd.min())  # the deepest point survives downsampling

    corr = risk.correlation_matrix(wide)
    heat = figures.correlation_heatmap(corr)
    assert isinstance(heat.data[0], go.Heatmap) and (heat.data[0].zmin, heat.data[0].zmax) == (-1, 1)
    assert np.allclose(np.asarray(heat.data[0].z), corr.to_numpy())

    m = risk.risk_metrics(wide["AAPL"])
    dist = figures.distribution_figure(risk.returns(wide["AAPL"]), m["var_95"], m["cvar_95"], "AAPL")
    assert isinstance(dist.data[0], go.Histogram) and len(dist.data[0].x) == len(wide) - 1
    assert sorted(s.x0 for s in dist.layout.shapes) == sorted([m["cvar_95"], m["var_95"]])
    assert any("VaR 95%" in a.text for a in dist.layout.annotations)


def test_many_lines_share_a_point_budget():
    assert figures.points_per_line(1) == figures.points_per_line(8) == market.MAX_LINE_POINTS
    assert figures.points_per_line(20) == 400 and figures.points_per_line(100) == figures.MIN_LINE_POINTS
    wide = pd.DataFrame({f"S{i}": sample_bars("SPY").set_index("date")["close"] * (1 + i / 100) for i in range(20)})
    fig = figures.lines_figure(wide, "many", "")
    assert all(len(t.x) == 400 for t in fig.data)
    assert all(max(t.y) == pytest.approx(wide[t.name].max()) for t in fig.data)


def test_bad_figure_input_is_a_value_error(aapl):
    with pytest.raises(ValueError, match="no prices"):
        figures.price_figure(aapl.iloc[:0], "AAPL")
    with pytest.raises(ValueError, match="unknown chart type"):
        figures.price_figure(aapl, "AAPL", "Pie")


# NYSE holidays that fall on weekdays in 2024 (nyse.com, "Holidays and Trading Hours"): what a daily chart skips.
NYSE_2024 = ["2024-01-01", "2024-01-15", "2024-02-19", "2024-03-29", "2024-05-27", "2024-06-19", "2024-07-04",
             "2024-09-02", "2024-11-28", "2024-12-25"]  # fmt: skip


def test_daily_candles_skip_weekends_and_nyse_holidays(aapl):
    from datetime import date

    from dashboard.ui import loaders

    holidays = loaders.market_holidays(date(2024, 1, 1), date(2024, 12, 31))
    assert [d.isoformat() for d in holidays] == NYSE_2024
    prices = market.with_indicators(aapl, ["RSI"]).loc["2024-06-01":"2024-07-31"]
    fig = figures.price_figure(prices, "AAPL", "Candlestick", ["RSI"], holidays=holidays)
    breaks = fig.layout.xaxis.rangebreaks
    assert breaks[0].bounds == ("sat", "mon") and list(breaks[1].values) == NYSE_2024
    assert fig.layout.xaxis3.rangebreaks == breaks  # the volume and RSI panels skip the same days
    # No bar is hidden by a break: every drawn day is a weekday that is not a holiday.
    drawn = pd.DatetimeIndex(fig.data[0].x)
    assert (drawn.weekday < 5).all() and not drawn.isin(pd.to_datetime(NYSE_2024)).any()
    assert figures.price_figure(prices, "AAPL", "OHLC").layout.xaxis.rangebreaks[0].bounds == ("sat", "mon")
    # Weekly bars and lines have nothing to skip.
    assert not figures.price_figure(aapl, "AAPL", "Candlestick", holidays=holidays).layout.xaxis.rangebreaks
    assert not figures.price_figure(prices, "AAPL", "Line", holidays=holidays).layout.xaxis.rangebreaks


def test_a_focused_series_stands_out_and_the_others_are_grey():
    wide = pd.DataFrame({s: sample_bars(s).set_index("date")["close"] for s in ("AAPL", "MSFT", "SPY", "QQQ")})
    fig = figures.lines_figure(wide, "Levels", "", focus="MSFT")
    assert names(fig) == ["AAPL", "SPY", "QQQ", "MSFT"]  # drawn last: on top
    assert fig.data[-1].line.width == 2.5 and fig.data[-1].line.color != figures.FADED
    assert [t.line.color for t in fig.data[:-1]] == [figures.FADED] * 3
    plain = figures.lines_figure(wide, "Levels", "")
    assert fig.data[-1].line.color == plain.data[1].line.color  # the focused line keeps its own colour
    assert figures.FADED not in {t.line.color for t in plain.data}
    assert names(figures.lines_figure(wide, "Levels", "", focus="TSLA")) == names(plain)  # not drawn: no focus
    dd = figures.drawdown_figure(pd.DataFrame({s: risk.drawdown_series(wide[s]) for s in wide}), focus="SPY")
    assert [t.fill for t in dd.data] == ["none", "none", "none", "tozeroy"] and dd.data[-1].name == "SPY"


def test_the_heat_map_names_every_row_and_column_of_thirty():
    symbols = sorted(p.stem for p in PRICES.glob("*.csv"))[:30]
    wide = pd.DataFrame({s: sample_bars(s).set_index("date")["close"] for s in symbols})
    heat = figures.correlation_heatmap(risk.correlation_matrix(wide))
    for axis in (heat.layout.xaxis, heat.layout.yaxis):
        assert axis.tickmode == "array" and list(axis.tickvals) == symbols and list(axis.ticktext) == symbols
    assert heat.layout.height >= 20 * len(symbols)  # room for every label


def test_the_log_scale_changes_the_price_axis_only(aapl):
    prices = market.with_indicators(aapl, ["RSI"]).loc["2025-06-25":]
    plain = figures.price_figure(prices, "AAPL", "Candlestick", ["RSI"])
    logged = figures.price_figure(prices, "AAPL", "Candlestick", ["RSI"], log_scale=True)
    assert plain.layout.yaxis.type is None and logged.layout.yaxis.type == "log"
    assert logged.layout.yaxis2.type is None and logged.layout.yaxis3.type is None  # volume and RSI stay linear
    assert logged.layout.meta["log_scale"] is True and plain.layout.meta["log_scale"] is False
    assert figures.price_figure(prices, "AAPL", "Line", log_scale=True).layout.yaxis.type == "log"


def test_the_crosshair_reads_out_each_bars_ohlc_and_volume(aapl):
    prices = aapl.loc["2026-06-01":]
    fig = figures.price_figure(prices, "AAPL", "Candlestick", currency="GBP")
    assert fig.layout.hovermode == "x unified"
    for axis in (fig.layout.xaxis, fig.layout.xaxis2, fig.layout.yaxis, fig.layout.yaxis2):
        assert axis.showspikes is True and axis.spikemode == "across"
    candles, volume = fig.data[0], fig.data[1]
    assert candles.hovertemplate == figures.OHLCV_HOVER and volume.hoverinfo == "skip"  # said once, by the candle
    # The last bar, 2026-06-25 (data/sample/prices/AAPL.csv), in the figure's currency and with separators.
    assert list(candles.customdata[-1]) == ["£287.40", "£288.80", "£273.75", "£275.15", "107,253,700"]
    assert len(candles.customdata) == len(prices)
    ohlc = figures.price_figure(prices, "AAPL", "OHLC")
    assert ohlc.data[0].hovertemplate == figures.OHLCV_HOVER and list(ohlc.data[0].customdata[0])[0].startswith("$")
    # A line reads out its close, the volume bar its volume.
    line = figures.price_figure(prices, "AAPL", "Line")
    assert line.data[0].customdata[-1] == "$275.15" and line.data[0].hovertemplate.startswith("Close %{customdata}")
    assert line.data[1].customdata[-1] == "107,253,700" and line.data[1].hoverinfo is None


def test_weekly_bars_read_out_the_weeks_figures(aapl):
    fig = figures.price_figure(aapl, "AAPL", "Candlestick")  # the whole history: weekly bars
    week = aapl.loc["2026-06-22":"2026-06-25"]  # the last (short) week
    expected = [week["open"].iloc[0], week["high"].max(), week["low"].min(), week["close"].iloc[-1]]
    assert list(fig.data[0].customdata[-1]) == [f"${v:,.2f}" for v in expected] + [f"{week['volume'].sum():,}"]


def valid(fig: go.Figure) -> dict:
    """The figure as plotly's validators leave it: go.Figure(...) raises on an unknown or malformed property."""
    return json.loads(pio.to_json(go.Figure(fig.to_dict()), validate=False))


@pytest.mark.parametrize("chart", ["Candlestick", "OHLC", "Line"])
def test_figures_built_without_validation_are_valid_plotly(aapl, chart):
    # price_figure and compare_figure build plain dicts and skip plotly's validation (figures._figure): validating
    # them here must neither fail nor change a thing.
    bars, actions = yahoo_bars_and_actions()
    chosen = list(market.INDICATORS)
    shown = market.with_indicators(market.display_prices(bars, adjusted=False), chosen)
    for fig in (
        figures.price_figure(shown, "AAPL", chart, chosen, actions, log_scale=True, currency="JPY"),
        figures.price_figure(aapl, "AAPL", chart),  # weekly bars
        figures.price_figure(aapl.assign(open=np.nan, high=np.nan, low=np.nan, volume=np.nan), "AAPL", chart),
    ):
        assert valid(fig) == json.loads(pio.to_json(fig, validate=False))
    wide = pd.DataFrame({s: market.display_prices(sample_bars(s), True)["close"] for s in ("AAPL", "MSFT")})
    compare = figures.compare_figure(market.normalise(wide))
    assert valid(compare) == json.loads(pio.to_json(compare, validate=False))


def test_the_price_panel_can_be_picked_by_row_and_column(aapl):
    # The panels are make_subplots' grid: row/col selectors work as on a figure made by make_subplots.
    fig = figures.price_figure(market.with_indicators(aapl, ["RSI"]).loc["2025-06-01":], "AAPL", "OHLC", ["RSI"])
    fig.update_yaxes(tickprefix="€", row=1, col=1)
    assert fig.layout.yaxis.tickprefix == "€" and fig.layout.yaxis2.tickprefix is None
    assert [t.yaxis for t in fig.data] == ["y", "y2", "y3"]
    assert fig.layout.yaxis3.range == (0, 100) and [s.yref for s in fig.layout.shapes] == ["y3", "y3"]
