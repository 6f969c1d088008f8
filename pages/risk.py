"""Risk: metrics vs a benchmark, rolling volatility/beta/Sharpe, drawdowns, correlations, return distribution."""

import pandas as pd
import streamlit as st

from analytics import market, portfolio, risk
from dashboard.access import gate
from dashboard.ui import currency, exports, formatting, loaders, risk_figures, risk_loaders, shared_figures, url_state
from dashboard.ui.components import adopt_legacy_link, chosen_range, data_header, load_or_stop, share_link
from dashboard.ui.text import plain
from store import clock

user = gate.require_login()

version, info = data_header("Risk")
spans = load_or_stop("the list of symbols", lambda: loaders.symbol_spans(version)).set_index("symbol")
lists = load_or_stop("watchlists", lambda: loaders.watchlists(user["username"]))
default_tickers = ",".join(s for s in lists[0].symbols if s != "SPY") if lists else "AAPL,MSFT"
K = url_state.RISK_KEYS
adopt_legacy_link(url_state.LEGACY_RISK_KEYS, K["tickers"])

# Every control is bound to the URL query string under the page's own keys (rk_*): the Ticker page's never leak in.
top = st.columns([3, 1, 3])
text = top[0].text_input(
    f"Tickers (up to {market.MAX_RISK_TICKERS}, comma-separated)",
    value=default_tickers,
    key=K["tickers"],
    bind="query-params",
)
bench_text = top[1].text_input("Benchmark", value="SPY", key=K["benchmark"], bind="query-params")
preset = top[2].segmented_control(
    "Range", [*market.RANGES, market.CUSTOM], default="5Y", required=True, key=K["range"], bind="query-params"
)
opts = st.columns([2, 2, 4])
window = opts[0].selectbox(
    "Rolling window (trading days)", [21, 63, 126, 252], index=1, key=K["window"], bind="query-params"
)
rf_pct = opts[1].number_input(
    "Risk-free rate (annual %)",
    min_value=-5.0,
    max_value=25.0,
    value=None,
    step=0.25,
    key=K["risk_free"],
    bind="query-params",
    placeholder="DGS3MO average",
    help="Empty: the average of the 3-month Treasury bill rate (FRED DGS3MO) over the range, when it is stored.",
)
rf_note = opts[2].empty()

# An empty parameter in a link (?rk_range=) clears a bound widget even when a choice is required: use the defaults.
preset, window = preset or "5Y", window or 63
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
symbols = list(dict.fromkeys([*tickers, benchmark]))

start, end = chosen_range(preset, symbols, spans, K["dates"])  # custom dates only within the stored span

wide = load_or_stop("prices", lambda: loaders.adjusted_closes(version, symbols, start, end))
usable = risk.usable_symbols(wide, symbols)
missing = [s for s in symbols if s not in usable]
if benchmark in missing or not [t for t in tickers if t in usable]:
    st.warning(f"Not enough prices between {start} and {end} for {', '.join(missing)}: pick a longer range.")
    st.stop()
if missing:
    st.warning(f"Not enough prices between {start} and {end} for {', '.join(missing)}; left out.")
asked = tuple(tickers)  # the link keeps them all: a ticker without data in this range may have some in another
tickers = tuple(t for t in tickers if t in usable)

# The risk-free rate: as typed, else the average 3-month bill rate over the range, else 0 (said either way).
stored_rf = load_or_stop("the risk-free rate", lambda: loaders.risk_free_rate(version, start, end))
if rf_pct is not None:
    rf = rf_pct / 100.0
    rf_note.caption(f"Risk-free rate {rf_pct:.2f}% a year, as typed; clear the box for the DGS3MO average.")
elif stored_rf is not None:
    rf = stored_rf
    rf_note.caption(
        f"Risk-free rate {rf * 100:.2f}% a year: the average of {risk.RISK_FREE_SERIES} (3-month Treasury bill, "
        f"FRED) from {start} to {end}. Type a rate to use another."
    )
else:
    rf = 0.0
    rf_note.caption(
        f"Risk-free rate 0%: {risk.RISK_FREE_SERIES} (3-month Treasury bill, FRED) is not stored for {start} → "
        f"{end}. Type a rate to use another."
    )

