"""Options: a stored session's chain with our IV and greeks (calls and puts side by side), the IV smile, the ATM term
structure, open interest by strike, and the delta-targeted contract series with its roll points; CSV and XLSX."""

from datetime import date

import pandas as pd
import streamlit as st

from dashboard.access import gate, operations
from dashboard.ui import exports, formatting, loaders, shared_figures
from dashboard.ui import options_figures as figs
from dashboard.ui import options_loaders as ol
from dashboard.ui.components import data_header, drop_unbounded_numbers, load_or_stop, remember_tasks, watch_tasks
from dashboard.ui.text import plain

user = gate.require_login()
version, info = data_header("Options")

DEMO_JOB = "options-demo"  # the queued load of the bundled option-chain demo
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KINDS = {"C": "Call", "P": "Put"}


def day(value: date) -> str:
    return f"{value:%Y-%m-%d}"


stored = load_or_stop("the stored option chains", lambda: ol.underlyings(version))
if stored.empty:
    st.info(
        plain(
            f"No option chains are stored yet. The bundled demo is {operations.DEMO_LOADS[DEMO_JOB]}: calls only (no "
            "puts) and no bid/ask, so every price is a last trade; sessions 2026-05-22 to 2026-08-21. Demo data, not a "
            "product feed."
        )
    )
    if user["role"] == "admin":
        if st.button("Load the option-chain demo", key="op_load"):
            try:
                task = operations.request_run(
                    DEMO_JOB, None, None, None, actor=user["username"], client_ip=gate.client_ip()
                )
                remember_tasks("op_tasks", task)
            except ValueError as exc:
                st.error(plain(str(exc)))
        watch_tasks(
            "op_tasks",
            loaders.task,
            lambda task_id: operations.cancel(task_id, actor=user["username"], client_ip=gate.client_ip()),
        )
    else:
        st.caption(
            "Ask an admin to load it (Data health → Run now, or `python -m ingestion load-sample --dataset options`)."
        )
    st.stop()

# -- what to show: every choice is bound to the URL, so a copied link reproduces the view ------------------------
symbols = stored["symbol"].tolist()
row = st.columns([2, 2, 2, 2])
symbol = row[0].selectbox(
    "Underlying",
    symbols,
    index=symbols.index("SPY") if "SPY" in symbols else 0,
    key="op_symbol",
    bind="query-params",
)
symbol = symbol or symbols[0]
days = load_or_stop("the stored sessions", lambda: ol.sessions(version, symbol))
latest = load_or_stop("the stored sessions", lambda: ol.default_session(version, symbol))
session = row[1].selectbox(
    "Session",
    days,
    index=days.index(latest) if latest in days else len(days) - 1,
    format_func=day,
    key="op_session",
    bind="query-params",
    help="Default: the last session whose chain carries an underlying close.",
)
session = session or days[-1]
found = load_or_stop("the chain", lambda: ol.session_chain(version, symbol, session))
view = (version, symbol, session)  # what every figure of the chain depends on; each adds its own choices (key)
expiry_table = ol.expiries(found.chain)
expirations = expiry_table["expiration"].tolist()
default_expiry = ol.default_expiry(expiry_table)
expiry = row[2].selectbox(
    "Expiry (chain table)",
    expirations,
    index=expirations.index(default_expiry) if default_expiry in expirations else 0,
    format_func=day,
    key="op_expiry",
    bind="query-params",
)
all_strikes = row[3].toggle(
    "All strikes",
    value=False,
    key="op_all",
    bind="query-params",
    help=f"Off: the {ol.STRIKES_EACH_SIDE} strikes each side of the underlying price in the table, strikes within "
    f"±{ol.CHART_MONEYNESS:.0%} of it in the charts.",
)
st.caption(plain(ol.pricing_caption(found)) + " " + plain(ol.PRICING_NOTE))
spot = found.spot
has_puts = bool((found.chain["type"] == "P").any()) if not found.chain.empty else False
if pd.isna(spot):
    st.warning(
        plain(f"No {symbol} close is stored with the chain of {day(session)}: no IV or greek can be computed for it.")
    )
