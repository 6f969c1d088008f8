"""Peers: each stock rebased to 100 against the average of the other stocks, with the best and worst performers."""

import streamlit as st

from analytics import market, peers
from dashboard.access import gate
from dashboard.ui import currency, exports, figures, formatting, loaders, url_state
from dashboard.ui.components import checked_tickers, chosen_range, data_header, load_or_stop, share_link
from dashboard.ui.text import plain
from store import clock

GRID_COLUMNS = 4  # two stocks a row: each has its chart against the peers and its difference chart
K = url_state.PEERS_KEYS

user = gate.require_login()

version, info = data_header("Peers")
spans = load_or_stop("the list of symbols", lambda: loaders.symbol_spans(version)).set_index("symbol")

# Every control is bound to the URL query string under the page's own keys (pe_*).
top = st.columns([3, 3])
text = top[0].text_input(
    f"Stocks (2 to {peers.MAX_PEERS}, comma-separated)",
    value=",".join(peers.DEFAULT_PEERS),
    key=K["tickers"],
    bind="query-params",
)
preset = top[1].segmented_control(
    "Range", [*market.RANGES, market.CUSTOM], default="1Y", required=True, key=K["range"], bind="query-params"
)
preset = preset or "1Y"  # an empty parameter in a link clears a bound widget even when a choice is required

tickers = checked_tickers(
    text,
    spans.index,
    peers.MAX_PEERS,
    f"At most {peers.MAX_PEERS} stocks; using the first {peers.MAX_PEERS}.",
    "Enter two or more stocks to compare.",
)
start, end = chosen_range(preset, tickers, spans, K["dates"])

view = url_state.PeersView(tuple(tickers), preset, start, end, currency.selected_currency())

wide = load_or_stop("prices", lambda: loaders.adjusted_closes(version, tickers, start, end))
usable = [s for s in tickers if s in wide and wide[s].notna().sum() >= 2]
missing = [s for s in tickers if s not in usable]
if missing:
    st.warning(f"No prices between {start} and {end} for {', '.join(missing)}; left out.")
if len(usable) < 2:
    st.info("Pick two or more stocks with prices in this range: each is compared with the average of the others.")
    share_link(url_state.peers_params(view))
    st.stop()

try:
    found = loaders.peer_comparison(version, tuple(usable), start, end)
except peers.PeersError as exc:
    st.warning(plain(f"No comparison: {exc}. Pick a longer range."))
    share_link(url_state.peers_params(view))
    st.stop()

returns = found.returns
best, worst = found.best, found.worst
day0, day1 = found.normalised.index[0].date(), found.normalised.index[-1].date()
cards = st.columns([1, 1, 3])
cards[0].metric(
    "Best performer", best, formatting.format_percent(returns.loc[best, "return"], signed=True), border=True
)
cards[1].metric(
    "Worst performer", worst, formatting.format_percent(returns.loc[worst, "return"], signed=True), border=True
)
with cards[2]:
    st.plotly_chart(figures.compare_figure(found.normalised, f"Rebased to 100 on {day0}"))

st.subheader("Each stock against its peer average")
st.caption(
    f"The peer average of a stock is the mean of the OTHER stocks' lines (itself left out), each rebased to 100 on "
    f"{day0}, the first day every stock has a close ({len(found.normalised)} such days to {day1}; a day one of "
    "them lacks is left out for all). The difference is in index points, i.e. percentage points of return since "
    "the start. Adjusted closes, so dividends count; returns are the same in every display currency."
)
grid = st.columns(GRID_COLUMNS)
for i, symbol in enumerate(returns.index):
    with grid[(2 * i) % GRID_COLUMNS].container(border=True):
        st.plotly_chart(figures.peer_figure(found, symbol))
    with grid[(2 * i + 1) % GRID_COLUMNS].container(border=True):
        st.plotly_chart(figures.peer_difference_figure(found, symbol))

st.subheader(f"Returns, {day0} → {day1}")
table = returns.reset_index()
PERCENT = ["return", "peer_average", "difference"]
st.dataframe(
    formatting.styled(table, percent=PERCENT, signed=PERCENT),
    hide_index=True,
    width="stretch",
    column_config={
        "symbol": st.column_config.TextColumn("Stock", pinned=True),
        "return": st.column_config.NumberColumn("Return"),
        "peer_average": st.column_config.NumberColumn("Peer average return"),
        "difference": st.column_config.NumberColumn("Difference"),
    },
)
exports.export_buttons(
    f"market-desk_peers_{'-'.join(usable)}_{day0}_{day1}",
    lambda: table,
    {
        "exported_by": "Market Desk",
        "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
        "data_as_of": info["as_of"].isoformat(),
        "stocks": ",".join(usable),
        "start": str(day0),
        "end": str(day1),
        "peer_average": "the mean of the other stocks' returns (each stock itself left out)",
        "returns": "adjusted closes, from the first day every stock has a close",
    },
    lambda fmt: gate.recorder("export", {"page": "peers", "table": "returns", "format": fmt, "tickers": usable}),
    key="peers_export",
    percent=PERCENT,
)
stored = load_or_stop("sources", lambda: loaders.sources(version, usable))
st.caption(plain("Prices: " + ", ".join("bundled sample dataset" if s == "sample" else s for s in stored) + "."))
share_link(url_state.peers_params(view))
