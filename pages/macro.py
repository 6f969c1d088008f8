"""Macro: FRED series with FRED's units and frequencies, the yield curve and its inversions, stock vs macro."""

from datetime import date

import pandas as pd
import streamlit as st

from analytics import macro
from analytics.macro import AGGREGATION_FREQUENCIES, TENOR_SERIES, UNITS
from dashboard.access import gate, operations
from dashboard.ui import loaders, macro_figures
from dashboard.ui.components import load_or_stop, remember_tasks, watch_tasks
from dashboard.ui.text import plain
from store import clock

user = gate.require_login()
is_admin = user["role"] == "admin"
MACRO_TASKS = "macro_tasks"

FREQUENCY_NAMES = {None: "As stored", "W": "Weekly (ending Friday)", "M": "Monthly", "Q": "Quarterly", "A": "Annual"}
METHOD_NAMES = {"avg": "Average", "eop": "End of period", "sum": "Sum"}
SOURCE_NAMES = {"sample": "FRED (bundled sample)", "fred": "FRED"}


def show_metadata(info: dict) -> None:
    """The facts FRED publishes with a series, beside its chart."""
    updated = info.get("last_updated")
    updated_text = "not recorded" if updated is None or pd.isna(updated) else f"{pd.Timestamp(updated):%Y-%m-%d %H:%M}"
    first, last = info.get("first_date"), info.get("last_date")
    stored = f"{first:%Y-%m-%d} → {last:%Y-%m-%d}" if first is not None and not pd.isna(first) else "none yet"
    # Titles and units come from the provider: shown as text, whatever they contain.
    st.markdown(
        f"**{plain(info['series_id'])}** · {plain(info['title'])}  \n"
        f"Units: {plain(info['units'] or 'pending')}  \n"
        f"Frequency: {plain(info['frequency'] or 'pending')}  \n"
        f"Seasonal adjustment: {plain(info.get('seasonal_adjustment') or 'not stated')}  \n"
        f"Last updated: {updated_text}  \n"
        f"Source: {plain(SOURCE_NAMES.get(info['source'], info['source']))}  \n"
        f"Stored: {stored}"
    )


st.title("Macro")
version = load_or_stop("the data version", loaders.data_version)
catalog = load_or_stop("the macro series", lambda: loaders.series_catalog(version))
if catalog.empty:
    st.warning("No macro series stored yet. Run `python -m ingestion load-sample` or start an ingestion run.")
    st.stop()
ids = catalog["series_id"].tolist()
latest = pd.to_datetime(catalog["last_date"]).max()
latest_day = latest.date() if not pd.isna(latest) else clock.new_york_today()
recessions = None
if "USREC" in ids:
    usrec = load_or_stop("recession dates", lambda: loaders.observations(version, "USREC"))
    recessions = macro.recession_periods(usrec)

series_tab, curve_tab, stock_tab = st.tabs(["Series", "Yield curve", "Stock vs macro"])

