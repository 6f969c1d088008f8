"""Plotly figure builders for the macro desk: pure functions, pandas in and go.Figure out."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.macro import UNITS
from dashboard.ui import palette

__all__ = [
    "AXIS_CHOICES",
    "MAX_AXES",
    "assign_axes",
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


AXIS_CHOICES: tuple[str, ...] = ("auto", "left", "right")


def assign_axes(units: Mapping[str, str], choices: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """Which side ('left' or 'right') each line is drawn against, and the lines that fit on neither.

    `units` maps a line's label to its axis units, in legend order; `choices` maps a label to 'left', 'right'
    or 'auto' (missing = 'auto'). Chosen sides are kept whatever the units. An 'auto' line joins the side where
    an earlier 'auto' line has its units, else the first side that is empty or shows only its units (left
    first); when neither side will do it is left out (returned second), so a side mixes units only when asked
    to. Moving one line to the right thus never drags the lines that share its units along.
    """
    choices = choices or {}
    bad = {c for c in choices.values() if c not in AXIS_CHOICES}
    if bad:
        raise ValueError(f"unknown axis choice {sorted(bad)[0]!r}; expected one of {', '.join(AXIS_CHOICES)}")
    sides: dict[str, str] = {label: choices[label] for label in units if choices.get(label, "auto") != "auto"}
    automatic: dict[str, str] = {}  # units -> the side its first 'auto' line took
    left_out: list[str] = []
    for label, unit in units.items():
        if label in sides:
            continue
        shown = {side: {units[x] for x, s in sides.items() if s == side} for side in ("left", "right")}
        side = automatic.get(unit) or next((s for s in ("left", "right") if shown[s] <= {unit}), None)
        if side is None:
            left_out.append(label)
            continue
        sides[label] = automatic.setdefault(unit, side)
    return {label: sides[label] for label in units if label in sides}, left_out


def series_figure(
    series: dict[str, pd.Series],
    units: dict[str, str],
    recessions: pd.DataFrame | None = None,
    axes: Mapping[str, str] | None = None,
) -> go.Figure:
    """Line chart of labelled series against a left and a right axis.

    `series` maps a legend label to a Series by date (NaN values are drawn as gaps, never joined or
    zeroed); `units` maps the same labels to axis units. `axes` maps labels to 'left', 'right' or 'auto'
    (see `assign_axes`; by default every line is 'auto': a second kind of units goes on the right). Lines
    that fit on no axis raise ValueError (more than MAX_AXES kinds of units left to 'auto'). An axis is titled
    with the units of its lines. `recessions` (see `recession_periods`) are shaded grey over the plotted dates.
    """
    if not series:
        raise ValueError("nothing to chart: no series given")
    missing = [label for label in series if label not in units]
    if missing:
        raise ValueError(f"no units given for {', '.join(missing)}")
    sides, left_out = assign_axes({label: units[label] for label in series}, axes)
    if left_out:
        kinds = list(dict.fromkeys(units[label] for label in series))
        raise ValueError(f"at most {MAX_AXES} different units fit on one chart; got {len(kinds)}: {', '.join(kinds)}")
    titles = {
        side: " · ".join(dict.fromkeys(units[label] for label in series if sides[label] == side))
        for side in ("left", "right")
    }
    fig = go.Figure()
    for position, (label, values) in enumerate(series.items()):
        second = sides[label] == "right"
        fig.add_trace(
            go.Scatter(
                x=values.index,
                y=values.to_numpy(dtype="float64"),
                mode="lines",
                line=palette.series_line(position),
                name=f"{label} (right)" if second else label,
                connectgaps=False,
                yaxis="y2" if second else "y",
            )
        )
    fig.update_layout(
        yaxis={"title": {"text": titles["left"]}},
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.15},
        margin={"t": 30, "r": 10, "b": 10, "l": 10},
    )
    if titles["right"]:
        fig.update_layout(
            yaxis2={"title": {"text": titles["right"]}, "overlaying": "y", "side": "right", "showgrid": False}
        )
    dates = [s.index for s in series.values() if len(s)]
    if dates:
        start = min(d.min() for d in dates)
        end = max(d.max() for d in dates)
        _shade_recessions(fig, recessions, start, end)
    return fig


def yield_curve_figure(curves: pd.DataFrame) -> go.Figure:
    """One line per curve (column) across tenors (index, maturity order), yields in percent."""
    fig = go.Figure()
    for position, label in enumerate(curves.columns):
        fig.add_trace(
            go.Scatter(
                x=[str(t) for t in curves.index],
                y=curves[label].to_numpy(dtype="float64"),
                mode="lines+markers",
                line=palette.series_line(position),
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
    for position, (label, values) in enumerate(spreads.items()):
        line = palette.series_line(position)
        fig.add_trace(
            go.Scatter(x=values.index, y=values.to_numpy(dtype="float64"), mode="lines", name=label, line=line)
        )
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
