"""Shared page chrome: data errors as messages (never tracebacks), the page header with the freshness line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import TypeVar

import sqlalchemy as sa
import streamlit as st

from dashboard.ui import url_state
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


TASK_STATES = {"queued": "Queued", "running": "Running", "done": "Done", "failed": "Failed", "cancelled": "Cancelled"}


def task_progress(task: dict) -> None:
    """One queued task as a page shows it while it runs: state, step, items done / total, rows, last message."""
    state = TASK_STATES.get(task["state"], task["state"])
    total, done = int(task["total"] or 0), int(task["done"] or 0)
    figures = f"{done} / {total} request(s) · {int(task['rows_written'] or 0):,} row(s) written" if total else ""
    st.markdown(f"Task {task['id']} · {plain(task['task'])} · **{state}**")
    if task["state"] == "running" or (task["state"] == "done" and total):
        st.progress(min(done / total, 1.0) if total else 0.0, text=plain(figures) or None)
    note = task.get("message") if task["state"] != "running" else task.get("step")
    if note:
        (st.error if task["state"] == "failed" else st.caption)(plain(note))


OPEN_TASK_STATES = ("queued", "running")


def remember_tasks(key: str, *task_ids: int) -> None:
    """Keep the ids of tasks this session queued (the newest ten) under `key`, for `watch_tasks`."""
    st.session_state[key] = [*task_ids, *st.session_state.get(key, [])][:10]


def _cancel(cancel: Callable[[int], bool], task_id: int) -> None:
    """A button callback: it runs before the rerun renders, so the page already shows the new state."""
    st.toast("Cancelled." if cancel(task_id) else "Too late: it has started.")


def watch_tasks(key: str, read: Callable[[int], dict | None], cancel: Callable[[int], bool]) -> None:
    """This session's queued tasks with their progress, polled every second while one is open.

    When the last open task closes, the whole page reruns once (its tables pick up the new data version)
    and polling stops. `read` gives a task's progress record; `cancel` cancels a queued one (audited).
    """
    ids = st.session_state.get(key, [])
    if not ids:
        return
    was_open = any((t := read(i)) and t["state"] in OPEN_TASK_STATES for i in ids)

    @st.fragment(run_every=1.0 if was_open else None)
    def poll() -> None:
        tasks = [t for t in (read(i) for i in ids) if t]
        for task in tasks:
            task_progress(task)
            if task["state"] == "queued":
                st.button("Cancel", key=f"{key}_cancel_{task['id']}", on_click=_cancel, args=(cancel, task["id"]))
        if was_open and not any(t["state"] in OPEN_TASK_STATES for t in tasks):
            st.rerun(scope="app")

    with st.container(border=True):
        st.markdown("**Your runs**")
        poll()


# -- URL state: links that reproduce a view, old links, custom date ranges ------------------------------------------


def drop_unbounded_numbers(*keys: str) -> list[str]:
    """Remove from the URL the values of these number inputs' keys that are infinite or NaN (url_state.
    unbounded_number), before the widgets read them: the widget then starts from its default and the page's
    refused-link warning names the value. Returns the keys dropped."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    dropped = [key for key in keys if key in st.query_params and url_state.unbounded_number(st.query_params[key])]
    ctx = get_script_run_ctx()
    for key in dropped:
        del st.query_params[key]
        # A bound widget is seeded from the URL as the page was opened, not from st.query_params: forget it there
        # too (Streamlit's internals; on a Streamlit without them the widget still raises and the page shows it).
        try:
            ctx.session_state._state.query_params._initial_query_params.pop(key, None)  # type: ignore[union-attr]
        except AttributeError:
            log.warning("could not drop the link value of %s from Streamlit's initial query parameters", key)
    return dropped