with series_tab:
    search = st.text_input("Search stored series by id or title", key="macro_search", placeholder="e.g. treasury")
    found = macro.search_catalog(catalog, search)
    if found.empty:
        st.info(f"No stored series matches {plain(repr(search.strip()))}.")
    else:
        st.dataframe(
            found[["series_id", "title", "units", "frequency", "observations", "first_date", "last_date"]],
            hide_index=True,
            width="stretch",
            height=min(38 * (len(found) + 1), 320),
            column_config={
                "series_id": "Id",
                "title": "Title",
                "units": "Units",
                "frequency": "Frequency",
                "observations": st.column_config.NumberColumn("Values", format="%d"),
                "first_date": st.column_config.DateColumn("From"),
                "last_date": st.column_config.DateColumn("To"),
            },
        )

    with st.expander("Add a FRED series to the universe", expanded=False):
        if is_admin:
            with st.form("macro_add", clear_on_submit=True):
                new_id = st.text_input("FRED series id", key="macro_add_id", placeholder="e.g. DGS30")
                fetch_now = st.checkbox("Fetch it now (queued for the ingestion worker)", True, key="macro_fetch_now")
                submitted = st.form_submit_button("Add series", key="macro_add_submit")
            if submitted:
                try:
                    result = load_or_stop(
                        "the macro universe",
                        lambda: operations.change_universe(
                            "series", new_id, "add", actor=user["username"], client_ip=gate.client_ip()
                        ),
                    )
                except ValueError as exc:
                    st.error(plain(exc))
                else:
                    (st.success if result.changed else st.info)(plain(result.message))
                    loaders.series_catalog.clear()
                    if fetch_now:
                        tasks = load_or_stop(
                            "the queue",
                            lambda: operations.fetch_history(
                                "series", result.id, actor=user["username"], client_ip=gate.client_ip()
                            ),
                        )
                        remember_tasks(MACRO_TASKS, *tasks)
            watch_tasks(
                MACRO_TASKS,
                loaders.task,
                lambda task_id: operations.cancel(task_id, actor=user["username"], client_ip=gate.client_ip()),
            )
        else:
            st.info("Only an admin can add a series to the universe.")

    st.subheader("Chart")
    default_ids = [s for s in ("UNRATE", "FEDFUNDS") if s in ids] or ids[:1]
    chosen = st.multiselect(
        "Series (type a stored id or pick one)",
        ids,
        default=default_ids,
        key="macro_series",
        accept_new_options=True,
        max_selections=6,
    )
    c1, c2, c3, c4 = st.columns(4)
    units_code = c1.selectbox("Units", list(UNITS), format_func=UNITS.get, key="macro_units")
    frequency = c2.selectbox(
        "Frequency", [None, *AGGREGATION_FREQUENCIES], format_func=FREQUENCY_NAMES.get, key="macro_frequency"
    )
    how = c3.selectbox(
        "Aggregation", list(METHOD_NAMES), format_func=METHOD_NAMES.get, key="macro_how", disabled=frequency is None
    )
    shade = c4.toggle("Recessions (NBER)", value=recessions is not None, key="macro_shade")
    d1, d2 = st.columns(2)
    start = d1.date_input("From", value=date(latest_day.year - 10, 1, 1), min_value=date(1900, 1, 1), key="macro_start")
    end = d2.date_input("To", value=latest_day, min_value=date(1900, 1, 1), key="macro_end")

    lines: dict[str, pd.Series] = {}
    axis_units: dict[str, str] = {}
    infos: list[dict] = []
    if start > end:
        st.error("'From' must be on or before 'To'.")
    for raw_id in chosen if start <= end else []:
        series_id = raw_id.strip().upper()
        try:
            info = macro.series_info(catalog, series_id)
        except macro.UnknownSeries as exc:
            hint = " Add it under “Add a FRED series to the universe”." if is_admin else ""
            st.error(f"{plain(exc)}{hint}")
            continue
        try:
            values, notes = load_or_stop(
                f"{series_id}",
                lambda info=info: loaders.chart_series(
                    version, info["series_id"], units_code, start, end, frequency, how, info["frequency"]
                ),
            )
        except ValueError as exc:
            st.warning(plain(f"{series_id} cannot be shown this way: {exc}"))
            continue
        for note in notes:
            st.info(plain(note))
        if values.empty:
            continue
        infos.append(info)
        lines[series_id] = values
        axis_units[series_id] = macro_figures.transformed_units(info["units"], units_code)

    kinds = list(dict.fromkeys(axis_units.values()))
    if len(kinds) > macro_figures.MAX_AXES:
        left_out = [s for s in lines if axis_units[s] not in kinds[: macro_figures.MAX_AXES]]
        st.warning(plain(f"One chart holds two kinds of units; left out: {', '.join(left_out)}."))
        lines = {s: v for s, v in lines.items() if s not in left_out}
        infos = [i for i in infos if i["series_id"] not in left_out]
    if lines:
        chart, meta = st.columns([3, 1])
        with chart:
            st.plotly_chart(
                macro_figures.series_figure(lines, axis_units, recessions if shade else None),
                key="macro_chart",
                width="stretch",
            )
            export = pd.DataFrame(lines)
            export.columns = [f"{s} ({axis_units[s]})" for s in export.columns]
            record_export = gate.recorder("export", {"page": "macro", "series": list(lines), "units": units_code})

            def macro_csv(frame=export, record=record_export) -> bytes:
                """Built when clicked, not on every rerun; audited then."""
                record()
                return frame.to_csv(index_label="date").encode()

            st.download_button(
                "Download CSV",
                macro_csv,
                file_name=f"macro_{'_'.join(lines)}_{units_code}.csv",
                mime="text/csv",
                key="macro_download",
                on_click="ignore",
            )
            if shade and recessions is not None:
                st.caption("Grey bands: NBER recessions (USREC).")
        with meta:
            for info in infos:
                show_metadata(info)
    elif chosen and start <= end:
        st.info("Nothing to chart for this selection.")

