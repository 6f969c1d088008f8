"""Overview: the universe at a glance, the user's watchlist, top movers and live quotes in market hours."""

from datetime import timedelta

import streamlit as st

from analytics.overview import overview_table, quotes_vs_close
from dashboard.access import gate
from dashboard.ui import currency, loaders
from dashboard.ui.components import data_header, load_or_stop
from dashboard.ui.text import plain
from store import calendar, clock
from store.watchlists import MAX_SYMBOLS

LIVE_REFRESH_SECONDS = 60

user = gate.require_login()

version, info = data_header("Overview")

closes = load_or_stop("prices", lambda: loaders.recent_closes(version))
names = load_or_stop("instruments", lambda: loaders.instruments(version))
ccy = currency.selected_currency()
# Prices in the sidebar's display currency (changes stay USD returns).
universe = currency.convert_overview(overview_table(closes), closes, ccy).merge(names, on="symbol", how="left")
universe["sector"] = universe["sector"].fillna(universe["asset_class"].str.upper())  # ETFs have no GICS sector
known = set(universe["symbol"])

COLUMNS = ["symbol", "name", "sector", "last", "chg_1d", "chg_1m", "chg_ytd", "high_52w", "low_52w", "trend", "as_of"]
CONFIG = {
    "symbol": st.column_config.TextColumn("Symbol", pinned=True),
    "name": "Name",
    "sector": "Sector",
    "last": st.column_config.NumberColumn(f"Last close ({ccy})", format="%.2f"),
    "chg_1d": st.column_config.NumberColumn("1D", format="percent"),
    "chg_1m": st.column_config.NumberColumn("1M", format="percent"),
    "chg_ytd": st.column_config.NumberColumn("YTD", format="percent"),
    "high_52w": st.column_config.NumberColumn(f"52W high ({ccy})", format="%.2f"),
    "low_52w": st.column_config.NumberColumn(f"52W low ({ccy})", format="%.2f"),
    "trend": st.column_config.LineChartColumn("3M trend"),
    "as_of": st.column_config.DateColumn("As of"),
}

asset_classes = sorted(universe["asset_class"].dropna().unique())
chosen = st.pills("Asset class", asset_classes, selection_mode="multi", default=asset_classes)
table = universe[universe["asset_class"].isin(chosen)]
st.dataframe(
    table[COLUMNS], hide_index=True, width="stretch", height=min(35 * (len(table) + 1) + 3, 500), column_config=CONFIG
)
st.caption(
    "Click a column header to sort. Changes use adjusted closes; 1M is against the close a calendar month earlier."
)

# -- watchlist --------------------------------------------------------------------------------------
lists = load_or_stop("watchlists", lambda: loaders.watchlists(user["username"]))
left, right = st.columns([3, 2])
with left:
    st.subheader("Watchlist")
    by_name = {w.name: w for w in lists}
    # A list just saved or deleted is selected on the rerun, before the widget exists (Streamlit's rule).
    if "watchlist_next" in st.session_state:
        st.session_state["watchlist_pick"] = st.session_state.pop("watchlist_next")
    if st.session_state.get("watchlist_pick") not in by_name:
        st.session_state.pop("watchlist_pick", None)
    current = by_name[st.selectbox("List", list(by_name), key="watchlist_pick")]
    whose = "the default list (save one to make it yours)" if current.is_default else f"{user['username']}'s list"
    st.caption(f"{plain(current.name)}: {whose}")
    watched = [s for s in current.symbols if s in known]
    gone = [s for s in current.symbols if s not in known]
    if gone:
        st.warning(plain(f"No stored prices for {', '.join(gone)}; they are not shown."))
    st.dataframe(
        universe.set_index("symbol").loc[watched].reset_index()[COLUMNS],
        hide_index=True,
        width="stretch",
        column_config=CONFIG,
    )
    with st.expander("Edit watchlists"):
        with st.form("watchlist_form"):
            name = st.text_input("Name", value=current.name if not current.is_default else "My list", max_chars=64)
            symbols = st.multiselect("Symbols", sorted(known), default=watched, max_selections=MAX_SYMBOLS)
            saved = st.form_submit_button("Save list", type="primary")
        if saved:
            try:
                new = loaders.save_watchlist(user["username"], name, symbols, known=known)
            except ValueError as exc:
                st.error(plain(f"Not saved: {exc}."))
            else:
                st.session_state["watchlist_next"] = new.name
                st.rerun()
        if not current.is_default and st.button(f"Delete “{current.name}”", key="watchlist_delete"):
            loaders.delete_watchlist(user["username"], current.name)
            st.session_state["watchlist_next"] = loaders.watchlists(user["username"])[0].name
            st.rerun()

# -- top movers -------------------------------------------------------------------------------------
with right:
    st.subheader("Top movers (1D)")
    movers = universe.dropna(subset=["chg_1d"]).sort_values("chg_1d")
    movers_config = {k: CONFIG[k] for k in ("symbol", "name", "last", "chg_1d")}
    for label, frame in (("Gainers", movers.tail(5).iloc[::-1]), ("Losers", movers.head(5))):
        st.markdown(f"**{label}**")
        st.dataframe(
            frame[["symbol", "name", "last", "chg_1d"]],
            hide_index=True,
            width="stretch",
            column_config=movers_config,
        )
    st.caption("Change from the previous stored session to each symbol's last close.")


# -- live quotes ------------------------------------------------------------------------------------
def live_quotes(symbols: list[str]) -> None:
    """The latest stored intraday quote per watched symbol against its last daily close."""
    quotes = load_or_stop("intraday quotes", lambda: loaders.latest_quotes(symbols))
    if quotes.empty:
        st.info("No intraday quotes in the last 24 hours for this watchlist.")
        return
    # Quotes are as traded, so they are compared with the last close as traded (not the adjusted one).
    recent = load_or_stop(
        "recent prices", lambda: loaders.bars(version, symbols, info["as_of"] - timedelta(days=14), info["as_of"])
    )
    quotes = quotes_vs_close(quotes, recent)
    # The change above is a return (USD); the price follows the display currency at that day's rate.
    quotes = currency.convert(quotes.assign(day=quotes["ts"].dt.normalize()), ["price"], ccy, date_column="day")
    st.dataframe(
        quotes[["symbol", "price", "change", "volume", "ts", "source"]],
        hide_index=True,
        width="stretch",
        column_config={
            "symbol": "Symbol",
            "price": st.column_config.NumberColumn(f"Price ({ccy})", format="%.2f"),
            "change": st.column_config.NumberColumn("vs last close", format="percent"),
            "volume": st.column_config.NumberColumn("Volume", format="localized"),
            "ts": st.column_config.DatetimeColumn("Time (New York)", format="YYYY-MM-DD HH:mm:ss"),
            "source": "Source",
        },
    )
    st.caption(f"Refreshed {clock.now():%H:%M:%S} UTC")


if load_or_stop("intraday quotes", loaders.quotes_stored):
    st.subheader("Live quotes")
    market_open = calendar.is_market_open()
    if market_open:
        st.caption(f"NYSE is open: quotes refresh every {LIVE_REFRESH_SECONDS} s.")
    else:
        st.caption(f"NYSE is closed; next open {calendar.next_open():%Y-%m-%d %H:%M} UTC. Latest stored quotes:")
    # run_every only in market hours: outside them nothing new arrives, so no reruns are spent.
    st.fragment(live_quotes, run_every=LIVE_REFRESH_SECONDS if market_open else None)(watched)
