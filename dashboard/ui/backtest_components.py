"""Streamlit pieces of the Backtest page: parameter inputs, link checks, metrics, sweep maps, export buttons."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from analytics.backtest import BacktestResult
from dashboard.ui import backtest_figures, exports, formatting, url_state
from dashboard.ui import backtest_loaders as bt
from dashboard.ui.components import drop_unbounded_numbers
from dashboard.ui.text import plain

PERCENT = "percent"
RATIO = "%.2f"
METRIC_COLUMNS = {
    "total_return": ("Total return", PERCENT),
    "cagr": ("CAGR", PERCENT),
    "volatility": ("Volatility", PERCENT),
    "sharpe": ("Sharpe", RATIO),
    "sortino": ("Sortino", RATIO),
    "max_drawdown": ("Max drawdown", PERCENT),
    "calmar": ("Calmar", RATIO),
    "var_95": ("VaR 95% (1d)", PERCENT),
    "cvar_95": ("CVaR 95% (1d)", PERCENT),
    "beta": ("Beta", RATIO),
    "alpha": ("Alpha (ann.)", PERCENT),
    "correlation": ("Correlation", RATIO),
    "hit_rate": ("Hit rate", PERCENT),
    "avg_win": ("Avg win (1d)", PERCENT),
    "avg_loss": ("Avg loss (1d)", PERCENT),
    "profit_factor": ("Profit factor", RATIO),
    "exposure": ("Exposure", PERCENT),
    "time_in_market": ("Time in market", PERCENT),
    "turnover": ("Turnover (ann., one-way)", PERCENT),
    "trades": ("Trades", "%d"),
    "total_cost": ("Costs paid", PERCENT),
}


def param_input(container: Any, param: bt.Param, default: Any, taken: MutableMapping[str, object]) -> Any:
    """One strategy parameter's URL-bound widget in `container`; an emptied one gives `default`.

    `taken[key]` records the value as the URL shows it (for `refused_warnings`).
    """
    key = url_state.param_key(param.name)
    value: Any
    if param.kind == "choice":
        options = list(param.options)
        value = container.selectbox(
            param.label,
            options,
            index=options.index(default),
            format_func=param.options.get,
            key=key,
            help=param.help,
            bind="query-params",
        )
    else:
        kind = int if param.kind == "int" else float
        drop_unbounded_numbers(key)
        value = container.number_input(
            param.label,
            min_value=kind(param.low),
            max_value=kind(param.high),
            value=kind(default),
            step=kind(param.step),
            key=key,
            help=param.help,
            bind="query-params",
        )
    taken[key] = param.shown(value)
    return default if value is None else value


def refused_warnings(
    link: Mapping[str, list[str]],
    taken: Mapping[str, object],
    reported: set[str],
    stored: tuple[date, date],
) -> None:
    """A warning per value of the opened link that a widget refused, once each (`reported`: already said)."""
    for key, raw in url_state.refused(link, taken).items():
        if key in reported:
            continue
        reported.add(key)
        if key == url_state.BACKTEST_KEYS["dates"]:
            message = (
                f"The link's dates {' → '.join(raw)} are not a range inside the stored data ({stored[0]} → "
                f"{stored[1]}); showing the dates above instead."
            )
        else:
            message = f"The link's value {', '.join(raw)} for {key} is not allowed here; using the default."
        st.warning(plain(message))


def shown_number(value: float, spec: str) -> str:
    """`value` formatted, or a dash when it is not a finite number (a Sharpe ratio of a flat curve)."""
    return format(value, spec) if np.isfinite(value) else "–"


def metric_cards(metrics: Mapping[str, float]) -> None:
    cards = st.columns(6)
    for card, (name, title, spec) in zip(
        cards,
        (
            ("total_return", "Total return", ".1%"),
            ("cagr", "CAGR", ".1%"),
            ("sharpe", "Sharpe", ".2f"),
            ("max_drawdown", "Max drawdown", ".1%"),
            ("exposure", "Exposure", ".0%"),
            ("trades", "Trades", ",.0f"),
        ),
        strict=True,
    ):
        card.metric(title, shown_number(metrics[name], spec))


def metrics_table(table: pd.DataFrame) -> None:
    """The strategy's and the benchmark's metrics, one row each, formatted per column."""
    config: dict[str, Any] = {"portfolio": st.column_config.TextColumn("Portfolio", pinned=True)}
    # Percentages' text comes from formatting.styled (separators, fixed decimals, signed colours): no format here.
    percent = [k for k, (_, fmt) in METRIC_COLUMNS.items() if fmt == PERCENT]
    for key, (title, fmt) in METRIC_COLUMNS.items():
        config[key] = st.column_config.NumberColumn(title, format=None if fmt == PERCENT else fmt)
    shown = formatting.styled(table, percent=percent, signed=("total_return", "cagr", "alpha"))
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config)
    st.caption(
        "Daily returns of the equity from the starting capital; annualised with 252 days (see "
        "`analytics.risk.risk_metrics`). Hit rate, average win/loss and profit factor count the days invested at the "
        "previous close. Exposure is the mean gross weight; turnover is one-way, per year; costs paid are fractions "
        "of the portfolio at each trade, summed."
    )


def positions_and_trades(result: BacktestResult) -> None:
    with st.expander(f"Positions ({len(result.positions.columns)} ticker(s)) and trades ({len(result.trades):,})"):
        st.markdown("**Weights at the last close**")
        last_row = result.positions.iloc[-1]
        st.dataframe(
            last_row[last_row.abs() > 1e-12].rename("weight").rename_axis("symbol").reset_index(),
            hide_index=True,
            column_config={"weight": st.column_config.NumberColumn("Weight", format=PERCENT)},
        )
        st.markdown("**Daily positions** (weights after each day's trades)")
        st.dataframe(bt.positions_table(result), hide_index=True, height=260)
        st.markdown("**Trades** (weight change and cost as fractions of the portfolio just before the trade)")
        st.dataframe(
            bt.trades_table(result),
            hide_index=True,
            height=260,
            column_config={"cost": st.column_config.NumberColumn("cost", format="%.6f")},
        )


def sweep_maps(
    sweep: pd.DataFrame, strategy: bt.Strategy, axes: Sequence[str], split_pct: int, sessions: pd.DatetimeIndex
) -> None:
    """In-sample and out-of-sample Sharpe heat maps side by side on one colour scale, the split date stated."""
    split_date = pd.Timestamp(sweep.attrs["split_date"])
    x, y = axes[0], (axes[1] if len(axes) > 1 else None)
    names = {p.name: p.label for p in strategy.sweepable}
    zrange = backtest_figures.sharpe_range(sweep["sharpe_is"], sweep["sharpe_oos"])
    left, right = st.columns(2)
    last_in = sessions[sessions < split_date][-1]
    is_title = f"In-sample Sharpe, {sessions[0]:%Y-%m-%d} → {last_in:%Y-%m-%d}"
    oos_title = f"Out-of-sample Sharpe, {split_date:%Y-%m-%d} → {sessions[-1]:%Y-%m-%d}"
    left.plotly_chart(
        backtest_figures.sweep_heatmap(sweep, x, y, "sharpe_is", is_title, zrange, names), key="bt_sweep_is"
    )
    right.plotly_chart(
        backtest_figures.sweep_heatmap(sweep, x, y, "sharpe_oos", oos_title, zrange, names), key="bt_sweep_oos"
    )
    ranked = sweep.dropna(subset=["sharpe_is"])
    best = ranked.loc[ranked["sharpe_is"].idxmax()] if not ranked.empty else None
    skipped = int(sweep.attrs.get("skipped", 0))
    parts = [
        f"Split at {split_date:%Y-%m-%d}: the first {split_pct}% of the sessions are in-sample, the rest "
        "out-of-sample. Each combination runs once over all the dates (indicators warm up in-sample), then its daily "
        "returns are split."
    ]
    if skipped:
        parts.append(f"{skipped} invalid combination(s) left out.")
    if best is not None:
        chosen = ", ".join(f"{names[a]} {best[a]:g}" for a in axes)
        parts.append(
            f"Best in-sample: {chosen} (Sharpe {best['sharpe_is']:.2f} in-sample, "
            f"{shown_number(best['sharpe_oos'], '.2f')} out-of-sample)."
        )
    parts.append("Choosing the best in-sample cell overfits: judge it by the out-of-sample map.")
    st.caption(" ".join(parts))
    with st.expander("Sweep table"):
        st.dataframe(bt.sweep_table(sweep), hide_index=True)


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_buttons(files: Sequence[tuple[str, str, str, Callable[[], bytes]]]) -> None:
    """Download buttons (title, file name, mime, build); files are built only when clicked."""
    cols = st.columns([1] * len(files) + [4])
    for column, (title, name, mime, build) in zip(cols, files, strict=False):
        column.download_button(
            title,
            exports.shared(build, name, mime),  # any web instance serves it (README, Deploy)
            file_name=name,
            mime=mime,
            icon=":material/download:",
            on_click="ignore",  # a rerun would re-register the files under new ids while another button is clicked
            key=f"bt_download_{name.rsplit('_', 1)[-1]}",
        )
    cols[-1].caption(
        "The CSV files hold the data only, with the run's parameters in the `.params.json` file beside them; the XLSX "
        "has equity, trades, positions, monthly returns and metrics sheets and a `parameters` sheet."
    )
