"""Index: an equal- or cap-weighted index of the stored universe (the top N by point-in-time market cap, the S&P 500
list, a sector, or tickers), rebalanced on S&P's calendar or at period ends, net of costs; against a benchmark;
composition on any date, changes, turnover; saved per user (levels stored by the worker); CSV, JSON and XLSX."""

from datetime import date

import pandas as pd
import streamlit as st

from analytics import market
from analytics.index import IndexResult, cost_drag
from dashboard.access import gate, operations
from dashboard.ui import exports, figures, formatting, index_loaders, loaders
from dashboard.ui.components import data_header, load_or_stop, remember_tasks, watch_tasks
from dashboard.ui.text import plain
from store.indices import MAX_TICKERS, IndexDefinition
from store.settings import get_settings

user = gate.require_login()
version, info = data_header("Index")

UNIVERSES = {
    "top_n": "Top N by market cap",
    "sp500": "S&P 500 list",
    "sector": "A sector",
    "tickers": "Tickers",
}
REBALANCES = {
    "SPX": "S&P quarterly (3rd Friday)",
    "Q": "Quarter end",
    "M": "Month end",
    "W": "Week end",
    "D": "Daily",
}
SIZE = get_settings().index_size
SP500_JOB = "sp500"  # the queued load of the S&P 500 demo dataset
DEFAULT_TICKERS = "AAPL,MSFT,NVDA,AMZN,GOOGL"

spans = load_or_stop("the list of symbols", lambda: loaders.symbol_spans(version)).set_index("symbol")
loaded = load_or_stop("the S&P 500 list", lambda: index_loaders.sp500_loaded(version))
saved = load_or_stop("your saved indices", lambda: index_loaders.saved_indices(user["username"]))
by_name = {s.name: s for s in saved}

if not loaded:
    st.info(
        "The S&P 500 demo dataset is not loaded, so only a tickers universe is available. It holds the constituents' "
        "adjusted closes 2019-2026, closes and volumes 2019-2024 (former members included) and point-in-time share "
        "counts: demo data, not a product feed."
    )
    if user["role"] == "admin":
        if st.button("Load the S&P 500 demo dataset", key="ix_load"):
            try:
                task = operations.request_run(
                    "sp500", None, None, None, actor=user["username"], client_ip=gate.client_ip()
                )
                remember_tasks("ix_tasks", task)
            except ValueError as exc:
                st.error(plain(str(exc)))
        watch_tasks(
            "ix_tasks",
            loaders.task,
            lambda task_id: operations.cancel(task_id, actor=user["username"], client_ip=gate.client_ip()),
        )
    else:
        st.caption(
            "Ask an admin to load it (Data health → Run now, or `python -m ingestion load-sample --dataset sp500`)."
        )


def open_saved() -> None:
    """Put a saved definition into the widgets (the URL follows them)."""
    chosen = by_name.get(st.session_state.get("ix_saved") or "")
    if chosen is None:
        return
    d = chosen.definition
    st.session_state.update(
        ix_universe=d.universe,
        ix_tickers=",".join(d.tickers),
        ix_sector=d.sector,
        ix_n=d.top_n or 0,
        ix_weighting=d.weighting,
        ix_cap=round((d.cap or 0.0) * 100, 4),
        ix_rebalance=d.rebalance,
        ix_cost=d.cost_bps,
        ix_start=d.start,
        ix_bench=d.benchmark or "",
        ix_name=chosen.name,
    )


st.selectbox(
    "Saved index", ["", *by_name], key="ix_saved", on_change=open_saved, format_func=lambda n: n or "— a new index —"
)

first_day, last_day = spans["first"].min(), spans["last"].max()
choices = list(UNIVERSES) if loaded else ["tickers"]
row = st.columns([3, 2, 3])
kind = row[0].segmented_control(
    "Universe",
    choices,
    default=choices[0],
    format_func=UNIVERSES.get,
    required=True,
    key="ix_universe",
    bind="query-params",
)
kind = kind if kind in choices else choices[0]
tickers_text, sector = "", None
if kind == "tickers":
    tickers_text = row[1].text_input(
        "Tickers", value="AAPL,MSFT,NVDA,AMZN,GOOGL", key="ix_tickers", bind="query-params"
    )
