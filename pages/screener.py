"""Screener: filter the universe on sector, size, returns, trend and momentum; save screens; send the result on."""

import streamlit as st

from analytics import market, screener
from dashboard.access import gate
from dashboard.ui import exports, formatting, loaders, screener_loaders, url_state
from dashboard.ui.components import data_header, load_or_stop, share_link
from dashboard.ui.text import plain
from store import clock
from store.watchlists import MAX_SYMBOLS

user = gate.require_login()
version, info = data_header("Screener")
table = load_or_stop("the screener's table", lambda: screener_loaders.screen_table(version))
K = url_state.SCREENER_KEYS
TICKER_PAGE, RISK_PAGE = "../../pages/ticker.py", "../../pages/risk.py"
ROW_PX, MAX_ROWS_IN_VIEW = 35, 25

# column -> (label, what one unit typed in a filter is worth in the column's own unit)
LABELS = {
    "symbol": "Symbol",
    "name": "Name",
    "sector": "Sector",
    "last": "Last close",
    "market_cap": "Market cap ($bn)",
    "chg_1d": "1D (%)",
    "chg_1m": "1M (%)",
    "chg_ytd": "YTD (%)",
    "from_high_52w": "From 52W high (%)",
    "volatility_3m": "Volatility 3M (%)",
    "rsi_14": "RSI 14",
    "vs_sma_50": "vs SMA 50 (%)",
    "vs_sma_200": "vs SMA 200 (%)",
    "high_52w": "52W high",
    "sma_50": "SMA 50",
    "sma_200": "SMA 200",
    "as_of": "As of",
}
# The reference job's key statistics (screener_loaders.key_statistics); a statistic not named here shows its name.
KEY_STATISTICS = {
    "trailing_pe": "P/E (trailing)",
    "trailing_eps": "EPS (trailing)",
    "dividend_yield": "Dividend yield (%)",
    "beta": "Beta",
}
LABELS |= KEY_STATISTICS
PERCENT = [*screener.PERCENT_COLUMNS, "dividend_yield"]
SCALE = {"market_cap": 1e9, **dict.fromkeys(PERCENT, 0.01)}
SHOWN = ["symbol", "name", "sector", "last", "market_cap", "chg_1d", "chg_1m", "chg_ytd", "from_high_52w",
         "volatility_3m", "rsi_14", "vs_sma_50", "vs_sma_200"]  # fmt: skip
# Stored key statistics (screener_loaders.key_statistics) arrive as extra numeric columns: shown and filterable.
INTERNAL = {"high_52w", "sma_50", "sma_200"}  # in the export, not on screen
STATISTICS = [c for c in table.columns if c not in SHOWN and c not in INTERNAL and screener.is_numeric(table, c)]
COLUMNS = [*SHOWN, *STATISTICS]
FILTERABLE = {LABELS.get(c, c): c for c in COLUMNS if screener.is_numeric(table, c)}
SORTABLE = {LABELS.get(c, c): c for c in ["market_cap", *(c for c in COLUMNS if c != "market_cap")]}
TREND = {"Any": None, "Above": ">", "Below": "<"}
EXTRA_OPS = [">=", "<=", ">", "<", "=", "!="]

# On the page's first run in a session the widgets take their values from the link: what they refuse is said.
opening = K["sort"] not in st.session_state
link = url_state.link_values(st.query_params, url_state.SCREENER_PREFIX) if opening else {}
values: dict[str, object] = {}  # widget key -> its value: the link, the saved screen and the refused-value check


def bound(key: str, value: object) -> object:
    """A bound widget's value, remembered under its key (for the link, a saved screen and the link check)."""
    values[key] = value
    return value


# -- saved screens: loading one sets the widgets before they are drawn (a button callback runs before the script) --
def widget_defaults() -> dict[str, object]:
    out: dict[str, object] = {K["sectors"]: [], K["sma_50"]: "Any", K["sma_200"]: "Any"}
    out |= {K["sort"]: LABELS["market_cap"], K["descending"]: True}
    for column in url_state.SCREENER_RANGES:
        out |= dict.fromkeys(url_state.screener_range_keys(column))
    for slot in range(1, url_state.SCREENER_EXTRA_SLOTS + 1):
        column, op, value = url_state.screener_extra_keys(slot)
        out |= {column: None, op: ">=", value: ""}
    return out


