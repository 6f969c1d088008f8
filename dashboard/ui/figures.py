"""Plotly figure builders for the market pages: pure functions, DataFrame in, go.Figure out."""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.market import (
    INDICATORS,
    MAX_CANDLES,
    MAX_LINE_POINTS,
    MOVING_AVERAGES,
    downsample_line,
    has_ohlc,
    resample_ohlc,
)
from analytics.peers import Peers
from dashboard.ui import formatting, palette

UP, DOWN = "#26a69a", "#ef5350"
OVERLAY_COLOURS = {
    "SMA20": "#1f77b4",
    "SMA50": "#ff7f0e",
    "SMA200": "#9467bd",
    "EMA20": "#17becf",
    "EMA50": "#bcbd22",
    "BB": "rgba(120,120,120,0.8)",
}
# Charts with many lines (one per ticker) share a point budget: with 20 overlapping lines the eye follows
# shapes, not single days, and MinMaxLTTB keeps each line's peaks and troughs.
LINE_POINT_BUDGET = 8000
MIN_LINE_POINTS = 300
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "hovermode": "x unified", "showlegend": True}


def _x(index: pd.Index) -> np.ndarray:
    # Day-precision datetime64: serialised as "YYYY-MM-DD" (small JSON, no timezone surprises), and cheap for
    # plotly to copy (an object array of strings is deep-copied element by element, ~10x slower).
    return pd.DatetimeIndex(index).to_numpy().astype("datetime64[D]")


def _line(series: pd.Series, name: str, max_points: int = MAX_LINE_POINTS, **kwargs) -> dict:
    """A line trace (a plotly trace dict) of `series`, downsampled to `max_points`."""
    s = downsample_line(series, max_points)
    return {"type": "scatter", "x": _x(s.index), "y": s.to_numpy(), "name": name, "mode": "lines", **kwargs}


def _figure(data: list[dict], layout: dict, grid: dict | None = None) -> go.Figure:
    """A go.Figure of plain trace and layout dicts, built without plotly's property-by-property validation.

    Validation is most of what building a chart costs (a price chart with volume: ~40 ms validated, ~2 ms not); the
    dicts built here have fixed shapes, and tests/dashboard/ui/test_figures.py validates each kind once instead
    (plotly raises on an unknown or malformed property). `grid`: _stacked's subplot grid, so that row/col selectors
    (fig.update_yaxes(row=1, col=1)) work on the figure as on one from make_subplots.
    """
    return go.Figure({"data": data, "layout": layout, **(grid or {})}, _validate=False)


def _hline(y: float, xref: str = "x", yref: str = "y") -> dict:
    """A dotted grey line across the panel of axes `xref`/`yref` at `y` (what fig.add_hline draws)."""
    line = {"color": "grey", "dash": "dot", "width": 1}
    return {"type": "line", "line": line, "x0": 0, "x1": 1, "xref": f"{xref} domain", "y0": y, "y1": y, "yref": yref}


@functools.cache
def _stacked_grid(rows: int) -> tuple[dict, dict]:
    """make_subplots' layout for `rows` panels under one shared date axis (price 0.6, volume 0.15, each further panel
    0.2), computed once per count, and its grid reference (see _figure)."""
    heights = [0.6, 0.15] + [0.2] * (rows - 2)
    grid = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=heights)
    axes = grid.layout.to_plotly_json()
    axes.pop("template", None)
    return axes, {"_grid_ref": grid._grid_ref, "_grid_str": grid._grid_str}


def _stacked(rows: int) -> tuple[dict, dict]:
    """A fresh copy of _stacked_grid's layout (the caller fills it in) and the shared grid reference."""
    axes, grid = _stacked_grid(rows)
    return copy.deepcopy(axes), grid


