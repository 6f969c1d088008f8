"""The read API's index endpoints: a token user's saved indices, their stored levels, composition and changes.

The same functions as the Index page: `store.indices` for the saved definitions, `store.reads.index.index_levels`
for the levels the worker stored, and `ingestion.indices.compute` (what the page's `index_result` loader caches)
for the composition on a date and the changes at each rebalance, computed on demand from the stored data.
"""

from __future__ import annotations

import difflib
import functools
import json
from datetime import date
from typing import Any

import pandas as pd

from analytics.index import IndexResult
from dashboard.access.tokens import TokenUser
from dashboard.web.api.framework import Context, Endpoint, Param, Problem, Result, bad_request, date_range, not_found
from ingestion import indices as index_builder
from store import indices
from store.db import get_engine
from store.indices import IndexDefinition, SavedIndex
from store.reads import core, market
from store.reads import index as index_reads

LIST_COLUMNS = [
    "name",
    "owner",
    "universe",
    "tickers",
    "sector",
    "top_n",
    "weighting",
    "cap",
    "rebalance",
    "cost_bps",
    "base",
    "start",
    "benchmark",
    "created_at",
    "updated_at",
    "levels_computed_at",
    "levels_error",
]
COMPUTED_KEPT = 4  # whole index runs kept per process (the page's loader keeps 8): composition, changes


def _user(ctx: Context) -> TokenUser:
    assert ctx.user is not None  # every index endpoint needs a token
    return ctx.user


def _owner(ctx: Context) -> str:
    """Whose indices: the token's user, or (admins only) `owner=`."""
    user = _user(ctx)
    owner = (ctx.params.get("owner") or "").strip() or user.username
    if owner != user.username and user.role != "admin":
        raise Problem(403, "forbidden", "Forbidden", "owner= is for admins: you can read only your own indices")
    return owner


def _close(name: str, names: list[str]) -> list[str]:
    """Close names, case aside."""
    by_lower = {n.lower(): n for n in names}
    return [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)]


def _saved(ctx: Context) -> SavedIndex:
    """The saved index the path names, or 404 with close names among the owner's."""
    owner, name = _owner(ctx), ctx.params["name"]
    engine = get_engine()
    found = indices.get(engine, owner, name)
    if found is None:
        names = [s.name for s in indices.list_for(engine, owner)]
        whose = "you have" if owner == _user(ctx).username else f"{owner} has"
        raise not_found(f"{whose} no saved index named {name.strip()!r}", suggestions=_close(name.strip(), names))
    return found


@functools.lru_cache(maxsize=COMPUTED_KEPT)
def _computed(database: str, version: int, definition_json: str) -> IndexResult:
    """The index a definition describes on the data of `version` (keyed on the database too); ValueError as
    ingestion.indices.compute raises it (not cached)."""
    definition = IndexDefinition.from_dict(json.loads(definition_json))
    with get_engine().connect() as conn:
        return index_builder.compute(conn, definition)


def _result(saved: SavedIndex) -> IndexResult:
    """The saved index computed now from the stored data, as the page computes it (400 when it cannot be built)."""
    engine = get_engine()
    with engine.connect() as conn:
        version = core.data_version(conn)
    key = json.dumps(saved.definition.to_dict(), sort_keys=True)
    try:
        return _computed(str(engine.url), version, key)
    except ValueError as exc:
        raise bad_request(f"the index {saved.name!r} cannot be built: {exc}") from None


def _sources(symbols: list[str]) -> str | None:
    with get_engine().connect() as conn:
        return ", ".join(market.sources(conn, symbols)) or None


# -- handlers ----------------------------------------------------------------------------------------------------


def _row(saved: SavedIndex) -> dict[str, Any]:
    d = saved.definition
    return {
        "name": saved.name,
        "owner": saved.owner,
        "universe": d.universe,
        "tickers": ",".join(d.tickers) or None,
        "sector": d.sector,
        "top_n": d.top_n,
        "weighting": d.weighting,
        "cap": d.cap,
        "rebalance": d.rebalance,
        "cost_bps": d.cost_bps,
        "base": d.base,
        "start": d.start,
        "benchmark": d.benchmark,
        "created_at": saved.created_at,
        "updated_at": saved.updated_at,
        "levels_computed_at": saved.levels_computed_at,
        "levels_error": saved.levels_error,
    }


def saved_indices(ctx: Context) -> Result:
    user, engine = _user(ctx), get_engine()
    if user.role == "admin" and not ctx.params.get("owner"):
        found = sorted(indices.all_definitions(engine), key=lambda s: (s.owner, s.name))
    else:
        found = indices.list_for(engine, _owner(ctx))
    frame = pd.DataFrame([_row(s) for s in found], columns=LIST_COLUMNS)
    frame["top_n"] = frame["top_n"].astype("Int64")
    computed = [s.levels_computed_at for s in found if s.levels_computed_at is not None]
    return Result(frame, None, max(computed) if computed else None)


