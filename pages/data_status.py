"""Data status: what is stored, where it came from, and the latest ingestion runs."""

import streamlit as st

from dashboard import auth, queries, ui

auth.require_login()

st.title("Data status")
version = ui.load_or_stop("the data version", queries.data_version)
ui.freshness_line(ui.load_or_stop("data freshness", lambda: queries.freshness(version)))

st.subheader("Coverage")
st.dataframe(
    ui.load_or_stop("coverage", lambda: queries.coverage(version)),
    hide_index=True,
    width="stretch",
    column_config={"rows": st.column_config.NumberColumn("Rows", format="localized")},
)

st.subheader("Ingestion runs")
runs = ui.load_or_stop("ingestion runs", lambda: queries.ingestion_runs(version))
if runs.empty:
    st.info("No ingestion runs recorded yet.")
else:
    st.dataframe(runs, hide_index=True, width="stretch")
