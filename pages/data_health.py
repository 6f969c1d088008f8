"""Data health: freshness and coverage for everyone; quality, runs, run-now, the universe and the workers for admins.

Every action only queues work or changes a row (audited): the runs themselves happen in a worker process, and
their progress is polled here once a second while any of this session's tasks is still open.
"""

import pandas as pd
import streamlit as st

from dashboard.access import gate, operations
from dashboard.ui import exports, formatting, loaders
from dashboard.ui.components import freshness_line, load_or_stop, remember_tasks, watch_tasks
from dashboard.ui.text import plain
from store import clock
from store.settings import get_settings

user = gate.require_login()
is_admin = user["role"] == "admin"
MY_TASKS = "health_tasks"

FRESHNESS_COLUMNS = {
    "symbol": "Symbol",
    "series_id": "Series",
    "title": "Title",
    "frequency": "Frequency",
    "status": "Status",
    "last_date": st.column_config.DateColumn("Last stored"),
    "expected_date": st.column_config.DateColumn("Expected"),
    "sessions_behind": st.column_config.NumberColumn("Sessions behind"),
    "days_late": st.column_config.NumberColumn("Days late"),
    "bars": st.column_config.NumberColumn("Bars", format="localized"),
    "observations": st.column_config.NumberColumn("Observations", format="localized"),
    "first_date": None,
}


def table(frame: pd.DataFrame, empty: str, export: str | None = None, filters: str = "", **config: object) -> None:
    """A table in the house format; `export` names it in an audited CSV / XLSX export (`filters`: what was asked)."""
    if frame.empty:
        st.caption(empty)
        return
    st.dataframe(formatting.styled(frame), hide_index=True, width="stretch", column_config=config or None)
    if export is None:
        return
    params = {
        "exported_by": "Market Desk",
        "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
        "table": export,
        "filters": filters or "none",
        "rows": str(len(frame)),
    }
    exports.export_buttons(
        f"market-desk_data-health_{export}",
        lambda: frame.reset_index(drop=True),
        params,
        lambda fmt: gate.recorder("export", {"page": "data_health", "table": export, "format": fmt}),
        key=f"dh_export_{export}",
        note=False,
    )


def act(what: str, action):  # noqa: ANN001, ANN201 - a page helper
    """Run an operator action: a bad input is a message, a database failure stops the page with one."""
    try:
        return load_or_stop(what, action)
    except ValueError as exc:
        st.error(plain(exc))
        return None


def queued(*task_ids: int) -> None:
    """Watch the tasks just queued, and show them in the queue tables at once (not after their short TTL)."""
    remember_tasks(MY_TASKS, *task_ids)
    for loader in (loaders.recent_tasks, loaders.queue_depth, loaders.failed_tasks):
        loader.clear()


st.title("Data health")
version = load_or_stop("the data version", loaders.data_version)
freshness_line(load_or_stop("data freshness", lambda: loaders.freshness(version)))
expected = loaders.expected_session()
bars = load_or_stop("bar freshness", lambda: loaders.bar_freshness(version, expected))
series = load_or_stop("series freshness", lambda: loaders.series_freshness(version, clock.new_york_today()))
missing = load_or_stop("missing sessions", lambda: loaders.missing_sessions(version))
workers = load_or_stop("the workers", loaders.worker_status)

fresh_bars = int((bars["status"] == "fresh").sum())
fresh_series = int((series["status"] == "fresh").sum())
live = int(workers["status"].isin(["idle", "running"]).sum()) if not workers.empty else 0
c1, c2, c3, c4 = st.columns(4)
c1.metric("Symbols up to date", f"{fresh_bars} / {len(bars)}", help=f"Expected through the {expected} session")
c2.metric("FRED series up to date", f"{fresh_series} / {len(series)}", help="Against each series' release lag")
c3.metric("Missing sessions", f"{len(missing):,}", help="Sessions absent inside a symbol's stored history")
c4.metric("Live workers", live)

if not is_admin:
    left, right = st.tabs(["Freshness", "Coverage"])
    with left:
        table(bars, "No symbols in the universe.", "symbol-freshness", **FRESHNESS_COLUMNS)
        table(series, "No FRED series in the universe.", "series-freshness", **FRESHNESS_COLUMNS)
    with right:
        table(load_or_stop("coverage", lambda: loaders.coverage(version)), "Nothing stored yet.", "coverage")
    st.caption("Operators see runs, data quality and the workers here.")
    st.stop()

