"""Saved indices computed from the stored data and their stored levels (the worker's derive.index_levels work)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ingestion import indices as builder
from store import indices
from store.indices import IndexDefinition
from store.reads import index as index_reads


def closes(engine: sa.Engine, symbols: list[str]) -> pd.DataFrame:
    """Adjusted closes straight from the table (not through the reads the builder uses)."""
    query = sa.text("select date, symbol, adj_close from daily_bars where symbol = any(:s) order by date")
    with engine.connect() as conn:
        long = pd.read_sql(query, conn, params={"s": symbols})
    return long.pivot(index="date", columns="symbol", values="adj_close")


@pytest.fixture
def engine(engine_for, make_sample_database):
    return engine_for(make_sample_database())


def test_daily_equal_weight_levels_are_the_mean_daily_return_compounded(engine):
    """Oracle by hand: rebalanced to equal weights every day, without costs, the index's return each day is the
    plain average of its members' returns (all three have a price every day in the sample)."""
    symbols = ["AAPL", "MSFT", "SPY"]
    saved = indices.save(
        engine, "analyst", "three daily", IndexDefinition(universe="tickers", tickers=tuple(symbols), rebalance="D")
    )
    outcome = builder.refresh_levels(engine)
    assert outcome.computed == [saved.id] and outcome.failed == {}

    with engine.connect() as conn:
        stored = index_reads.index_levels(conn, saved.id)
    wide = closes(engine, symbols).dropna()
    expected = 1000.0 * (1.0 + wide.pct_change().fillna(0.0).mean(axis=1)).cumprod()
    assert len(stored) == len(expected) > 1500
    np.testing.assert_allclose(stored["level_net"].to_numpy(), expected.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(stored["level_gross"].to_numpy(), expected.to_numpy(), rtol=1e-9)
    assert indices.get(engine, "analyst", "three daily").levels_computed_at is not None


def test_costs_take_exactly_the_stated_amount_at_the_initial_construction(engine):
    """Quarterly, 10 bps: building from cash is a 100% one-way trade, so the first net level is base x (1 - 0.001)."""
    d = IndexDefinition(universe="tickers", tickers=("AAPL", "MSFT"), rebalance="Q", cost_bps=10.0)
    saved = indices.save(engine, "analyst", "costly", d)
    builder.refresh_levels(engine, [saved.id])
    with engine.connect() as conn:
        stored = index_reads.index_levels(conn, saved.id)
    assert stored["level_gross"].iloc[0] == pytest.approx(1000.0)
    assert stored["level_net"].iloc[0] == pytest.approx(999.0)
    assert (stored["level_net"] <= stored["level_gross"] + 1e-9).all()


def test_an_index_that_cannot_be_built_keeps_its_reason_and_never_stops_the_others(engine):
    good = indices.save(engine, "analyst", "good", IndexDefinition(universe="tickers", tickers=("AAPL",)))
    # A valid symbol with no stored prices: the definition saves, the computation cannot run.
    bad = indices.save(engine, "viewer1", "no data", IndexDefinition(universe="tickers", tickers=("ZZZZ",)))
    sector = indices.save(engine, "viewer1", "no list", IndexDefinition(universe="sector", sector="Energy"))

    outcome = builder.refresh_levels(engine)

    assert outcome.computed == [good.id]
    assert "ZZZZ" in outcome.failed[bad.id]
    assert "S&P 500 list is not stored" in outcome.failed[sector.id]
    assert indices.get(engine, "viewer1", "no data").levels_error == outcome.failed[bad.id]
    with engine.connect() as conn:
        assert not index_reads.index_levels(conn, good.id).empty
        assert index_reads.index_levels(conn, bad.id).empty


def test_the_page_and_the_worker_compute_the_same_index(engine):
    """One function for both: the stored levels equal the computation the page caches."""
    d = IndexDefinition(universe="tickers", tickers=("AAPL", "MSFT", "NVDA", "JPM"), rebalance="SPX", cost_bps=5)
    saved = indices.save(engine, "analyst", "four", d)
    builder.refresh_levels(engine)
    with engine.connect() as conn:
        page = builder.compute(conn, d)
        stored = index_reads.index_levels(conn, saved.id)
    np.testing.assert_allclose(stored["level_net"].to_numpy(), page.levels.to_numpy(), rtol=0, atol=0)
    assert list(stored.index) == list(page.levels.index)


def test_a_prices_run_on_the_queue_updates_the_stored_levels_of_saved_indices(
    engine_for, make_migrated_database, tmp_path
):
    """End to end: a saved index of two symbols, a prices run queued and run by a real worker process; the run's
    new rows queue derive.index_levels, which the worker runs: the levels appear, computed from those prices."""
    from ingestion import queue
    from tests.support.workers import progress, start_worker, stop, wait_for

    url = make_migrated_database()
    engine = engine_for(url, YFINANCE_ENABLED="false", FRED_GRAPH_ENABLED="false")
    queue.close_sync()
    saved = indices.save(engine, "analyst", "ab", IndexDefinition(universe="tickers", tickers=("AAA", "BBB")))
    worker = start_worker(url, tmp_path)
    try:
        task = queue.request_run("prices", ["AAA", "BBB"], None, None, requested_by="ops", engine=engine)
        wait_for(lambda: progress(engine, task)["state"] in ("done", "failed"))
        assert progress(engine, task)["state"] == "done"
        wait_for(lambda: indices.get(engine, "analyst", "ab").levels_computed_at is not None)
    finally:
        stop(worker)
        queue.close_sync()
    with engine.connect() as conn:
        stored = index_reads.index_levels(conn, saved.id)
        expected = builder.compute(conn, saved.definition).levels
    assert len(stored) == len(expected) > 0
    np.testing.assert_allclose(stored["level_net"].to_numpy(), expected.to_numpy(), rtol=1e-12)
