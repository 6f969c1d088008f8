"""Risk: metrics vs a benchmark, rolling volatility/beta/Sharpe, drawdowns, correlations, return distribution."""

import streamlit as st

from analytics import market, risk
from dashboard.access import gate
from dashboard.ui import figures, loaders
from dashboard.ui.components import data_header, load_or_stop
from dashboard.ui.text import plain

user = gate.require_login()

version, info = data_header("Risk")
spans = load_or_stop("the list of symbols", lambda: loaders.symbol_spans(version)).set_index("symbol")
lists = load_or_stop("watchlists", lambda: loaders.watchlists(user["username"]))
default_tickers = ",".join(s for s in lists[0].symbols if s != "SPY") if lists else "AAPL,MSFT"

top = st.columns([3, 1, 3])
text = top[0].text_input(
    f"Tickers (up to {market.MAX_RISK_TICKERS}, comma-separated)", value=default_tickers, key="t", bind="query-params"
)
bench_text = top[1].text_input("Benchmark", value="SPY", key="bench", bind="query-params")
preset = top[2].segmented_control(
    "Range", list(market.RANGES), default="5Y", required=True, key="range", bind="query-params"
)
opts = st.columns([2, 2, 4])
window = opts[0].selectbox(
    "Rolling window (trading days)", [21, 63, 126, 252], index=1, key="window", bind="query-params"
)
rf_pct = opts[1].number_input(
    "Risk-free rate (annual %)", min_value=-5.0, max_value=25.0, value=0.0, step=0.25, key="rf", bind="query-params"
)

# An empty parameter in a link (?range=) clears a bound widget even when a choice is required: use the defaults.
preset, window, rf_pct = preset or "5Y", window or 63, rf_pct or 0.0
wanted = market.split_symbols(text)
if len(wanted) > market.MAX_RISK_TICKERS:
    st.warning(f"At most {market.MAX_RISK_TICKERS} tickers; using the first {market.MAX_RISK_TICKERS}.")
    wanted = wanted[: market.MAX_RISK_TICKERS]
tickers, unknown = market.check_symbols(wanted, spans.index)
bench_wanted = market.split_symbols(bench_text)[:1] or ["SPY"]
bench_ok, bench_unknown = market.check_symbols(bench_wanted, spans.index)
if unknown or bench_unknown:
    (st.warning if tickers and bench_ok else st.error)(plain(market.unknown_message({**unknown, **bench_unknown})))
if not tickers or not bench_ok:
    if not wanted:
        st.info("Enter at least one ticker.")
    st.stop()
benchmark = bench_ok[0]

last = spans["last"].max()
start, end = market.resolve_range(preset, last, spans["first"].min())
symbols = list(dict.fromkeys([*tickers, benchmark]))
wide = load_or_stop("prices", lambda: loaders.adjusted_closes(version, symbols, start, end))
usable = [s for s in symbols if s in wide and wide[s].notna().sum() >= 3]
missing = [s for s in symbols if s not in usable]
if benchmark in missing or not [t for t in tickers if t in usable]:
    st.warning(f"Not enough prices between {start} and {end} for {', '.join(missing)}: pick a longer range.")
    st.stop()
if missing:
    st.warning(f"Not enough prices between {start} and {end} for {', '.join(missing)}; left out.")
tickers = tuple(t for t in tickers if t in usable)
rf = rf_pct / 100.0
numbers = load_or_stop("risk figures", lambda: loaders.risk_tables(version, tickers, benchmark, start, end, rf))
table = numbers["metrics"]
pct = {"format": "percent"}
st.subheader(f"Metrics vs {benchmark}, {start} → {end}")
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "symbol": st.column_config.TextColumn("Symbol", pinned=True),
        "total_return": st.column_config.NumberColumn("Total return", **pct),
        "cagr": st.column_config.NumberColumn("CAGR", **pct),
        "volatility": st.column_config.NumberColumn("Volatility", **pct),
        "sharpe": st.column_config.NumberColumn("Sharpe", format="%.2f"),
        "sortino": st.column_config.NumberColumn("Sortino", format="%.2f"),
        "max_drawdown": st.column_config.NumberColumn("Max drawdown", **pct),
        "calmar": st.column_config.NumberColumn("Calmar", format="%.2f"),
        "var_95": st.column_config.NumberColumn("VaR 95% (1d)", **pct),
        "cvar_95": st.column_config.NumberColumn("CVaR 95% (1d)", **pct),
        "beta": st.column_config.NumberColumn("Beta", format="%.2f"),
        "alpha": st.column_config.NumberColumn("Alpha (ann.)", **pct),
        "correlation": st.column_config.NumberColumn("Correlation", format="%.2f"),
    },
)
st.caption(
    "Daily simple returns of adjusted closes; annualised with 252 days; empyrical's conventions (see "
    "`analytics.risk.risk_metrics`). VaR/CVaR are historical, one day, as negative fractions."
)

# Only the open tab is computed and drawn (tabs with state): three 20-line charts per rerun would be wasted work.
labels = ["Volatility", "Beta", "Sharpe"]
rolling = st.tabs(labels, key="rolling", on_change="rerun", bind="query-params")
for tab, kind in zip(rolling, ("volatility", "beta", "sharpe"), strict=True):
    if not tab.open:
        continue
    stats = load_or_stop(
        f"rolling {kind}", lambda k=kind: loaders.rolling_stats(version, k, tickers, benchmark, start, end, window, rf)
    )
    with tab:
        if stats.empty:
            st.info("Add a ticker other than the benchmark to see its rolling beta.")
        elif kind == "volatility":
            st.plotly_chart(
                figures.lines_figure(stats, f"Rolling volatility, {window}-day, annualised", "", percent=True)
            )
        elif kind == "beta":
            st.plotly_chart(figures.lines_figure(stats, f"Rolling beta vs {benchmark}, {window}-day", "Beta"))
        else:
            st.plotly_chart(figures.lines_figure(stats, f"Rolling Sharpe, {window}-day, annualised", "Sharpe"))

st.plotly_chart(figures.drawdown_figure(numbers["drawdowns"]))

left, right = st.columns(2)
with left:
    st.plotly_chart(figures.correlation_heatmap(numbers["correlation"]))
with right:
    pick = st.selectbox("Return distribution of", tickers, key="dist")
    chosen = table.set_index("symbol").loc[pick]
    st.plotly_chart(figures.distribution_figure(risk.returns(wide[pick]), chosen["var_95"], chosen["cvar_95"], pick))

stored = load_or_stop("sources", lambda: loaders.sources(version, symbols))
sources = ", ".join("bundled sample dataset" if s == "sample" else s for s in stored)
st.caption(
    f"Prices: {sources}; {len(wide)} trading days from {wide.index.min():%Y-%m-%d} to {wide.index.max():%Y-%m-%d}."
)
