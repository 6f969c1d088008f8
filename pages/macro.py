"""Macro: FRED series with FRED's units and frequencies, the yield curve and its inversions, stock vs macro."""

from datetime import date

import pandas as pd
import streamlit as st

from analytics import formulas, macro
from analytics.macro import AGGREGATION_FREQUENCIES, TENOR_SERIES, UNITS
from dashboard.access import gate, operations
from dashboard.ui import exports, formatting, loaders, macro_figures, url_state
from dashboard.ui.components import drop_unbounded_numbers, load_or_stop, remember_tasks, watch_tasks
from dashboard.ui.text import plain
from store import clock
from store.settings import get_settings

user = gate.require_login()
is_admin = user["role"] == "admin"
MACRO_TASKS = "macro_tasks"

FREQUENCY_NAMES = {None: "As stored", "W": "Weekly (ending Friday)", "M": "Monthly", "Q": "Quarterly", "A": "Annual"}
METHOD_NAMES = {"avg": "Average", "eop": "End of period", "sum": "Sum"}
SOURCE_NAMES = {"sample": "FRED (bundled sample)", "fred": "FRED"}
AXIS_NAMES = {"auto": "Auto axis", "left": "Left axis", "right": "Right axis"}
# The catalog's sort choices: column and direction (newest and longest first).
SORTS = {
    "Id": ("series_id", True),
    "Title": ("title", True),
    "Last observation": ("last_date", False),
    "Values": ("observations", False),
}


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
# Date inputs are bounded by the stored data, so every stored date can be chosen and none outside it.
span = macro.stored_span(catalog) or (date(1900, 1, 1), clock.new_york_today())
latest_day = span[1]
recessions = None
if "USREC" in ids:
    usrec = load_or_stop("recession dates", lambda: loaders.observations(version, "USREC"))
    recessions = macro.recession_periods(usrec)

# Every control is bound to the URL query string (bind="query-params"), so a copied link reproduces the view.
# On the page's first run in a session the widgets take their values from the link; what they refuse is said.
opening = "macro_series" not in st.session_state
link = url_state.link_values_of(st.query_params, url_state.MACRO_PREFIXES) if opening else {}
taken: dict[str, object] = {}  # widget key -> the value it took, as the URL shows it


def bound(key: str, value: object) -> object:
    """Remember a bound widget's value for the link (selections as their shown names), and return it."""
    taken[key] = value
    return value


TABS = ["Series", "Yield curve", "Stock vs macro"]
series_tab, curve_tab, stock_tab = st.tabs(TABS, key="macro_tab", bind="query-params")
bound("macro_tab", st.session_state.get("macro_tab") or TABS[0])

