"""Ticker: price chart with volume, overlays and indicator panels, compare up to 8 tickers, exports; state in URL."""

import pandas as pd
import streamlit as st

from analytics import market
from dashboard.access import gate
from dashboard.ui import currency, exports, figures, formatting, loaders, url_state
from dashboard.ui.components import (
    adopt_legacy_link,
    checked_tickers,
    chosen_range,
    data_header,
    load_or_stop,
    share_link,
)
from dashboard.ui.formatting import format_price, price_columns
from dashboard.ui.text import plain

gate.require_login()

# Market caps run to trillions: shown scaled, the number itself through formatting.format_price.
SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"))
NOT_STORED = "the `reference` job stores them from the provider's quote (yfinance), when it gives them"


def compact_money(value: float | None, currency: str) -> str:
    """$4.02T, $512.30B, $880.10M: a large amount in the display currency."""
    for size, suffix in SCALES:
        if value is not None and abs(value) >= size:
            return formatting.format_price(value / size, currency) + suffix
    return formatting.format_price(value, currency)


def signed_change(change: float | None, change_pct: float | None, currency: str) -> str | None:
    """'+$1.23 (+0.45%)' or '-$1.23 (-0.45%)': st.metric colours a delta by its leading sign."""
    if change is None or change_pct is None:
        return None
    sign = "-" if change < 0 else "+"
    return (
        f"{sign}{formatting.format_price(abs(change), currency)} ({formatting.format_percent(change_pct, signed=True)})"
    )


def price_range(low: float | None, high: float | None, currency: str) -> str:
    if low is None or high is None:
        return formatting.MISSING
    return f"{formatting.format_price(low, currency)} – {formatting.format_price(high, currency)}"


def fact(column, label: str, value: str, help: str) -> None:
    """One figure of the quote header: its label above it, and a tooltip saying what it is (or why it is missing).

    Label/value lines, not st.metric: a metric's large type cuts a price range ("$198.47 – $3…") in a narrow column.
    """
    column.markdown(f":gray[{plain(label)}]  \n**{plain(value)}**", help=help)


def statistic(column, label: str, text: str | None, stats: dict | None, why_missing: str, help: str) -> None:
    """One key statistic, or the missing mark with a tooltip that says why it is missing."""
    if stats is None:
        fact(column, label, formatting.MISSING, f"Not stored for this symbol: {NOT_STORED}.")
    elif text is None or text == formatting.MISSING:
        fact(column, label, formatting.MISSING, why_missing)
    else:
        fact(column, label, text, help)