def share_link(params: Mapping[str, str | Sequence[str]], label: str = "Link to this view") -> str:
    """The view's link in a code box, whose copy button puts it on the clipboard; returns the link.

    The page's address comes from the browser (st.context.url, without its query); without one (tests) the link is
    the query string alone. Parameters are URL-encoded, so nothing in them can break out of the box.
    """
    link = (st.context.url or "") + url_state.query_string(params)
    st.caption(f"{label} (copy button at the right of the box):")
    st.code(link, language=None, wrap_lines=True)
    return link


def adopt_legacy_link(legacy: Mapping[str, str], first_key: str) -> None:
    """On a page's first run in a session, move an old link's unprefixed parameters (?t=AAPL) to the page's own
    keys (`legacy`: old -> new) and rerun once, so links copied before the keys had prefixes keep working."""
    if first_key in st.session_state:
        return
    renames = url_state.legacy_renames(st.query_params, legacy)
    if not renames:
        return
    for old in legacy:
        if old in st.query_params:
            del st.query_params[old]
    for new, values in renames.items():
        st.query_params[new] = values
    # Bound widgets read the link when they are first drawn: this run draws none, the next one reads the new keys.
    st.rerun()


def _reversed(value: object) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and all(value) and value[0] > value[1]


def custom_dates(label: str, key: str, first: date, last: date, default_start: date) -> tuple[date, date] | None:
    """A custom date range (bound to the URL under `key`) that only offers the stored data's dates, first..last.

    A link's reversed dates are shown swapped (not only used swapped); a link's dates outside the stored data are
    refused with a warning naming the stored span. None until both ends are picked.
    """
    held = st.session_state.get(key)
    swapped = False
    if isinstance(held, tuple) and _reversed(held):
        st.session_state[key], swapped = (held[1], held[0]), True
    linked = st.query_params.get_all(key)
    picked = st.date_input(
        label,
        value=(min(max(default_start, first), last), last),
        min_value=first,
        max_value=last,
        key=key,
        bind="query-params",
        format="YYYY-MM-DD",
    )
    if _reversed(picked) and not swapped:
        st.rerun()  # a drawn widget cannot be changed: the next run swaps it before drawing it
    if len(linked) == 2 and sorted(linked) != [d.isoformat() for d in picked]:
        shown = " → ".join(d.isoformat() for d in picked) if len(picked) == 2 else "the default range"
        st.warning(
            plain(
                f"The dates {' → '.join(linked)[:60]} are not a range inside the stored data "
                f"({first} → {last}); showing {shown} instead."
            )
        )
    if not isinstance(picked, tuple) or len(picked) != 2:
        return None
    return (picked[1], picked[0]) if _reversed(picked) else (picked[0], picked[1])


def checked_tickers(text: str, stored: Sequence[str], limit: int, too_many: str, empty_hint: str) -> list[str]:
    """The stored tickers typed in `text` (at most `limit`, with `too_many` said when cut); unknown ones are named.
    Stops the page, saying `empty_hint` when nothing was typed, when none is usable."""
    from analytics import market

    wanted = market.split_symbols(text)
    if len(wanted) > limit:
        st.warning(too_many)
        wanted = wanted[:limit]
    tickers, unknown = market.check_symbols(wanted, stored)
    if unknown:
        (st.warning if tickers else st.error)(plain(market.unknown_message(unknown)))
    if not tickers:
        if not wanted:
            st.info(empty_hint)
        st.stop()
    return tickers


def chosen_range(preset: str, symbols: Sequence[str], spans, dates_key: str) -> tuple[date, date]:
    """The start and end of a range preset (or the custom dates under `dates_key`, offered only within the
    symbols' stored span) for `symbols`; stops the page until a custom range has both ends."""
    from analytics import market

    known = spans.loc[list(symbols)]
    first, last = known["first"].min(), known["last"].max()
    if preset != market.CUSTOM:
        return market.resolve_range(preset, last, first)
    picked = custom_dates("Custom range", dates_key, first, last, date(last.year - 1, last.month, 1))
    if picked is None:
        st.info("Pick an end date to complete the custom range.")
        st.stop()
    return market.resolve_range(market.CUSTOM, last, start=picked[0], end=picked[1])
