"""The Risk page's figures, built from plain dicts without plotly's per-property validation.

They draw exactly what dashboard.ui.figures' builders of the same names draw (the tests compare the specs Streamlit
sends), but plotly validates every property of every trace as it is set: with 30 tickers that is about 60 traces
and a third of a second a run, paid again at every re-run of every session. Here the traces are dicts of what the
validated figure would serialise (numbers base64-encoded as plotly encodes them, dates as their strings, plotly's
own colour scale list), made into a shared figure (dashboard.ui.shared_figures.from_dicts) that `st.plotly_chart`
takes as it is: no plotly figure object is built at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from _plotly_utils.utils import convert_to_base64

from dashboard.ui import palette, shared_figures
from dashboard.ui.figures import _LAYOUT, DOWN, FADED, points_per_line

_TITLE_FONT = {"size": 14}
# "RdBu" as plotly's validator spells it out in the figure (validated once, here).
_RDBU = [list(step) for step in go.Heatmap(colorscale="RdBu").colorscale]


def _figure(data: list[dict], layout: dict) -> shared_figures.SharedFigure:
    """A shared figure of already valid trace and layout dicts, with plotly's default template as a figure gets it.
    Numeric arrays are encoded as plotly's `to_dict` encodes them (base64), here once: a shared figure is serialised
    at every run, and then finds nothing left to encode."""
    convert_to_base64(data)  # in place, as it does in a figure's dict
    convert_to_base64(layout)
    return shared_figures.from_dicts(data, layout)


def _downsampled(series: pd.Series, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """(positions, y) of `series` without NaNs, MinMaxLTTB-downsampled to about `n_out` points when longer: the
    points of analytics.market.downsample_line, from arrays (no pandas copy per line); positions into `series`."""
    values = series.to_numpy(dtype="float64")
    positions = np.flatnonzero(~np.isnan(values))
    y = values[positions]
    if len(y) > n_out:
        from tsdownsample import MinMaxLTTBDownsampler

        x = np.ascontiguousarray(pd.DatetimeIndex(series.index).asi8[positions], dtype=np.int64)
        idx = np.sort(MinMaxLTTBDownsampler().downsample(x, np.ascontiguousarray(y), n_out=n_out))
        positions, y = positions[idx], y[idx]
    return positions, y


def _day_labels(index: pd.Index) -> np.ndarray:
    """The index's dates as the "YYYY-MM-DD" strings plotly writes for figures._x's dates (a list of strings is
    copied and serialised faster than an array of dates), one string object per day: every line of a figure refers
    to the same ones (30 lines of 7 years held 12 MiB of strings in the figures' cache, one per point, before)."""
    days = pd.DatetimeIndex(index).to_numpy().astype("datetime64[D]")
    return np.array(np.datetime_as_string(days, unit="D").tolist(), dtype=object)


def _lines(wide: pd.DataFrame, width: float, focus: str | None = None, **style: object) -> list[dict]:
    """One line trace per column, sharing the point budget (figures.points_per_line); with `focus` (a column name)
    that line comes last, thicker, and the others grey (figures.focused)."""
    per_line = points_per_line(wide.shape[1])
    names = [str(c) for c in wide.columns]
    labels = _day_labels(wide.index)
    highlight = focus if focus in names else None
    traces: list[dict] = []
    last: list[dict] = []
    for i, (name, column) in enumerate(zip(names, wide.columns, strict=True)):
        positions, y = _downsampled(wide[column], per_line)
        line = palette.series_line(i, width=width)
        if highlight and name == highlight:
            line["width"] = 2.5
        elif highlight:
            line = {**line, "color": FADED, "width": 1}
        x = labels[positions].tolist()
        trace = {**style, "line": line, "mode": "lines", "name": name, "x": x, "y": y, "type": "scatter"}
        (last if name == highlight else traces).append(trace)
    return traces + last


def _layout(title: str, height: int, **more: object) -> dict:
    return {**_LAYOUT, "title": {"text": title, "font": _TITLE_FONT}, "height": height, **more}


def lines_figure(
    wide: pd.DataFrame, title: str, y_title: str, percent: bool = False, height: int = 320, focus: str | None = None
) -> go.Figure:
    """figures.lines_figure: one line per column (e.g. rolling volatility per ticker), downsampled for display."""
    yaxis = {"title": {"text": y_title}, **({"tickformat": ".0%"} if percent else {})}
    return _figure(_lines(wide, 1.2, focus), _layout(title, height, yaxis=yaxis))


def drawdown_figure(drawdowns: pd.DataFrame, focus: str | None = None, title: str = "Drawdown from peak") -> go.Figure:
    """figures.drawdown_figure: drawdown from the running peak per column, filled to zero for up to 3 columns (or
    for the focused one only); `title` replaces the default (figures' `.update_layout(title_text=...)`)."""
    fill = "tozeroy" if drawdowns.shape[1] <= 3 and focus not in drawdowns.columns else "none"
    traces = _lines(drawdowns, 1, focus, fill=fill)
    for trace in traces:
        if trace["name"] == focus:
            trace["fill"] = "tozeroy"
    return _figure(traces, _layout(title, 320, yaxis={"tickformat": ".0%"}))


def compare_figure(normalised: pd.DataFrame, title: str) -> go.Figure:
    """figures.compare_figure: one line per column of a frame rebased to 100, a dotted line at 100."""
    hline = {"line": {"color": "grey", "dash": "dot", "width": 1}, "type": "line", "x0": 0, "x1": 1}
    hline |= {"xref": "x domain", "y0": 100, "y1": 100, "yref": "y"}
    layout = {"shapes": [hline], **_layout(title, 380, yaxis={"title": {"text": "Index (=100)"}})}
    return _figure(_lines(normalised, 1.5), layout)


def correlation_heatmap(corr: pd.DataFrame) -> go.Figure:
    """figures.correlation_heatmap: the matrix on a fixed -1..1 diverging scale, values printed up to 20 symbols."""
    labels = [str(c) for c in corr.columns]
    values = corr.to_numpy(dtype="float64")
    trace = {
        "colorscale": _RDBU,
        "hovertemplate": "%{y} / %{x}: %{z:.2f}<extra></extra>",
        "reversescale": True,
        "text": np.round(values, 2),
        **({"texttemplate": "%{text}"} if len(labels) <= 20 else {}),
        "x": labels,
        "y": labels,
        "z": values,
        "zmax": 1,
        "zmin": -1,
        "type": "heatmap",
    }
    ticks = {"tickfont": {"size": 10 if len(labels) > 20 else 12}, "tickmode": "array"}
    ticks |= {"tickvals": labels, "ticktext": labels}
    layout = {
        "margin": _LAYOUT["margin"],
        "title": {"font": _TITLE_FONT, "text": "Correlation of daily returns"},
        "yaxis": {"autorange": "reversed", **ticks},
        "height": max(320, min(900, 40 * len(labels) + 120)),
        "xaxis": {**ticks, "tickangle": -90},
    }
    return _figure([trace], layout)


def distribution_figure(returns: pd.Series, var_95: float, cvar_95: float, symbol: str) -> go.Figure:
    """figures.distribution_figure: histogram of daily returns, the historical 95% VaR and CVaR as vertical lines."""
    trace = {"marker": {"color": "#5c6bc0"}, "name": f"{symbol} daily returns", "nbinsx": 80}
    trace |= {"x": returns.dropna().to_numpy(), "type": "histogram"}

    def vline(x: float, **line: object) -> dict:
        return {"line": {"color": DOWN, **line}, "type": "line", "x0": x, "x1": x, "xref": "x", "y0": 0, "y1": 1,
                "yref": "y domain"}  # fmt: skip

    def note(x: float, text: str, y: int, xanchor: str, yanchor: str) -> dict:
        return {"showarrow": False, "text": text, "x": x, "xanchor": xanchor, "xref": "x", "y": y, "yanchor": yanchor,
                "yref": "y domain"}  # fmt: skip

    layout = {
        "shapes": [vline(var_95, width=2), vline(cvar_95, dash="dot", width=2)],
        "annotations": [
            note(var_95, f"VaR 95% {var_95:.2%}", 1, "left", "top"),
            note(cvar_95, f"CVaR 95% {cvar_95:.2%}", 0, "right", "bottom"),
        ],
        "margin": _LAYOUT["margin"],
        "title": {"font": _TITLE_FONT, "text": f"{symbol}: distribution of daily returns"},
        "height": 320,
        "bargap": 0.02,
        "showlegend": False,
        "xaxis": {"tickformat": ".1%"},
    }
    return _figure([trace], layout)


def risk_contribution_figure(contributions: pd.DataFrame) -> go.Figure:
    """figures.risk_contribution_figure: each holding's weight beside its share of the portfolio's volatility."""
    labels = [str(s) for s in contributions["symbol"]]
    bars = [
        {
            "hovertemplate": "%{x}: %{y:.2%}<extra>" + name + "</extra>",
            "marker": {"color": palette.series_colour(i)},
            "name": name,
            "x": labels,
            "y": contributions[column].to_numpy(dtype="float64"),
            "type": "bar",
        }
        for i, (column, name) in enumerate((("weight", "Weight"), ("share", "Share of volatility")))
    ]
    layout = _layout("Weight and share of portfolio volatility", 320, hovermode="x", barmode="group")
    layout |= {"yaxis": {"tickformat": ".0%"}, "xaxis": {"type": "category", "tickmode": "array"}}
    layout["xaxis"] |= {"tickvals": labels, "ticktext": labels}
    return _figure(bars, layout)
