"""Data status: what is stored, where it came from, and the latest ingestion runs."""

import streamlit as st

from dashboard import auth, queries, ui
from store.settings import get_settings

auth.require_login()

st.title("Data status")
version = ui.load_or_stop("the data version", queries.data_version)
ui.freshness_line(ui.load_or_stop("data freshness", lambda: queries.freshness(version)))

st.subheader("Coverage")
st.dataframe(
    ui.load_or_stop("coverage", lambda: queries.coverage(version)),
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
runs = ui.load_or_stop("ingestion runs", lambda: queries.ingestion_runs(version))
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
workers = ui.load_or_stop("the worker heartbeat", queries.core.worker_status)
if workers.empty:
    st.info("No ingestion worker has reported in the last day.")
else:
    st.dataframe(workers, hide_index=True, width="stretch")
for provider, reason in queries.core.disabled_providers().items():
    st.caption(f"Provider {provider} is disabled: {reason}.")
