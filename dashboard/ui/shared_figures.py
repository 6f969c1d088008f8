"""Figures built once per view and drawn by every session that shows the view (the Risk and Options pages).

A page's figure depends only on what the page shows (data version, tickers, range, the choices), not on who looks:
`figure` keys it on those and builds it once (st.cache_resource, one object for every session; st.cache_data's
pickling would validate the figure again at every read). What is shared is a `SharedFigure`: st.plotly_chart reads
a figure through `to_dict()`, plotly's deep copy of every trace, at every call of every run; a shared figure makes
that copy once and hands out the same dict, which Streamlit only serialises. With 30 tickers the copies were 67 ms
of a 0.25 s Risk run (cProfile, AppTest), and every session re-running the page paid them again.

A shared figure is read-only: nothing changes it after `figure` returns it (st.plotly_chart does not).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st

from dashboard.ui.loaders import TTL

ENTRIES = 128  # about 14 Risk views of 7 figures and 8 Options views of 4; a 30-line chart holds ~250 KB


class SharedFigure(go.Figure):
    """A figure reduced to what st.plotly_chart reads of it: its `to_dict()`, made once and the same dict at every
    call. Streamlit takes any plotly figure as it is (a dict it would validate again, trace by trace), and
    reads nothing else of it, so nothing else is kept: plotly's own trace objects, built and deep-copied twice
    for a figure made with go.Figure, are not built at all for a spec made as dicts (risk_figures). Not a figure
    to change or to show by other means: it has only `to_dict`."""

    def __init__(self, spec: dict) -> None:  # deliberately not go.Figure's __init__: see above
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec

    def __repr__(self) -> str:
        return f"SharedFigure({len(self._spec.get('data', []))} traces)"


def share(fig: go.Figure) -> SharedFigure:
    """`fig` as a SharedFigure: its `to_dict()` made here, once (a SharedFigure already is one)."""
    return fig if isinstance(fig, SharedFigure) else SharedFigure(fig.to_dict())


@functools.cache
def _default_template() -> dict:
    """The layout template plotly's `to_dict()` writes into every figure (plotly.io.templates.default; the app
    never changes it), made once: every SharedFigure made from dicts holds this one dict."""
    return go.Figure().to_dict()["layout"]["template"]


def from_dicts(data: list[dict], layout: dict) -> SharedFigure:
    """What `go.Figure({"data": data, "layout": layout}, _validate=False).to_dict()` gives, without building the
    figure: the traces and the layout (which sets no template) as they are, with plotly's default template. The dicts
    must already be what plotly would serialise (numbers base64-encoded, dates as strings: risk_figures' builders);
    they are not copied."""
    return SharedFigure({"data": data, "layout": {**layout, "template": _default_template()}})


@st.cache_resource(ttl=TTL, show_spinner=False, max_entries=ENTRIES)
def shared_figure(key: str, _build: Callable[[], go.Figure]) -> go.Figure:
    """`_build()`, built and shared once for every session asking with the same `key` (the figure's name and every
    input it depends on)."""
    return share(_build())


def figure(view: tuple, key: tuple, build: Callable[..., go.Figure], *args: object, **kwargs: object) -> go.Figure:
    """`build(*args, **kwargs)` as a shared_figure. Its key: `view` (what the page's figures all depend on: e.g. the
    Risk page's version, tickers, benchmark, range, rate), the builder's name and keyword arguments (focus, title),
    and `key`: whatever else the positional arguments depend on (the rolling kind and window, the weights, the
    ticker picked); as one string, which Streamlit hashes much faster than a tuple of dates and thirty symbols."""
    return shared_figure(repr((*view, build.__name__, *sorted(kwargs.items()), *key)), lambda: build(*args, **kwargs))