def levels(ctx: Context) -> Result:
    saved = _saved(ctx)
    start, end = date_range(ctx.params)
    if saved.levels_computed_at is None:
        raise Problem(
            404,
            "levels-not-computed",
            "Levels not computed yet",
            f"the levels of {saved.name!r} are not computed yet: the worker stores them soon after the index is "
            "saved and after each prices run; try again later",
        )
    with get_engine().connect() as conn:
        stored = index_reads.index_levels(conn, saved.id, start, end)
        if stored.empty and saved.levels_error and index_reads.index_levels(conn, saved.id).empty:
            raise Problem(
                404,
                "levels-not-computed",
                "Levels not computed",
                f"the levels of {saved.name!r} could not be computed: {saved.levels_error}",
            )
    notes = []
    if saved.levels_error:
        notes.append(f"the last computation failed ({saved.levels_error}); these levels were stored before it")
    frame = stored.reset_index()[["date", "level_gross", "level_net"]]
    source = f"index levels stored by the worker at {saved.levels_computed_at:%Y-%m-%d %H:%M} UTC"
    if saved.levels_data_version is not None:
        source += f" (data version {saved.levels_data_version})"
    as_of = frame["date"].max() if not frame.empty else None
    return Result(frame, source, as_of, date_column="date", notes=notes)


def composition(ctx: Context) -> Result:
    saved = _saved(ctx)
    result = _result(saved)
    on: date = ctx.params.get("date") or result.levels.index[-1].date()
    members = result.composition(on).reset_index()  # ValueError (400) for a date outside the index
    first = ["date", "symbol", "weight", "rebalanced"]
    members = members[first + [c for c in members.columns if c not in first]]
    as_of = members["date"].iloc[0] if not members.empty else pd.Timestamp(on)
    return Result(members, _sources(members["symbol"].tolist()), as_of, notes=list(result.notes))


def changes(ctx: Context) -> Result:
    saved = _saved(ctx)
    result = _result(saved)
    table = result.changes.reset_index(drop=True)
    as_of = result.levels.index[-1]
    return Result(table, _sources(sorted(set(table["symbol"]))), as_of, date_column="date", notes=list(result.notes))


NAME = Param("name", "text", "The saved index's name (URL-encoded), as on the Index page.", required=True)
OWNER = Param("owner", "text", "Admins: whose index (default: your own).")
INDEX = "index"

INDEX_ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "/indices",
        "Saved indices",
        "Your saved indices (admins: everyone's, or one user's with `owner`): name, owner, the definition "
        "(universe, tickers, sector, top N, weighting, cap per name, rebalance, cost in bps per side, base, start, "
        "benchmark), when its levels were last computed and why the last computation failed, if it did.",
        saved_indices,
        (OWNER,),
        tag=INDEX,
    ),
    Endpoint(
        "/indices/{name}/levels",
        "Stored index levels",
        "The daily levels of a saved index, gross and net of costs, as the worker stored them (after each prices "
        "run and when the index is saved) and the Index page draws them. 404 for an unknown name (with close "
        "names) or while the levels are not computed yet. Paged by date.",
        levels,
        (
            OWNER,
            Param("start", "date", "First date (inclusive), YYYY-MM-DD. Default: the first stored."),
            Param("end", "date", "Last date (inclusive), YYYY-MM-DD. Default: the last stored."),
        ),
        tag=INDEX,
        path_params=(NAME,),
    ),
    Endpoint(
        "/indices/{name}/composition",
        "Index composition on a date",
        "The members of a saved index at the close of `date` (or the last session before it), computed now from "
        "the stored data as the Index page computes it: weight, the rebalance it comes from, and when the index is "
        "ranked the rank, the basis (`market_cap` or `dollar_volume`) and the value that decided it.",
        composition,
        (OWNER, Param("date", "date", "The date, YYYY-MM-DD. Default: the last session of the index.")),
        tag=INDEX,
        path_params=(NAME,),
    ),
    Endpoint(
        "/indices/{name}/changes",
        "Index changes at each rebalance",
        "Additions and removals at each rebalance of a saved index (the first adds every initial member), as the "
        "Index page's changes table: effective and reference date, symbol, change, reason, and rank, value and "
        "basis when ranked. Computed now from the stored data; paged by date.",
        changes,
        (OWNER,),
        tag=INDEX,
        path_params=(NAME,),
    ),
]