table, correlation, _, drawdown_columns = load_or_stop(
    "risk figures", lambda: risk_loaders.list_tables(version, tickers, benchmark, start, end, rf)
)

# What the figures below depend on besides their own arguments (each is built once, for every session showing it).
charts = (version, ",".join(tickers), benchmark, start, end, rf)
pct: dict[str, str] = {}  # percentages get their text from formatting.styled (a column_config format would win)
st.subheader(f"Metrics vs {benchmark}, {start} → {end}")
counts = risk.return_counts(wide, list(table["symbol"]))
short = risk.short_for_annualising(counts)
if not short.empty:
    listed = ", ".join(f"{s} ({n} daily returns)" for s, n in short.items())
    st.warning(
        f"Annualised figures (CAGR, volatility, Sharpe, Sortino, Calmar, alpha) rest on less than about 3 months "
        f"({risk.MIN_ANNUALISED_RETURNS} sessions) of data for {listed}: they extrapolate a short stretch to a "
        "whole year, so read them as indicative only."
    )
METRIC_COLUMNS = {
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
}
RISK_PERCENT = ["total_return", "cagr", "volatility", "max_drawdown", "var_95", "cvar_95", "alpha"]
st.dataframe(
    formatting.styled(table, percent=RISK_PERCENT, signed=["total_return", "cagr", "alpha"]),
    hide_index=True,
    width="stretch",
    column_config=METRIC_COLUMNS,
)
st.caption(
    "Daily simple returns of adjusted closes; annualised with 252 days; empyrical's conventions (see "
    "`analytics.risk.risk_metrics`). VaR/CVaR are historical, one day, as negative fractions."
)
exports.export_buttons(
    f"market-desk_risk_{'-'.join(tickers)}_{start}_{end}",
    lambda: table.reset_index(drop=True),
    {
        "exported_by": "Market Desk",
        "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
        "data_as_of": info["as_of"].isoformat(),
        "tickers": ",".join(tickers),
        "benchmark": benchmark,
        "start": str(start),
        "end": str(end),
        "risk_free_annual": f"{rf:.6f}",
        "returns": "daily simple returns of adjusted closes, annualised with 252 days",
    },
    lambda fmt: gate.recorder("export", {"page": "risk", "table": "metrics", "format": fmt, "tickers": tickers}),
    key="risk_export",
    percent=RISK_PERCENT,
)

# With many tickers the lines tangle: one can be picked out (the others greyed) on the rolling and drawdown charts.
focus = None
if len(tickers) > 1:
    focus = st.selectbox(
        "Focus on",
        tickers,
        index=None,
        placeholder="None: every ticker in colour",
        key=K["focus"],
        bind="query-params",
        help="Draws this ticker on top, thicker, and the others in grey.",
    )

# Only the open tab is computed and drawn (tabs with state): three 20-line charts per rerun would be wasted work.
labels = ["Volatility", "Beta", "Sharpe"]
rolling = st.tabs(labels, key=K["rolling"], on_change="rerun", bind="query-params")
rolling_label = labels[0]
for tab, label, kind in zip(rolling, labels, ("volatility", "beta", "sharpe"), strict=True):
    if not tab.open:
        continue
    rolling_label = label
    stats = load_or_stop(
        f"rolling {kind}",
        lambda k=kind: risk_loaders.rolling_stats(version, k, tickers, benchmark, start, end, window, rf),
    )
    # A ticker with fewer returns than the window has no value at all: say so instead of drawing empty axes.
    drawn = stats.dropna(axis=1, how="all")
    too_short = [str(c) for c in stats.columns if c not in drawn.columns]
    with tab:
        if stats.empty:
            st.info("Add a ticker other than the benchmark to see its rolling beta.")
            continue
        if drawn.empty:
            st.info(
                f"A {window}-day rolling window needs at least {window} daily returns; {start} → {end} holds "
                f"{int(counts.max())} at most. Pick a shorter window or a longer range."
            )
            continue
        if too_short:
            st.caption(f"Fewer than {window} daily returns in range, so no rolling {kind}: {', '.join(too_short)}.")
        if kind == "volatility":
            title, y_title = f"Rolling volatility, {window}-day, annualised", ""
        elif kind == "beta":
            title, y_title = f"Rolling beta vs {benchmark}, {window}-day", "Beta"
        else:
            title, y_title = f"Rolling Sharpe, {window}-day, annualised", "Sharpe"
        lines = risk_figures.lines_figure
        percent = kind == "volatility"
        st.plotly_chart(
            shared_figures.figure(charts, (kind, window), lines, drawn, title, y_title, percent=percent, focus=focus)
        )

