"""Plotly figure builders for the macro desk: pure functions, pandas in and go.Figure out."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.macro import UNITS

__all__ = [
    "MAX_AXES",
    "beta_figure",
    "series_figure",
    "spread_figure",
    "transformed_units",
    "yield_curve_figure",
]

MAX_AXES = 2
RECESSION_FILL = "rgba(128, 128, 128, 0.25)"
INVERSION_COLOR = "#d62728"


def transformed_units(units: str, code: str) -> str:
    """Axis label of a series after a FRED units transformation (e.g. 'Percent Change from Year Ago')."""
    if code not in UNITS:
        raise ValueError(f"unknown units code {code!r}")
    base = units or "pending"
    if code == "lin":
        return base
    if code in ("chg", "ch1"):
        return f"{UNITS[code]}, {base}"
    if code == "log":
        return f"Natural Log of {base}"
    # Every rate of change is a percent whatever the original units.
    return UNITS[code]


def _shade_recessions(fig: go.Figure, recessions: pd.DataFrame | None, start: pd.Timestamp, end: pd.Timestamp) -> None:
    if recessions is None or recessions.empty:
        return
    for row in recessions.itertuples(index=False):
        if row.end < start or row.start > end:
            continue
        fig.add_vrect(
            x0=max(row.start, start),
            x1=min(row.end, end),
            fillcolor=RECESSION_FILL,
            line_width=0,
            layer="below",
            name="recession",
        )


def series_figure(
    series: dict[str, pd.Series], units: dict[str, str], recessions: pd.DataFrame | None = None
) -> go.Figure:
    """Line chart of labelled series; series in a second kind of units go on a right-hand axis.

    `series` maps a legend label to a Series by date (NaN values are drawn as gaps, never joined or
    zeroed); `units` maps the same labels to axis units. More than MAX_AXES different units raise
    ValueError. `recessions` (see `recession_periods`) are shaded grey over the plotted dates.
    """
    if not series:
        raise ValueError("nothing to chart: no series given")
    missing = [label for label in series if label not in units]
    if missing:
        raise ValueError(f"no units given for {', '.join(missing)}")
    axes = list(dict.fromkeys(units[label] for label in series))
    if len(axes) > MAX_AXES:
        raise ValueError(f"at most {MAX_AXES} different units fit on one chart; got {len(axes)}: {', '.join(axes)}")
    fig = go.Figure()
    for label, values in series.items():
        second = axes.index(units[label]) == 1
        fig.add_trace(
            go.Scatter(
                x=values.index,
                y=values.to_numpy(dtype="float64"),
                mode="lines",
                name=f"{label} (right)" if second else label,
                connectgaps=False,
                yaxis="y2" if second else "y",
            )
        )
    fig.update_layout(
        yaxis={"title": {"text": axes[0]}},
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.15},
        margin={"t": 30, "r": 10, "b": 10, "l": 10},
    )
    if len(axes) == 2:
        fig.update_layout(yaxis2={"title": {"text": axes[1]}, "overlaying": "y", "side": "right", "showgrid": False})
    dates = [s.index for s in series.values() if len(s)]
    if dates:
        start = min(d.min() for d in dates)
        end = max(d.max() for d in dates)
        _shade_recessions(fig, recessions, start, end)
    return fig


def yield_curve_figure(curves: pd.DataFrame) -> go.Figure:
    """One line per curve (column) across tenors (index, maturity order), yields in percent."""
    fig = go.Figure()
    for label in curves.columns:
        fig.add_trace(
            go.Scatter(
                x=[str(t) for t in curves.index],
                y=curves[label].to_numpy(dtype="float64"),
                mode="lines+markers",
                name=str(label),
                connectgaps=False,
            )
        )
    fig.update_layout(
        xaxis={"title": {"text": "Maturity"}, "type": "category"},
        yaxis={"title": {"text": "Percent"}},
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 30, "r": 10, "b": 10, "l": 10},
    )
    return fig


def spread_figure(spreads: dict[str, pd.Series], recessions: pd.DataFrame | None = None) -> go.Figure:
    """History of each spread with its negative (inverted) stretches filled red below zero."""
    if not spreads:
        raise ValueError("nothing to chart: no spread given")
    fig = go.Figure()
    for label, values in spreads.items():
        fig.add_trace(go.Scatter(x=values.index, y=values.to_numpy(dtype="float64"), mode="lines", name=label))
        inverted = values.where(values < 0)
        fig.add_trace(
            go.Scatter(
                x=inverted.index,
                y=inverted.to_numpy(dtype="float64"),
                mode="lines",
                name=f"{label} inverted",
                line={"color": INVERSION_COLOR, "width": 1},
                fill="tozeroy",
                connectgaps=False,
            )
        )
    fig.add_hline(y=0, line_width=1, line_color="black")
    fig.update_layout(
        yaxis={"title": {"text": "Percentage points"}},
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.15},
        margin={"t": 30, "r": 10, "b": 10, "l": 10},
    )
    dates = [s.index for s in spreads.values() if len(s)]
    if dates:
        _shade_recessions(fig, recessions, min(d.min() for d in dates), max(d.max() for d in dates))
    return fig


def beta_figure(stats: pd.DataFrame, stock: str, series_label: str, unit: str | None = None) -> go.Figure:
    """Rolling correlation (top) and beta (bottom) from `rolling_macro_beta`'s frame; `unit` names what the beta is
    per (analytics.macro.change_unit), e.g. "1 percentage point change in DGS10"."""
    for column in ("correlation", "beta"):
        if column not in stats.columns:
            raise ValueError(f"stats must have a {column!r} column")
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=(f"Correlation of {stock} returns with changes in {series_label}", "Beta"),
    )
    fig.add_trace(
        go.Scatter(x=stats.index, y=stats["correlation"].to_numpy(dtype="float64"), name="correlation"), row=1, col=1
    )
    fig.add_trace(go.Scatter(x=stats.index, y=stats["beta"].to_numpy(dtype="float64"), name="beta"), row=2, col=1)
    fig.update_yaxes(range=[-1, 1], row=1, col=1)
    fig.update_yaxes(title_text=f"return per {unit or 'unit change'}", row=2, col=1)
    fig.update_layout(showlegend=False, margin={"t": 40, "r": 10, "b": 10, "l": 10}, height=520)
    return fig