def _axes(row: int) -> dict[str, str]:
    """The axes a trace of panel `row` (1-based) is drawn on: {"xaxis": "x2", "yaxis": "y2"} for the second."""
    suffix = "" if row == 1 else str(row)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def price_figure(
    prices: pd.DataFrame,
    symbol: str,
    chart: str = "Candlestick",
    chosen: Sequence[str] = (),
    actions: pd.DataFrame | None = None,
    max_bars: int = MAX_CANDLES,
    holidays: Sequence[date] = (),
    log_scale: bool = False,
    currency: str = "USD",
) -> go.Figure:
    """Price (candlestick / ohlc / line) with overlays, volume below, then RSI and MACD panels if chosen.

    `prices`: date-indexed open, high, low, close, volume plus indicator columns (market.with_indicators).
    `actions`: rows (date, action 'split'|'dividend', value) drawn as markers on the price panel.
    Long ranges are drawn as weekly/monthly bars (market.resample_ohlc); the title says which.
    Daily candles and bars skip weekends and `holidays` (weekdays the exchange was closed: pass them in,
    e.g. loaders.market_holidays), so a short range has no gaps.
    `log_scale`: the price axis is logarithmic (equal distances are equal percentage moves). The crosshair (spikes
    across every panel, one unified hover) reads out the bar's open, high, low, close and volume, formatted by
    dashboard.ui.formatting in `currency` (the currency the prices are in).
    The panels are make_subplots' (row 1 the price, row 2 the volume, ...), built as dicts (see _figure).
    """
    if prices.empty:
        raise ValueError("no prices to draw")
    if chart not in ("Candlestick", "OHLC", "Line"):
        raise ValueError(f"unknown chart type {chart!r}")
    shown, bar_size = resample_ohlc(prices, max_bars)
    panels = [p for p in ("RSI", "MACD") if p in chosen]
    layout, grid = _stacked(2 + len(panels))
    x = _x(shown.index)
    price, volume = _axes(1), _axes(2)
    traces: list[dict] = []
    if chart == "Line" or not has_ohlc(prices):  # adjusted closes only: nothing to draw a candle with
        chart = "Line"
        line = {**_line(prices["close"], symbol, line={"width": 1.5}), **price}
        line["customdata"] = np.array([formatting.format_price(v, currency) for v in line["y"]], dtype=str)
        line["hovertemplate"] = "Close %{customdata}<extra>" + symbol + "</extra>"
        traces.append(line)
    else:
        traces.append(
            {
                "type": "candlestick" if chart == "Candlestick" else "ohlc",
                "x": x,
                **{c: shown[c].to_numpy() for c in ("open", "high", "low", "close")},
                "name": symbol,
                "increasing": {"line": {"color": UP}},
                "decreasing": {"line": {"color": DOWN}},
                "customdata": ohlcv_text(shown, currency),
                "hovertemplate": OHLCV_HOVER,
                **price,
            }
        )
    for code in chosen:
        if code in MOVING_AVERAGES and code in shown:
            style = {"width": 1, "color": OVERLAY_COLOURS[code]}
            traces.append(_trace(x, shown[code], INDICATORS[code], price, mode="lines", line=style))
    if "BB" in chosen and "bb_upper" in shown:
        style = {"width": 1, "color": OVERLAY_COLOURS["BB"], "dash": "dot"}
        traces.append(_trace(x, shown["bb_upper"], "BB upper", price, line=style))
        traces.append(
            _trace(x, shown["bb_lower"], "BB lower", price, line=dict(style), fill="tonexty",
                   fillcolor="rgba(150,150,150,0.08)")
        )  # fmt: skip
    if actions is not None and not actions.empty:
        traces.extend(_action_markers(prices, actions))
    if shown["volume"].notna().any():
        bars = _trace(x, shown["volume"], "Volume", volume, type="bar", showlegend=False)
        bars["marker"] = {"color": np.where(shown["close"].to_numpy() >= shown["open"].to_numpy(), UP, DOWN)}
        # Candles carry the volume in their own readout; a line chart's readout gets it from here.
        bars["customdata"] = np.array([formatting.format_number(v, digits=0) for v in bars["y"]], dtype=str)
        bars["hovertemplate"] = "Volume %{customdata}<extra></extra>"
        if chart != "Line":
            bars["hoverinfo"] = "skip"
        traces.append(bars)
    layout["yaxis2"]["title"] = {"text": "Volume"}
    shapes = []
    for row, panel in enumerate(panels, start=3):
        axes = _axes(row)
        y_axis = layout[f"yaxis{row}"]
        if panel == "RSI":
            traces.append(_trace(x, shown["rsi"], "RSI 14", axes, line={"width": 1}))
            shapes += [_hline(level, axes["xaxis"], axes["yaxis"]) for level in (30, 70)]
            y_axis.update(range=[0, 100], title={"text": "RSI"})
        else:
            traces.append(_trace(x, shown["macd_hist"], "MACD histogram", axes, type="bar"))
            traces.append(_trace(x, shown["macd"], "MACD", axes, line={"width": 1}))
            traces.append(_trace(x, shown["macd_signal"], "Signal", axes, line={"width": 1}))
            y_axis["title"] = {"text": "MACD"}
    breaks = closed_days(holidays) if bar_size == "daily" and chart != "Line" else None
    for key, axis in layout.items():
        if key.startswith("xaxis"):
            axis.update(type="date", **SPIKE, hoverformat="%a %Y-%m-%d")
            if breaks:
                axis["rangebreaks"] = copy.deepcopy(breaks)
        elif key.startswith("yaxis"):
            axis.update(SPIKE)
    layout["xaxis"]["rangeslider"] = {"visible": False}
    if log_scale:
        layout["yaxis"]["type"] = "log"
    suffix = "" if bar_size == "daily" or chart == "Line" else f" · {bar_size} bars ({len(prices)} days)"
    layout.update(
        copy.deepcopy(_LAYOUT),
        title={"text": f"{symbol}{suffix}", "font": {"size": 14}},
        height=420 + 160 * len(panels),
        meta={"bar_size": "daily" if chart == "Line" else bar_size, "log_scale": log_scale},
        # The crosshair: one unified readout per date over every panel, spike lines across on both axes.
        hovermode="x unified",
        spikedistance=-1,
        hoverdistance=-1,
    )
    if shapes:
        layout["shapes"] = shapes
    return _figure(traces, layout, grid)