elif kind == "sector":
    known_sectors = load_or_stop("sectors", lambda: index_loaders.sectors(version))
    sector = row[1].selectbox("GICS sector", known_sectors, key="ix_sector", bind="query-params")
n_label = "N (largest by market cap)" if kind == "top_n" else "Top N only (0: all)"
top_n = row[2].number_input(
    n_label, min_value=0, max_value=MAX_TICKERS, value=SIZE if kind == "top_n" else 0, step=10, key="ix_n"
)

row = st.columns([2, 2, 3, 2, 2, 2])
weighting = row[0].segmented_control(
    "Weighting", ["equal", "cap"], default="equal", required=True, key="ix_weighting", bind="query-params"
)
cap_pct = row[1].number_input("Cap per name % (0: none)", 0.0, 100.0, 0.0, step=1.0, key="ix_cap")
rebalance = row[2].selectbox(
    "Rebalance", list(REBALANCES), format_func=REBALANCES.get, key="ix_rebalance", bind="query-params"
)
cost = row[3].number_input("Cost, bps per side", 0.0, 100.0, 5.0, step=1.0, key="ix_cost")
start = row[4].date_input(
    "From", value=first_day, min_value=first_day, max_value=last_day, key="ix_start", bind="query-params"
)
bench_text = row[5].text_input("Benchmark", value="SPY", key="ix_bench", bind="query-params")

try:
    definition = IndexDefinition(
        universe=kind,
        tickers=tuple(market.split_symbols(tickers_text)) if kind == "tickers" else (),
        sector=sector,
        top_n=int(top_n) if top_n or kind == "top_n" else None,
        weighting=weighting or "equal",
        cap=cap_pct / 100.0 if cap_pct else None,
        rebalance=rebalance or "SPX",
        cost_bps=float(cost or 0.0),
        start=start if isinstance(start, date) else None,
        benchmark=(market.split_symbols(bench_text) or [""])[0] or None,
    ).check()
except ValueError as exc:
    st.error(plain(str(exc)))
    st.stop()


def computed(d: IndexDefinition) -> IndexResult | None:
    """The index built now (cached per data version); None after showing why it cannot be built."""
    try:
        return load_or_stop("the index", lambda: index_loaders.index_result(version, index_loaders.key(d)))
    except ValueError as exc:
        st.error(plain(f"This index cannot be built: {exc}"))
        return None


# A saved index, unchanged in the widgets, is shown from the levels the worker stored: nothing is recomputed
# unless its composition, changes or turnover are asked for.
opened = by_name.get(st.session_state.get("ix_saved") or "")
stored = pd.DataFrame()
if opened is not None and opened.definition == definition and opened.levels_computed_at is not None:
    stored = load_or_stop(
        "the stored levels",
        lambda: index_loaders.stored_levels(version, opened.id, opened.levels_computed_at.isoformat()),
    )
result: IndexResult | None = None
if stored.empty:
    result = computed(definition)
    if result is None:
        st.stop()
    levels, gross = result.levels, result.gross_levels
else:
    levels, gross = stored["level_net"], stored["level_gross"]
    st.caption(
        plain(f"Levels of “{opened.name}” as the worker stored them at {opened.levels_computed_at:%Y-%m-%d %H:%M} UTC.")
    )
benchmark = None
first_level, last_level = levels.index[0].date(), levels.index[-1].date()
if definition.benchmark:
    if definition.benchmark in spans.index:
        closes = load_or_stop(
            "the benchmark",
            lambda: loaders.adjusted_closes(
                version, [definition.benchmark], levels.index[0].date(), levels.index[-1].date()
            ),
        )
        if definition.benchmark in closes:
            benchmark = closes[definition.benchmark]
    else:
        st.warning(plain(f"No stored prices for the benchmark {definition.benchmark}; shown without it."))

