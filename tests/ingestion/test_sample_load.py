"""The bundled sample goes through provider -> validate -> upsert: complete, exact, idempotent, all-or-nothing."""

import shutil

import pandas as pd
import pytest
import sqlalchemy as sa

from ingestion.providers.sample import SampleDataError, SampleProvider
from ingestion.sample import load_sample
from store import tables
from store.db import create_db_engine, migrate
from store.reads import core
from tests.conftest import ROOT

SAMPLE = ROOT / "data" / "sample"


def table_counts(engine) -> dict[str, int]:
    names = ["instruments", "daily_bars", "macro_series", "macro_observations", "quarantined_rows"]
    with engine.connect() as conn:
        return {n: conn.execute(sa.text(f"select count(*) from {n}")).scalar_one() for n in names}


@pytest.fixture
def migrated(empty_database_url):
    engine = create_db_engine(empty_database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_sample_load_is_complete_and_idempotent(migrated):
    assert database_is_empty(migrated)
    first = load_sample(migrated, SAMPLE)
    counts = table_counts(migrated)
    price_rows = sum(len(pd.read_csv(p)) for p in (SAMPLE / "prices").glob("*.csv"))
    assert counts["daily_bars"] == price_rows == first["daily_bars"]
    assert counts["instruments"] == 35
    assert counts["macro_series"] == len(pd.read_csv(SAMPLE / "macro" / "series.csv"))
    assert counts["quarantined_rows"] == 0
    assert not database_is_empty(migrated)

    second = load_sample(migrated, SAMPLE)
    assert table_counts(migrated) == counts
    assert second["daily_bars"] == 0 and second["macro_observations"] == 0  # nothing rewritten

    with migrated.connect() as conn:
        statuses = (
            conn.execute(sa.select(tables.ingestion_runs.c.status).order_by(tables.ingestion_runs.c.id)).scalars().all()
        )
    assert statuses == ["success", "success"]


def test_sample_values_are_stored_exactly(migrated):
    load_sample(migrated, SAMPLE)
    raw = pd.read_csv(SAMPLE / "prices" / "NVDA.csv")
    with migrated.connect() as conn:
        stored = pd.read_sql(
            sa.select(tables.daily_bars).where(tables.daily_bars.c.symbol == "NVDA").order_by(tables.daily_bars.c.date),
            conn,
        )
    assert len(stored) == len(raw)
    assert stored["close"].tolist() == raw["Close"].tolist()  # exact float round trip through COPY
    assert stored["volume"].tolist() == raw["Volume"].tolist()
    assert set(stored["source"]) == {"sample"}


def test_missing_macro_value_is_a_null_gap(migrated):
    load_sample(migrated, SAMPLE)
    obs = tables.macro_observations
    with migrated.connect() as conn:
        value = conn.execute(
            sa.select(obs.c.value).where(obs.c.series_id == "CPIAUCSL", obs.c.date == pd.Timestamp("2025-10-01").date())
        ).one()
    assert value == (None,)


@pytest.mark.parametrize(
    ("file", "mutate", "expected"),
    [
        (
            "prices/MSFT.csv",
            lambda lines: lines[:10] + ["2019-01-16,99.1,not-a-number,98.0,99.0,100"] + lines[10:],
            r"MSFT\.csv: line 11: column 'High'",
        ),
        ("prices/AAPL.csv", lambda lines: lines[:50] + ["2019-03-15,1,2"], r"AAPL\.csv: line 51: column 'Low' is ''"),
        (
            "macro/DGS10.csv",
            lambda lines: lines[:5] + ["1962-13-45,4.0"] + lines[5:],
            r"DGS10\.csv: line 6: column 'date'",
        ),
        ("prices/SPY.csv", lambda lines: ["Date,Open,High"] + lines[1:3], r"SPY\.csv: line 1: missing column"),
    ],
)
def test_corrupt_or_partial_file_fails_naming_file_and_line_and_writes_nothing(
    migrated, tmp_path, file, mutate, expected
):
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE, root)
    path = root / file
    lines = path.read_text().splitlines()
    path.write_text("\n".join(mutate(lines)) + "\n")

    with pytest.raises(SampleDataError, match=expected):
        load_sample(migrated, root)
    counts = table_counts(migrated)
    assert counts == {k: 0 for k in counts}
    with migrated.connect() as conn:
        run = conn.execute(sa.select(tables.ingestion_runs.c.status, tables.ingestion_runs.c.error_summary)).one()
    assert run.status == "failed" and path.name in run.error_summary


def test_provider_contract_columns():
    from ingestion.datasets import DAILY_BARS, MACRO_OBSERVATIONS, MACRO_SERIES

    provider = SampleProvider(SAMPLE)
    assert list(provider.daily_bars(["AAPL"]).columns) == DAILY_BARS.columns
    assert list(provider.macro_observations(["GDP"]).columns) == MACRO_OBSERVATIONS.columns
    assert list(provider.series_metadata().columns) == MACRO_SERIES.columns
    assert set(provider.series_metadata()["series_id"]) == set(provider.series_ids())


def test_unknown_symbol_is_not_found():
    from ingestion.providers.base import NotFound

    with pytest.raises(NotFound, match="ZZZZ"):
        SampleProvider(SAMPLE).daily_bars(["ZZZZ"])


def database_is_empty(engine) -> bool:
    with engine.connect() as conn:
        return core.database_is_empty(conn)


def test_a_killed_sample_load_is_closed_as_abandoned_by_the_next_one(make_migrated_database):
    """A load that died half-way (its process killed) leaves a `running` row; the next load closes it."""
    import sqlalchemy as sa

    from store import tables
    from store.db import create_db_engine

    engine = create_db_engine(make_migrated_database())
    runs = tables.ingestion_runs
    with engine.begin() as conn:
        conn.execute(runs.insert().values(job="sample", source="sample", status="running"))
    load_sample(engine, SAMPLE)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(runs.c.status, runs.c.error_summary).order_by(runs.c.id)).all()
    assert rows[0].status == "failed" and rows[0].error_summary.startswith("abandoned")
    assert rows[1].status == "success"
    engine.dispose()


def test_a_second_loader_waits_its_turn_instead_of_loading_twice(make_migrated_database):
    from ingestion.locks import job_lock
    from store.db import create_db_engine

    engine = create_db_engine(make_migrated_database())
    with job_lock(engine, "sample") as held:
        assert held is not None
        assert load_sample(engine, SAMPLE) == {}  # another process (this lock) is loading
        assert database_is_empty(engine)
    engine.dispose()
