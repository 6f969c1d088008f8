"""A page's view state <-> the URL query string, so a copied link reproduces the view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from analytics.market import CUSTOM


@dataclass(frozen=True)
class View:
    """What the Ticker page shows; it round-trips through the URL query string."""

    tickers: tuple[str, ...] = ("SPY",)
    range: str = "1Y"
    start: date | None = None  # the resolved dates; the URL carries them only for a custom range
    end: date | None = None
    chart: str = "Candlestick"
    indicators: tuple[str, ...] = ()
    adjusted: bool = True


def view_params(view: View) -> dict[str, str | list[str]]:
    """The query parameters that reproduce `view`, encoded as the pages' URL-bound widgets read them.

    Keys: t (comma-separated tickers), range, dates (two ISO dates, custom range only), chart, ind (one
    value per indicator), adj ("false" for unadjusted). Defaults are still written, so a link is explicit.
    """
    out: dict[str, str | list[str]] = {"t": ",".join(view.tickers), "range": view.range, "chart": view.chart}
    if view.range == CUSTOM and view.start and view.end:
        out["dates"] = [view.start.isoformat(), view.end.isoformat()]
    if view.indicators:
        out["ind"] = list(view.indicators)
    out["adj"] = "true" if view.adjusted else "false"
    return out


def query_string(params: Mapping[str, str | Sequence[str]]) -> str:
    """`?a=1&b=x&b=y` from view_params output (repeated keys for lists)."""
    return "?" + urlencode(params, doseq=True)