def _trace(x: np.ndarray, values: pd.Series, name: str, axes: dict[str, str], **kwargs: object) -> dict:
    """A trace dict (a scatter unless `type` says otherwise) of `values` against the dates `x` on `axes`."""
    return {"type": "scatter", "x": x, "y": values.to_numpy(), "name": name, **kwargs, **axes}


# The crosshair's readout of one bar (customdata: ohlcv_text); the unified hover's header is the bar's date.
OHLCV_HOVER = (
    "O %{customdata[0]}  H %{customdata[1]}  L %{customdata[2]}  C %{customdata[3]}<br>"
    "Volume %{customdata[4]}<extra>%{fullData.name}</extra>"
)
SPIKE = {"showspikes": True, "spikemode": "across", "spikesnap": "cursor", "spikethickness": 1, "spikedash": "dot",
         "spikecolor": "grey"}  # fmt: skip


def ohlcv_text(bars: pd.DataFrame, currency: str = "USD") -> np.ndarray:
    """Per bar the readout's text: open, high, low, close in `currency` and volume, through dashboard.ui.formatting."""
    prices = [
        [formatting.format_price(v, currency) for v in bars[c].to_numpy()] for c in ("open", "high", "low", "close")
    ]
    volume = [formatting.format_number(v, digits=0) for v in bars["volume"].to_numpy()]
    # Text arrays (not object arrays): plotly deep-copies a figure's arrays twice on the way to the browser, an object
    # array string by string.
    return np.array([*prices, volume], dtype=str).T


def closed_days(holidays: Sequence[date]) -> list[dict]:
    """Plotly rangebreaks for days without a session: every weekend, and the given weekday holidays."""
    breaks: list[dict] = [{"bounds": ["sat", "mon"]}]
    if holidays:
        breaks.append({"values": [d.isoformat() for d in holidays]})
    return breaks


def _action_markers(prices: pd.DataFrame, actions: pd.DataFrame) -> list[dict]:
    """Splits above the bar's high, dividends below its low (price panel traces); hover says what and how much."""
    dates = pd.to_datetime(actions["date"])
    in_view = (dates >= prices.index.min()) & (dates <= prices.index.max())
    actions, dates = actions[in_view], dates[in_view]
    if actions.empty:
        return []
    # The bar on or after the action's date (an ex-date can fall on a non-trading day).
    pos = np.minimum(prices.index.searchsorted(dates), len(prices) - 1)
    # A bar without high/low (adjusted close only): the marker sits on the close.
    closes = prices["close"].to_numpy(dtype="float64")[pos]
    highs = prices["high"].to_numpy(dtype="float64")[pos]
    lows = prices["low"].to_numpy(dtype="float64")[pos]
    highs, lows = np.where(np.isnan(highs), closes, highs), np.where(np.isnan(lows), closes, lows)
    markers = []
    for kind, symbol, colour, y, fmt in (
        ("split", "triangle-down", "#6a1b9a", highs * 1.04, lambda v: f"Split {v:g}:1"),
        ("dividend", "triangle-up", "#2e7d32", lows * 0.96, lambda v: f"Dividend {v:.4g}"),
    ):
        mask = (actions["action"] == kind).to_numpy()
        if mask.any():
            markers.append(
                {
                    "type": "scatter",
                    "x": _x(pd.DatetimeIndex(dates[mask])),
                    "y": y[mask],
                    "mode": "markers",
                    "name": "Splits" if kind == "split" else "Dividends",
                    "marker": {"symbol": symbol, "size": 11, "color": colour},
                    "text": [fmt(v) for v in actions["value"].to_numpy()[mask]],
                    "hovertemplate": "%{text}<extra></extra>",
                    **_axes(1),
                }
            )
    return markers


