"""Saved index definitions per user (validated, named, JSON in index_definitions) and their stored daily levels."""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any, Literal, cast

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from store import tables
from store.identifiers import SYMBOL

log = logging.getLogger(__name__)

# The same vocabulary as analytics.index (a test keeps them equal; store may not import analytics).
REBALANCE_CODES = ("D", "W", "M", "Q", "SPX")
WEIGHTINGS = ("equal", "cap")
MAX_COST_BPS = 1000.0
# What an index is made of: explicit tickers, the current S&P 500 members of one GICS sector, the current S&P 500
# list, or the top N by market capitalisation of the stored S&P 500 dataset (current and former members).
UniverseKind = Literal["tickers", "sector", "sp500", "top_n"]
UNIVERSES: tuple[str, ...] = ("tickers", "sector", "sp500", "top_n")
MAX_TICKERS = 600
MAX_NAME = 64
MAX_DEFINITIONS = 50  # per user
DEFINITION_VERSION = 1  # in the stored JSON: a later shape can still read the old one


@dataclass(frozen=True)
class IndexDefinition:
    """What a saved index is; `check()` (run by `from_dict` and `save`) raises ValueError with a page-ready reason.

    `top_n` is required for the "top_n" universe and optional for the others (the top N of a sector, of the list,
    of the tickers by market cap at each rebalance). `start` None: from the first date of the data.
    """

    universe: UniverseKind = "sp500"
    tickers: tuple[str, ...] = ()
    sector: str | None = None
    top_n: int | None = None
    weighting: Literal["equal", "cap"] = "equal"
    cap: float | None = None  # largest weight of one name (0 < cap <= 1); None: no cap
    rebalance: str = "SPX"
    cost_bps: float = 0.0  # per side, on traded notional
    base: float = 1000.0
    start: date | None = None
    benchmark: str | None = "SPY"

    def check(self) -> IndexDefinition:
        """This definition normalised (tickers and benchmark upper-case, numbers as float/int), or ValueError."""
        if self.universe not in UNIVERSES:
            raise ValueError(f"universe must be one of {', '.join(UNIVERSES)}, got {self.universe!r}")
        tickers: tuple[str, ...] = ()
        if self.universe == "tickers":
            if isinstance(self.tickers, str):
                raise ValueError("tickers must be a list of symbols, not one string")
            tickers = tuple(dict.fromkeys(SYMBOL.validate(list(self.tickers))))
            if not tickers:
                raise ValueError("the universe is empty: choose at least one ticker")
            if len(tickers) > MAX_TICKERS:
                raise ValueError(f"at most {MAX_TICKERS} tickers, got {len(tickers)}")
        elif self.tickers:
            raise ValueError(f"tickers are only for the 'tickers' universe, not {self.universe!r}")
        sector = None
        if self.universe == "sector":
            sector = _text("sector", self.sector)
        elif self.sector is not None:
            raise ValueError(f"a sector is only for the 'sector' universe, not {self.universe!r}")
        top_n = None
        if self.top_n is not None or self.universe == "top_n":
            if self.top_n is None:
                raise ValueError("the 'top_n' universe needs N (how many of the largest stocks to hold)")
            top_n = _integer("top_n", self.top_n, 1, MAX_TICKERS)
            if tickers and top_n > len(tickers):
                raise ValueError(f"top_n={top_n} is larger than the universe ({len(tickers)} tickers)")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be 'equal' or 'cap', got {self.weighting!r}")
        cap = None if self.cap is None else _number("cap", self.cap, 0.0, 1.0, low_open=True)
        if self.rebalance not in REBALANCE_CODES:
            raise ValueError(f"rebalance must be one of {', '.join(REBALANCE_CODES)}, got {self.rebalance!r}")
        start = self.start
        if start is not None and (not isinstance(start, date) or isinstance(start, datetime)):
            raise ValueError(f"start must be a date or None, got {start!r}")
        benchmark = None if self.benchmark in (None, "") else SYMBOL.normalise(self.benchmark)
        return replace(
            self,
            tickers=tickers,
            sector=sector,
            top_n=top_n,
            cap=cap,
            cost_bps=_number("cost_bps", self.cost_bps, 0.0, MAX_COST_BPS),
            base=_number("base", self.base, 0.0, 1e12, low_open=True),
            benchmark=benchmark,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON stored (dates as ISO text, tickers as a list, with the definition's version)."""
        data = asdict(self)
        data["tickers"] = list(self.tickers)
        data["start"] = self.start.isoformat() if self.start else None
        return {"version": DEFINITION_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexDefinition:
        """A definition from its JSON (or a page's form values), checked; ValueError on an unknown key or value."""
        if not isinstance(data, dict):
            raise ValueError(f"an index definition is a mapping, got {type(data).__name__}")
        values = {k: v for k, v in data.items() if k != "version"}
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown field(s) in an index definition: {', '.join(unknown)}")
        if isinstance(values.get("start"), str):
            try:
                values["start"] = date.fromisoformat(values["start"])
            except ValueError:
                raise ValueError(f"start {values['start']!r} is not a date (YYYY-MM-DD)") from None
        if "tickers" in values:
            tickers = values["tickers"]
            if isinstance(tickers, str) or not isinstance(tickers, list | tuple):
                raise ValueError("tickers must be a list of symbols")
            values["tickers"] = tuple(tickers)
        return cls(**values).check()


@dataclass(frozen=True)
class SavedIndex:
    """A stored definition with its owner, name and the state of its stored levels."""

    id: int
    owner: str
    name: str
    definition: IndexDefinition
    created_at: datetime
    updated_at: datetime
    levels_computed_at: datetime | None = None
    levels_data_version: int | None = None  # ingestion_runs.id the levels were computed from
    levels_error: str | None = None  # why the last computation failed (levels then stay as they were)


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"the {name} universe needs a {name}")
    value = value.strip()
    if len(value) > MAX_NAME or not value.isprintable():
        raise ValueError(f"{name} {value[:24]!r} is not a valid {name} name")
    return value


def _number(name: str, value: object, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if number < low or number > high or (low_open and number == low):
        bound = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bound}{low:g}, {high:g}], got {number:g}")
    return number


def _integer(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return int(value)


def check_name(username: str, name: str) -> str:
    """The name as stored (stripped), or ValueError saying why it cannot be one."""
    if not username or not isinstance(username, str):
        raise ValueError("only a signed-in user can save an index")
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise ValueError("an index needs a name")
    if len(name) > MAX_NAME:
        raise ValueError(f"an index name has at most {MAX_NAME} characters")
    if not name.isprintable():
        raise ValueError("an index name cannot contain control characters")
    return name


def _saved(row: Any) -> SavedIndex:
    return SavedIndex(
        id=row.id,
        owner=row.owner,
        name=row.name,
        definition=IndexDefinition.from_dict(row.definition),
        created_at=row.created_at,
        updated_at=row.updated_at,
        levels_computed_at=row.levels_computed_at,
        levels_data_version=row.levels_data_version,
        levels_error=row.levels_error,
    )


def _select() -> sa.Select:
    return sa.select(tables.index_definitions).order_by(tables.index_definitions.c.name)


def save(engine: sa.Engine, username: str, name: str, definition: IndexDefinition | dict[str, Any]) -> SavedIndex:
    """Create the user's index `name`, or replace its definition. ValueError on bad input, nothing written.

    Replacing a definition with a different one deletes its stored levels (they described the old one) and
    clears their state, so no page shows levels of another definition; saving the same definition changes nothing.
    """
    name = check_name(username, name)
    checked = (IndexDefinition.from_dict(definition) if isinstance(definition, dict) else definition.check()).to_dict()
    t = tables.index_definitions
    with engine.begin() as conn:
        current = conn.execute(sa.select(t.c.id, t.c.definition).where(t.c.owner == username, t.c.name == name)).first()
        if current is None:
            count = conn.execute(sa.select(sa.func.count()).where(t.c.owner == username)).scalar_one()
            if count >= MAX_DEFINITIONS:
                raise ValueError(f"at most {MAX_DEFINITIONS} saved indices per user: delete one first")
            stmt = insert(t).values(owner=username, name=name, definition=checked)
            # Two saves racing for a new name: the second becomes an update of the first's row.
            stmt = stmt.on_conflict_do_update(
                constraint="uq_index_definitions_owner_name",
                set_={"definition": stmt.excluded.definition, "updated_at": sa.func.now()},
            )
            conn.execute(stmt)
        elif current.definition != checked:
            conn.execute(tables.index_levels.delete().where(tables.index_levels.c.definition_id == current.id))
            conn.execute(
                t.update()
                .where(t.c.id == current.id)
                .values(
                    definition=checked,
                    updated_at=sa.func.now(),
                    levels_computed_at=None,
                    levels_data_version=None,
                    levels_error=None,
                )
            )
        row = conn.execute(_select().where(t.c.owner == username, t.c.name == name)).one()
    log.info("index definition saved: owner=%s name=%s id=%s", username, name, row.id)
    return _saved(row)


def list_for(engine: sa.Engine, username: str) -> list[SavedIndex]:
    """The user's saved indices, by name."""
    t = tables.index_definitions
    with engine.connect() as conn:
        return [_saved(r) for r in conn.execute(_select().where(t.c.owner == username))]


def get(engine: sa.Engine, username: str, name: str) -> SavedIndex | None:
    """The user's index `name`, or None."""
    t = tables.index_definitions
    with engine.connect() as conn:
        row = conn.execute(_select().where(t.c.owner == username, t.c.name == (name or "").strip())).first()
    return _saved(row) if row else None


def get_by_id(engine: sa.Engine, definition_id: int) -> SavedIndex | None:
    """Any user's index by id (the worker's and the API's way in), or None."""
    with engine.connect() as conn:
        row = conn.execute(_select().where(tables.index_definitions.c.id == definition_id)).first()
    return _saved(row) if row else None


def all_definitions(engine: sa.Engine) -> list[SavedIndex]:
    """Every saved index of every user, by id (the worker computes their levels)."""
    t = tables.index_definitions
    with engine.connect() as conn:
        return [_saved(r) for r in conn.execute(sa.select(t).order_by(t.c.id))]


def delete(engine: sa.Engine, username: str, name: str) -> bool:
    """Delete the user's index `name` and its levels; True when it existed."""
    if not username:
        raise ValueError("only a signed-in user can delete an index")
    t = tables.index_definitions
    with engine.begin() as conn:
        result = conn.execute(t.delete().where(t.c.owner == username, t.c.name == (name or "").strip()))
    return result.rowcount > 0


def write_levels(engine: sa.Engine, definition_id: int, levels: pd.DataFrame, data_version: int | None = None) -> int:
    """Store an index's daily levels (date index; columns level_gross, level_net) as its levels from now on.

    Upserted on (definition, date); stored dates outside the new series are deleted, and the definition records
    when and from which data version (ingestion_runs.id) they were computed; all in one transaction. Returns the
    rows inserted or changed. ValueError on a malformed frame or an unknown definition, nothing written.
    """
    frame = _checked_levels(levels)
    t, d = tables.index_levels, tables.index_definitions
    rows = [
        {"definition_id": definition_id, "date": day, "level_gross": gross, "level_net": net}
        for day, gross, net in zip(frame.index.date, frame["level_gross"], frame["level_net"], strict=True)
    ]
    with engine.begin() as conn:
        found = conn.execute(sa.select(d.c.id).where(d.c.id == definition_id).with_for_update()).first()
        if found is None:
            raise ValueError(f"no index definition {definition_id}")
        outside = t.c.definition_id == definition_id
        if rows:
            outside = sa.and_(outside, sa.not_(t.c.date.between(rows[0]["date"], rows[-1]["date"])))
        conn.execute(t.delete().where(outside))
        written = 0
        if rows:
            stmt = insert(t).values(rows)
            stmt = stmt.on_conflict_do_update(
                index_elements=[t.c.definition_id, t.c.date],
                set_={"level_gross": stmt.excluded.level_gross, "level_net": stmt.excluded.level_net},
                where=sa.or_(
                    t.c.level_gross.is_distinct_from(stmt.excluded.level_gross),
                    t.c.level_net.is_distinct_from(stmt.excluded.level_net),
                ),
            )
            written = max(conn.execute(stmt).rowcount, 0)
        conn.execute(
            d.update()
            .where(d.c.id == definition_id)
            .values(levels_computed_at=sa.func.now(), levels_data_version=data_version, levels_error=None)
        )
    return written


def record_levels_error(engine: sa.Engine, definition_id: int, error: str, data_version: int | None = None) -> None:
    """Note why an index's levels could not be computed (its stored levels stay as they were)."""
    d = tables.index_definitions
    with engine.begin() as conn:
        conn.execute(
            d.update()
            .where(d.c.id == definition_id)
            .values(levels_error=str(error)[:2000], levels_data_version=data_version, levels_computed_at=sa.func.now())
        )


def _checked_levels(levels: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(levels, pd.DataFrame) or not {"level_gross", "level_net"} <= set(levels.columns):
        raise ValueError("levels must be a DataFrame with columns level_gross and level_net")
    if not isinstance(levels.index, pd.DatetimeIndex):
        raise ValueError("levels must have a DatetimeIndex of dates")
    frame = levels[["level_gross", "level_net"]].astype("float64").sort_index()
    if frame.index.has_duplicates:
        raise ValueError("levels have duplicate dates")
    values = frame.to_numpy()
    if not (pd.notna(values).all() and (values > 0).all() and (values < float("inf")).all()):
        raise ValueError("levels must be positive finite numbers")
    return cast(pd.DataFrame, frame)
