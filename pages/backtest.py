"""Backtest: a strategy on stored prices vs a benchmark, no look-ahead; metrics, trades, exports, parameter sweeps."""

import pandas as pd
import streamlit as st

from analytics import market
from analytics.backtest import BacktestResult
from dashboard.access import gate
from dashboard.ui import backtest_components as parts
from dashboard.ui import backtest_figures, exports, figures, index_loaders, loaders, url_state
from dashboard.ui import backtest_loaders as bt
from dashboard.ui.components import data_header, load_or_stop
from dashboard.ui.text import plain

user = gate.require_login()

version, info = data_header("Backtest")
spans = load_or_stop("the list of symbols", lambda: loaders.symbol_spans(version)).set_index("symbol")
universe = load_or_stop("the universe", lambda: loaders.instruments(version))["symbol"].tolist()
K = url_state.BACKTEST_KEYS
# On the page's first run in a session the widgets take their values from the link: what they refuse is said.
opening = K["strategy"] not in st.session_state
link = url_state.link_values(st.query_params, url_state.BACKTEST_PREFIX) if opening else {}
taken: dict[str, object] = {}  # widget key -> the value it took, as the URL shows it
reported: set[str] = set()
first, last = spans["first"].min(), spans["last"].max()


def say_refused() -> None:
    parts.refused_warnings(link, taken, reported, (first, last))


# Every control is bound to the URL query string (bind="query-params"): a copied link reproduces the run.
top = st.columns([2, 4, 1])
labels = list(bt.STRATEGIES)
label = top[0].selectbox(
    "Strategy", labels, index=labels.index(bt.DEFAULT_STRATEGY), key=K["strategy"], bind="query-params"
)
strategy = bt.STRATEGIES[label or bt.DEFAULT_STRATEGY]
text = top[1].text_input(
    f"Tickers (up to {bt.MAX_TICKERS}, comma-separated)",
    value=url_state.BACKTEST_DEFAULT_TICKERS,
    key=K["tickers"],
    bind="query-params",
)
bench_text = top[2].text_input(
    "Benchmark", value="SPY", key=K["benchmark"], bind="query-params", help="Empty: no benchmark."
)
st.caption(strategy.description)

params: dict[str, object] = {}
if strategy.params:
    wanted_count = len(market.split_symbols(text))
    for column, param in zip(st.columns(max(len(strategy.params), 4)), strategy.params, strict=False):
        default = bt.default_value(strategy, param, wanted_count)
        params[param.name] = parts.param_input(column, param, default, taken)

row = st.columns([3, 1, 1, 1, 2])
picked = row[0].date_input(
    "Dates",
    value=(first, last),
    min_value=first,
    max_value=last,
    key=K["dates"],
    bind="query-params",
    format="YYYY-MM-DD",
)
cost = row[1].number_input(
    "Costs (bps per side)", min_value=0.0, max_value=1000.0, value=5.0, step=0.5, key=K["cost"], bind="query-params"
)
spread = row[2].number_input(
    "Spread (bps)",
    min_value=0.0,
    max_value=1000.0,
    value=0.0,
    step=0.5,
    key=K["spread"],
    bind="query-params",
    help="The bid-ask spread: half of it is paid on every trade, on top of the costs.",
)
rf_pct = row[3].number_input(
    "Risk-free (annual %)",
    min_value=-5.0,
    max_value=25.0,
    value=0.0,
    step=0.25,
    key=K["risk_free"],
    bind="query-params",
)
taken.update({K["strategy"]: label, K["tickers"]: text, K["benchmark"]: bench_text, K["dates"]: picked})
taken.update({K["cost"]: cost, K["spread"]: spread, K["risk_free"]: rf_pct})
# An empty parameter in a link (?bt_cost=) clears a bound widget: use the defaults.
cost, spread, rf_pct = cost or 0.0, spread or 0.0, rf_pct or 0.0

# -- bad input: a message each, never a traceback ---------------------------------------------------------
wanted = market.split_symbols(text)
tickers, problems = bt.check_tickers(text, list(spans.index), universe)
if len(tickers) > bt.MAX_TICKERS:
    problems.append(f"At most {bt.MAX_TICKERS} tickers; using the first {bt.MAX_TICKERS}.")
    tickers = tickers[: bt.MAX_TICKERS]
bench_ok, bench_problems = bt.check_tickers(bench_text, list(spans.index), universe)
if problems:
    (st.warning if tickers else st.error)(plain(" ".join(problems)))
if bench_problems:
    st.warning(plain("Benchmark: " + " ".join(bench_problems) + " The run is shown without a benchmark."))
