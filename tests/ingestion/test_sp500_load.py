"""The S&P 500 demo bundle through sample provider -> validate -> upsert: complete, exact, idempotent, all-or-nothing,
adjusted-close-only bars stored as such, the 35-ticker sample's symbols (and live ones) left alone; CLI and queue."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ingestion import queue
from ingestion.__main__ import main
from ingestion.providers.sample import SampleDataError, SP500SampleProvider
from ingestion.sample import load_sample
from ingestion.validate import INCOMPLETE_OHLC, validate_daily_bars
from ingestion.writer import quarantine, upsert
from store import tables
from store.db import create_db_engine
from tests.support.sp500 import SP500, bundle_frame, sample_symbols, write_bundle
from tests.support.workers import progress, start_worker, stop, wait_for

SMALL = ["AAPL", "NFLX", "DFS", "BRK.B"]  # kept (in the sample), current, former member, a dotted ticker


def counts_by_source(engine: sa.Engine, table: str) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(f"select source, count(*) from {table} group by source")).all())


def table_counts(engine: sa.Engine) -> dict[str, int]:
    names = ["instruments", "index_members", "daily_bars", "raw_closes", "shares_outstanding", "quarantined_rows"]
    with engine.connect() as conn:
        return {n: conn.execute(sa.text(f"select count(*) from {n}")).scalar_one() for n in names}


@pytest.fixture(scope="module")
def loaded(databases, sample_template):
    """A copy of the sample database with the whole bundle loaded once (about 30 s)."""
    engine = create_db_engine(databases.create(sample_template))
    before = counts_by_source(engine, "daily_bars")
    counts = load_sample(engine, SP500, "sp500")
    yield engine, counts, before
    engine.dispose()


@pytest.fixture
def sample_db(make_sample_database):
    engine = create_db_engine(make_sample_database())
    yield engine
    engine.dispose()


def test_the_whole_bundle_loads_complete(loaded):
    """Its time is measured by benchmarks/sp500_load.py, not here."""
    engine, counts, before = loaded
    adjusted, raw = bundle_frame("adjusted"), bundle_frame("raw")
    kept = sample_symbols() & set(adjusted["symbol"])
    former = raw[raw["adj_close"].notna()]
    expected_bars = int((~adjusted["symbol"].isin(kept)).sum()) + len(former)
    shares = len(bundle_frame("shares")) + len(bundle_frame("snapshots"))
    assert len(kept) == 28 and expected_bars == 926_849
    assert counts == {
        "instruments": 540 - len(kept),
        "index_members": 540,
        "daily_bars": expected_bars,
        "raw_closes": len(raw),
        "shares_outstanding": shares,
        "quarantined": 0,
    }
    assert counts_by_source(engine, "daily_bars") == {**before, "sample-sp500": expected_bars}
    shares_by_source = counts_by_source(engine, "shares_outstanding")
    shares_by_source.pop("sample")  # the 35-ticker sample's own Yahoo counts, loaded with it
    assert shares_by_source == {
        "sample-sp500-fmp": len(bundle_frame("shares")),
        "sample-sp500-yahoo": len(bundle_frame("snapshots")),
    }
    with engine.connect() as conn:
        members = dict(conn.execute(sa.text("select is_current, count(*) from index_members group by 1")).all())
        active = dict(
            conn.execute(
                sa.text(
                    "select m.is_current, bool_and(i.active = m.is_current) from index_members m "
                    "join instruments i using (symbol) where i.source = 'sample-sp500' group by 1"
                )
            ).all()
        )
        run = conn.execute(sa.text("select job, source, status, details from ingestion_runs order by id desc")).first()
    assert members == {True: 503, False: 37}
    assert active == {True: True, False: True}  # today's members active, former ones not
    assert (run.job, run.source, run.status) == ("sp500", "sample-sp500", "success")
    assert sorted(run.details["kept"]) == sorted(kept)


def test_adjusted_close_only_bars_have_no_ohlc_and_exact_values(loaded):
    engine = loaded[0]
    with engine.connect() as conn:
        with_prices = conn.execute(
            sa.text(
                "select count(*) from daily_bars where source = 'sample-sp500' and (open is not null or "
                "high is not null or low is not null or close is not null or volume is not null)"
            )
        ).scalar_one()
        nflx = pd.read_sql(sa.text("select date, adj_close from daily_bars where symbol = 'NFLX' order by date"), conn)
        dfs = conn.execute(sa.text("select count(*), max(date) from daily_bars where symbol = 'DFS'")).one()
        raw = pd.read_sql(
            sa.text("select date, close, volume from raw_closes where symbol = 'AAPL' order by date"), conn
        )
    assert with_prices == 0
    source = bundle_frame("adjusted").query("symbol == 'NFLX'")
    assert len(nflx) == len(source)
    # The float32 values as the decimals they were written as (62.180546, not 62.18054580688477).
    assert nflx["adj_close"].tolist() == [float(np.format_float_positional(v)) for v in source["adj_close"].to_numpy()]
    assert dfs[0] == 1432 and dfs[1] == date(2024, 9, 10)  # a former member, from the 2019-2024 file
    aapl = bundle_frame("raw").query("symbol == 'AAPL'")
    assert raw["volume"].tolist() == aapl["volume"].tolist() and raw["close"].iloc[0] == pytest.approx(39.48, abs=1e-4)


def test_the_sample_symbols_keep_their_bars(loaded):
    engine = loaded[0]
    with engine.connect() as conn:
        aapl = conn.execute(
            sa.text("select count(*), count(close), min(source), max(source) from daily_bars where symbol = 'AAPL'")
        ).one()
        name = conn.execute(sa.text("select name, source from instruments where symbol = 'AAPL'")).one()
    rows = len(pd.read_csv(SP500.parent / "sample" / "prices" / "AAPL.csv"))
    assert tuple(aapl) == (rows, rows, "sample", "sample")  # never two vintages inside one symbol
    assert tuple(name) == ("Apple Inc.", "sample")  # a stored instrument keeps its row


def test_loading_twice_changes_nothing(sample_db):
    """On forty symbols, former members among them (the whole bundle's second load takes about 20 s more)."""
    provider = SP500SampleProvider(SP500)
    symbols = provider.members()[::16] + provider.former_members()[::4]
    first = load_sample(sample_db, SP500, "sp500", symbols=symbols)
    before = table_counts(sample_db)
    again = load_sample(sample_db, SP500, "sp500", symbols=symbols)
    assert first["daily_bars"] > 40_000 and set(again.values()) == {0}
    assert table_counts(sample_db) == before
    with sample_db.connect() as conn:
        statuses = conn.execute(sa.text("select status from ingestion_runs where job = 'sp500'")).scalars().all()
    assert statuses == ["success", "success"]


def test_a_subset_loads_and_a_live_symbol_is_left_alone(sample_db):
    with sample_db.begin() as conn:  # NFLX already has a bar from a live provider
        conn.execute(
            sa.text(
                "insert into daily_bars (symbol, date, open, high, low, close, adj_close, volume, source) "
                "values ('NFLX', '2026-06-26', 70, 72, 69, 71, 71, 1000, 'yfinance')"
            )
        )
    counts = load_sample(sample_db, SP500, "sp500", symbols=["nflx", "DFS", "AAPL"])
    assert counts["index_members"] == 3 and counts["instruments"] == 2  # AAPL is the sample's
    assert counts["daily_bars"] == 1432  # DFS only: NFLX (live) and AAPL (the sample) keep theirs
    assert counts_by_source(sample_db, "index_members") == {"sample-sp500": 3}
    with sample_db.connect() as conn:
        nflx = conn.execute(sa.text("select count(*) from daily_bars where symbol = 'NFLX'")).scalar_one()
        raw = conn.execute(sa.text("select count(distinct symbol) from raw_closes")).scalar_one()
    assert nflx == 1 and raw == 3


def test_a_bar_with_part_of_its_ohlc_is_quarantined_and_an_adjusted_close_only_bar_is_valid(sample_db):
    bars = pd.DataFrame(
        {
            "symbol": ["AAA", "AAA", "AAA"],
            "date": [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)],
            "open": [np.nan, np.nan, 10.0],
            "high": [np.nan, 11.0, 11.0],
            "low": [np.nan, np.nan, 9.0],
            "close": [np.nan, 10.5, 10.5],
            "adj_close": [10.0, 10.5, 10.5],
            "volume": pd.array([None, 100, None], dtype="Int64"),
        }
    )
    checked = validate_daily_bars(bars)
    assert checked.valid["date"].tolist() == [date(2024, 1, 2)]
    assert checked.rejected["reason"].tolist() == [INCOMPLETE_OHLC, "missing value"]  # the full bar lacks volume
    with sample_db.begin() as conn:
        assert upsert(conn, tables.daily_bars, checked.valid, source="test") == 1
        assert quarantine(conn, None, tables.daily_bars, checked.rejected) == 2
    with sample_db.connect() as conn:
        stored = conn.execute(sa.text("select open, close, volume, adj_close from daily_bars where symbol = 'AAA'"))
        reasons = conn.execute(sa.text("select key, reason from quarantined_rows order by key")).all()
    assert stored.one() == (None, None, None, 10.0)
    assert reasons == [("AAA/2024-01-03", INCOMPLETE_OHLC), ("AAA/2024-01-04", "missing value")]