def points_per_line(lines: int) -> int:
    """Points each line may keep when `lines` lines share one chart."""
    return int(np.clip(LINE_POINT_BUDGET // max(lines, 1), MIN_LINE_POINTS, MAX_LINE_POINTS))


def _lines(wide: pd.DataFrame, line: dict | None = None, **style) -> list[dict]:
    per_line = points_per_line(wide.shape[1])
    return [
        _line(wide[column], str(column), max_points=per_line, line=palette.series_line(i, **(line or {})), **style)
        for i, column in enumerate(wide.columns)
    ]


# Focus: one series stands out (drawn last, on top, thicker); the others fade to one grey, still hoverable.
FADED = "rgba(150,150,150,0.35)"


def focused(fig: go.Figure, focus: str | None) -> go.Figure:
    """`fig` with the trace named `focus` highlighted and the others greyed; unchanged when no trace has that name."""
    names = [trace.name for trace in fig.data]
    if not focus or focus not in names:
        return fig
    for trace in fig.data:
        if trace.name == focus:
            trace.line.width = 2.5
        else:
            trace.line.color = FADED
            trace.line.width = 1
    fig.data = [t for t in fig.data if t.name != focus] + [t for t in fig.data if t.name == focus]
    return fig


def compare_figure(normalised: pd.DataFrame, title: str = "Compared, rebased to 100") -> go.Figure:
    """One line per column of a date-indexed frame already rebased to 100."""
    layout = {**copy.deepcopy(_LAYOUT), "title": {"text": title, "font": {"size": 14}}, "height": 380}
    layout.update(yaxis={"title": {"text": "Index (=100)"}}, shapes=[_hline(100)])
    return _figure(_lines(normalised, line={"width": 1.5}), layout)  # dicts: see _figure


def lines_figure(
    wide: pd.DataFrame,
    title: str,
    y_title: str,
    percent: bool = False,
    height: int = 320,
    focus: str | None = None,
) -> go.Figure:
    """One line per column (e.g. rolling volatility per ticker), downsampled for display; `focus`: see focused."""
    fig = focused(go.Figure(data=_lines(wide, line={"width": 1.2})), focus)
    fig.update_layout(**_LAYOUT, title={"text": title, "font": {"size": 14}}, height=height, yaxis_title=y_title)
    if percent:
        fig.update_yaxes(tickformat=".0%")
    return fig


def drawdown_figure(drawdowns: pd.DataFrame, focus: str | None = None) -> go.Figure:
    """Underwater chart: drawdown from the running peak per column (values <= 0), filled to zero for up to 3
    (or for the focused one only); `focus`: see focused."""
    # Overlapping fills of many series turn into a muddle: beyond three, lines only.
    fill = "tozeroy" if drawdowns.shape[1] <= 3 and focus not in drawdowns.columns else "none"
    fig = focused(go.Figure(data=_lines(drawdowns, line={"width": 1}, fill=fill)), focus)
    for trace in fig.data:
        if trace.name == focus:
            trace.fill = "tozeroy"
    fig.update_layout(**_LAYOUT, title={"text": "Drawdown from peak", "font": {"size": 14}}, height=320)
    fig.update_yaxes(tickformat=".0%")
    return fig


def correlation_heatmap(corr: pd.DataFrame) -> go.Figure:
    """Correlation matrix as a heatmap on a fixed -1..1 diverging scale, values printed in the cells."""
    labels = [str(c) for c in corr.columns]
    values = corr.to_numpy(dtype="float64")
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=labels,
            y=labels,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            text=np.round(values, 2),
            texttemplate="%{text}" if len(labels) <= 20 else None,
            hovertemplate="%{y} / %{x}: %{z:.2f}<extra></extra>",
        )
    )
    size = max(320, min(900, 40 * len(labels) + 120))
    fig.update_layout(
        margin=_LAYOUT["margin"],
        title={"text": "Correlation of daily returns", "font": {"size": 14}},
        height=size,
        yaxis={"autorange": "reversed"},
    )
    # Plotly drops every other category label when they crowd: name each one, in smaller type for many.
    font = {"size": 10 if len(labels) > 20 else 12}
    fig.update_xaxes(tickmode="array", tickvals=labels, ticktext=labels, tickangle=-90, tickfont=font)
    fig.update_yaxes(tickmode="array", tickvals=labels, ticktext=labels, tickfont=font)
    return fig