with curve_tab:
    curves = load_or_stop("Treasury yields", lambda: loaders.yield_curves(version))
    tenor_ids = [s for s in TENOR_SERIES if s in ids]
    if curves.empty:
        st.info("No Treasury constant-maturity yields (DGS1MO … DGS30) are stored.")
    else:
        chart, meta = st.columns([3, 1])
        with chart:
            st.plotly_chart(macro_figures.yield_curve_figure(curves), key="macro_curve", width="stretch")
            st.dataframe(curves.T, width="stretch")
            st.caption(
                "Latest: the last date on which every stored tenor has a value. Earlier curves use each tenor's "
                "last value on or before that date (at most 10 days old)."
            )
        with meta:
            for series_id in tenor_ids:
                show_metadata(macro.series_info(catalog, series_id))

    st.subheader("Spreads and inversions")
    since = st.date_input("History from", value=date(2000, 1, 1), min_value=date(1900, 1, 1), key="macro_spread_start")
    spread = load_or_stop("yield spreads", lambda: loaders.spreads(version, since))
    if not spread:
        st.info("The spreads need DGS10 with DGS2 (or T10Y2Y) and DGS3MO.")
    else:
        chart, meta = st.columns([3, 1])
        with chart:
            st.plotly_chart(macro_figures.spread_figure(spread, recessions), key="macro_spreads", width="stretch")
            inversions = macro.inversion_table(spread)
            st.markdown(f"**Inversions** (spread below zero) since {since:%Y-%m-%d}: {len(inversions)}")
            st.dataframe(
                inversions,
                hide_index=True,
                width="stretch",
                column_config={
                    "spread": "Spread",
                    "start": st.column_config.DateColumn("Start"),
                    "end": st.column_config.DateColumn("End"),
                    "n_obs": st.column_config.NumberColumn("Days", format="%d"),
                    "min_spread": st.column_config.NumberColumn("Lowest (pp)", format="%.2f"),
                },
            )
        with meta:
            if "T10Y2Y" in ids:
                show_metadata(macro.series_info(catalog, "T10Y2Y"))
            st.caption("10Y-3M is DGS10 minus DGS3MO on the dates both are published.")

with stock_tab:
    names = load_or_stop("instruments", lambda: loaders.instruments(version))
    symbols = names["symbol"].tolist()
    daily_ids = [
        s for s, f in zip(catalog["series_id"], catalog["frequency"], strict=True) if macro.frequency_code(f) == "D"
    ]
    if not symbols or not daily_ids:
        st.info("This needs stored prices and at least one daily macro series.")
    else:
        c1, c2, c3 = st.columns(3)
        symbol = c1.selectbox(
            "Ticker", symbols, index=symbols.index("SPY") if "SPY" in symbols else 0, key="beta_symbol"
        )
        series_id = c2.selectbox(
            "Macro series (daily)",
            daily_ids,
            index=daily_ids.index("DGS10") if "DGS10" in daily_ids else 0,
            key="beta_series",
        )
        window = int(c3.number_input("Window (days)", min_value=5, max_value=756, value=63, step=1, key="beta_window"))
        stats = load_or_stop("the rolling beta", lambda: loaders.macro_beta(version, symbol, series_id, window))
        valid = stats.dropna()
        if valid.empty:
            st.warning(f"{symbol} and {series_id} have fewer than {window} days in common; try a shorter window.")
        else:
            last = valid.iloc[-1]
            unit = macro.change_unit(series_id, macro.series_info(catalog, series_id).get("units"))
            m1, m2, m3 = st.columns(3)
            m1.metric(
                "Correlation", f"{last['correlation']:.2f}", help=f"Last {window} days to {valid.index[-1]:%Y-%m-%d}"
            )
            m2.metric("Beta", f"{last['beta']:.4f}", help=f"Daily return of {symbol} per {unit}")
            m3.metric("Days in common", f"{len(stats)}")
            chart, meta = st.columns([3, 1])
            with chart:
                figure = macro_figures.beta_figure(stats, symbol, series_id, unit)
                st.plotly_chart(figure, key="macro_beta", width="stretch")
                st.caption(
                    plain(
                        f"Returns of {symbol} (adjusted closes) against daily changes in {series_id}, both from the "
                        f"previous business day, over a rolling window of {window} common days. Beta is the daily "
                        f"return (0.01 = 1%) per {unit}."
                    )
                )
            with meta:
                show_metadata(macro.series_info(catalog, series_id))