if expiry is None:
    st.info(plain(f"No contract of {symbol} is stored for {day(session)}."))
    st.stop()

# -- the chain --------------------------------------------------------------------------------------------------
dte = int(expiry_table.loc[expiry_table["expiration"] == expiry, "dte"].iloc[0])
st.subheader(f"Chain expiring {day(expiry)} ({dte} days)")
if not has_puts:
    st.caption(plain(f"Puts are not in the stored data for {symbol} (the demo dataset holds calls only)."))
table = ol.chain_table(found.chain, expiry, spot, all_strikes=bool(all_strikes))


def side_columns(word: str) -> dict:
    label = word.capitalize()
    return {
        f"{word}_price_used": st.column_config.NumberColumn(
            f"{label} price", format="dollar", help="The mid of a two-sided quote, else the last trade"
        ),
        f"{word}_price_basis": st.column_config.TextColumn(f"{label} basis"),
        f"{word}_iv": st.column_config.NumberColumn(f"{label} IV", help="Our implied volatility"),
        f"{word}_delta": st.column_config.NumberColumn(f"{label} delta", format="%.3f"),
        f"{word}_gamma": st.column_config.NumberColumn(
            f"{label} gamma", format="%.4f", help="Per $1 of the underlying"
        ),
        f"{word}_vega": st.column_config.NumberColumn(f"{label} vega", format="%.3f", help="Per volatility point"),
        f"{word}_theta": st.column_config.NumberColumn(f"{label} theta", format="%.3f", help="Per calendar day"),
        f"{word}_volume": st.column_config.NumberColumn(f"{label} volume", format="%d"),
        f"{word}_open_interest": st.column_config.NumberColumn(f"{label} OI", format="%d"),
        f"{word}_reason": st.column_config.TextColumn(f"{label}: why no IV"),
    }


# Percentages' text from formatting.styled (a column_config format would win over it); the rest keep theirs.
st.dataframe(
    formatting.styled(table, percent=["call_iv", "put_iv", "moneyness"], signed=["moneyness"]),
    hide_index=True,
    width="stretch",
    height=min(38 + 35 * len(table), 600),
    column_config={
        **side_columns("call"),
        "strike": st.column_config.NumberColumn("Strike", format="%.2f"),
        "moneyness": st.column_config.NumberColumn("Strike/spot - 1"),
        **side_columns("put"),
    },
    key="op_chain",
)
for word, reasons in ol.no_iv_reasons(found.chain, expiry).items():
    listed = "; ".join(f"{reason} ({count})" for reason, count in reasons.items())
    st.caption(plain(f"No IV for {sum(reasons.values())} {word}s of this expiry: {listed}."))
oi_rows = ol.open_interest_rows(found.chain, expiry, spot, all_strikes=bool(all_strikes))
if oi_rows["open_interest"].notna().any():
    oi_figure = shared_figures.figure(
        view, (expiry, bool(all_strikes)), figs.open_interest_figure, oi_rows, spot, symbol, expiry
    )
    st.plotly_chart(oi_figure, key="op_oi_chart")

# -- volatility: the smile and the ATM term structure -------------------------------------------------------------
st.subheader("Implied volatility")
smile_defaults = ol.smile_defaults(expiry_table)
chosen = st.multiselect(
    "Smile expiries (up to 4)",
    [e for e, d in zip(expirations, expiry_table["dte"], strict=True) if d > 0],
    default=smile_defaults,
    max_selections=4,
    format_func=day,
    key="op_smile",
    bind="query-params",
    placeholder="The expiries nearest a week, a month and two months out",
)
left, right = st.columns(2)
traded_only = left.toggle(
    "Only contracts traded that session",
    value=True,
    key="op_traded",
    bind="query-params",
    help="A contract with no volume that session is priced off a stale last trade: its IV is noise.",
)
smile = ol.smile_rows(found.chain, chosen or smile_defaults, spot, bool(all_strikes), bool(traded_only))
if smile.empty:
    left.info(
        plain(
            f"No {symbol} contract of these expiries has an IV to draw"
            + (" among those traded." if traded_only else ".")
        )
    )