def quote_header(symbol: str, history: pd.DataFrame) -> None:
    """Last price and change, day and 52-week ranges, average volume, market cap and key statistics of `symbol`,
    from `history`, its prices of the year or so to its latest stored bar (whatever range the chart shows); prices
    in the display currency."""
    if history.empty:
        return
    if ccy != currency.DEFAULT:
        history = currency.convert(history, price_columns(history), ccy)
    try:
        q = market.quote(history)
    except ValueError:  # no close in the display currency (no exchange rate stored for those days)
        st.caption(f"No quote for {symbol} in {currency.label(ccy)}.")
        return
    shares = load_or_stop("shares outstanding", lambda: loaders.published_shares(version, symbol, q.as_of))
    cap = market.market_cap(shares, q.last, q.as_of)
    stats = load_or_stop("key statistics", lambda: loaders.key_statistics(version, symbol, q.as_of))

    price, facts = st.columns([4, 9])
    price.metric(
        f"{symbol} · close {q.as_of}",
        formatting.format_price(q.last, ccy),
        signed_change(q.change, q.change_pct, ccy),
        help="The last stored close and its change from the close before"
        + (" (adjusted prices)." if adjusted else " (as traded where stored)."),
    )
    grid = facts.columns(3)
    fact(grid[0], "Day range", price_range(q.day_low, q.day_high, ccy), f"Low and high of {q.as_of}.")
    position = (
        "" if q.position_52w is None else f"; the close is at {formatting.format_percent(q.position_52w, 0)} of it"
    )
    fact(grid[0], "52-week range", price_range(q.low_52w, q.high_52w, ccy),
         f"Lowest low and highest high of the 52 weeks to {q.as_of}{position}.")  # fmt: skip
    if q.position_52w is not None:
        grid[0].progress(q.position_52w, text=f"close at {formatting.format_percent(q.position_52w, 0)} of the range")
    volume_help = f"Mean daily volume of the last {q.volume_sessions} sessions to {q.as_of}."
    fact(grid[0], "Avg. volume (3M)", formatting.format_number(q.average_volume, digits=0),
         volume_help if q.volume_sessions else "No volume is stored for this symbol.")  # fmt: skip
    if cap is None:
        fact(grid[1], "Market cap", formatting.MISSING, f"No share count published on or before {q.as_of} is stored "
             f"for {symbol} (the `reference` job stores them).")  # fmt: skip
    else:
        fact(grid[1], "Market cap", compact_money(cap.value, ccy),
             f"{formatting.format_number(cap.shares, digits=0)} shares (as of {cap.filed}, {cap.source}) "
             f"x the close of {cap.close_date}.")  # fmt: skip

    seen = "" if stats is None else f"{stats['source']}, as of {stats['as_of']}"
    not_given = f"Not given by {seen}" if stats else ""
    get = (stats or {}).get
    statistic(grid[1], "P/E (TTM)", formatting.format_number(get("trailing_pe")), stats,
              f"{not_given} (none for a loss or a fund).", f"Trailing twelve months' P/E ({seen}).")  # fmt: skip
    statistic(grid[1], "EPS (TTM)", formatting.format_price(get("trailing_eps")), stats,
              f"{not_given}.", f"Trailing twelve months' earnings per share, in USD as reported ({seen}).")  # fmt: skip
    statistic(grid[2], "Dividend yield", formatting.format_percent(get("dividend_yield")), stats,
              f"{not_given} (no dividend).", f"Forward dividend over the price ({seen}).")  # fmt: skip
    statistic(grid[2], "Beta", formatting.format_number(get("beta")), stats,
              f"{not_given}.", f"The provider's beta against the market ({seen}).")  # fmt: skip
    upcoming = get("next_earnings")
    passed = upcoming is not None and upcoming < q.as_of
    why = (f"The stored date ({upcoming}, {seen}) has passed; the next `reference` run brings the next one."
           if passed else f"{not_given}.")  # fmt: skip
    text = None if upcoming is None or passed else formatting.format_timestamp(upcoming)
    statistic(grid[2], "Next earnings", text, stats, why, f"The next earnings date ({seen}; may be an estimate).")


version, info = data_header("Ticker")
spans = load_or_stop("the list of symbols", lambda: loaders.symbol_dates(version)).set_index("symbol")
K = url_state.TICKER_KEYS
adopt_legacy_link(url_state.LEGACY_TICKER_KEYS, K["tickers"])

# Every control is bound to the URL query string (bind="query-params") under the page's own keys (tk_*): a copied
# link reproduces the view, and the Risk page's choices never leak in.
top = st.columns([2, 3])
text = top[0].text_input(
    "Tickers (up to 8, comma-separated; the first is charted in detail)",
    value="SPY",
    key=K["tickers"],
    bind="query-params",
)
preset = top[1].segmented_control(
    "Range", [*market.RANGES, market.CUSTOM], default="1Y", required=True, key=K["range"], bind="query-params"
)
row = st.columns([1, 2])
chart = row[0].segmented_control(
    "Chart", list(market.CHART_TYPES), default="Candlestick", required=True, key=K["chart"], bind="query-params"
)
chosen = row[1].pills(
    "Indicators",
    list(market.INDICATORS),
    selection_mode="multi",
    key=K["indicators"],
    bind="query-params",
    help="Overlays: "
    + ", ".join(market.INDICATORS[c] for c in market.MOVING_AVERAGES + ("BB",))
    + ". Panels below the chart: "
    + ", ".join(market.INDICATORS[c] for c in market.PANELS)
    + ".",
)
toggles = st.columns([2, 1, 1])
adjusted = toggles[0].toggle("Adjusted for splits and dividends", value=True, key=K["adjusted"], bind="query-params")
log_scale = toggles[1].toggle(
    "Log scale",
    value=False,
    key=K["log"],
    bind="query-params",
    help="A logarithmic price axis: equal distances are equal percentage moves.",
)
# An empty parameter in a link (?range=) clears a bound widget even when a choice is required: use the defaults.
preset, chart, chosen, adjusted = preset or "1Y", chart or "Candlestick", chosen or [], adjusted is not False
log_scale = log_scale is True