# -- headline and chart ---------------------------------------------------------------------------------------
perf = index_loaders.performance(levels, gross, benchmark)
net = perf.iloc[0]
cols = st.columns(6)
pct = formatting.format_percent
cols[0].metric(
    "Level (net)",
    formatting.format_number(levels.iloc[-1]),
    f"{pct(net['total_return'], signed=True)} since {levels.index[0]:%Y-%m-%d}",
)
cols[1].metric("CAGR", pct(net["cagr"]))
cols[2].metric("Volatility", pct(net["volatility"]))
cols[3].metric("Sharpe", formatting.format_number(net["sharpe"]))
cols[4].metric("Max drawdown", pct(net["max_drawdown"]))
cols[5].metric("Cost drag", pct(cost_drag(levels, gross)), "net vs gross", delta_color="off")

lines = index_loaders.chart_lines(levels, gross, benchmark, definition.benchmark or "")
compare_other = st.toggle(
    f"Compare with {'cap' if definition.weighting == 'equal' else 'equal'} weighting", key="ix_other"
)
if compare_other:
    other = index_loaders.other_weighting(definition)
    try:
        other_result = index_loaders.index_result(version, index_loaders.key(other.check()))
        lines[f"{other.weighting.capitalize()} weight (net)"] = other_result.levels
    except ValueError as exc:
        st.warning(plain(f"The other weighting cannot be built: {exc}"))
st.plotly_chart(figures.lines_figure(pd.DataFrame(lines), "Index level", "Level", height=380))

PERF_PERCENT = ("total_return", "cagr", "volatility", "max_drawdown", "var_95", "cvar_95", "alpha")
st.dataframe(
    formatting.styled(perf, percent=PERF_PERCENT, signed=("total_return", "cagr", "alpha")),
    hide_index=True,
    width="stretch",
    column_config={
        "series": st.column_config.TextColumn("Series", pinned=True),
        **{c: st.column_config.NumberColumn(c.replace("_", " ").capitalize()) for c in PERF_PERCENT},
    },
)
if result is None and st.toggle("Composition, changes and turnover (computed on demand)", key="ix_detail"):
    result = computed(definition)
if result is None:
    st.stop()
notes = list(result.notes)
if definition.top_n or definition.weighting == "cap":
    notes.append(
        "Market caps: the latest share count published on or before each reference date (filing date, never the "
        "quarter end) times the close as traded where stored (to 2024-09-10), else the adjusted close, which is a "
        "few percent low for past dates (later dividends)."
    )
if definition.universe != "tickers":
    notes.append(
        "Survivorship: the universe is today's S&P 500 constituents plus the former members the demo dataset "
        "has prices for; companies that left the index earlier are missing."
    )
for note in notes:
    st.caption(plain(note))

# -- composition, changes, turnover ---------------------------------------------------------------------------
tabs = st.tabs(["Composition", "Changes", "Turnover and costs"], key="ix_tab", on_change="rerun", bind="query-params")
on = levels.index[-1].date()
if tabs[0].open:
    with tabs[0]:
        on = st.date_input(
            "Composition on",
            value=levels.index[-1].date(),
            min_value=levels.index[0].date(),
            max_value=levels.index[-1].date(),
            key="ix_on",
        )
        members = result.composition(on)
        st.caption(f"{len(members)} members at the close of {members['date'].iloc[0]:%Y-%m-%d}" if len(members) else "")
        st.dataframe(
            formatting.styled(members.reset_index().drop(columns=["date"]), percent=["weight"]),
            hide_index=True,
            width="stretch",
            column_config={
                "weight": st.column_config.NumberColumn("Weight"),
                "value": st.column_config.NumberColumn("Ranked on", format="compact"),
            },
        )
if tabs[1].open:
    with tabs[1]:
        st.dataframe(formatting.styled(result.changes), hide_index=True, width="stretch")
