"""Ticker: price chart with volume, overlays and indicator panels, compare up to 8 tickers, exports; state in URL."""

from datetime import date

import pandas as pd
import streamlit as st

from analytics import market
from dashboard.access import gate
from dashboard.ui import currency, exports, figures, loaders, url_state
from dashboard.ui.components import data_header, load_or_stop
from dashboard.ui.formatting import format_price, price_columns
from dashboard.ui.text import plain

gate.require_login()

version, info = data_header("Ticker")
spans = load_or_stop("the list of symbols", lambda: loaders.symbol_spans(version)).set_index("symbol")

# Every control is bound to the URL query string (bind="query-params"): a copied link reproduces the view.
top = st.columns([2, 3])
text = top[0].text_input(
    "Tickers (up to 8, comma-separated; the first is charted in detail)", value="SPY", key="t", bind="query-params"
)
preset = top[1].segmented_control(
    "Range", [*market.RANGES, market.CUSTOM], default="1Y", required=True, key="range", bind="query-params"
)
row = st.columns([1, 2])
chart = row[0].segmented_control(
    "Chart", list(market.CHART_TYPES), default="Candlestick", required=True, key="chart", bind="query-params"
)
chosen = row[1].pills(
    "Indicators",
    list(market.INDICATORS),
    selection_mode="multi",
    key="ind",
    bind="query-params",
    help="Overlays: "
    + ", ".join(market.INDICATORS[c] for c in market.MOVING_AVERAGES + ("BB",))
    + ". Panels below the chart: "
    + ", ".join(market.INDICATORS[c] for c in market.PANELS)
    + ".",
)
adjusted = st.toggle("Adjusted for splits and dividends", value=True, key="adj", bind="query-params")
# An empty parameter in a link (?range=) clears a bound widget even when a choice is required: use the defaults.
preset, chart, chosen, adjusted = preset or "1Y", chart or "Candlestick", chosen or [], adjusted is not False

wanted = market.split_symbols(text)
if len(wanted) > market.MAX_COMPARE:
    st.warning(f"At most {market.MAX_COMPARE} tickers can be compared; showing the first {market.MAX_COMPARE}.")
    wanted = wanted[: market.MAX_COMPARE]
tickers, unknown = market.check_symbols(wanted, spans.index)
if unknown:
    (st.warning if tickers else st.error)(plain(market.unknown_message(unknown)))
if not tickers:
    if not wanted:
        st.info("Enter at least one ticker, e.g. AAPL or SPY,QQQ.")
    st.stop()

first = min(spans.loc[t, "first"] for t in tickers)
last = max(spans.loc[t, "last"] for t in tickers)
if preset == market.CUSTOM:
    picked = st.date_input(
        "Custom range",
        value=(max(first, date(last.year - 1, last.month, 1)), last),
        min_value=date(1900, 1, 1),
        max_value=date(2100, 12, 31),
        key="dates",
        bind="query-params",
    )
    if not isinstance(picked, tuple) or len(picked) != 2:
        st.info("Pick an end date to complete the custom range.")
        st.stop()
    start, end = market.resolve_range(market.CUSTOM, last, start=picked[0], end=picked[1])
else:
    start, end = market.resolve_range(preset, last, first)
view = url_state.View(tuple(tickers), preset, start, end, chart, tuple(chosen), adjusted)

frames, notes = load_or_stop(
    "prices", lambda: loaders.ticker_frames(version, tuple(tickers), adjusted, start, end, tuple(chosen))
)
notice = market.unadjusted_notice(notes)
if notice:
    st.info(plain(notice))
# Indicators and returns are computed on USD prices; only price levels follow the display currency.
ccy = currency.selected_currency()
usd_frames = frames
if ccy != currency.DEFAULT:
    frames = {t: f if f.empty else currency.convert(f, price_columns(f), ccy) for t, f in frames.items()}
empty = [t for t in tickers if frames[t].empty]
if len(empty) == len(tickers):
    spans_text = "; ".join(f"{t}: {spans.loc[t, 'first']} → {spans.loc[t, 'last']}" for t in tickers)
    st.warning(f"No prices between {start} and {end} for {', '.join(tickers)}. Stored history: {spans_text}.")
    st.stop()
if empty:
    st.warning(f"No prices between {start} and {end} for {', '.join(empty)}; they are left out.")

primary = next(t for t in tickers if not frames[t].empty)
actions = load_or_stop("corporate actions", lambda: loaders.corporate_actions(version, tickers))
own_actions = actions[actions["symbol"] == primary]
if chart != "Line" and not market.has_ohlc(frames[primary]):
    st.caption(f"Only adjusted closes are stored for {primary} (no open, high, low or volume): drawn as a line.")
    chart = "Line"
st.plotly_chart(
    figures.price_figure(frames[primary], primary, chart, chosen, own_actions),
    key="price_chart",
    config={"displaylogo": False},
)
in_view = own_actions[own_actions["date"].between(pd.Timestamp(start), pd.Timestamp(end))]
if not in_view.empty:
    listed = ", ".join(
        f"{d:%Y-%m-%d} " + (f"split {v:g}:1" if a == "split" else f"dividend {format_price(v, digits=3)}")
        for d, a, v in in_view[["date", "action", "value"]].itertuples(index=False)
    )
    st.caption(f"Corporate actions in range ({primary}): {listed}")

shown = [t for t in tickers if not frames[t].empty]
if len(shown) > 1:
    closes = pd.DataFrame({t: usd_frames[t]["close"] for t in shown})  # rebased to 100: currency-neutral
    st.plotly_chart(figures.compare_figure(market.normalise(closes)), key="compare_chart")

sources = load_or_stop("sources", lambda: loaders.sources(version, tickers))
st.caption(
    " · ".join(
        f"{t}: {', '.join(loaders.sources(version, [t]))}, stored {spans.loc[t, 'first']} → {spans.loc[t, 'last']}"
        for t in tickers
    )
    + f" · shown {start} → {end}, prices {market.price_basis(adjusted, notes, tickers)} in {currency.label(ccy)}"
)

params = exports.export_parameters(view, start, end, info["as_of"], sources, fallback=notes)
params["currency"] = currency.label(ccy)
shown_frames = {t: frames[t] for t in shown}
usd_shown = {t: usd_frames[t] for t in shown}
stem = f"market-desk_{'-'.join(shown)}_{start}_{end}"
record_export = {
    kind: gate.recorder(
        "export", {"page": "ticker", "format": kind, **{k: params[k] for k in ("tickers", "start", "end")}}
    )
    for kind in ("csv", "xlsx")
}


def export_file(kind: str):
    """The file's bytes, built only when the browser asks for it; each export lands in the audit log."""

    def build() -> bytes:
        record_export[kind]()
        data = exports.export_frame(shown_frames, usd_shown)
        return exports.to_csv(data, params) if kind == "csv" else exports.to_xlsx(data, params)

    return build


cols = st.columns([1, 1, 4])
# Files are built only when clicked (a callable), so an ordinary rerun pays nothing for them.
cols[0].download_button(
    "CSV",
    export_file("csv"),
    file_name=f"{stem}.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",  # a rerun would re-register the files under new ids while the other button is clicked
)
cols[1].download_button(
    "XLSX",
    export_file("xlsx"),
    file_name=f"{stem}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    icon=":material/download:",
    on_click="ignore",
)
cols[2].caption(f"Link to this view: `{url_state.query_string(url_state.view_params(view))}`")