st.plotly_chart(shared_figures.figure(charts, (), risk_loaders.drawdown_figure, wide, drawdown_columns, focus=focus))

# A heat map of many symbols needs the page's width to name every row and column legibly.
wide_heatmap = len(correlation) > 12
if wide_heatmap:
    st.plotly_chart(shared_figures.figure(charts, (), risk_figures.correlation_heatmap, correlation))
left, right = st.columns(2)
if not wide_heatmap:
    with left:
        st.plotly_chart(shared_figures.figure(charts, (), risk_figures.correlation_heatmap, correlation))
with right if not wide_heatmap else left:
    pick = st.selectbox("Return distribution of", tickers, key=K["distribution"], bind="query-params") or tickers[0]
    chosen = table.set_index("symbol").loc[pick]
    var_95, cvar_95 = chosen["var_95"], chosen["cvar_95"]
    histogram = risk_figures.distribution_figure
    st.plotly_chart(shared_figures.figure(charts, (pick,), histogram, risk.returns(wide[pick]), var_95, cvar_95, pick))

# -- portfolio: the tickers held together (equal or typed weights, saved per user by name) --------------------------
# Session keys, not URL state: the typed weights so far, the editor's generation (a load starts a fresh table), the
# weights text this page last put in the URL (another one there came from a link or the browser's history), a note.
PF_SEED, PF_REV, PF_WRITTEN, PF_NOTE = "risk_pf_seed", "risk_pf_rev", "risk_pf_written", "risk_pf_note"


def _load_portfolio() -> None:
    """A button callback (it runs before the next run draws the widgets): the saved holdings become the tickers and
    their weights the typed ones, in the widgets and in the URL."""
    name = st.session_state.get("risk_pf_pick")
    if not name:
        return
    try:
        saved = loaders.saved_portfolio(user["username"], name)
    except ValueError as exc:
        st.session_state[PF_NOTE] = ("error", f"Not loaded: {exc}.")
        return
    percents = {s: round(float(w) * 100, 4) for s, w in saved.items()}
    # Bound widgets: their new values go into the URL by themselves (setting their query parameter is refused).
    st.session_state[K["tickers"]] = ",".join(percents)
    st.session_state[K["weights"]] = "Custom"
    st.query_params[K["custom_weights"]] = st.session_state[PF_WRITTEN] = url_state.weights_text(percents)
    st.session_state[PF_SEED] = percents
    st.session_state[PF_REV] = st.session_state.get(PF_REV, 0) + 1
    st.session_state[PF_NOTE] = ("success", f"Loaded “{name}”.")


def _save_portfolio(weights: pd.Series) -> None:
    name = st.session_state.get("risk_pf_name", "")
    try:
        saved = loaders.save_portfolio(user["username"], name, weights)
    except ValueError as exc:
        st.session_state[PF_NOTE] = ("error", f"Not saved: {exc}.")
        return
    st.session_state["risk_pf_pick"] = saved
    st.session_state[PF_NOTE] = ("success", f"Saved “{saved}” ({len(weights)} holdings).")


def _delete_portfolio() -> None:
    name = st.session_state.get("risk_pf_pick")
    if name and loaders.delete_portfolio(user["username"], name):
        st.session_state["risk_pf_pick"] = None
        st.session_state[PF_NOTE] = ("success", f"Deleted “{name}”.")


