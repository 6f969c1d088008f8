"""Plotly figures for the Options page: the IV smile, the ATM term structure, open interest by strike, and the
delta-targeted series over the underlying's close."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.ui import palette
from dashboard.ui.figures import DOWN, UP

__all__ = ["open_interest_figure", "series_figure", "smile_figure", "term_structure_figure"]

_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "showlegend": True}
_TYPES = {"C": "calls", "P": "puts"}
_SPOT = {"dash": "dot", "width": 1, "color": "grey"}


def _title(text: str) -> dict:
    return {"text": text, "font": {"size": 14}}


def smile_figure(rows: pd.DataFrame, spot: float, symbol: str) -> go.Figure:
    """IV against strike, one line per expiry and type (puts dashed), the underlying price as a dotted line.

    `rows`: expiration, dte, type, strike, iv, contract, volume (options_loaders.smile_rows)."""
    traces = []
    expiries = list(dict.fromkeys(sorted(rows["expiration"])))
    for (expiration, kind), group in rows.groupby(["expiration", "type"], sort=True):
        dte = int(group["dte"].iloc[0])
        colour = palette.series_colour(expiries.index(expiration))  # a call and its put share their expiry's hue
        traces.append(
            go.Scatter(
                x=group["strike"].to_numpy(dtype="float64"),
                y=group["iv"].to_numpy(dtype="float64"),
                name=f"{expiration:%Y-%m-%d} ({dte}d) {_TYPES.get(kind, kind)}",
                mode="lines+markers",
                marker={"size": 4},
                line={"width": 1.5, "dash": "dash" if kind == "P" else "solid", "color": colour},
                text=[f"{c} · volume {v:,.0f}" for c, v in zip(group["contract"], group["volume"], strict=True)],
                hovertemplate="%{text}<br>strike %{x:,.2f}<br>IV %{y:.2%}<extra></extra>",
            )
        )
    fig = go.Figure(data=traces)
    if np.isfinite(spot):
        fig.add_vline(x=spot, line=_SPOT, annotation_text=f"{symbol} {spot:,.2f}")
    fig.update_layout(
        **_LAYOUT, title=_title(f"{symbol} IV smile (our IV by strike)"), height=380, xaxis_title="Strike"
    )
    fig.update_yaxes(title_text="Implied volatility", tickformat=".0%")
    return fig


def term_structure_figure(rows: pd.DataFrame, symbol: str) -> go.Figure:
    """ATM IV against days to expiry, one line per session and type. `rows`: session, expiration, dte, type, atm_iv."""
    traces = []
    rows = rows.dropna(subset=["atm_iv"])
    sessions = list(dict.fromkeys(sorted(rows["session"])))
    for (session, kind), group in rows.groupby(["session", "type"], sort=True):
        group = group.sort_values("dte")
        colour = palette.series_colour(sessions.index(session))
        traces.append(
            go.Scatter(
                x=group["dte"].to_numpy(dtype="float64"),
                y=group["atm_iv"].to_numpy(dtype="float64"),
                name=f"{session:%Y-%m-%d} {_TYPES.get(kind, kind)}",
                mode="lines+markers",
                marker={"size": 5},
                line={"color": colour, "dash": "dash" if kind == "P" else "solid"},
                text=[f"{e:%Y-%m-%d}" for e in pd.to_datetime(group["expiration"])],
                hovertemplate="expires %{text} (%{x}d)<br>ATM IV %{y:.2%}<extra></extra>",
            )
        )
    fig = go.Figure(data=traces)
    fig.update_layout(
        **_LAYOUT,
        title=_title(f"{symbol} ATM IV term structure"),
        height=340,
        xaxis_title="Days to expiry (calendar)",
    )
    fig.update_yaxes(title_text="ATM implied volatility", tickformat=".0%")
    return fig


def open_interest_figure(rows: pd.DataFrame, spot: float, symbol: str, expiration: object) -> go.Figure:
    """Open interest by strike for one expiry, calls and puts side by side. `rows`: type, strike, open_interest."""
    traces = [
        go.Bar(
            x=group["strike"].to_numpy(dtype="float64"),
            y=group["open_interest"].to_numpy(dtype="float64"),
            name=f"Open interest, {_TYPES.get(kind, kind)}",
            marker={"color": UP if kind == "C" else DOWN},
            hovertemplate="strike %{x:,.2f}<br>OI %{y:,.0f}<extra></extra>",
        )
        for kind, group in rows.groupby("type", sort=True)
    ]
    fig = go.Figure(data=traces)
    if np.isfinite(spot):
        fig.add_vline(x=spot, line=_SPOT, annotation_text=f"{symbol} {spot:,.2f}")
    fig.update_layout(
        **_LAYOUT,
        title=_title(f"{symbol} open interest by strike, expiring {pd.Timestamp(expiration):%Y-%m-%d}"),
        height=320,
        barmode="group",
        xaxis_title="Strike",
        yaxis_title="Contracts",
    )
    return fig


def series_figure(series: pd.DataFrame, symbol: str, kind: str) -> go.Figure:
    """The underlying's close across the stored sessions, the strike held as a step line, and a marker at each
    contract change (hover: the new contract, why, its strike and our delta).

    `series`: analytics.options SERIES_COLUMNS."""
    x = pd.to_datetime(series["session_date"]).to_numpy().astype("datetime64[D]")
    close = series["underlying_close"].to_numpy(dtype="float64")
    strike = series["strike"].to_numpy(dtype="float64")
    changed = series["changed"].to_numpy(dtype=bool)
    # A change on a session without a stored close is drawn on the new strike instead.
    marker_y = np.where(np.isfinite(close), close, strike)[changed]
    hover = [
        f"{c}<br>{r}: strike {k:,.2f}, delta {d:.3f}"
        for c, r, k, d in zip(
            series["contract"][changed],
            series["change_reason"][changed],
            strike[changed],
            series["delta"].to_numpy(dtype="float64")[changed],
            strict=True,
        )
    ]
    word = _TYPES.get(kind, kind)
    fig = go.Figure(
        data=[
            go.Scatter(
                x=x,
                y=close,
                name=f"{symbol} close",
                mode="lines",
                line={"width": 1.5, "color": palette.series_colour(0)},
            ),
            go.Scatter(
                x=x,
                y=strike,
                name=f"Strike held ({word})",
                mode="lines",
                line={"width": 1, "dash": "dot", "shape": "hv", "color": palette.series_colour(1)},
                hovertemplate="strike %{y:,.2f}<extra></extra>",
            ),
            go.Scatter(
                x=x[changed],
                y=marker_y,
                name="Contract change",
                mode="markers",
                marker={"symbol": "diamond", "size": 10, "color": "#6a1b9a"},
                text=hover,
                hovertemplate="%{x|%Y-%m-%d}<br>%{text}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        **_LAYOUT,
        hovermode="closest",
        title=_title(f"{symbol} close and the {word} series' contract changes"),
        height=380,
        yaxis_title="Price",
    )
    fig.update_xaxes(type="date")
    return fig
