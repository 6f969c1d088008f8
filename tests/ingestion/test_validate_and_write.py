"""Validation reasons, quarantine, and the COPY-based upsert against a real PostgreSQL."""

import io
from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ingestion.validate import validate_daily_bars, validate_macro_observations
from ingestion.writer import _csv_buffer, quarantine, upsert
from store import tables
from store.db import create_db_engine, migrate


def bar(symbol="AAA", day=date(2024, 1, 2), o=10.0, h=11.0, low=9.0, c=10.5, v=100):
    return {"symbol": symbol, "date": day, "open": o, "high": h, "low": low, "close": c, "adj_close": c, "volume": v}


def test_validation_reasons():
    frame = pd.DataFrame(
        [
            bar(),
            bar(day=date(2024, 1, 3), low=12.0),  # low above high
            bar(day=date(2024, 1, 4), c=8.0),  # close below low
            bar(day=date(2024, 1, 5), o=11.5),  # open above high
            bar(day=date(2024, 1, 8), v=-1),
            bar(day=date(2024, 1, 9), c=np.nan),
            bar(day=date(2024, 1, 10), o=-1.0, low=-2.0),
            bar(),  # duplicate of the first
            bar(day=date(2024, 1, 11), c=11.0 * (1 + 1e-13)),  # adjustment noise is not an error
        ]
    )
    result = validate_daily_bars(frame)
    assert result.rejected["reason"].tolist() == [
        "low above high",
        "open or close below low",
        "open or close above high",
        "negative volume",
        "missing value",
        "non-positive price",
        "duplicate date",
    ]
    assert result.valid["date"].tolist() == [date(2024, 1, 2), date(2024, 1, 11)]


def test_macro_gaps_are_valid_but_duplicates_are_not():
    frame = pd.DataFrame(
        {
            "series_id": ["X", "X", "X"],
            "date": [date(2024, 1, 1), date(2024, 2, 1), date(2024, 2, 1)],
            "value": [1.0, np.nan, 2.0],
        }
    )
    result = validate_macro_observations(frame)
    assert len(result.valid) == 2 and result.rejected["reason"].tolist() == ["duplicate date"]


@pytest.fixture(scope="module")
def engine(make_migrated_database):
    engine = create_db_engine(make_migrated_database())
    migrate(engine)
    yield engine
    engine.dispose()


def stored_bars(engine):
    with engine.connect() as conn:
        return pd.read_sql(sa.select(tables.daily_bars).order_by("symbol", "date"), conn)


def test_upsert_inserts_updates_and_leaves_unchanged_rows_alone(engine):
    frame = pd.DataFrame([bar(day=date(2024, 2, d)) for d in range(1, 6)])
    with engine.begin() as conn:
        assert upsert(conn, tables.daily_bars, frame, source="test", batch_rows=2) == 5
    first = stored_bars(engine)

    changed = frame.copy()
    changed.loc[2, ["close", "adj_close"]] = 10.75
    with engine.begin() as conn:
        assert upsert(conn, tables.daily_bars, changed, source="test", batch_rows=2) == 1
    second = stored_bars(engine)
    assert len(second) == 5
    assert second.loc[2, "close"] == 10.75
    unchanged = second.index != 2
    assert (second.loc[unchanged, "ingested_at"] == first.loc[unchanged, "ingested_at"]).all()
    assert second.loc[2, "ingested_at"] > first.loc[2, "ingested_at"]


def test_upsert_is_all_or_nothing_within_the_callers_transaction(engine):
    frame = pd.DataFrame([bar(symbol="TXN", day=date(2024, 3, d)) for d in range(1, 4)])
    with pytest.raises(RuntimeError), engine.begin() as conn:
        upsert(conn, tables.daily_bars, frame, source="test")
        raise RuntimeError("crash after the write, before commit")
    assert "TXN" not in set(stored_bars(engine)["symbol"])


def test_quarantine_keeps_rejected_rows_with_reason(engine):
    frame = pd.DataFrame([bar(symbol="QQQ1", low=12.0)])
    rejected = validate_daily_bars(frame).rejected
    with engine.begin() as conn:
        assert quarantine(conn, None, tables.daily_bars, rejected) == 1
        row = (
            conn.execute(sa.select(tables.quarantined_rows).where(tables.quarantined_rows.c.key == "QQQ1/2024-01-02"))
            .mappings()
            .one()
        )
    assert row["reason"] == "low above high"
    assert row["payload"]["low"] == 12.0 and row["payload"]["date"] == "2024-01-02"


def test_upsert_writes_text_numbers_and_times_as_pandas_would(engine):
    """The Arrow CSV path: exact floats, NULL for NaN/None and for empty text, booleans, timestamps with offsets;
    and a column Arrow cannot type (mixed objects) falls back to pandas' writer."""
    instruments = pd.DataFrame(
        {
            "symbol": ["TXT1", "TXT2"],
            "name": ['Quote "and" comma, Inc.', "Line\nbreak"],
            "asset_class": "stock",
            "sector": ["", None],
            "industry": [np.nan, "Tools"],
            "currency": "USD",
            "active": [True, False],
        }
    )
    quotes = pd.DataFrame(
        {
            "symbol": "TXT1",
            "ts": pd.to_datetime(["2024-03-01 15:35:00.123456", "2024-03-01 15:40:00"], utc=True, format="ISO8601"),
            "price": [0.1 + 0.2, 1e-7],
            "volume": pd.array([None, 2**40], dtype="Int64"),
        }
    )
    # A date column holding a date and a text date: Arrow cannot type it, pandas' writer writes both.
    mixed = pd.DataFrame({"series_id": "MIX1", "date": [date(2024, 1, 1), "2024-02-01"], "value": [1.5, np.nan]})
    assert isinstance(_csv_buffer(mixed), io.StringIO)
    with engine.begin() as conn:
        assert upsert(conn, tables.instruments, instruments, source="test") == 2
        assert upsert(conn, tables.intraday_quotes, quotes, source="test") == 2
        assert upsert(conn, tables.macro_observations, mixed, source="test") == 2
        rows = conn.execute(sa.text("select name, sector, industry, active from instruments order by symbol")).all()
        stored = conn.execute(sa.text("select ts, price, volume from intraday_quotes order by ts")).all()
    assert rows == [('Quote "and" comma, Inc.', None, None, True), ("Line\nbreak", None, "Tools", False)]
    assert [r.price for r in stored] == [0.1 + 0.2, 1e-7] and [r.volume for r in stored] == [None, 2**40]
    assert stored[0].ts == pd.Timestamp("2024-03-01 15:35:00.123456", tz="UTC")
    with engine.connect() as conn:
        observed = conn.execute(sa.text("select date, value from macro_observations order by date")).all()
    assert observed == [(date(2024, 1, 1), 1.5), (date(2024, 2, 1), None)]
