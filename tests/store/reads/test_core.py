"""The run ledger as the operations page filters it: by job, provider, status and day, with item outcomes."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from ingestion.runs import recorded_run
from store import tables
from store.reads import core


def record(engine, job, provider, ok=(), failed=None, started="2026-03-02 15:00+00"):
    with recorded_run(engine, job, provider) as run:
        for item in ok:
            run.ok(item, provider, 10)
            run.rows_written += 10
        for item, why in (failed or {}).items():
            run.fail(item, why)
    with engine.begin() as conn:
        conn.execute(
            tables.ingestion_runs.update()
            .where(tables.ingestion_runs.c.id == run.id)
            .values(
                started_at=sa.text(f"'{started}'::timestamptz"),
                finished_at=sa.text(f"'{started}'::timestamptz + interval '90 seconds'"),
            )
        )
    return run.id


def test_runs_are_filtered_and_carry_their_item_outcomes(engine_for, make_migrated_database):
    engine = engine_for(make_migrated_database())
    prices = record(engine, "prices", "yfinance", ok=["AAPL", "MSFT"], failed={"NOPE": "yfinance: no data returned"})
    macro = record(engine, "macro", "fred", ok=["UNRATE"], started="2026-03-05 23:00+00")
    failed = record(engine, "prices", "alpha_vantage", failed={"IBM": "rate limited"}, started="2026-03-06 15:00+00")
    with engine.connect() as conn:
        everything = core.ingestion_runs(conn)
        assert list(everything["id"]) == [failed, macro, prices]
        row = everything.set_index("id").loc[prices]
        assert (row["status"], row["items_ok"], row["items_failed"]) == ("partial", 2, 1)
        assert row["failures"] == "NOPE: yfinance: no data returned" and row["duration_s"] == 90
        assert list(core.ingestion_runs(conn, job="prices")["id"]) == [failed, prices]
        assert list(core.ingestion_runs(conn, provider="fred")["id"]) == [macro]
        assert list(core.ingestion_runs(conn, provider="yfin")["id"]) == []  # a provider, not a substring
        assert list(core.ingestion_runs(conn, status="failed")["id"]) == [failed]
        assert list(core.ingestion_runs(conn, start=date(2026, 3, 5))["id"]) == [failed, macro]
        assert list(core.ingestion_runs(conn, end=date(2026, 3, 5))["id"]) == [macro, prices]
        assert core.ingestion_runs(conn, job="quotes").empty
