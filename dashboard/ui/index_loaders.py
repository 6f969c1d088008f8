"""The Index page's cached loaders: saved definitions, the computed index, its stored levels, its exports."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import date

import pandas as pd
import streamlit as st

from analytics import risk
from analytics.index import IndexResult
from dashboard.ui import exports
from dashboard.ui.loaders import LARGE, SMALL, TTL, read
from ingestion import indices as index_builder
from store import indices
from store.db import get_engine
from store.indices import IndexDefinition, SavedIndex
from store.reads import index as index_reads

MAX_COMPUTED = 8  # whole index runs kept per process (each holds its weights: 100s of symbols x 1,900 sessions)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def sp500_loaded(version: int) -> bool:
    return read(index_reads.sp500_loaded)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def sectors(version: int) -> list[str]:
    return read(index_reads.sectors)


@st.cache_resource(ttl=TTL, show_spinner="Building the index…", max_entries=MAX_COMPUTED)
def index_result(version: int, definition_json: str) -> IndexResult:
    """The index a definition (as JSON: a hashable key) describes, on the data of `version`; ValueError as
    analytics.index raises it (not cached: the page shows it).

    One object shared by every session (st.cache_resource), not a copy per run: an S&P 500 index holds its weights
    (about 10 MiB), and each session's export buttons keep the result they were drawn with. Read-only: the page and
    these loaders derive new frames from it and never change it (pandas' copy-on-write; a test checks it).
    Its weights keep the symbols the index ever held: a top 100 of the S&P 500 list holds about a quarter of the
    list's symbols over the years, and the others' columns (zero every day) are what the page never reads."""
    definition = IndexDefinition.from_dict(json.loads(definition_json))
    result = read(index_builder.compute, definition)
    held = result.weights.ne(0).any()
    return result if held.all() else dataclasses.replace(result, weights=result.weights.loc[:, held])


def other_weighting(definition: IndexDefinition) -> IndexDefinition:
    """The same index with the other weighting (equal <-> cap), for the comparison line."""
    return dataclasses.replace(definition, weighting="cap" if definition.weighting == "equal" else "equal")


def key(definition: IndexDefinition) -> str:
    return json.dumps(definition.to_dict(), sort_keys=True)


def saved_indices(username: str) -> list[SavedIndex]:
    return indices.list_for(get_engine(), username)


def save_index(username: str, name: str, definition: IndexDefinition) -> SavedIndex:
    """Save (ValueError: nothing saved), then queue the computation of its levels (the worker stores them)."""
    from ingestion import queue  # Procrastinate and psycopg 3: loaded by the first save, not with the page

    saved = indices.save(get_engine(), username, name, definition)
    queue.request_index_levels([saved.id])
    return saved


def delete_index(username: str, name: str) -> bool:
    return indices.delete(get_engine(), username, name)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def stored_levels(version: int, definition_id: int, updated: str) -> pd.DataFrame:
    """A saved index's stored levels (`updated`: its levels_computed_at, so a new computation is read at once)."""
    return read(index_reads.index_levels, definition_id)


def performance(net: pd.Series, gross: pd.Series, benchmark: pd.Series | None) -> pd.DataFrame:
    """Risk metrics (analytics.risk) of the index net and gross of costs, and of the benchmark over the same days."""
    rows = {"index (net)": net, "index (gross)": gross}
    bench = None
    if benchmark is not None and benchmark.notna().sum() >= 3:
        bench = benchmark.reindex(net.index).ffill()
        rows["benchmark"] = bench
    table = pd.DataFrame([{"series": name, **risk.risk_metrics(s, bench)} for name, s in rows.items()])
    return table


def chart_lines(net: pd.Series, gross: pd.Series, benchmark: pd.Series | None, name: str) -> dict[str, pd.Series]:
    """The level chart's lines: net and gross, and the benchmark rebased to the index on its first common day."""
    lines = {"Index (net)": net, "Index (gross)": gross}
    if benchmark is not None:
        rebased = benchmark.reindex(net.index).ffill()
        first = rebased.first_valid_index()
        if first is not None:
            lines[f"{name} (rebased)"] = rebased / rebased.loc[first] * net.loc[first]
    return lines


def turnover_table(result: IndexResult) -> pd.DataFrame:
    """Per rebalance: one-way turnover, cost as a fraction of the level and in index points."""
    table = pd.DataFrame({"turnover": result.turnover, "cost": result.costs, "cost_points": result.cost_points})
    return table.reset_index(names="rebalanced")


def export_tables(result: IndexResult, on: date) -> dict[str, pd.DataFrame]:
    """Levels, the composition on `on` and the changes, as the exports carry them."""
    levels = pd.DataFrame(
        {"date": result.levels.index.date, "level_net": result.levels.to_numpy(), "level_gross": result.gross_levels}
    ).reset_index(drop=True)
    composition = result.composition(on).reset_index()
    composition["date"] = pd.to_datetime(composition["date"]).dt.date
    composition["rebalanced"] = pd.to_datetime(composition["rebalanced"]).dt.date
    changes = result.changes.copy()
    for column in changes.columns:
        if pd.api.types.is_datetime64_any_dtype(changes[column]):
            changes[column] = changes[column].dt.date
    return {"levels": levels, "composition": composition, "changes": changes}


def export_file(kind: str, tables: Mapping[str, pd.DataFrame], params: Mapping[str, str]) -> bytes:
    """CSV (one file, data only: the levels, or the table named by `kind` after a colon), JSON or XLSX (all, with
    `params`)."""
    if kind == "json":
        body = {
            "parameters": dict(params),
            **{name: json.loads(t.to_json(orient="records", date_format="iso")) for name, t in tables.items()},
        }
        return json.dumps(body, indent=1, default=str).encode()
    if kind == "xlsx":
        return exports.to_xlsx_sheets(tables, params)
    table = kind.split(":", 1)[1] if ":" in kind else "levels"
    return exports.to_csv(tables[table])  # data only: the parameters go in the sidecar (exports.params_json)