def test_a_corrupt_file_fails_the_load_naming_it_and_writes_nothing(sample_db, tmp_path):
    root = write_bundle(tmp_path / "sp500", SMALL)
    broken = root / "close_volume_daily_2019_2024.parquet"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    before = table_counts(sample_db)
    with pytest.raises(SampleDataError, match="close_volume_daily_2019_2024.parquet"):
        load_sample(sample_db, root, "sp500")
    assert table_counts(sample_db) == before
    with sample_db.connect() as conn:
        run = conn.execute(sa.text("select status, error_summary from ingestion_runs order by id desc")).first()
    assert run.status == "failed" and "close_volume_daily_2019_2024.parquet" in run.error_summary


def test_the_provider_speaks_the_contract():
    from ingestion.datasets import DAILY_BARS, INDEX_MEMBERS, INSTRUMENTS, RAW_CLOSES, SHARES_OUTSTANDING
    from ingestion.providers.base import NotFound

    provider = SP500SampleProvider(SP500)
    assert len(provider.members()) == 503 and len(provider.former_members()) == 37
    assert list(provider.daily_bars(["NFLX"]).columns) == DAILY_BARS.columns
    assert list(provider.raw_closes(["NFLX"]).columns) == RAW_CLOSES.columns
    assert list(provider.instruments(["NFLX"]).columns) == INSTRUMENTS.columns
    assert list(provider.index_members(["NFLX"]).columns) == INDEX_MEMBERS.columns
    fmp = provider.shares_outstanding(["AAPL"], end=date(2019, 6, 1))
    assert list(fmp.columns) == SHARES_OUTSTANDING.columns and (fmp["filing_date"] <= date(2019, 6, 1)).all()
    yahoo = provider.shares_outstanding(["AAPL"], origin="yahoo")
    assert (yahoo["filing_date"] == yahoo["period_end"]).all()
    with pytest.raises(NotFound, match="ZZZZ"):
        provider.daily_bars(["ZZZZ"])