def fitted(key: str, value: object, default: object, options: dict[str, list[str]]) -> object:
    """A saved value as the widget `key` can take it today (an option gone, a wrong type: its default)."""
    if key in options:
        if isinstance(default, list):
            return [v for v in value if v in options[key]] if isinstance(value, list) else default
        return value if value in options[key] else default
    if isinstance(default, bool):
        return value if isinstance(value, bool) else default
    if key.endswith(("_min", "_max")):
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    return str(value)[:40] if isinstance(value, str) else default


def load_screen(name: str, options: dict[str, list[str]]) -> None:
    definition = screener_loaders.screen(user["username"], name) or {}
    saved = definition.get("values", {})
    for key, default in widget_defaults().items():
        st.session_state[key] = fitted(key, saved.get(key, default), default, options)
    st.session_state["sc_loaded"] = name


def delete_screen(name: str) -> None:
    screener_loaders.delete_screen(user["username"], name)
    st.session_state["sc_loaded"] = None
    st.toast(plain(f"Deleted the screen “{name}”."))


sectors = sorted(table["sector"].dropna().unique())
sort_labels = list(SORTABLE)
extra_labels = list(FILTERABLE)
options = {K["sectors"]: sectors, K["sma_50"]: list(TREND), K["sma_200"]: list(TREND), K["sort"]: sort_labels}
for slot in range(1, url_state.SCREENER_EXTRA_SLOTS + 1):
    column_key, op_key, _ = url_state.screener_extra_keys(slot)
    options |= {column_key: extra_labels, op_key: EXTRA_OPS}

names = load_or_stop("your saved screens", lambda: screener_loaders.screen_names(user["username"]))
with st.expander("Saved screens", expanded=bool(names)):
    if names:
        row = st.columns([3, 1, 1])
        picked = row[0].selectbox("Your screens", names, key="sc_saved_pick")
        row[1].button("Load", key="sc_load", on_click=load_screen, args=(picked, options), width="stretch")
        row[2].button("Delete", key="sc_delete", on_click=delete_screen, args=(picked,), width="stretch")
    else:
        st.caption("No saved screen yet: set the filters below and save them under a name.")
    if st.session_state.get("sc_loaded"):
        st.caption(f"Loaded “{plain(st.session_state['sc_loaded'])}”.")

# -- filters: every control is bound to the URL (keys sc_*), so a copied link reproduces the screen ----------------
top = st.columns([4, 1, 1])
chosen = bound(
    K["sectors"],
    top[0].multiselect("Sector", sectors, key=K["sectors"], placeholder="All sectors", bind="query-params"),
)
trend = {
    n: bound(K[f"sma_{n}"], top[i].selectbox(f"Close vs SMA {n}", list(TREND), key=K[f"sma_{n}"], bind="query-params"))
    for i, n in ((1, 50), (2, 200))
}
RANGE_HELP = {
    "market_cap": "Last close x the latest share count published by then (only where shares are stored).",
    "from_high_52w": "Zero or below: -10 keeps the symbols within 10% of their highest close of the last 52 weeks.",
    "volatility_3m": "Annualised: standard deviation of the last 63 daily returns x √252.",
    "rsi_14": "Wilder's RSI over 14 sessions, 0 to 100.",
}
bounds: dict[str, tuple[float | None, float | None]] = {}
grid = st.columns(4)
for i, column in enumerate(url_state.SCREENER_RANGES):
    low_key, high_key = url_state.screener_range_keys(column)
    cell = grid[i % 4].columns(2)
    limits = {"min_value": 0.0, "max_value": 100.0} if column == "rsi_14" else {}
    low, high = (
        bound(
            key,
            cell[j].number_input(
                f"{LABELS[column]} {sign}",
                value=None,
                step=1.0,
                key=key,
                bind="query-params",
                placeholder="any",
                help=RANGE_HELP.get(column),
                **limits,
            ),
        )
        for j, (key, sign) in enumerate(((low_key, "≥"), (high_key, "≤")))
    )
    bounds[column] = (low, high)

