"""Adding a FRED id to the macro universe: validated, pending metadata, idempotent."""

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import tables, universe
from store.db import create_db_engine, migrate
from store.identifiers import SERIES_ID


@pytest.fixture(scope="module")
def engine(make_migrated_database):
    eng = create_db_engine(make_migrated_database())
    migrate(eng)
    yield eng
    eng.dispose()


def row(engine, series_id):
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(tables.macro_series).where(tables.macro_series.c.series_id == series_id))
            .mappings()
            .first()
        )


def test_new_id_is_added_active_with_pending_metadata(engine):
    result = universe.add_series(engine, "  dgs30 ")
    assert result.status == "added" and result.series_id == "DGS30"
    assert "next macro ingestion run" in result.message
    stored = row(engine, "DGS30")
    assert stored["active"] is True
    assert stored["title"] == "DGS30" and stored["units"] == "pending" and stored["frequency"] == "pending"
    assert stored["source"] == "fred" and stored["last_updated"] is None


def test_adding_twice_changes_nothing(engine):
    universe.add_series(engine, "CPILFESL")
    before = row(engine, "CPILFESL")
    again = universe.add_series(engine, "cpilfesl")
    assert again.status == "exists" and "already" in again.message
    assert row(engine, "CPILFESL") == before


def test_inactive_series_is_reactivated(engine):
    with engine.begin() as conn:
        conn.execute(
            tables.macro_series.insert().values(
                series_id="DGS7", title="7-Year", units="Percent", frequency="Daily", source="fred", active=False
            )
        )
    result = universe.add_series(engine, "DGS7")
    assert result.status == "reactivated"
    stored = row(engine, "DGS7")
    assert stored["active"] is True and stored["title"] == "7-Year"  # real metadata kept


@pytest.mark.parametrize("bad", ["", "   ", None, "DGS 10", "DGS10;DROP TABLE users", "ÄBC", "-DGS", "X" * 33, 42])
def test_invalid_ids_are_refused_with_a_clear_message(engine, bad):
    with pytest.raises(ValueError, match="FRED series id"):
        universe.add_series(engine, bad)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_any_text_is_either_refused_or_stored_as_a_valid_id(engine, text):
    try:
        result = universe.add_series(engine, text)
    except ValueError as exc:
        assert "FRED series id" in str(exc)
        return
    assert SERIES_ID.problem(result.series_id) is None
    assert result.series_id == text.strip().upper()
    assert row(engine, result.series_id)["active"] is True
