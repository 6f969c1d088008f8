"""Shared page chrome: data errors as messages (never tracebacks), the page header with the freshness line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

import sqlalchemy as sa
import streamlit as st

from dashboard.ui.text import plain
from store import clock
from store.db import DatabaseUnavailable, describe_url, get_engine
from store.errors import first_line

log = logging.getLogger(__name__)
T = TypeVar("T")

STALE_AFTER_DAYS = 4


def load_or_stop(what: str, loader: Callable[[], T]) -> T:
    """Run a query; on a database failure show a clear message, log the cause, and stop the page."""
    try:
        return loader()
    except (sa.exc.OperationalError, sa.exc.InterfaceError, DatabaseUnavailable) as exc:
        try:
            where = describe_url(get_engine().url)
        except Exception:  # noqa: BLE001 - the message matters more than where exactly
            where = "the configured server"
        log.error("loading %s failed: %s", what, first_line(exc))
        st.error(plain(f"The database at {where} is not answering, so {what} cannot be shown. Refresh to retry."))
        st.stop()
    except sa.exc.SQLAlchemyError as exc:
        log.exception("loading %s failed", what)
        st.error(f"Could not load {what}: {type(exc).__name__}. The details are in the server log.")
        st.stop()


def data_header(title: str) -> tuple[int, dict]:
    """Page title, the data version and the freshness line; stops the page when no prices are stored."""
    from dashboard.ui import loaders

    st.title(title)
    version = load_or_stop("the data version", loaders.data_version)
    info = load_or_stop("data freshness", lambda: loaders.freshness(version))
    freshness_line(info)
    if info["as_of"] is None:
        st.stop()
    return version, info


def freshness_line(info: dict) -> None:
    as_of: date | None = info.get("as_of")
    if as_of is None:
        st.warning("No price data stored yet. Run `python -m ingestion load-sample` or start an ingestion run.")
        return
    sources = plain(
        ", ".join("bundled sample dataset" if s == "sample" else s for s in info.get("sources", [])) or "unknown"
    )
    last: datetime | None = info.get("last_success")
    loaded = f" · last successful ingestion {last:%Y-%m-%d %H:%M} UTC" if last else ""
    age = (clock.new_york_today() - as_of).days
    text = f"Source: {sources} · data as of {as_of:%Y-%m-%d} (adjusted closes){loaded}"
    if age > STALE_AFTER_DAYS:
        st.caption(f"{text} · :orange[{age} days old]")
    else:
        st.caption(text)