def portfolio_weights(holdings: tuple[str, ...]) -> tuple[str, pd.Series | None, dict[str, float]]:
    """The weights control: Equal, or Custom typed per holding (a small editable table, seeded from the link or a
    loaded portfolio). Returns the mode, the weights (fractions; None with a message when they make no portfolio)
    and the typed percentages (for the link)."""
    mode = st.segmented_control(
        "Weights", url_state.WEIGHT_MODES, default="Equal", required=True, key=K["weights"], bind="query-params"
    )
    if mode != "Custom":
        return "Equal", portfolio.equal_weights(holdings), {}
    link_text = st.query_params.get(K["custom_weights"])
    if PF_SEED not in st.session_state or (link_text and link_text != st.session_state.get(PF_WRITTEN)):
        linked, bad = url_state.parse_weights(link_text)  # a link's weights (or none): the table starts from them
        if PF_SEED in st.session_state:
            st.session_state[PF_REV] = st.session_state.get(PF_REV, 0) + 1
        st.session_state[PF_SEED], st.session_state[PF_WRITTEN] = linked, link_text
        if bad:
            st.warning(plain(f"Weights in the link not understood (SYMBOL:percent expected): {', '.join(bad)}."))
    seed: dict[str, float] = st.session_state[PF_SEED]
    covered = any(h in seed for h in holdings)
    start_with = [seed.get(h, 0.0) if covered else round(100 / len(holdings), 4) for h in holdings]
    edited = st.data_editor(
        pd.DataFrame({"symbol": list(holdings), "weight": start_with}),
        key=f"risk_pf_editor_{st.session_state.get(PF_REV, 0)}_{'-'.join(holdings)}",
        hide_index=True,
        num_rows="fixed",
        disabled=["symbol"],
        column_config={
            "symbol": st.column_config.TextColumn("Holding"),
            "weight": st.column_config.NumberColumn("Weight (%)", min_value=0.0, max_value=1000.0, step=0.01),
        },
    )
    typed = {
        str(s): float(w) if pd.notna(w) else float("nan")
        for s, w in zip(edited["symbol"], edited["weight"], strict=True)
    }
    st.session_state[PF_SEED] = {**seed, **typed}
    try:
        weights = portfolio.check_weights(typed)
    except portfolio.PortfolioError as exc:
        st.warning(plain(f"These weights make no portfolio: {exc}."))
        return "Custom", None, typed
    st.query_params[K["custom_weights"]] = st.session_state[PF_WRITTEN] = url_state.weights_text(typed)
    total = sum(typed.values())
    if abs(total - 100) > 1e-6:
        st.caption(f"The weights add up to {formatting.format_number(total)}%: each is divided by that total.")
    return "Custom", weights, typed


st.subheader("Portfolio")
holdings = tuple(dict.fromkeys(tickers))
weights_mode, weights, typed_weights = portfolio_weights(holdings)
with st.expander("Saved portfolios"):
    note = st.session_state.pop(PF_NOTE, None)
    if note:
        (st.success if note[0] == "success" else st.error)(plain(note[1]))
    names = load_or_stop("your saved portfolios", lambda: loaders.portfolio_names(user["username"]))
    row = st.columns([3, 1, 1])
    row[0].selectbox(
        "Saved portfolio",
        names,
        index=None,
        key="risk_pf_pick",
        placeholder="None saved yet" if not names else "Pick one",
    )
    row[1].button("Load", key="risk_pf_load", on_click=_load_portfolio, disabled=not names)
    row[2].button("Delete", key="risk_pf_delete", on_click=_delete_portfolio, disabled=not names)
    row = st.columns([3, 1, 1])
    row[0].text_input("Save these holdings and weights as", key="risk_pf_name", max_chars=64)
    row[1].button("Save", key="risk_pf_save", on_click=_save_portfolio, args=(weights,), disabled=weights is None)
    st.caption("Saved portfolios are yours: other users do not see them. Loading one replaces the tickers above.")