extras: list[tuple[int, str, str, str]] = []
with st.expander("More filters: any column, including stored key statistics"):
    st.caption("Percentages are typed as percent (5 = 5%), market cap in $bn. Empty rows are ignored.")
    for slot in range(1, url_state.SCREENER_EXTRA_SLOTS + 1):
        column_key, op_key, value_key = url_state.screener_extra_keys(slot)
        row = st.columns([3, 1, 2])
        label = bound(
            column_key,
            row[0].selectbox(
                f"Column {slot}", extra_labels, index=None, key=column_key, bind="query-params", placeholder="column"
            ),
        )
        op = bound(op_key, row[1].selectbox(f"Operator {slot}", EXTRA_OPS, key=op_key,
                                             bind="query-params"))  # fmt: skip
        typed = bound(value_key, row[2].text_input(f"Value {slot}", key=value_key, bind="query-params", max_chars=40))
        if label and (typed or "").strip():
            extras.append((slot, label, op or ">=", typed))

order = st.columns([3, 1])
sort_label = bound(K["sort"], order[0].selectbox("Sort by", sort_labels, key=K["sort"], bind="query-params"))
descending = bound(K["descending"], order[1].toggle("Descending", value=True, key=K["descending"], bind="query-params"))

for key, raw in url_state.refused(link, values).items():
    st.warning(plain(f"The link's value {', '.join(raw)[:60]} for {key} is not allowed here; it is not used."))

# -- the filters as (column, op, value), checked: a bad one is refused with its reason, the others still apply ------
wanted: list[tuple[str, str, object]] = []
problems: list[str] = []
if chosen:
    wanted.append(("sector", "in", chosen))
for n, choice in trend.items():
    if TREND.get(choice or "Any"):
        wanted.append((f"vs_sma_{n}", TREND[choice], 0.0))
for column, (low, high) in bounds.items():
    scale = SCALE.get(column, 1.0)
    try:
        wanted += screener.range_filters(
            column, None if low is None else low * scale, None if high is None else high * scale
        )
    except screener.FilterError:
        problems.append(f"{LABELS[column]}: the minimum {low:g} is above the maximum {high:g}; this filter is ignored.")
for slot, label, op, typed in extras:
    column = FILTERABLE.get(label, label)
    try:
        wanted.append((column, op, screener.parse_number(typed) * SCALE.get(column, 1.0)))
    except screener.FilterError as exc:
        problems.append(f"More filters, row {slot} ({label} {op} {typed}): {exc}; this filter is ignored.")
filters, refused = screener.check_filters(table, wanted)
for message in [*problems, *(f"Filter ignored: {r}." for r in refused)]:
    st.warning(plain(message))

result = screener.apply_filters(table, filters)
sort_by = SORTABLE.get(sort_label or "", "market_cap")
result = screener.sort_table(result, sort_by, descending is not False)
symbols = result["symbol"].tolist()

# -- the result ---------------------------------------------------------------------------------------------------
st.markdown(f"**{len(result):,} of {len(table):,} instruments match.**")
if result.empty:
    st.info("No instrument matches these filters: widen a range or remove a filter.")
else:
    shown = result[COLUMNS].assign(market_cap=result["market_cap"] / 1e9)
    st.dataframe(
        formatting.styled(
            shown,
            percent=PERCENT,
            signed=["chg_1d", "chg_1m", "chg_ytd", "vs_sma_50", "vs_sma_200"],
            numbers=["last", "market_cap", "rsi_14"],
            digits={"market_cap": 1, "rsi_14": 1},
        ),
        hide_index=True,
        width="stretch",
        height=ROW_PX * (min(len(result), MAX_ROWS_IN_VIEW) + 1) + 3,
        column_config={c: st.column_config.Column(LABELS.get(c, c), pinned=c == "symbol") for c in COLUMNS},
    )