# -- admins ---------------------------------------------------------------------------------------------


watch_tasks(
    MY_TASKS,
    loaders.task,
    lambda task_id: bool(
        act("the task", lambda: operations.cancel(task_id, actor=user["username"], client_ip=gate.client_ip()))
    ),
)
tabs = st.tabs(["Freshness", "Quality", "Runs", "Run now", "Universe", "Workers"])

with tabs[0]:
    st.subheader("Symbols")
    st.caption(f"A symbol is up to date when its last bar is the {expected} session (the last one closed).")
    table(bars, "No symbols in the universe.", "symbol-freshness", **FRESHNESS_COLUMNS)
    st.subheader("FRED series")
    st.caption("A series is late when its next observation is past FRED's usual release lag for its frequency.")
    table(series, "No FRED series in the universe.", "series-freshness", **FRESHNESS_COLUMNS)
    st.subheader("Coverage")
    table(load_or_stop("coverage", lambda: loaders.coverage(version)), "Nothing stored yet.", "coverage")

with tabs[1]:
    st.subheader("Missing sessions")
    st.caption("NYSE sessions absent between a symbol's first and last stored bar.")
    if missing.empty:
        st.success("No session is missing inside any symbol's history.")
    else:
        grouped = (
            missing.groupby("symbol")["date"]
            .agg(missing="count", dates=lambda d: ", ".join(f"{x:%Y-%m-%d}" for x in d))
            .reset_index()
            .sort_values("missing", ascending=False)
        )
        table(grouped, "", "missing-sessions", symbol="Symbol", missing="Missing", dates="Dates")
    st.subheader("Symbols with no data")
    empty = load_or_stop("symbols without data", lambda: loaders.symbols_without_data(version))
    st.write(plain(", ".join(empty)) if empty else "Every active symbol has bars.")
    st.subheader("Quarantined rows")
    table(
        load_or_stop("quarantined rows", lambda: loaders.quarantined(version)), "No row was quarantined.", "quarantined"
    )
    st.subheader("Flagged jumps")
    st.caption("Daily moves over 50% (kept, flagged): a split the provider did not adjust, or a real event.")
    table(load_or_stop("flagged jumps", lambda: loaders.flagged_jumps(version)), "No flagged jump.", "flagged-jumps")