benchmark = bench_ok[0] if bench_ok else None
if not tickers:
    say_refused()
    if not wanted:
        st.warning("Enter at least one ticker to backtest, e.g. AAPL or AAPL,MSFT,XOM.")
    st.stop()
if not isinstance(picked, tuple) or len(picked) != 2:
    say_refused()
    st.info("Pick an end date to complete the range.")
    st.stop()
start, end = picked
outside = [t for t in tickers if spans.loc[t, "last"] < start or spans.loc[t, "first"] > end]
if outside:
    stored = "; ".join(f"{t}: {spans.loc[t, 'first']} → {spans.loc[t, 'last']}" for t in outside)
    message = f"No stored prices between {start} and {end} for {', '.join(outside)} (stored {stored})"
    tickers = [t for t in tickers if t not in outside]
    if not tickers:
        say_refused()
        st.error(plain(message + ". Pick dates inside the stored history."))
        st.stop()
    st.warning(plain(message + "; left out."))

inputs = load_or_stop("prices", lambda: bt.price_inputs(version, tuple(tickers), start, end))
if inputs.closes.empty:
    say_refused()
    st.error(plain(f"No trading session between {start} and {end}: pick a longer range."))
    st.stop()
# Trading at the next open needs opening prices for every ticker; some sources store adjusted closes only.
choice = taken[K["execution"]] = row[4].radio(
    "Execution",
    list(bt.EXECUTIONS) if not inputs.lacking_opens else ["Next close"],
    key=K["execution"],
    bind="query-params",
    horizontal=True,
    help="A signal decided at the close of day t trades at the close (or the open) of day t+1.",
)
if inputs.lacking_opens:
    lacking = ", ".join(inputs.lacking_opens[:10]) + (" …" if len(inputs.lacking_opens) > 10 else "")
    note = f"Next open is offered when opening prices are stored for every ticker; {lacking} store closes only."
    if link.get(K["execution"]) == ["Next open"]:
        reported.add(K["execution"])  # said here, with the reason
        st.warning(plain(note + " Trading at the next close."))
    else:
        row[4].caption(plain(note))
say_refused()

request = bt.BacktestRequest(
    version=version,
    strategy=strategy.label,
    tickers=tuple(tickers),
    start=start,
    end=end,
    params=tuple(params.items()),
    benchmark=benchmark,
    cost_bps=float(cost),
    spread_bps=float(spread),
    execution=bt.EXECUTIONS[choice or "Next close"],
    risk_free=float(rf_pct) / 100.0,
)
try:
    outcome = load_or_stop("the backtest", lambda: bt.run_backtest(request))
except ValueError as exc:  # the analytics name the bad parameter or input (fast >= slow, top k > tickers ...)
    st.error(plain(exc))
    st.stop()
result, held = outcome.result, outcome.benchmark

# A saved index (Index page) run as a strategy over the same sessions and costs, on the same chart and table.
saved = {s.name: s for s in index_loaders.saved_indices(user["username"]) if s.levels_computed_at is not None}
compared: dict[str, BacktestResult] = {}
if saved:
    pick = st.selectbox(
        "Compare with a saved index", ["", *saved], key="bt_index", format_func=lambda n: n or "—", bind="query-params"
    )
    if pick in saved:
        run = load_or_stop(
            "the saved index",
            lambda: bt.saved_index_run(request, saved[pick].id, saved[pick].levels_computed_at.isoformat()),
        )
        if run is None:
            st.info(plain(f"“{pick}” has no stored levels between {start} and {end}."))
        else:
            compared[f"Index: {pick}"] = run

# -- the run ---------------------------------------------------------------------------------------------
sessions = pd.DatetimeIndex(result.equity.index)
st.subheader(f"{strategy.label} on {len(tickers)} ticker(s), {sessions[0]:%Y-%m-%d} → {sessions[-1]:%Y-%m-%d}")
parts.metric_cards(result.metrics)
bench_equity = held.equity if held is not None else None
st.plotly_chart(
    backtest_figures.equity_figure(
        result.equity, strategy.label, bench_equity, benchmark or "", {k: r.equity for k, r in compared.items()}
    ),
    key="bt_equity_chart",
)
drawdowns = pd.DataFrame({strategy.label: bt.drawdown(result.equity)})
if bench_equity is not None and benchmark:
    drawdowns[benchmark] = bt.drawdown(bench_equity).reindex(sessions)
st.plotly_chart(figures.drawdown_figure(drawdowns), key="bt_drawdown_chart")
st.plotly_chart(backtest_figures.monthly_heatmap(result.monthly_returns), key="bt_monthly_chart")
parts.metrics_table(bt.metrics_table(outcome, strategy.label, benchmark, compared))
parts.positions_and_trades(result)

