"""Key statistics (the Ticker page's quote header): from yfinance's `Ticker.info`, rebuilt from recorded Yahoo bodies,
through validation and the reference job into the table, and the bundled sample's copy of the same figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yfinance as yf

from ingestion.datasets import KEY_STATISTICS, validate_key_statistics
from ingestion.jobs import JobRequest, run_job
from ingestion.providers.base import NotFound, failures_of
from ingestion.providers.resilience import GuardPolicy, ProviderGuard
from ingestion.providers.sample import SampleProvider
from ingestion.providers.yahoo import YahooProvider, key_statistics_from_info
from ingestion.sample import ensure_universe
from store import clock, tables
from store.db import create_db_engine
from store.reads import market as market_reads
from tests.conftest import SAMPLE
from tests.support.yahoo import FakeDownload, FakeTicker
from tests.support.yahoo_info import recorded_info

SEEN = date(2025, 2, 17)  # the v7 quote's capture day: its figures win yfinance's merge


def test_key_statistics_from_the_recorded_aapl_info():
    [row] = key_statistics_from_info("AAPL", recorded_info(), SEEN).to_dict("records")
    # The v7 quote lies over quoteSummary in Ticker.info: its trailingPE (38.763866) beats summaryDetail's 38.91442.
    assert row["trailing_pe"] == 38.763866 and row["trailing_eps"] == 6.31 and row["beta"] == 1.2
    # Yield = dividendRate 1 / regularMarketPrice 244.6, a fraction: the v7 dividendYield (0.41) is in percent.
    assert row["dividend_yield"] == pytest.approx(1 / 244.6) and recorded_info()["dividendYield"] == 0.41
    # earningsTimestamp 1738272600 (2025-01-30) has passed; earningsTimestampStart 1746010740 is 2025-04-30 in New York.
    assert row["next_earnings"] == date(2025, 4, 30) and row["as_of"] == SEEN


def test_quote_summary_alone_gives_the_same_yield_unit():
    """Without the v7 quote (its request failed), summaryDetail's fraction is what Ticker.info holds: same unit out."""
    info = recorded_info(("yahoo_quoteSummary_v10_summaryDetail_AAPL.json",))
    [row] = key_statistics_from_info("AAPL", {**info, "shortName": "Apple Inc."}, SEEN).to_dict("records")
    assert info["dividendYield"] == 0.0041
    assert row["dividend_yield"] == pytest.approx(1 / 245.83)  # dividendRate / previousClose: 0.41%, as a fraction
    assert row["trailing_pe"] == 38.91442 and np.isnan(row["trailing_eps"]) and row["next_earnings"] is None


def test_an_unknown_symbol_and_an_etf_without_statistics():
    with pytest.raises(NotFound, match="ZZZZ"):
        key_statistics_from_info("ZZZZ", {"trailingPegRatio": None}, SEEN)
    [row] = key_statistics_from_info("SPY", {"quoteType": "ETF", "beta": "n/a"}, SEEN).to_dict("records")
    assert all(np.isnan(row[c]) for c in ("trailing_pe", "trailing_eps", "dividend_yield", "beta"))


def test_validation_refuses_what_would_mislead():
    good = key_statistics_from_info("AAPL", recorded_info(), SEEN)
    bad = pd.concat(
        [
            good,
            good.assign(symbol="MSFT", trailing_pe=-3.0),
            good.assign(symbol="NVDA", dividend_yield=0.41 * 100),  # a percentage sent as a fraction's number
            good.assign(symbol="TSLA", beta=np.inf),
            good,  # the same figure twice
        ],
        ignore_index=True,
    )
    checked = validate_key_statistics(bad)
    assert checked.valid["symbol"].tolist() == ["AAPL"]
    assert checked.rejected["reason"].tolist() == [
        "non-positive P/E",
        "dividend yield not a fraction in [0, 1)",
        "not a number",
        "duplicate figure",
    ]


class RecordedTicker(FakeTicker):
    """FakeTicker with AAPL's recorded key statistics in its `.info`, as yfinance would merge them."""

    @property
    def info(self) -> dict[str, Any]:
        base = super().info
        return {**base, **recorded_info()} if self.ticker == "AAPL" else base


@pytest.fixture
def yahoo(monkeypatch):
    monkeypatch.setattr(yf, "download", FakeDownload())
    monkeypatch.setattr(yf, "Ticker", RecordedTicker)
    monkeypatch.setattr(clock, "now", lambda: datetime(2025, 2, 17, 15, 0, tzinfo=UTC))
    return YahooProvider(guard=ProviderGuard("yfinance", None, policy=GuardPolicy(attempts=1), sleep=lambda s: None))


def test_the_provider_reads_each_symbol_as_of_new_yorks_day(yahoo):
    frame = yahoo.key_statistics(["AAPL", "ZZZZ"])
    assert list(frame.columns) == KEY_STATISTICS.columns
    assert frame["symbol"].tolist() == ["AAPL"] and frame["as_of"].tolist() == [SEEN]
    assert list(failures_of(frame)) == ["ZZZZ"]


def test_the_reference_job_stores_them_and_a_read_is_point_in_time(yahoo, make_migrated_database):
    engine = create_db_engine(make_migrated_database())
    try:
        ensure_universe(engine, SAMPLE)
        result = run_job(engine, JobRequest("reference", ["AAPL"]), [yahoo])
        assert result.status == "success", result.failures
        with engine.connect() as conn:
            stored = pd.read_sql(sa.select(tables.key_statistics), conn)
            now = market_reads.key_statistics(conn, ["AAPL", "MSFT"])
            before = market_reads.key_statistics(conn, ["AAPL"], date(2025, 2, 16))
        assert len(stored) == 1 and stored["source"].tolist() == ["yfinance"]
        assert now["symbol"].tolist() == ["AAPL"] and now["trailing_pe"].tolist() == [38.763866]
        assert now["next_earnings"].tolist() == [date(2025, 4, 30)] and now["as_of"].tolist() == [SEEN]
        assert before.empty  # not seen yet on the 16th
        assert run_job(engine, JobRequest("reference", ["AAPL"]), [yahoo]).rows_written == 0  # nothing changed
    finally:
        engine.dispose()


def test_the_bundled_sample_holds_the_recorded_figures():
    """data/sample/reference/key_statistics.csv is the live transform's output on the recorded bodies (SOURCES.md)."""
    bundled = SampleProvider(SAMPLE).key_statistics()
    expected = key_statistics_from_info("AAPL", recorded_info(), SEEN)
    pd.testing.assert_frame_equal(bundled, expected, check_exact=False, rtol=1e-9)
    with pytest.raises(NotFound, match="MSFT"):
        SampleProvider(SAMPLE).key_statistics(["MSFT"])