with tabs[2]:
    f1, f2, f3, f4, f5 = st.columns(5)
    job = f1.selectbox("Job", ["(all)", *operations.JOB_CHOICES], key="runs_job")
    provider = f2.selectbox(
        "Provider", ["(all)", "yfinance", "alpha_vantage", "fred", "fred_graph", "sample"], key="runs_provider"
    )
    status = f3.selectbox("Status", ["(all)", "success", "partial", "failed", "running"], key="runs_status")
    since = f4.date_input("From", value=None, key="runs_from")
    until = f5.date_input("To", value=None, key="runs_to")
    if since and until and since > until:
        st.error("The start date is after the end date.")
    else:
        runs = load_or_stop(
            "ingestion runs",
            lambda: loaders.ingestion_runs(
                version,
                200,
                None if job == "(all)" else job,
                None if provider == "(all)" else provider,
                None if status == "(all)" else status,
                since,
                until,
            ),
        )
        table(
            runs,
            "No run matches.",
            "ingestion-runs",
            f"job={job}, provider={provider}, status={status}, from={since or 'any'}, to={until or 'any'}",
            id=st.column_config.NumberColumn("Run", format="%d"),
            started_at=st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            finished_at=st.column_config.DatetimeColumn("Finished (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            duration_s=st.column_config.NumberColumn("Seconds", format="%.1f"),
            rows_written=st.column_config.NumberColumn("Rows", format="localized"),
            items_ok="Items ok",
            items_failed="Items failed",
            problem="Problem",
            failures="Failed items",
            error_summary=None,
        )

with tabs[3]:
    job = st.selectbox("Job", list(operations.JOB_CHOICES), key="run_job")
    kind, backfill = operations.JOB_CHOICES[job]
    with st.form("run_now"):
        items, start, end = "", None, None
        if job in operations.DEMO_LOADS:
            st.caption(
                f"Loads {operations.DEMO_LOADS[job]} in a worker; symbols stored from elsewhere keep their bars."
            )
        else:
            items = st.text_input(f"Only these {kind} (comma separated; empty: all active)", key="run_items")
        if backfill:
            d1, d2 = st.columns(2)
            start = d1.date_input("From (a backfill; empty: resume)", value=None, key="run_from")
            end = d2.date_input("To", value=None, key="run_to", max_value=clock.new_york_today())
        submitted = st.form_submit_button("Queue the run", key="run_submit")
    if submitted:
        task = act(
            "the queue",
            lambda: operations.request_run(job, items, start, end, actor=user["username"], client_ip=gate.client_ip()),
        )
        if task is not None:
            queued(task)
            st.rerun()


def universe_section(kind: str, label: str) -> None:
    """Add an entry (and queue its history), deactivate or reactivate one; every change audited."""
    who = {"actor": user["username"], "client_ip": gate.client_ip()}
    st.subheader(label)
    with st.form(f"universe_add_{kind}", clear_on_submit=True):
        new_id = st.text_input(f"Add a {'symbol' if kind == 'symbol' else 'FRED series id'}", key=f"add_{kind}")
        fetch_now = st.checkbox("Fetch its history now", value=True, key=f"fetch_{kind}")
        added = st.form_submit_button("Add", key=f"add_{kind}_submit")
    if added:
        change = act("the universe", lambda: operations.change_universe(kind, new_id, "add", **who))
        if change is not None:
            (st.success if change.changed else st.info)(plain(change.message))
            if fetch_now and (tasks := act("the queue", lambda: operations.fetch_history(kind, change.id, **who))):
                queued(*tasks)
            loaders.universe_entries.clear()
    entries = load_or_stop("the universe", lambda: loaders.universe_entries(kind))
    table(entries, "Empty.", id="Id", name="Name", updated_at=st.column_config.DatetimeColumn("Changed (UTC)"))
    if entries.empty:
        return
    pick, off, on = st.columns([3, 1, 1])
    chosen = pick.selectbox("Entry", entries["id"], key=f"pick_{kind}", label_visibility="collapsed")
    for column, action in ((off, "deactivate"), (on, "reactivate")):
        if column.button(action.capitalize(), key=f"{action}_{kind}"):
            change = act("the universe", lambda a=action: operations.change_universe(kind, chosen, a, **who))
            if change is not None:
                loaders.universe_entries.clear()
                st.toast(plain(change.message))
                st.rerun()


with tabs[4]:
    universe_section("symbol", "Symbols")
    universe_section("series", "FRED series")

with tabs[5]:
    st.subheader("Workers")
    if not get_settings().worker_enabled:
        st.caption("This app runs no worker of its own (WORKER_ENABLED=false); workers elsewhere appear here.")
    table(
        workers,
        "No ingestion worker has reported in the last day: queued runs wait until one starts.",
        started_at=st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    )
    for name, reason in loaders.disabled_providers().items():
        st.caption(plain(f"Provider {name} is disabled: {reason}."))
    st.subheader("Queue")
    depth = load_or_stop("the queue", loaders.queue_depth)
    table(
        depth, "Nothing waiting or running.", oldest_seconds=st.column_config.NumberColumn("Oldest (s)", format="%.0f")
    )
    st.subheader("Failed tasks")
    failed = load_or_stop("failed tasks", loaders.failed_tasks)
    table(failed, "No task failed.", failed_at=st.column_config.DatetimeColumn("Failed (UTC)"))
    if not failed.empty:
        pick, button = st.columns([3, 1])
        chosen_job = pick.selectbox("Task", failed["queue_job_id"], key="retry_pick", label_visibility="collapsed")
        if button.button("Retry", key="retry_submit"):
            retried = act(
                "the queue",
                lambda: operations.retry(int(chosen_job), actor=user["username"], client_ip=gate.client_ip()),
            )
            st.toast("Queued again." if retried else "That task is no longer failed.")
            loaders.failed_tasks.clear()
    st.subheader("Recent tasks")
    recent = load_or_stop("recent tasks", loaders.recent_tasks)
    table(recent.drop(columns=["params", "queue_job_id"]), "No task yet.")