# -- parameter sweep -------------------------------------------------------------------------------------
sweep_texts: dict[str, str] = {}
split_pct = 70
sweep_on = False
if strategy.sweepable:
    st.subheader("Parameter sweep")
    sweep_on = bool(
        st.toggle(
            "Sweep one or two parameters (Sharpe in-sample and out-of-sample)",
            value=False,
            key=K["sweep"],
            bind="query-params",
        )
    )
    taken[K["sweep"]] = sweep_on
if sweep_on:
    controls = st.columns(max(len(strategy.sweepable) + 1, 4))
    for column, param in zip(controls, strategy.sweepable, strict=False):
        key = url_state.sweep_key(param.name)
        sweep_texts[param.name] = taken[key] = column.text_input(
            f"{param.label}: values",
            value=param.sweep,
            key=key,
            bind="query-params",
            placeholder=f"{params[param.name]} (as above)",
            help="Comma-separated values to try; empty: the value above.",
        )
    split_pct = taken[K["split"]] = int(
        controls[len(strategy.sweepable)].slider(
            "In-sample share of sessions (%)",
            min_value=50,
            max_value=90,
            value=70,
            step=5,
            key=K["split"],
            bind="query-params",
        )
        or 70
    )
    try:
        grid, axes = bt.sweep_grid(strategy, sweep_texts, params)
        if not axes:
            st.info("Give one or two parameters several values (comma-separated) to sweep them.")
        else:
            grid_key = tuple((name, tuple(values)) for name, values in grid.items())
            sweep = load_or_stop("the sweep", lambda: bt.run_sweep(request, grid_key, split_pct / 100.0))
            parts.sweep_maps(sweep, strategy, axes, split_pct, sessions)
    except ValueError as exc:
        st.error(plain(exc))
say_refused()

# -- exports and the link ----------------------------------------------------------------------------------
view = url_state.BacktestView(
    strategy=strategy.label,
    tickers=tuple(tickers),
    start=start,
    end=end,
    params=tuple((p.name, p.shown(params[p.name])) for p in strategy.params),
    benchmark=benchmark or "",
    cost_bps=float(cost),
    spread_bps=float(spread),
    risk_free_pct=float(rf_pct),
    execution=choice or "Next close",
    sweep=tuple(sweep_texts.items()) if sweep_on else None,
    split_pct=split_pct,
)
link_text = url_state.query_string(url_state.backtest_params(view))
stored_sources = load_or_stop("sources", lambda: loaders.sources(version, tickers))
export_params = bt.export_parameters(request, params, info["as_of"], stored_sources, link_text)
stem = f"market-desk_backtest_{strategy.label.split(' (')[0].lower().replace(' ', '-')}_{start}_{end}"
audit = {"page": "backtest", "strategy": strategy.label, "tickers": ",".join(tickers), "start": str(start)}
record = {kind: gate.recorder("export", {**audit, "format": kind}) for kind in ("equity_csv", "trades_csv", "xlsx")}


# Sheets' fractions shown as percentages: the percent metrics, monthly returns, and the weights held (per ticker, cash).
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Year")
XLSX_PERCENT = (
    *(k for k, (_, fmt) in parts.METRIC_COLUMNS.items() if fmt == parts.PERCENT),
    *MONTHS,
    *tickers,
    "cash",
)


def equity_csv() -> bytes:
    record["equity_csv"]()
    return exports.to_csv(bt.equity_table(outcome))


def trades_csv() -> bytes:
    record["trades_csv"]()
    return exports.to_csv(bt.trades_table(result))


def workbook() -> bytes:
    record["xlsx"]()
    return exports.to_xlsx_sheets(bt.export_sheets(outcome, strategy.label, benchmark), export_params, XLSX_PERCENT)


st.subheader("Export")
parts.export_buttons(
    [
        ("Equity CSV", f"{stem}_equity.csv", "text/csv", equity_csv),
        ("Trades CSV", f"{stem}_trades.csv", "text/csv", trades_csv),
        ("XLSX", f"{stem}_all.xlsx", parts.XLSX_MIME, workbook),
        ("Parameters", f"{stem}.params.json", exports.JSON_MIME, lambda: exports.params_json(export_params)),
    ]
)
# The link is URL-encoded (no backtick, bracket or space survives), so it is safe inside the code span.
st.caption(f"Link to this run: `{link_text}`")
sources_text = ", ".join("bundled sample dataset" if s == "sample" else s for s in stored_sources)
st.caption(
    plain(
        f"Prices: {sources_text}, adjusted closes; {len(sessions)} sessions from {sessions[0]:%Y-%m-%d} to "
        f"{sessions[-1]:%Y-%m-%d}."
    )
    + " A signal decided at a close trades at the next session's close (or open) and earns returns from then on: "
    "no look-ahead by construction."
)