if tabs[2].open:
    with tabs[2]:
        table = index_loaders.turnover_table(result)
        st.caption(
            f"One-way turnover {result.annual_turnover:.0%} a year (the initial construction left out); "
            f"{len(result.rebalance_dates)} rebalances; cost {definition.cost_bps:g} bps per side on traded notional."
        )
        st.dataframe(
            formatting.styled(table, percent=["turnover"]),
            hide_index=True,
            width="stretch",
            column_config={
                "turnover": st.column_config.NumberColumn("One-way turnover"),
                "cost": st.column_config.NumberColumn("Cost (of the level)", format="%.4f%%"),
            },
        )

# -- exports ---------------------------------------------------------------------------------------------------
params = {
    "index": st.session_state.get("ix_name") or "unsaved",
    "definition": index_loaders.key(definition),
    "as_of": f"{levels.index[-1]:%Y-%m-%d}",
    "composition_on": str(on),
    "source": ", ".join(info.get("sources", [])) or "unknown",
    "levels": f"base {definition.base:g}, net and gross of {definition.cost_bps:g} bps per side",
}


audit = {"page": "index", "index": params["index"], "as_of": params["as_of"]}
record = {
    kind: gate.recorder("export", {**audit, "format": kind})
    for kind in ("levels", "composition", "changes", "json", "xlsx")
}


def export(kind: str):  # noqa: ANN201 - a callable download_button builds on click (and audits then)
    return exports.audited(
        lambda: index_loaders.export_file(kind, index_loaders.export_tables(result, on), params),
        record[kind.split(":")[-1]],
    )


stem = f"market-desk_index_{params['as_of']}"
cols = st.columns([1, 1, 1, 1, 1, 1, 2])
for col, (label, kind_, file_name, mime) in zip(
    cols,
    [
        ("Levels CSV", "csv:levels", f"{stem}_levels.csv", exports.CSV_MIME),
        ("Members CSV", "csv:composition", f"{stem}_members_{on}.csv", exports.CSV_MIME),
        ("Changes CSV", "csv:changes", f"{stem}_changes.csv", exports.CSV_MIME),
        ("JSON", "json", f"{stem}.json", exports.JSON_MIME),
        ("XLSX", "xlsx", f"{stem}.xlsx", exports.XLSX_MIME),
    ],
    strict=False,
):
    col.download_button(
        label,
        exports.shared(export(kind_), file_name, mime),
        file_name=file_name,
        mime=mime,
        on_click="ignore",
        key=f"ix_{kind_}",
    )
cols[5].download_button(
    "Parameters",
    exports.shared(lambda: exports.params_json(params), exports.sidecar_name(f"{stem}.csv"), exports.JSON_MIME),
    file_name=exports.sidecar_name(f"{stem}.csv"),
    mime=exports.JSON_MIME,
    on_click="ignore",
    key="ix_params",
)
cols[6].caption(exports.SIDECAR_NOTE)

# -- save -----------------------------------------------------------------------------------------------------
with st.expander("Save this index", expanded=False):
    name = st.text_input("Name", key="ix_name", max_chars=64)
    left, right = st.columns(2)
    if left.button("Save", key="ix_save"):
        try:
            stored = index_loaders.save_index(user["username"], name, definition)
        except ValueError as exc:
            st.error(plain(str(exc)))
        else:
            st.success(plain(f"Saved “{stored.name}”. The worker stores its daily levels after each prices run."))
    if name in by_name and right.button(f"Delete “{name}”", key="ix_delete"):
        index_loaders.delete_index(user["username"], name)
        st.success(plain(f"Deleted “{name}”."))
    chosen = by_name.get(name or "")
    if chosen is not None:
        when = chosen.levels_computed_at
        st.caption(
            plain(f"Stored levels computed {when:%Y-%m-%d %H:%M} UTC" if when else "Stored levels: not computed yet")
            + (plain(f" · last attempt failed: {chosen.levels_error}") if chosen.levels_error else "")
        )
