"""Overview: the universe at a glance, the user's watchlist, top movers and live quotes in market hours."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from analytics.overview import overview_table, quotes_vs_close
from dashboard.access import gate
from dashboard.ui import currency, exports, formatting, loaders, url_state
from dashboard.ui.components import data_header, load_or_stop
from dashboard.ui.text import plain
from store import calendar, clock
from store.watchlists import MAX_SYMBOLS

LIVE_REFRESH_SECONDS = 60
ROW_PX, MAX_ROWS_IN_VIEW = 35, 60  # Streamlit's row height; past this many rows the table scrolls inside
K = url_state.OVERVIEW_KEYS

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
LABELS = {
    "symbol": "Symbol",
    "name": "Name",
    "sector": "Sector",
    "last": f"Last close ({ccy})",
    "chg_1d": "1D",
    "chg_1m": "1M",
    "chg_ytd": "YTD",
    "high_52w": f"52W high ({ccy})",
    "low_52w": f"52W low ({ccy})",
    "as_of": "As of",
}
# Numbers get their text from formatting.styled (no `format` here: a column_config format would win over it).
CONFIG = {
    **{
        k: st.column_config.NumberColumn(v) for k, v in LABELS.items() if k not in ("symbol", "name", "sector", "as_of")
    },
    "symbol": st.column_config.TextColumn("Symbol", pinned=True),
    "name": "Name",
    "sector": "Sector",
    "trend": st.column_config.LineChartColumn("3M trend"),
    "as_of": st.column_config.DateColumn("As of"),
}
CHANGES, PRICES = ["chg_1d", "chg_1m", "chg_ytd"], ["last", "high_52w", "low_52w"]


def shown(frame: pd.DataFrame, columns: list[str]):  # noqa: ANN201 - a pandas Styler
    """The frame as every Overview table shows it: prices with separators, changes as signed coloured percents."""
    return formatting.styled(frame[columns], percent=CHANGES, signed=CHANGES, numbers=PRICES)


def height(rows: int) -> int:
    """A table tall enough for its rows (no inner scrolling up to MAX_ROWS_IN_VIEW rows)."""
    return ROW_PX * (min(max(rows, 1), MAX_ROWS_IN_VIEW) + 1) + 3


# -- the universe: filters and sort are bound to the URL, so a copied link reproduces the view --------------------
asset_classes = sorted(universe["asset_class"].dropna().unique())
sectors = sorted(universe["sector"].dropna().unique())
filters = st.columns([2, 3, 2, 1])
chosen = filters[0].pills(
    "Asset class",
    asset_classes,
    selection_mode="multi",
    default=asset_classes,
    key=K["asset_classes"],
    bind="query-params",
)
picked = filters[1].multiselect("Sector", sectors, key=K["sectors"], placeholder="All sectors", bind="query-params")
# The options are the labels themselves: a bound selectbox writes (and reads) its shown text in the URL.
SORT_LABELS = {
    "Symbol": "symbol",
    "Name": "name",
    "Sector": "sector",
    "Last close": "last",
    "1D": "chg_1d",
    "1M": "chg_1m",
    "YTD": "chg_ytd",
    "52W high": "high_52w",
    "52W low": "low_52w",
    "As of": "as_of",
}
sort_label = filters[2].selectbox("Sort by", list(SORT_LABELS), key=K["sort"], bind="query-params")
sort_by = SORT_LABELS.get(sort_label or "Symbol", "symbol")
descending = filters[3].toggle("Descending", key=K["descending"], bind="query-params")

table = universe[universe["asset_class"].isin(chosen or [])]
if picked:
    table = table[table["sector"].isin(picked)]
table = table.sort_values(sort_by, ascending=not descending, na_position="last", kind="stable")
if not chosen:
    st.info("No asset class selected: choose stocks, ETFs or both above to see the universe.")
elif table.empty:
    st.info("No instrument matches these filters.")
else:
    st.dataframe(
        shown(table, COLUMNS), hide_index=True, width="stretch", height=height(len(table)), column_config=CONFIG
    )
st.caption(
    f"{len(table)} of {len(universe)} instruments. Changes use adjusted closes; 1M is against the close a calendar "
    "month earlier. Sort with *Sort by* to keep the order in the link (a click on a header sorts this view only)."
)
link_query: dict = url_state.link_params(
    {K["asset_classes"]: chosen or [], K["sectors"]: picked, K["sort"]: sort_label, K["descending"]: descending},
    (url_state.OVERVIEW_PREFIX,),
)
if ccy != currency.DEFAULT:
    link_query[currency.QUERY_PARAM] = ccy
st.caption("Link to this view (copy it with the button at its right):")
st.code(url_state.page_link(st.context.url, link_query), language=None, wrap_lines=True)

export_columns = [c for c in COLUMNS if c != "trend"]
export_params = {
    "exported_by": "Market Desk",
    "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
    "data_as_of": info["as_of"].isoformat(),
    "source": ", ".join(info.get("sources", [])),
    "asset_classes": ",".join(chosen or []) or "none",
    "sectors": ",".join(picked) or "all",
    "sort": f"{sort_by} {'descending' if descending else 'ascending'}",
    "prices": f"adjusted closes in {currency.label(ccy)}; changes are USD returns",
}
exports.export_buttons(
    f"market-desk_overview_{info['as_of']}",
    lambda: table[export_columns].reset_index(drop=True),
    export_params,
    lambda fmt: gate.recorder("export", {"page": "overview", "format": fmt, "rows": len(table)}),
    key="ov_export",
    percent=CHANGES,
)

# -- watchlist --------------------------------------------------------------------------------------
lists = load_or_stop("watchlists", lambda: loaders.watchlists(user["username"]))
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
# Full width: in a side column its eleven columns were cut off on the right.
st.dataframe(
    shown(universe.set_index("symbol").loc[watched].reset_index(), COLUMNS),
    hide_index=True,
    width="stretch",
    height=height(len(watched)),
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
st.subheader("Top movers (1D)")
movers = universe.dropna(subset=["chg_1d"]).sort_values("chg_1d")
movers_config = {k: CONFIG[k] for k in ("symbol", "name", "last", "chg_1d")}
for column, (label, frame) in zip(
    st.columns(2), (("Gainers", movers.tail(5).iloc[::-1]), ("Losers", movers.head(5))), strict=True
):
    column.markdown(f"**{label}**")
    column.dataframe(
        shown(frame, ["symbol", "name", "last", "chg_1d"]),
        hide_index=True,
        width="stretch",
        height=height(len(frame)),
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
        formatting.styled(
            quotes[["symbol", "price", "change", "volume", "ts", "source"]],
            percent=["change"],
            signed=["change"],
            numbers=["price"],
            integers=["volume"],
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "symbol": "Symbol",
            "price": st.column_config.NumberColumn(f"Price ({ccy})"),
            "change": st.column_config.NumberColumn("vs last close"),
            "volume": st.column_config.NumberColumn("Volume"),
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