if weights is not None:
    book_key = tuple((str(s), float(w)) for s, w in weights.items())
    try:
        book = loaders.portfolio_tables(version, book_key, benchmark, start, end, rf)
    except portfolio.PortfolioError as exc:
        st.warning(plain(f"No portfolio figures: {exc}. Pick a longer range."))
    else:
        values = book["values"]
        first_day, last_day = values.index[0].date(), values.index[-1].date()
        st.caption(
            f"Rebalanced {portfolio.REBALANCING}: each day's return is the weighted sum of the holdings' returns "
            f"(Σ wᵢ rᵢ, no costs), over the {len(values) - 1} daily returns from {first_day} (the first day every "
            f"holding has a close) to {last_day}. Weights: "
            + ", ".join(f"{s} {formatting.format_percent(w)}" for s, w in weights.items())
            + "."
        )
        pf_table = book["metrics"]
        st.dataframe(
            formatting.styled(pf_table, percent=RISK_PERCENT, signed=["total_return", "cagr", "alpha"]),
            hide_index=True,
            width="stretch",
            column_config=METRIC_COLUMNS,
        )
        if len(values) - 1 < risk.MIN_ANNUALISED_RETURNS:
            st.caption(
                f"Annualised figures rest on {len(values) - 1} daily returns (less than about 3 months): indicative."
            )
        left, right = st.columns(2)
        with left:
            title = f"Portfolio vs {benchmark}, rebased to 100"
            st.plotly_chart(shared_figures.figure(charts, book_key, risk_figures.compare_figure, values * 100.0, title))
        with right:
            title = "Portfolio drawdown"
            underwater = risk_figures.drawdown_figure
            st.plotly_chart(shared_figures.figure(charts, book_key, underwater, book["drawdown"], title=title))
        contributions = book["contributions"]
        sigma = float(contributions["contribution"].sum())
        st.markdown("**Contribution to volatility**")
        st.dataframe(
            formatting.styled(contributions, percent=["weight", "volatility", "contribution", "share"]),
            hide_index=True,
            width="stretch",
            column_config={
                "symbol": st.column_config.TextColumn("Holding", pinned=True),
                "weight": st.column_config.NumberColumn("Weight"),
                "volatility": st.column_config.NumberColumn("Own volatility"),
                "contribution": st.column_config.NumberColumn("Contribution"),
                "share": st.column_config.NumberColumn("Share of volatility"),
            },
        )
        st.caption(
            f"Holding i contributes wᵢ (Σw)ᵢ / σₚ (Σ: the annualised covariance of daily returns), so the "
            f"contributions add up to the portfolio's volatility σₚ = {formatting.format_percent(sigma)} and the "
            "shares to 100%. A share above the weight marks a holding that adds more risk than capital; the "
            "correlations behind it are in the heat map above."
        )
        st.plotly_chart(shared_figures.figure(charts, book_key, risk_figures.risk_contribution_figure, contributions))
        exports.export_buttons(
            f"market-desk_portfolio_{'-'.join(holdings)}_{start}_{end}",
            lambda: contributions.reset_index(drop=True),
            {
                "exported_by": "Market Desk",
                "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
                "data_as_of": info["as_of"].isoformat(),
                "weights": url_state.weights_text({s: float(w) * 100 for s, w in weights.items()}),
                "rebalancing": portfolio.REBALANCING,
                "benchmark": benchmark,
                "start": str(first_day),
                "end": str(last_day),
                "portfolio_volatility": f"{sigma:.8f}",
                "returns": "daily simple returns of adjusted closes, annualised with 252 days",
            },
            lambda fmt: gate.recorder(
                "export", {"page": "risk", "table": "portfolio", "format": fmt, "tickers": holdings}
            ),
            key="risk_portfolio_export",
            percent=["weight", "volatility", "contribution", "share"],
        )

stored = load_or_stop("sources", lambda: loaders.sources(version, symbols))
sources = ", ".join("bundled sample dataset" if s == "sample" else s for s in stored)
st.caption(
    f"Prices: {sources}; {len(wide)} trading days from {wide.index.min():%Y-%m-%d} to {wide.index.max():%Y-%m-%d}."
)
view = url_state.RiskView(
    asked,
    benchmark,
    preset,
    start,
    end,
    window,
    rf_pct,
    rolling_label,
    focus,
    pick,
    currency.selected_currency(),
    weights_mode,
    tuple(typed_weights.items()),
)
share_link(url_state.risk_params(view))