def distribution_figure(returns: pd.Series, var_95: float, cvar_95: float, symbol: str) -> go.Figure:
    """Histogram of daily returns with the historical 95% VaR and CVaR marked as vertical lines."""
    values = returns.dropna().to_numpy()
    fig = go.Figure(go.Histogram(x=values, nbinsx=80, name=f"{symbol} daily returns", marker={"color": "#5c6bc0"}))
    fig.add_vline(x=var_95, line={"color": DOWN, "width": 2}, annotation_text=f"VaR 95% {var_95:.2%}")
    fig.add_vline(
        x=cvar_95,
        line={"color": DOWN, "width": 2, "dash": "dot"},
        annotation_text=f"CVaR 95% {cvar_95:.2%}",
        annotation_position="bottom left",
    )
    fig.update_layout(
        margin=_LAYOUT["margin"],
        title={"text": f"{symbol}: distribution of daily returns", "font": {"size": 14}},
        height=320,
        bargap=0.02,
        showlegend=False,
    )
    fig.update_xaxes(tickformat=".1%")
    return fig


def risk_contribution_figure(contributions: pd.DataFrame) -> go.Figure:
    """Each holding's weight beside its share of the portfolio's volatility (analytics.portfolio.risk_contributions):
    a holding whose risk share outgrows its weight is where the portfolio's risk concentrates."""
    labels = [str(s) for s in contributions["symbol"]]
    fig = go.Figure(
        data=[
            go.Bar(
                x=labels,
                y=contributions[column].to_numpy(dtype="float64"),
                name=name,
                marker={"color": palette.series_colour(i)},
                hovertemplate="%{x}: %{y:.2%}<extra>" + name + "</extra>",
            )
            for i, (column, name) in enumerate((("weight", "Weight"), ("share", "Share of volatility")))
        ]
    )
    fig.update_layout(
        **{**_LAYOUT, "hovermode": "x"},
        title={"text": "Weight and share of portfolio volatility", "font": {"size": 14}},
        height=320,
        barmode="group",
    )
    fig.update_yaxes(tickformat=".0%")
    fig.update_xaxes(type="category", tickmode="array", tickvals=labels, ticktext=labels)
    return fig


def peer_figure(peers: Peers, symbol: str, height: int = 260) -> go.Figure:
    """One stock's line (rebased to 100) against the average of the other stocks (analytics.peers.compare)."""
    lines = pd.DataFrame({symbol: peers.normalised[symbol], "Peer average": peers.peer_average[symbol]})
    fig = go.Figure(
        data=[
            _line(lines[symbol], symbol, line={"width": 1.6, "color": palette.series_colour(3)}),
            _line(lines["Peer average"], "Peer average", line={"width": 1.2, "color": FADED.replace("0.35", "0.9")}),
        ]
    )
    fig.add_hline(y=100, line={"dash": "dot", "width": 1, "color": "grey"})
    fig.update_layout(
        **{**_LAYOUT, "legend": {"orientation": "h", "y": -0.15}},
        title={"text": f"{symbol} vs peer average", "font": {"size": 13}},
        height=height,
        yaxis_title="Index (=100)",
    )
    return fig


def peer_difference_figure(peers: Peers, symbol: str, height: int = 260) -> go.Figure:
    """The stock minus its peer average (index points, i.e. percentage points of return since the start), filled
    green above zero and red below."""
    gap = downsample_line(peers.difference[symbol], MAX_LINE_POINTS)
    x, y = _x(gap.index), gap.to_numpy(dtype="float64")
    fig = go.Figure(
        data=[
            go.Scatter(x=x, y=np.where(y >= 0, y, 0.0), mode="lines", name="Ahead", fill="tozeroy",
                       line={"width": 0.8, "color": UP}, hoverinfo="skip"),
            go.Scatter(x=x, y=np.where(y < 0, y, 0.0), mode="lines", name="Behind", fill="tozeroy",
                       line={"width": 0.8, "color": DOWN}, hoverinfo="skip"),
            go.Scatter(x=x, y=y, mode="lines", name=f"{symbol} − peers", line={"width": 1, "color": "rgba(0,0,0,0)"},
                       hovertemplate="%{y:+.2f} points<extra></extra>"),
        ]
    )  # fmt: skip
    fig.update_layout(
        **{**_LAYOUT, "showlegend": False},
        title={"text": f"{symbol} minus peer average", "font": {"size": 13}},
        height=height,
        yaxis_title="Points",
    )
    return fig