def test_the_cli_loads_a_subset_and_refuses_symbols_for_the_sample(engine_for, make_sample_database, capsys):
    engine = engine_for(make_sample_database(), SP500_DATA_DIR=str(SP500))
    assert main(["load-sample", "--dataset", "sp500", "--symbols", "NFLX,DFS"]) == 0
    assert "index_members: 2" in capsys.readouterr().out
    assert counts_by_source(engine, "index_members") == {"sample-sp500": 2}
    assert main(["load-sample", "--symbols", "NFLX"]) == 2
    assert "--symbols is for --dataset sp500" in capsys.readouterr().err


def test_the_load_is_queued_from_the_operations_page_and_run_by_a_worker(engine_for, make_migrated_database, tmp_path):
    from dashboard.access import operations

    url = make_migrated_database()
    root = write_bundle(tmp_path / "sp500", SMALL)
    engine = engine_for(url, YFINANCE_ENABLED="false", FRED_GRAPH_ENABLED="false", SP500_DATA_DIR=str(root))
    queue.close_sync()
    assert "sp500" in operations.JOB_CHOICES
    with pytest.raises(ValueError, match="takes no items"):
        operations.request_run("sp500", "NFLX", None, None, actor="ops", client_ip=None)
    worker = start_worker(url, tmp_path / "worker", SP500_DATA_DIR=str(root))
    try:
        task = operations.request_run("sp500", "", None, None, actor="ops", client_ip=None)
        done = wait_for(lambda: (row := progress(engine, task))["state"] in ("done", "failed") and row, timeout=120)
    finally:
        stop(worker)
        queue.close_sync()
    assert done["state"] == "done" and done["task"] == "ingest.sp500", done["message"]
    assert done["requested_by"] == "ops" and "index_members: 4" in done["message"]
    assert done["done"] == done["total"] == 2  # one slice of symbols, then the commit
    assert counts_by_source(engine, "index_members") == {"sample-sp500": 4}
    with engine.connect() as conn:
        audit = conn.execute(sa.text("select details from audit_log where action = 'run_requested'")).scalar_one()
    assert audit["job"] == "sp500" and audit["task"] == task
