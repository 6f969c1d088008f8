"""Overview: the whole universe at a glance, sortable, with where the data comes from and how fresh it is."""

import streamlit as st

from dashboard import auth, queries, ui
from dashboard.analytics.overview import overview_table

auth.require_login()

st.title("Overview")
version = ui.load_or_stop("the data version", queries.data_version)
info = ui.load_or_stop("data freshness", lambda: queries.freshness(version))
ui.freshness_line(info)
if info["as_of"] is None:
    st.stop()

closes = ui.load_or_stop("prices", lambda: queries.recent_closes(version))
names = ui.load_or_stop("instruments", lambda: queries.instruments(version))
table = overview_table(closes).merge(names, on="symbol", how="left")

asset_classes = sorted(table["asset_class"].dropna().unique())
chosen = st.pills("Asset class", asset_classes, selection_mode="multi", default=asset_classes)
table = table[table["asset_class"].isin(chosen)]

st.dataframe(
    table[["symbol", "name", "sector", "last", "chg_1d", "chg_1m", "chg_ytd", "high_52w", "low_52w", "trend", "as_of"]],
    hide_index=True,
    width="stretch",
    height=min(38 * (len(table) + 1), 1400),
    column_config={
        "symbol": st.column_config.TextColumn("Symbol", pinned=True),
        "name": "Name",
        "sector": "Sector",
        "last": st.column_config.NumberColumn("Last close", format="%.2f"),
        "chg_1d": st.column_config.NumberColumn("1D", format="percent"),
        "chg_1m": st.column_config.NumberColumn("1M", format="percent"),
        "chg_ytd": st.column_config.NumberColumn("YTD", format="percent"),
        "high_52w": st.column_config.NumberColumn("52W high", format="%.2f"),
        "low_52w": st.column_config.NumberColumn("52W low", format="%.2f"),
        "trend": st.column_config.LineChartColumn("3M trend"),
        "as_of": st.column_config.DateColumn("As of"),
    },
)
st.caption(
    "Click a column header to sort. Changes use adjusted closes; 1M is against the close a calendar month earlier."
)
