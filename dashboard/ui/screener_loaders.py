"""The Screener's cached loaders: the universe's metrics table (one read of recent closes) and the saved screens."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from analytics import screener
from dashboard.ui.loaders import SMALL, TTL, instruments, read, recent_closes
from store import saved_views
from store.db import get_engine
from store.reads import index as index_reads
from store.reads import market as market_reads

SCREEN = "screen"  # the saved_views kind
SavedViewError = saved_views.SavedViewError  # what save_screen raises, for the page (which imports no store)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def screen_table(version: int) -> pd.DataFrame:
    """analytics.screener.screen_table over every active instrument's stored closes (the ~400 days that
    loaders.recent_closes reads: the Overview's read, so both pages share one cached result), with market caps
    from the share counts published by each symbol's last date and the latest stored key statistics."""
    metrics = screener.metrics_table(screener.wide_closes(recent_closes(version)))
    if metrics.empty:
        return screener.screen_table(metrics, instruments(version))
    as_of = max(metrics["as_of"])
    shares = read(index_reads.shares_published, metrics["symbol"].tolist(), as_of)
    caps = screener.market_caps(metrics, shares)
    statistics = key_statistics(metrics["symbol"].tolist())
    return screener.screen_table(metrics, instruments(version), caps, statistics)


def key_statistics(symbols: list[str]) -> pd.DataFrame:
    """The latest stored key statistics of `symbols` (store.reads.market.key_statistics: the reference job's P/E,
    EPS, dividend yield, beta), symbol + their numeric columns; a symbol with none stored has no row.

    Every numeric column this returns becomes a column of the Screener's table and a choice in its "More filters"
    (the page labels the ones it knows), so a statistic added to the table needs no change here or on the page.
    """
    frame = read(market_reads.key_statistics, symbols)
    numbers = [c for c in frame.columns if c != "symbol" and screener.is_numeric(frame, c)]
    return frame[["symbol", *numbers]]


# -- saved screens (per-user state: not cached, they change on a click) ------------------------------------------


def screen_names(username: str) -> list[str]:
    return read(saved_views.names, username, SCREEN)


def screen(username: str, name: str) -> dict[str, Any] | None:
    return read(saved_views.get, username, SCREEN, name)


def save_screen(username: str, name: str, definition: dict[str, Any]) -> str:
    """Insert or replace the user's screen `name`; returns the cleaned name (SavedViewError says why not)."""
    with get_engine().begin() as conn:
        return saved_views.save(conn, username, SCREEN, name, definition)


def delete_screen(username: str, name: str) -> bool:
    with get_engine().begin() as conn:
        return saved_views.delete(conn, username, SCREEN, name)
