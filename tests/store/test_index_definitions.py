"""Saved index definitions: validation (page-ready reasons), the stored JSON, per-user CRUD, levels written and kept
consistent with the definition they belong to."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from analytics.index import REBALANCE_CODES
from store import indices, tables
from store.db import create_db_engine
from store.indices import IndexDefinition


@pytest.fixture
def db(make_migrated_database):
    engine = create_db_engine(make_migrated_database())
    yield engine
    engine.dispose()


def levels(days: list[str], gross: list[float], net: list[float] | None = None) -> pd.DataFrame:
    index = pd.DatetimeIndex(days, name="date")
    return pd.DataFrame({"level_gross": gross, "level_net": net or gross}, index=index)


def stored_levels(engine: sa.Engine, definition_id: int) -> list[tuple]:
    t = tables.index_levels
    query = sa.select(t.c.date, t.c.level_gross, t.c.level_net).where(t.c.definition_id == definition_id)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query.order_by(t.c.date))]


def test_the_vocabulary_is_the_analytics_one():
    assert indices.REBALANCE_CODES == REBALANCE_CODES


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"universe": "everything"}, "universe must be one of"),
        ({"universe": "tickers"}, "choose at least one ticker"),
        ({"universe": "tickers", "tickers": "AAPL"}, "list of symbols"),
        ({"universe": "tickers", "tickers": ["AAPL", "NOT A SYMBOL"]}, "NOT A SYMBOL"),
        ({"universe": "sp500", "tickers": ["AAPL"]}, "only for the 'tickers' universe"),
        ({"universe": "sector"}, "needs a sector"),
        ({"universe": "sp500", "sector": "Energy"}, "only for the 'sector' universe"),
        ({"universe": "top_n"}, "needs N"),
        ({"universe": "top_n", "top_n": 0}, "between 1 and 600"),
        ({"universe": "top_n", "top_n": 2.5}, "whole number"),
        ({"universe": "tickers", "tickers": ["AAPL"], "top_n": 2}, "larger than the universe"),
        ({"weighting": "price"}, "weighting must be"),
        ({"cap": 0}, "cap must be in (0, 1]"),
        ({"cap": 1.5}, "cap must be in (0, 1]"),
        ({"rebalance": "Y"}, "rebalance must be one of"),
        ({"cost_bps": -1}, "cost_bps must be in [0, 1000]"),
        ({"cost_bps": float("nan")}, "cost_bps must be a number"),
        ({"base": 0}, "base must be in (0"),
        ({"start": "2024-13-01"}, "is not a date"),
        ({"benchmark": "NOT VALID"}, "NOT VALID"),
        ({"colour": "red"}, "unknown field"),
    ],
)
def test_bad_definitions_are_refused_with_the_reason(values, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        IndexDefinition.from_dict(values)


def test_a_definition_is_normalised_and_round_trips_through_its_json():
    raw = {"universe": "tickers", "tickers": [" msft", "AAPL", "MSFT"], "top_n": 1, "cap": 1, "start": "2020-01-02"}
    definition = IndexDefinition.from_dict(raw)
    assert definition.tickers == ("MSFT", "AAPL") and definition.cap == 1.0 and definition.start == date(2020, 1, 2)
    assert definition.rebalance == "SPX" and definition.benchmark == "SPY" and definition.base == 1000.0
    stored = definition.to_dict()
    assert stored["version"] == indices.DEFINITION_VERSION and stored["start"] == "2020-01-02"
    assert IndexDefinition.from_dict(stored) == definition
    assert IndexDefinition(benchmark="").check().benchmark is None


def test_save_list_get_and_delete_per_user(db):
    energy = IndexDefinition(universe="sector", sector="Energy", weighting="cap", cap=0.2)
    saved = indices.save(db, "ana", "  Energy caps ", energy)
    assert (saved.owner, saved.name, saved.definition) == ("ana", "Energy caps", energy)
    assert saved.levels_computed_at is None and saved.created_at is not None
    indices.save(db, "ana", "Top 100", {"universe": "top_n", "top_n": 100})
    indices.save(db, "ben", "Energy caps", IndexDefinition(universe="sp500"))  # the same name, another user
    assert [s.name for s in indices.list_for(db, "ana")] == ["Energy caps", "Top 100"]
    assert [s.definition.universe for s in indices.list_for(db, "ben")] == ["sp500"]
    assert indices.get(db, "ana", "Top 100").definition.top_n == 100
    assert indices.get(db, "ana", "nothing") is None
    assert indices.get_by_id(db, saved.id).name == "Energy caps"
    assert [s.owner for s in indices.all_definitions(db)] == ["ana", "ana", "ben"]
    assert indices.delete(db, "ana", "Energy caps") is True
    assert indices.delete(db, "ana", "Energy caps") is False
    assert [s.name for s in indices.list_for(db, "ana")] == ["Top 100"]
    assert [s.owner for s in indices.list_for(db, "ben")] == ["ben"]


@pytest.mark.parametrize(
    ("username", "name", "message"),
    [
        ("", "x", "signed-in user"),
        ("ana", "   ", "needs a name"),
        ("ana", "x" * 65, "at most 64 characters"),
        ("ana", "bad\nname", "control characters"),
    ],
)
def test_bad_names_write_nothing(db, username, name, message):
    with pytest.raises(ValueError, match=message):
        indices.save(db, username, name, IndexDefinition())
    assert indices.all_definitions(db) == []


def test_a_user_has_a_bounded_number_of_indices(db, monkeypatch):
    monkeypatch.setattr(indices, "MAX_DEFINITIONS", 2)
    indices.save(db, "ana", "one", IndexDefinition())
    indices.save(db, "ana", "two", IndexDefinition())
    indices.save(db, "ana", "two", IndexDefinition(rebalance="M"))  # replacing is not adding
    with pytest.raises(ValueError, match="at most 2 saved indices"):
        indices.save(db, "ana", "three", IndexDefinition())


def test_levels_are_upserted_and_follow_their_definition(db):
    saved = indices.save(db, "ana", "mine", IndexDefinition())
    assert indices.write_levels(db, saved.id, levels(["2024-01-02", "2024-01-03"], [1000, 1001]), 7) == 2
    state = indices.get(db, "ana", "mine")
    assert state.levels_data_version == 7 and state.levels_computed_at is not None and state.levels_error is None
    # Recomputed: unchanged days are not rewritten, a new day is added, a day no longer in the series goes.
    written = indices.write_levels(db, saved.id, levels(["2024-01-03", "2024-01-04"], [1001, 1003], [1001, 1002]), 8)
    assert written == 1
    assert stored_levels(db, saved.id) == [(date(2024, 1, 3), 1001.0, 1001.0), (date(2024, 1, 4), 1003.0, 1002.0)]
    indices.record_levels_error(db, saved.id, "no stored prices for ZZZZ", 9)
    state = indices.get(db, "ana", "mine")
    assert state.levels_error == "no stored prices for ZZZZ" and len(stored_levels(db, saved.id)) == 2

    indices.save(db, "ana", "mine", IndexDefinition())  # the same definition: levels stay
    assert len(stored_levels(db, saved.id)) == 2 and indices.get(db, "ana", "mine").levels_error is not None
    indices.save(db, "ana", "mine", IndexDefinition(cost_bps=5))  # another one: they described the old one
    state = indices.get(db, "ana", "mine")
    assert stored_levels(db, saved.id) == [] and state.levels_computed_at is None and state.levels_error is None
    assert state.id == saved.id

    indices.write_levels(db, saved.id, levels(["2024-01-02"], [1000]))
    indices.delete(db, "ana", "mine")
    assert stored_levels(db, saved.id) == []  # deleted with their definition


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"level": [1.0]}, index=pd.DatetimeIndex(["2024-01-02"])),
        pd.DataFrame({"level_gross": [1.0], "level_net": [1.0]}, index=["2024-01-02"]),
        levels(["2024-01-02", "2024-01-02"], [1, 1]),
        levels(["2024-01-02"], [float("nan")]),
        levels(["2024-01-02"], [-1.0]),
    ],
)
def test_malformed_levels_write_nothing(db, frame):
    saved = indices.save(db, "ana", "mine", IndexDefinition())
    with pytest.raises(ValueError, match="levels"):
        indices.write_levels(db, saved.id, frame)
    assert stored_levels(db, saved.id) == [] and indices.get(db, "ana", "mine").levels_computed_at is None


def test_levels_of_an_unknown_definition_are_refused(db):
    with pytest.raises(ValueError, match="no index definition 42"):
        indices.write_levels(db, 42, levels(["2024-01-02"], [1000]))