tickers = checked_tickers(
    text,
    spans.index,
    market.MAX_COMPARE,
    f"At most {market.MAX_COMPARE} tickers can be compared; showing the first {market.MAX_COMPARE}.",
    "Enter at least one ticker, e.g. AAPL or SPY,QQQ.",
)
start, end = chosen_range(preset, tickers, spans, K["dates"])  # custom dates only within the stored span
ccy = currency.selected_currency()
view = url_state.View(tuple(tickers), preset, start, end, chart, tuple(chosen), adjusted, ccy, log_scale)

# Each ticker's whole history (read once, cached per symbol) serves the charts, the quote header and the sources.
prices = load_or_stop(
    "prices", lambda: loaders.ticker_view(version, tuple(tickers), adjusted, start, end, tuple(chosen))
)
frames, notes = prices.frames, prices.notes
notice = market.unadjusted_notice(notes)
if notice:
    st.info(plain(notice))
# Indicators and returns are computed on USD prices; only price levels follow the display currency.
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

primary = prices.primary  # the first ticker with prices in the range (some has: see above); prices.quote is its
assert primary is not None
quote_header(primary, prices.quote)
actions = load_or_stop("corporate actions", lambda: loaders.corporate_actions(version, tickers))
own_actions = actions[actions["symbol"] == primary]
if chart != "Line" and not market.has_ohlc(frames[primary]):
    st.caption(f"Only adjusted closes are stored for {primary} (no open, high, low or volume): drawn as a line.")
    chart = "Line"
st.plotly_chart(
    formatting.currency_axis(  # the price panel's ticks name the currency shown (¥120k, not 120k)
        figures.price_figure(
            frames[primary],
            primary,
            chart,
            chosen,
            own_actions,
            holidays=loaders.market_holidays(start, end),
            log_scale=log_scale,
            currency=ccy,
        ),
        ccy,
        row=1,
        col=1,
    ),
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

sources = sorted({s for t in tickers for s in prices.sources[t]})
st.caption(
    " · ".join(
        f"{t}: {', '.join(prices.sources[t])}, stored {spans.loc[t, 'first']} → {spans.loc[t, 'last']}" for t in tickers
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
        return exports.to_csv(data) if kind == "csv" else exports.to_xlsx(data, params)

    return build


cols = st.columns([1, 1, 1, 4])
# Files are built only when clicked (a callable), so an ordinary rerun pays nothing for them.
cols[0].download_button(
    "CSV",
    exports.shared(export_file("csv"), f"{stem}.csv", "text/csv"),
    file_name=f"{stem}.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",  # a rerun would re-register the files under new ids while the other button is clicked
)
cols[1].download_button(
    "XLSX",
    exports.shared(export_file("xlsx"), f"{stem}.xlsx", exports.XLSX_MIME),
    file_name=f"{stem}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    icon=":material/download:",
    on_click="ignore",
)
cols[2].download_button(  # the CSV holds data only: its parameters are this sidecar (see the README, Exports)
    "Parameters",
    exports.shared(lambda: exports.params_json(params), exports.sidecar_name(f"{stem}.csv"), exports.JSON_MIME),
    file_name=exports.sidecar_name(f"{stem}.csv"),
    mime=exports.JSON_MIME,
    icon=":material/download:",
    on_click="ignore",
)
with cols[3]:
    share_link(url_state.view_params(view))