st.caption(
    "Adjusted closes in USD, each symbol at its own last stored date (the table's *As of* in the export). 1M is "
    "against the close a calendar month earlier, YTD against the last close of last year; the 52-week high is the "
    "highest close. A symbol without a value (a market cap where no share count is stored, an SMA 200 on a short "
    "history) matches no filter on that column. Sort with *Sort by* to keep the order in the link."
)

# -- send the result on: Ticker (first 8), Risk (first 30), a watchlist (first 50) ---------------------------------
if symbols:
    send = st.columns(3)
    to_ticker, to_risk = symbols[: market.MAX_COMPARE], symbols[: market.MAX_RISK_TICKERS]
    send[0].page_link(
        TICKER_PAGE,
        label=f"Open the first {len(to_ticker)} in Ticker",
        icon=":material/candlestick_chart:",
        query_params={url_state.TICKER_KEYS["tickers"]: ",".join(to_ticker)},
    )
    send[1].page_link(
        RISK_PAGE,
        label=f"Open the first {len(to_risk)} in Risk",
        icon=":material/query_stats:",
        query_params={url_state.RISK_KEYS["tickers"]: ",".join(to_risk)},
    )
    with send[2].popover(f"Save the first {min(len(symbols), MAX_SYMBOLS)} as a watchlist"):
        list_name = st.text_input("Watchlist name", key="sc_watchlist_name", max_chars=64)
        if st.button("Save watchlist", key="sc_watchlist_save"):
            try:
                saved = loaders.save_watchlist(
                    user["username"], list_name, symbols[:MAX_SYMBOLS], known=table["symbol"]
                )
            except ValueError as exc:
                st.error(plain(f"Not saved: {exc}."))
            else:
                st.success(plain(f"Saved the watchlist “{saved.name}” ({len(saved.symbols)} symbols)."))

# -- save this screen; the link; the export -----------------------------------------------------------------------
definition = {"values": {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}}
with st.form("sc_save_form", border=False):
    row = st.columns([3, 1])
    screen_name = row[0].text_input(
        "Save these filters as", key="sc_save_name", max_chars=64, placeholder="e.g. Oversold large caps"
    )
    if row[1].form_submit_button("Save screen", width="stretch"):
        try:
            saved_name = screener_loaders.save_screen(user["username"], screen_name, definition)
        except screener_loaders.SavedViewError as exc:
            st.error(plain(f"Not saved: {exc}."))
        else:
            st.success(plain(f"Saved the screen “{saved_name}”: load it from *Saved screens* above."))

# Empty filters stay out of the link (an absent parameter is the widget's default), and so does an unused row.
rows = [url_state.screener_extra_keys(slot) for slot in range(1, url_state.SCREENER_EXTRA_SLOTS + 1)]
unused = {key for keys in rows if not values[keys[0]] for key in keys}
linked = url_state.link_params(values, (url_state.SCREENER_PREFIX,))
share_link({k: v for k, v in linked.items() if v != "" and k not in unused})

export_params = {
    "exported_by": "Market Desk",
    "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
    "data_as_of": info["as_of"].isoformat(),
    "source": ", ".join(info.get("sources", [])),
    "filters": "; ".join(f"{f.column} {f.op} {f.value}" for f in filters) or "none",
    "sort": f"{sort_by} {'descending' if descending is not False else 'ascending'}",
    "rows": f"{len(result)} of {len(table)} instruments",
    "prices": "adjusted closes in USD; market cap in USD; changes, distances, volatility and yields as fractions",
    "key_statistics": "the latest stored per symbol (reference job)",
}
exports.export_buttons(
    f"market-desk_screener_{info['as_of']}",
    lambda: result[[*COLUMNS, "high_52w", "sma_50", "sma_200", "as_of"]].reset_index(drop=True),
    export_params,
    lambda fmt: gate.recorder("export", {"page": "screener", "format": fmt, "rows": len(result)}),
    key="sc_export",
    percent=PERCENT,
)
