"""Plotly figure builders for the macro desk: pure functions, pandas in and go.Figure out."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping

import numpy as np
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
# A line longer than this is drawn from MinMax-downsampled points (the minimum and the maximum of each of
# MAX_DRAWN_POINTS / 2 equal spans of dates): about two points per pixel of a wide chart, every peak and trough still
# drawn, and a browser sent ~30 KB per line instead of ~200 KB for 25 years of daily values. Tables and exports keep
# every value; only what is drawn is thinned.
MAX_DRAWN_POINTS = 2000
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


def _drawn(series: pd.Series, n_out: int = MAX_DRAWN_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(x as day-precision datetime64, y) of the points drawn for `series`: all of them when it has at most `n_out`;
    else the MinMax selection of its values (each span's extremes kept, see MAX_DRAWN_POINTS), with one NaN (at the
    first missing date) wherever missing values separated two drawn points, so a gap stays a gap (connectgaps off)."""
    x = pd.DatetimeIndex(series.index).to_numpy().astype("datetime64[D]")
    y = series.to_numpy(dtype="float64")
    if len(y) <= n_out:
        return x, y
    missing = np.isnan(y)
    present = np.flatnonzero(~missing)
    if len(present) > n_out:
        from tsdownsample import MinMaxDownsampler

        at = x[present].astype(np.int64)
        present = present[np.sort(MinMaxDownsampler().downsample(at, np.ascontiguousarray(y[present]), n_out=n_out))]
    # A gap between two drawn points: a missing value between them; marked by its first missing date.
    holes = np.flatnonzero(missing)
    if not len(holes):
        return x[present], y[present]
    after = np.searchsorted(holes, present[:-1])
    gapped = np.flatnonzero((after < len(holes)) & (holes[np.minimum(after, len(holes) - 1)] < present[1:]))
    positions = np.insert(present, gapped + 1, holes[after[gapped]]) if len(gapped) else present
    return x[positions], np.where(missing[positions], np.nan, y[positions])


def _figure(data: list[dict], layout: dict) -> go.Figure:
    """A go.Figure of plain trace and layout dicts, without plotly's property-by-property validation (most of what a
    figure costs to build; as dashboard.ui.figures._figure). tests/dashboard/ui/test_macro_figures.py validates each
    kind of figure once instead."""
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _recession_shapes(recessions: pd.DataFrame | None, start: pd.Timestamp, end: pd.Timestamp) -> list[dict]:
    """Grey bands (what fig.add_vrect draws, as shape dicts) over the recessions between `start` and `end`."""
    if recessions is None or recessions.empty:
        return []
    return [
        {
            "type": "rect",
            "x0": max(row.start, start),
            "x1": min(row.end, end),
            "xref": "x",
            "y0": 0,
            "y1": 1,
            "yref": "y domain",
            "fillcolor": RECESSION_FILL,
            "line": {"width": 0},
            "layer": "below",
            "name": "recession",
        }
        for row in recessions.itertuples(index=False)
        if not (row.end < start or row.start > end)
    ]


def _date_span(series: Mapping[str, pd.Series]) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    dates = [s.index for s in series.values() if len(s)]
    return (min(d.min() for d in dates), max(d.max() for d in dates)) if dates else None


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
    data = []
    for position, (label, values) in enumerate(series.items()):
        second = sides[label] == "right"
        x, y = _drawn(values)
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": y,
                "mode": "lines",
                "line": palette.series_line(position),
                "name": f"{label} (right)" if second else label,
                "connectgaps": False,
                "yaxis": "y2" if second else "y",
            }
        )
    layout: dict = {
        "yaxis": {"title": {"text": titles["left"]}},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.15},
        "margin": {"t": 30, "r": 10, "b": 10, "l": 10},
    }
    if titles["right"]:
        layout["yaxis2"] = {"title": {"text": titles["right"]}, "overlaying": "y", "side": "right", "showgrid": False}
    span = _date_span(series)
    if span:
        layout["shapes"] = _recession_shapes(recessions, *span)
    return _figure(data, layout)