else:
    smile_key = (tuple(chosen or smile_defaults), bool(all_strikes), bool(traded_only))
    left.plotly_chart(
        shared_figures.figure(view, smile_key, figs.smile_figure, smile, spot, symbol), key="op_smile_chart"
    )
first_session = days[0]
compare_first = right.toggle(
    f"Compare with the first stored session ({day(first_session)})",
    value=False,
    key="op_first",
    bind="query-params",
    disabled=first_session == session,
)
atm = [load_or_stop("ATM volatilities", lambda: ol.atm_iv(version, symbol, session))]
if compare_first and first_session != session:
    atm.append(load_or_stop("ATM volatilities", lambda: ol.atm_iv(version, symbol, first_session)))
compared = first_session if len(atm) > 1 else None
term = shared_figures.figure(view, (compared,), figs.term_structure_figure, pd.concat(atm, ignore_index=True), symbol)
right.plotly_chart(term, key="op_term_chart")
right.caption("ATM IV: our IV interpolated in strike at the underlying close, per expiry.")

# -- the delta-targeted series ------------------------------------------------------------------------------------
st.subheader("Delta-targeted series")
st.caption(
    plain(
        f"One {symbol} contract followed through every stored session: picked nearest the target |delta| on the "
        "expiry nearest the chosen months out (within the window of days), kept until its days to expiry reach the "
        "roll DTE or its |delta| leaves the band, then replaced. The delta is ours, from our IV of each strike."
    )
)
D = ol.DEFAULTS
drop_unbounded_numbers("op_months", "op_window", "op_roll")  # integer inputs: Streamlit raises on ?op_months=inf
cols = st.columns(7)
kind = cols[0].segmented_control(
    "Type", list(KINDS), default=D.kind, format_func=KINDS.get, required=True, key="op_kind", bind="query-params"
)
target = cols[1].number_input(
    "Target |delta|", 0.01, 0.99, D.target_delta, step=0.01, format="%.2f", key="op_delta", bind="query-params"
)
months = cols[2].number_input("Months out", 1, 24, D.months, step=1, key="op_months", bind="query-params")
window = cols[3].number_input("Window (days)", 0, 90, D.window_days, step=1, key="op_window", bind="query-params")
roll = cols[4].number_input("Roll at DTE", 0, 365, D.roll_dte, step=1, key="op_roll", bind="query-params")
band_low = cols[5].number_input(
    "Band low |delta|", 0.0, 1.0, D.band_low, step=0.01, format="%.2f", key="op_band_lo", bind="query-params"
)
band_high = cols[6].number_input(
    "Band high |delta|", 0.0, 1.0, D.band_high, step=0.01, format="%.2f", key="op_band_hi", bind="query-params"
)
# An empty parameter in a link (?op_delta=) clears a bound widget: use the defaults.
params = ol.SeriesParams(
    underlying=symbol,
    kind=kind or D.kind,
    target_delta=float(target if target is not None else D.target_delta),
    months=int(months if months is not None else D.months),
    window_days=int(window if window is not None else D.window_days),
    roll_dte=int(roll if roll is not None else D.roll_dte),
    band_low=float(band_low if band_low is not None else D.band_low),
    band_high=float(band_high if band_high is not None else D.band_high),
)
try:
    series = load_or_stop("the series", lambda: ol.contract_series(version, params))
except ValueError as exc:  # the analytics name the bad parameter (band order, target outside the band ...)
    st.error(plain(f"These series parameters cannot be used: {exc}"))
    st.stop()
word = KINDS[params.kind].lower()
if series.empty:
    st.info(plain(f"No {word}s of {symbol} are stored, so there is no series to follow."))
    st.stop()

