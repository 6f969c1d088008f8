"""Plotly figures for the Backtest page: equity against a benchmark, monthly returns, parameter-sweep heat maps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.ui.figures import lines_figure

__all__ = ["equity_figure", "monthly_heatmap", "sharpe_range", "sweep_heatmap"]

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def equity_figure(
    equity: pd.Series,
    label: str,
    benchmark: pd.Series | None = None,
    bench_label: str = "",
    others: dict[str, pd.Series] | None = None,
) -> go.Figure:
    """The strategy's equity (starting capital 1), the benchmark held over the same sessions, and `others`
    (e.g. a saved index run as a strategy) on the same sessions."""
    wide = pd.DataFrame({label: equity})
    if benchmark is not None:
        wide[bench_label or "benchmark"] = benchmark.reindex(equity.index)
    for name, series in (others or {}).items():
        wide[name] = series.reindex(equity.index)
    fig = lines_figure(wide, "Equity (starting capital 1.0)", "Growth of 1", height=380)
    fig.add_hline(y=1.0, line={"dash": "dot", "width": 1, "color": "grey"})
    return fig


def monthly_heatmap(table: pd.DataFrame) -> go.Figure:
    """Monthly returns (years x Jan..Dec) on a diverging scale centred at 0, the calendar year in the last column."""
    months = [c for c in table.columns if c != "Year"]
    values = table[months].to_numpy(dtype="float64")
    bound = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.01
    shown = table[[*months, "Year"]] if "Year" in table else table[months]
    z = shown.to_numpy(dtype="float64")
    text = np.where(np.isfinite(z), np.char.mod("%.1f%%", np.nan_to_num(z) * 100), "")
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(c) for c in shown.columns],
            y=[str(y) for y in table.index],
            zmin=-bound,
            zmax=bound,
            zmid=0.0,
            colorscale="RdYlGn",
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{x} %{y}: %{text}<extra></extra>",
            colorbar={"tickformat": ".0%"},
        )
    )
    fig.update_layout(
        margin=_MARGIN,
        title={"text": "Monthly returns (the colour scale is set by the months)", "font": {"size": 14}},
        height=max(260, 34 * len(table) + 120),
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"type": "category"},
    )
    return fig


def sharpe_range(*columns: pd.Series) -> tuple[float, float]:
    """One symmetric colour range for several heat maps, so the same colour means the same Sharpe."""
    values = np.concatenate([c.to_numpy(dtype="float64") for c in columns]) if columns else np.array([])
    values = values[np.isfinite(values)]
    bound = float(np.abs(values).max()) if values.size else 1.0
    return -max(bound, 1e-6), max(bound, 1e-6)


def sweep_heatmap(
    table: pd.DataFrame,
    x: str,
    y: str | None,
    column: str,
    title: str,
    zrange: tuple[float, float],
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """A sweep's `column` (e.g. sharpe_is) over one parameter (`x`) or two (`x` across, `y` down).

    Combinations the sweep left out (invalid, e.g. fast >= slow) are empty cells.
    """
    labels = labels or {}
    if y is None:
        grid = table.set_index(x)[[column]].T
        grid.index = [column]
    else:
        grid = table.pivot(index=y, columns=x, values=column)
    z = grid.to_numpy(dtype="float64")
    text = np.where(np.isfinite(z), np.char.mod("%.2f", np.nan_to_num(z)), "")
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{v:g}" if isinstance(v, int | float) else str(v) for v in grid.columns],
            y=[f"{v:g}" if isinstance(v, int | float) else str(v) for v in grid.index] if y else [""],
            zmin=zrange[0],
            zmax=zrange[1],
            zmid=0.0,
            colorscale="RdYlGn",
            text=text,
            texttemplate="%{text}" if z.size <= 200 else None,
            hovertemplate=f"{labels.get(x, x)} %{{x}}"
            + (f", {labels.get(y, y)} %{{y}}" if y else "")
            + ": Sharpe %{z:.2f}<extra></extra>",
            colorbar={"title": {"text": "Sharpe"}},
        )
    )
    fig.update_layout(
        margin=_MARGIN,
        title={"text": title, "font": {"size": 14}},
        height=380 if y else 220,
        xaxis={"title": {"text": labels.get(x, x)}, "type": "category"},
        yaxis={"title": {"text": labels.get(y, y) if y else ""}, "type": "category"},
    )
    return fig
