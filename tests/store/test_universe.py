"""The universe: symbols and FRED ids added (validated, pending metadata, idempotent), deactivated, reactivated."""

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


def row(engine, series_id, table=tables.macro_series, key="series_id"):
    with engine.connect() as conn:
        return conn.execute(sa.select(table).where(table.c[key] == series_id)).mappings().first()


def test_new_id_is_added_active_with_pending_metadata(engine):
    result = universe.add(engine, "series", "  dgs30 ")
    assert result.status == "added" and result.id == "DGS30" and result.changed
    assert "next macro run" in result.message
    stored = row(engine, "DGS30")
    assert stored["active"] is True
    assert stored["title"] == "DGS30" and stored["units"] == "pending" and stored["frequency"] == "pending"
    assert stored["source"] == "fred" and stored["last_updated"] is None


def test_adding_twice_changes_nothing(engine):
    universe.add(engine, "series", "CPILFESL")
    before = row(engine, "CPILFESL")
    again = universe.add(engine, "series", "cpilfesl")
    assert again.status == "unchanged" and not again.changed and "already" in again.message
    assert row(engine, "CPILFESL") == before


def test_inactive_series_is_reactivated(engine):
    with engine.begin() as conn:
        conn.execute(
            tables.macro_series.insert().values(
                series_id="DGS7", title="7-Year", units="Percent", frequency="Daily", source="fred", active=False
            )
        )
    result = universe.add(engine, "series", "DGS7")
    assert result.status == "reactivated"
    stored = row(engine, "DGS7")
    assert stored["active"] is True and stored["title"] == "7-Year"  # real metadata kept


@pytest.mark.parametrize("bad", ["", "   ", None, "DGS 10", "DGS10;DROP TABLE users", "ÄBC", "-DGS", "X" * 33, 42])
def test_invalid_ids_are_refused_with_a_clear_message(engine, bad):
    with pytest.raises(ValueError, match="FRED series id"):
        universe.add(engine, "series", bad)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_any_text_is_either_refused_or_stored_as_a_valid_id(engine, text):
    try:
        result = universe.add(engine, "series", text)
    except ValueError as exc:
        assert "FRED series id" in str(exc)
        return
    assert SERIES_ID.problem(result.id) is None
    assert result.id == text.strip().upper()
    assert row(engine, result.id)["active"] is True


def test_a_symbol_is_added_deactivated_and_reactivated_with_its_history_kept(engine):
    added = universe.add(engine, "symbol", " brk.b ")
    assert (added.id, added.status) == ("BRK.B", "added") and "next prices run" in added.message
    stored = row(engine, "BRK.B", tables.instruments, "symbol")
    assert stored["active"] and stored["name"] == "BRK.B" and stored["asset_class"] == "pending"
    with engine.begin() as conn:
        conn.execute(
            tables.daily_bars.insert().values(
                symbol="BRK.B", date="2024-01-02", open=1, high=1, low=1, close=1, adj_close=1, volume=1, source="t"
            )
        )
    off = universe.set_active(engine, "symbol", "BRK.B", False)
    assert off.status == "deactivated" and "history is kept" in off.message
    assert universe.set_active(engine, "symbol", "brk.b", False).status == "unchanged"
    assert row(engine, "BRK.B", tables.instruments, "symbol")["active"] is False
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.daily_bars)).scalar_one() == 1
        listed = {e["id"]: e["active"] for e in universe.entries(conn, "symbol")}
    assert listed["BRK.B"] is False
    assert universe.add(engine, "symbol", "BRK.B").status == "reactivated"
    assert universe.set_active(engine, "symbol", "BRK.B", True).status == "unchanged"


@pytest.mark.parametrize(
    ("kind", "bad", "message"),
    [("symbol", "NOPE1", "not in the universe"), ("symbol", "BAD SYMBOL", "symbol"), ("series", "X" * 31, "30")],
)
def test_switching_an_unknown_or_invalid_id_is_refused(engine, kind, bad, message):
    with pytest.raises(ValueError, match=message):
        universe.set_active(engine, kind, bad, False)