st.plotly_chart(
    shared_figures.figure((version,), (params,), figs.series_figure, series, symbol, params.kind), key="op_series_chart"
)
summary = ol.series_summary(series)
reasons = ", ".join(f"{n} {r}" for r, n in summary.change_reasons.items())
st.caption(
    plain(
        f"{summary.changes} contract changes over {summary.sessions} sessions"
        + (f" ({reasons})" if reasons else "")
        + ". Sessions without a contract: "
        + (", ".join(f"{n} ({r})" for r, n in summary.without_contract.items()) or "none")
        + f". Flags: zero volume on {summary.flags['zero_volume']} sessions, no usable price on "
        f"{summary.flags['no_price']}, the source's delta more than 0.05 from ours on "
        f"{summary.flags['delta_mismatch']}."
    )
)
st.dataframe(
    formatting.styled(ol.series_table(series), percent=ol.SERIES_PERCENT),
    hide_index=True,
    width="stretch",
    column_config={
        "session_date": st.column_config.DateColumn("Session", format="YYYY-MM-DD", pinned=True),
        "underlying_close": st.column_config.NumberColumn("Close", format="dollar"),
        "contract": st.column_config.TextColumn("Contract"),
        "expiration": st.column_config.DateColumn("Expires", format="YYYY-MM-DD"),
        "strike": st.column_config.NumberColumn("Strike", format="dollar"),
        "type": None,
        "dte": st.column_config.NumberColumn("DTE", format="%d"),
        "price_used": st.column_config.NumberColumn("Price", format="dollar"),
        "price_basis": st.column_config.TextColumn("Basis"),
        "iv": st.column_config.NumberColumn("IV"),
        "delta": st.column_config.NumberColumn("Delta (ours)", format="%.3f"),
        "source_delta": st.column_config.NumberColumn("Delta (source)", format="%.2f"),
        "volume": st.column_config.NumberColumn("Volume", format="%d"),
        "open_interest": st.column_config.NumberColumn("OI", format="%d"),
        "rate": st.column_config.NumberColumn("Rate"),
        "q": st.column_config.NumberColumn("Div. yield"),
        "changed": st.column_config.CheckboxColumn("Changed"),
        "change_reason": st.column_config.TextColumn("Why changed"),
        "zero_volume": st.column_config.CheckboxColumn("Zero volume"),
        "no_price": st.column_config.CheckboxColumn("No price"),
        "delta_mismatch": st.column_config.CheckboxColumn("Delta mismatch"),
        "iv_reason": st.column_config.TextColumn("Why no IV"),
        "reason": st.column_config.TextColumn("Why no contract"),
    },
    key="op_series_table",
)

# -- exports ------------------------------------------------------------------------------------------------------
export_params = ol.export_parameters(params, str(stored.set_index("symbol").loc[symbol, "sources"] or ""))
stem = f"market-desk_options-series_{symbol}_{params.kind}{params.target_delta:g}"
audit = {"page": "options", "underlying": symbol, **params.describe()}
record = {fmt: gate.recorder("export", {**audit, "format": fmt}) for fmt in ("csv", "xlsx")}


def series_csv() -> bytes:
    record["csv"]()
    return ol.series_csv(series)


def series_xlsx() -> bytes:
    record["xlsx"]()
    return ol.series_xlsx(series, export_params)


cols = st.columns([1, 1, 1, 7])
cols[0].download_button(
    "CSV",
    exports.shared(series_csv, f"{stem}.csv", "text/csv"),
    file_name=f"{stem}.csv",
    mime="text/csv",
    on_click="ignore",
    key="op_csv",
)
cols[1].download_button(
    "Parameters",
    exports.shared(lambda: exports.params_json(export_params), exports.sidecar_name(f"{stem}.csv"), exports.JSON_MIME),
    file_name=exports.sidecar_name(f"{stem}.csv"),
    mime=exports.JSON_MIME,
    on_click="ignore",
    key="op_params",
)
cols[2].download_button(
    "XLSX",
    exports.shared(series_xlsx, f"{stem}.xlsx", XLSX_MIME),
    file_name=f"{stem}.xlsx",
    mime=XLSX_MIME,
    on_click="ignore",
    key="op_xlsx",
)
cols[3].caption(exports.SIDECAR_NOTE + " The options-series command writes the same two files.")