def yield_curve_figure(curves: pd.DataFrame) -> go.Figure:
    """One line per curve (column) across tenors (index, maturity order), yields in percent."""
    tenors = [str(t) for t in curves.index]
    data = [
        {
            "type": "scatter",
            "x": tenors,
            "y": curves[label].to_numpy(dtype="float64"),
            "mode": "lines+markers",
            "line": palette.series_line(position),
            "name": str(label),
            "connectgaps": False,
        }
        for position, label in enumerate(curves.columns)
    ]
    layout = {
        "xaxis": {"title": {"text": "Maturity"}, "type": "category"},
        "yaxis": {"title": {"text": "Percent"}},
        "legend": {"orientation": "h", "y": -0.2},
        "margin": {"t": 30, "r": 10, "b": 10, "l": 10},
    }
    return _figure(data, layout)


def spread_figure(spreads: dict[str, pd.Series], recessions: pd.DataFrame | None = None) -> go.Figure:
    """History of each spread with its negative (inverted) stretches filled red below zero."""
    if not spreads:
        raise ValueError("nothing to chart: no spread given")
    data: list[dict] = []
    for position, (label, values) in enumerate(spreads.items()):
        x, y = _drawn(values)
        data.append(
            {"type": "scatter", "x": x, "y": y, "mode": "lines", "name": label, "line": palette.series_line(position)}
        )
        # The inverted stretches from the spread's values (not the drawn line's), thinned alike when long.
        x, y = _drawn(values.where(values < 0))
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": y,
                "mode": "lines",
                "name": f"{label} inverted",
                "line": {"color": INVERSION_COLOR, "width": 1},
                "fill": "tozeroy",
                "connectgaps": False,
            }
        )
    zero = {"type": "line", "x0": 0, "x1": 1, "xref": "x domain", "y0": 0, "y1": 0, "yref": "y"}
    span = _date_span(spreads)
    layout = {
        "yaxis": {"title": {"text": "Percentage points"}},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.15},
        "margin": {"t": 30, "r": 10, "b": 10, "l": 10},
        "shapes": [
            {**zero, "line": {"width": 1, "color": "black"}},
            *(_recession_shapes(recessions, *span) if span else []),
        ],
    }
    return _figure(data, layout)


@functools.cache
def _two_panels() -> dict:
    """make_subplots' layout for two panels under one shared date axis, computed once (titles filled in per figure)."""
    grid = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=("1", "2"))
    layout = grid.layout.to_plotly_json()
    layout.pop("template", None)
    return layout


def beta_figure(stats: pd.DataFrame, stock: str, series_label: str, unit: str | None = None) -> go.Figure:
    """Rolling correlation (top) and beta (bottom) from `rolling_macro_beta`'s frame; `unit` names what the beta is
    per (analytics.macro.change_unit), e.g. "1 percentage point change in DGS10"."""
    for column in ("correlation", "beta"):
        if column not in stats.columns:
            raise ValueError(f"stats must have a {column!r} column")
    layout = copy.deepcopy(_two_panels())
    top, bottom = layout["annotations"]
    top["text"], bottom["text"] = f"Correlation of {stock} returns with changes in {series_label}", "Beta"
    layout["yaxis"]["range"] = [-1, 1]
    layout["yaxis2"]["title"] = {"text": f"return per {unit or 'unit change'}"}
    layout.update(showlegend=False, margin={"t": 40, "r": 10, "b": 10, "l": 10}, height=520)
    data = []
    for column, axes in (("correlation", ("x", "y")), ("beta", ("x2", "y2"))):
        x, y = _drawn(stats[column])
        data.append({"type": "scatter", "x": x, "y": y, "name": column, "xaxis": axes[0], "yaxis": axes[1]})
    return _figure(data, layout)
