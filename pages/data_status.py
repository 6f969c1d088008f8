"""Data status: what is stored, where it came from, and the latest ingestion runs."""

import streamlit as st

from dashboard.access import gate
from dashboard.ui import loaders
from dashboard.ui.components import freshness_line, load_or_stop
from dashboard.ui.text import plain
from store.settings import get_settings

gate.require_login()

st.title("Data status")
version = load_or_stop("the data version", loaders.data_version)
freshness_line(load_or_stop("data freshness", lambda: loaders.freshness(version)))

st.subheader("Coverage")
st.dataframe(
    load_or_stop("coverage", lambda: loaders.coverage(version)),
    hide_index=True,
    width="stretch",
    column_config={
        "dataset": "Dataset",
        "source": "Source",
        "instruments": st.column_config.NumberColumn("Symbols / series"),
        "rows": st.column_config.NumberColumn("Rows", format="localized"),
        "first_date": st.column_config.DateColumn("First date"),
        "last_date": st.column_config.DateColumn("Last date"),
        "last_written": st.column_config.DatetimeColumn("Last written (UTC)", format="YYYY-MM-DD HH:mm"),
    },
)

st.subheader("Ingestion runs")
runs = load_or_stop("ingestion runs", lambda: loaders.ingestion_runs(version))
if runs.empty:
    st.info("No ingestion runs recorded yet.")
else:
    st.dataframe(
        runs,
        hide_index=True,
        width="stretch",
        column_config={
            "id": st.column_config.NumberColumn("Run", format="%d"),
            "job": "Job",
            "source": "Provider(s)",
            "status": "Status",
            "started_at": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "finished_at": st.column_config.DatetimeColumn("Finished (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "rows_written": st.column_config.NumberColumn("Rows written", format="localized"),
            "error_summary": "Errors",
        },
    )

st.subheader("Ingestion worker")
if not get_settings().worker_enabled:
    st.caption("This app does not run the ingestion worker (WORKER_ENABLED=false); one may run on its own.")
workers = load_or_stop("the worker heartbeat", loaders.worker_status)
if workers.empty:
    st.info("No ingestion worker has reported in the last day.")
else:
    st.dataframe(workers, hide_index=True, width="stretch")
for provider, reason in loaders.disabled_providers().items():
    st.caption(plain(f"Provider {provider} is disabled: {reason}."))