with series_tab:
    search = st.text_input(
        "Search stored series by id or title",
        key="macro_search",
        placeholder="e.g. treasury",
        bind="query-params",
    )
    sort = st.selectbox("Sort by", list(SORTS), key="macro_sort", bind="query-params")
    bound("macro_search", search)
    bound("macro_sort", sort or "Id")
    found = macro.search_catalog(catalog, search)
    column, ascending = SORTS.get(sort or "Id", SORTS["Id"])
    found = found.sort_values(column, ascending=ascending, kind="stable", na_position="last")
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
        bind="query-params",
    )
    bound("macro_series", chosen)
    c1, c2, c3 = st.columns(3)
    frequency = c1.selectbox(
        "Frequency",
        [None, *AGGREGATION_FREQUENCIES],
        format_func=FREQUENCY_NAMES.get,
        key="macro_frequency",
        bind="query-params",
    )
    how = c2.selectbox(
        "Aggregation",
        list(METHOD_NAMES),
        format_func=METHOD_NAMES.get,
        key="macro_how",
        disabled=frequency is None,
        bind="query-params",
    )
    shade = c3.toggle("Recessions (NBER)", value=recessions is not None, key="macro_shade", bind="query-params")
    d1, d2 = st.columns(2)
    start = d1.date_input(
        "From",
        value=macro.clamp_date(date(latest_day.year - 10, 1, 1), span),
        min_value=span[0],
        max_value=span[1],
        key="macro_start",
        bind="query-params",
    )
    end = d2.date_input(
        "To", value=latest_day, min_value=span[0], max_value=span[1], key="macro_end", bind="query-params"
    )
    bound("macro_frequency", FREQUENCY_NAMES[frequency])
    bound("macro_how", METHOD_NAMES.get(how or "avg"))
    bound("macro_shade", bool(shade))
    bound("macro_start", start)
    bound("macro_end", end)

    st.caption(
        "Each line has its own transformation and axis. A formula combines stored series: + - * /, parentheses, "
        "numbers, and X[-k] for X's value k observations earlier, e.g. `DGS10 - DGS2` or "
        "`CPIAUCSL / CPIAUCSL[-12] - 1`."
    )
    # One entry per chart line: its URL key part, its label and how to load it.
    wanted: list[tuple[str, str, str]] = []  # (key part, label, series id or formula text)
    for raw_id in chosen:
        series_id = raw_id.strip().upper()
        try:
            macro.series_info(catalog, series_id)
        except macro.UnknownSeries as exc:
            hint = " Add it under “Add a FRED series to the universe”." if is_admin else ""
            st.error(f"{plain(exc)}{hint}")
            continue
        wanted.append((series_id, series_id, series_id))
    # Formula boxes up to the last one in use (in this session or in the link), and one empty box after it.
    slots = range(1, url_state.MACRO_FORMULA_SLOTS + 1)
    in_use = [
        n
        for n in slots
        if any(link.get(url_state.macro_formula_key(n), [])) or st.session_state.get(url_state.macro_formula_key(n))
    ]
    for slot in range(1, min(max(in_use, default=0) + 1, url_state.MACRO_FORMULA_SLOTS) + 1):
        key = url_state.macro_formula_key(slot)
        text = st.text_input(
            f"Formula {slot}",
            key=key,
            placeholder="e.g. DGS10 - DGS2",
            bind="query-params",
            max_chars=formulas.MAX_LENGTH,
        )
        bound(key, text)
        if text.strip():
            label = text.strip() if text.strip() not in {w[1] for w in wanted} else f"{text.strip()} (formula {slot})"
            wanted.append((f"f{slot}", label, text))

    choices: dict[str, str] = {}
    codes: dict[str, str] = {}
    for key_part, label, _ in wanted:
        u_key, a_key = url_state.macro_units_key(key_part), url_state.macro_axis_key(key_part)
        row = st.columns([2, 3, 2])
        row[0].markdown(f"**{plain(label)}**")
        codes[label] = (
            row[1].selectbox(
                f"Transformation of {label}",
                list(UNITS),
                format_func=UNITS.get,
                key=u_key,
                label_visibility="collapsed",
                bind="query-params",
            )
            or "lin"
        )
        choices[label] = (
            row[2].selectbox(
                f"Axis of {label}",
                list(macro_figures.AXIS_CHOICES),
                format_func=AXIS_NAMES.get,
                key=a_key,
                label_visibility="collapsed",
                bind="query-params",
            )
            or "auto"
        )
        bound(u_key, UNITS[codes[label]])
        bound(a_key, AXIS_NAMES[choices[label]])

    lines: dict[str, pd.Series] = {}
    axis_units: dict[str, str] = {}
    infos: list[dict] = []
    if start > end:
        st.error("'From' must be on or before 'To'.")
    for key_part, label, source in wanted if start <= end else []:
        units_code = codes[label]
        try:
            if key_part.startswith("f"):
                node = formulas.parse(source)
                values, notes = load_or_stop(
                    f"formula {label}",
                    lambda source=source, units_code=units_code: loaders.formula_series(
                        version, source, units_code, start, end, frequency, how
                    ),
                )
                known = dict(zip(catalog["series_id"], catalog["units"], strict=True))
                base = formulas.common_units(node, known) or label
            else:
                info = macro.series_info(catalog, source)
                values, notes = load_or_stop(
                    f"{source}",
                    lambda info=info, units_code=units_code: loaders.chart_series(
                        version, info["series_id"], units_code, start, end, frequency, how, info["frequency"]
                    ),
                )
                base = info["units"]
                infos.append(info)
        except formulas.FormulaError as exc:
            st.error(plain(f"Formula {key_part[1:]}: {exc}"))
            continue
        except ValueError as exc:
            st.warning(plain(f"{label} cannot be shown this way: {exc}"))
            continue
        for note in notes:
            st.info(plain(note))
        if values.empty:
            continue
        lines[label] = values
        axis_units[label] = macro_figures.transformed_units(base, units_code)

    sides, left_out = macro_figures.assign_axes(axis_units, choices)
    if left_out:
        st.warning(
            plain(
                f"Each axis holds one kind of units; left out: {', '.join(left_out)}. "
                "Choose Left or Right for a line to draw it on that axis anyway."
            )
        )
        lines = {s: v for s, v in lines.items() if s not in left_out}
        infos = [i for i in infos if i["series_id"] in lines]
    if lines:
        chart, meta = st.columns([3, 1])
        with chart:
            st.plotly_chart(
                macro_figures.series_figure(lines, axis_units, recessions if shade else None, sides),
                key="macro_chart",
                width="stretch",
            )
            export = pd.DataFrame(lines)
            export.columns = [f"{s} ({axis_units[s]})" for s in export.columns]
            record_export = gate.recorder(
                "export", {"page": "macro", "series": list(lines), "units": {s: codes[s] for s in lines}}
            )

            def macro_csv(frame=export, record=record_export) -> bytes:
                """Built when clicked, not on every rerun; audited then."""
                record()
                return frame.to_csv(index_label="date").encode()

            csv_name = "macro_" + "_".join(k for k, label, _ in wanted if label in lines) + ".csv"
            st.download_button(
                "Download CSV",
                exports.shared(macro_csv, csv_name, "text/csv"),  # any web instance serves it (README, Deploy)
                file_name=csv_name,
                mime="text/csv",
                key="macro_download",
                on_click="ignore",
            )
            # The CSV holds data only; what it is (series, transforms, dates) goes in its sidecar (README, Exports).
            macro_params = exports.params_json(
                {
                    "exported_by": "Market Desk",
                    "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
                    "source": "FRED (stored observations)",
                    "lines": ", ".join(lines),
                    "transforms": ", ".join(f"{s}={codes.get(s, 'lin')}" for s in lines),
                    "units": ", ".join(f"{s}: {axis_units[s]}" for s in lines),
                    "start": str(start),
                    "end": str(end),
                    "frequency": f"{frequency} ({how})" if frequency else "as stored",
                }
            )
            st.download_button(
                "Parameters",
                exports.shared(lambda: macro_params, exports.sidecar_name(csv_name), exports.JSON_MIME),
                file_name=exports.sidecar_name(csv_name),
                mime=exports.JSON_MIME,
                key="macro_params",
                on_click="ignore",
            )
            if shade and recessions is not None:
                st.caption("Grey bands: NBER recessions (USREC).")
        with meta:
            for info in infos:
                show_metadata(info)
    elif wanted and start <= end:
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
            st.dataframe(formatting.styled(curves.T), width="stretch")  # yields in percent, two decimals
            st.caption(
                "Latest: the last date on which every stored tenor has a value. Earlier curves use each tenor's "
                "last value on or before that date (at most 10 days old)."
            )
        with meta:
            for series_id in tenor_ids:
                show_metadata(macro.series_info(catalog, series_id))

    st.subheader("Spreads and inversions")
    spread_span = macro.stored_span(catalog, ["T10Y2Y", "DGS10", "DGS2", "DGS3MO"]) or span
    h1, h2 = st.columns(2)
    since = h1.date_input(
        "History from",
        value=macro.clamp_date(date(2000, 1, 1), spread_span),
        min_value=spread_span[0],
        max_value=spread_span[1],
        key="macro_spread_start",
        bind="query-params",
    )
    drop_unbounded_numbers("macro_inv_min")  # an integer input: Streamlit raises on ?macro_inv_min=inf
    min_sessions = int(
        h2.number_input(
            "Minimum inversion (sessions)",
            min_value=1,
            max_value=260,
            value=get_settings().inversion_min_sessions,
            step=1,
            key="macro_inv_min",
            bind="query-params",
            help="A spread below zero for fewer observations than this is a blip, not an inversion.",
        )
    )
    bound("macro_spread_start", since)
    bound("macro_inv_min", min_sessions)
    spread = load_or_stop("yield spreads", lambda: loaders.spreads(version, since))
    if not spread:
        st.info("The spreads need DGS10 with DGS2 (or T10Y2Y) and DGS3MO.")
    else:
        chart, meta = st.columns([3, 1])
        with chart:
            st.plotly_chart(macro_figures.spread_figure(spread, recessions), key="macro_spreads", width="stretch")
            inversions = load_or_stop("inversions", lambda: loaders.inversions(version, since, min_sessions))
            st.markdown(
                f"**Inversions** (spread below zero for at least {min_sessions} sessions) since {since:%Y-%m-%d}: "
                f"{len(inversions)}"
            )
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
            "Ticker",
            symbols,
            index=symbols.index("SPY") if "SPY" in symbols else 0,
            key="beta_symbol",
            bind="query-params",
        )
        series_id = c2.selectbox(
            "Macro series (daily)",
            daily_ids,
            index=daily_ids.index("DGS10") if "DGS10" in daily_ids else 0,
            key="beta_series",
            bind="query-params",
        )
        drop_unbounded_numbers("beta_window")
        window = int(
            c3.number_input(
                "Window (days)",
                min_value=5,
                max_value=756,
                value=63,
                step=1,
                key="beta_window",
                bind="query-params",
            )
        )
        bound("beta_symbol", symbol)
        bound("beta_series", series_id)
        bound("beta_window", window)
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

# -- the link to this view -----------------------------------------------------------------------------------
as_linked = {key: url_state.url_text(value) for key, value in taken.items()}  # an empty list is an empty parameter
for key, raw in url_state.refused(link, as_linked).items():
    shown_value = ", ".join(raw) or "(empty)"
    st.warning(plain(f"The link's value {shown_value} for {key} is not allowed here; using the default."))
query = url_state.query_string(url_state.link_params(taken, url_state.MACRO_PREFIXES))
page_url = (st.context.url or "").split("?", 1)[0]
st.caption("Link to this view (the button at the right of the box copies it):")
st.code(page_url + query, language=None, wrap_lines=True)
