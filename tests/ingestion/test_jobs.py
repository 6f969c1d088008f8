"""Jobs end to end against a real PostgreSQL: incremental and backfill, fallback, unknown symbols, quarantine, locks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ingestion.config import IngestionConfig
from ingestion.jobs import JobRequest, run_job
from ingestion.locks import job_lock
from ingestion.providers.base import (
    CircuitOpen,
    NotFound,
    Provider,
    RateLimited,
)
from ingestion.providers.sample import SampleProvider
from ingestion.sample import ensure_universe
from ingestion.validate import INCOMPLETE_OHLC
from store import tables
from store.reads.core import active_symbols as read_active_symbols
from tests.conftest import ROOT
from tests.support.doubles import (
    SyntheticPrices,
    bar_counts,
    duplicate_keys,
    migrated_engine,
    runs,
    sessions,
)

SAMPLE = ROOT / "data" / "sample"
CONFIG = IngestionConfig(chunk_symbols=2, history_start=date(2024, 1, 1))


@pytest.fixture
def db(make_migrated_database):
    engine = migrated_engine(make_migrated_database())
    yield engine
    engine.dispose()


def test_backfill_then_incremental_resumes_from_the_last_stored_date(db):
    provider = SyntheticPrices()
    symbols = ["AAA", "BBB", "CCC"]
    first = run_job(db, JobRequest("prices", symbols, date(2024, 1, 1), date(2024, 3, 28)), [provider], CONFIG)
    assert first.status == "success"
    assert bar_counts(db) == dict.fromkeys(symbols, len(sessions("2024-01-01", "2024-03-28")))
    assert [len(c[0]) for c in provider.calls] == [2, 1]  # chunked by CONFIG.chunk_symbols

    provider.calls.clear()
    second = run_job(db, JobRequest("prices", symbols, end=date(2024, 4, 30)), [provider], CONFIG)
    assert second.status == "success"
    # One request per chunk, starting price_overlap_days before the last stored date (2024-03-28).
    assert {(c[1], c[2]) for c in provider.calls} == {(date(2024, 3, 23), date(2024, 4, 30))}
    assert bar_counts(db) == dict.fromkeys(symbols, len(sessions("2024-01-01", "2024-04-30")))
    # The overlapping days were identical: only the new sessions count as written.
    assert second.rows_written == 3 * len(sessions("2024-03-29", "2024-04-30"))
    assert duplicate_keys(db) == 0

    ledger = runs(db)[-1]
    assert ledger["status"] == "success" and ledger["source"] == "synthetic"
    assert ledger["details"]["items"]["AAA"]["providers"] == ["synthetic"]


def test_backfill_windows_and_first_fetch_from_history_start(db):
    provider = SyntheticPrices()
    config = IngestionConfig(chunk_symbols=10, backfill_window_days=31)
    run_job(db, JobRequest("prices", ["AAA"], date(2024, 1, 1), date(2024, 3, 31)), [provider], config)
    assert [(c[1], c[2]) for c in provider.calls] == [
        (date(2024, 1, 1), date(2024, 1, 31)),
        (date(2024, 2, 1), date(2024, 3, 2)),
        (date(2024, 3, 3), date(2024, 3, 31)),
    ]
    provider.calls.clear()
    # A symbol with nothing stored starts at history_start, in one request.
    run_job(db, JobRequest("prices", ["NEW"], end=date(2024, 2, 29)), [provider], CONFIG)
    assert provider.calls == [(["NEW"], date(2024, 1, 1), date(2024, 2, 29))]


def test_fallback_to_the_next_provider_when_the_first_fails(db):
    class Limited(Provider):
        name = "limited"

        def daily_bars(self, symbols, start, end):
            raise RateLimited("limited: HTTP 429 Too Many Requests", retry_after=30)

    class Open(Provider):
        name = "broken"

        def daily_bars(self, symbols, start, end):
            raise CircuitOpen("broken: circuit open after 5 failures")

    backup = SyntheticPrices(name="backup")
    result = run_job(
        db,
        JobRequest("prices", ["AAA", "BBB"], date(2024, 1, 2), date(2024, 1, 31)),
        [Limited(), Open(), backup],
        CONFIG,
    )
    assert result.status == "success"
    assert result.items["AAA"]["providers"] == ["backup"]
    assert runs(db)[-1]["source"] == "backup"
    assert bar_counts(db) == {"AAA": 21, "BBB": 21}


def test_per_symbol_failures_go_to_the_next_provider_and_unknown_symbols_fail_alone(db):
    primary = SyntheticPrices(name="primary", unknown=frozenset({"MSFT", "ZZZZ"}))
    backup = SyntheticPrices(name="backup", unknown=frozenset({"ZZZZ"}))
    result = run_job(
        db,
        JobRequest("prices", ["AAPL", "MSFT", "ZZZZ"], date(2024, 1, 2), date(2024, 1, 5)),
        [primary, backup],
        CONFIG,
    )
    assert result.status == "partial"
    assert result.items["AAPL"]["providers"] == ["primary"]
    assert result.items["MSFT"]["providers"] == ["backup"]
    assert result.items["ZZZZ"]["status"] == "failed"
    assert "primary: no such ticker ZZZZ" in result.failures["ZZZZ"]
    assert "backup: no such ticker ZZZZ" in result.failures["ZZZZ"]
    assert set(bar_counts(db)) == {"AAPL", "MSFT"}
    ledger = runs(db)[-1]
    assert ledger["status"] == "partial" and "ZZZZ" in ledger["error_summary"]
    assert ledger["details"]["failed"]["ZZZZ"] == result.failures["ZZZZ"]
    assert ledger["source"] == "primary,backup"


def test_sample_provider_unknown_symbol_is_isolated(db):
    result = run_job(
        db, JobRequest("prices", ["AAPL", "ZZZZ", "MSFT"], end=date(2026, 6, 25)), [SampleProvider(SAMPLE)]
    )
    assert result.status == "partial"
    assert result.failures == {"ZZZZ": "daily_bars: sample: no bundled prices for ZZZZ"}
    assert set(bar_counts(db)) == {"AAPL", "MSFT"}


def test_all_failed_is_failed_and_nothing_is_written(db):
    result = run_job(
        db,
        JobRequest("prices", ["ZZZZ"], date(2024, 1, 2), date(2024, 1, 5)),
        [SyntheticPrices(unknown=frozenset({"ZZZZ"}))],
        CONFIG,
    )
    assert result.status == "failed" and bar_counts(db) == {}
    assert runs(db)[-1]["status"] == "failed"


def test_bad_rows_are_quarantined_with_reasons_and_jumps_are_flagged(db):
    days = sessions("2024-01-02", "2024-01-10")

    def corrupt(call, symbols, frame):
        frame = frame.copy()
        frame.loc[1, "close"] = np.nan  # a price missing: the row's OHLC is incomplete
        frame.loc[2, "low"] = frame.loc[2, "high"] * 2  # OHLC inconsistent
        frame.loc[4, ["open", "high", "low", "close", "adj_close"]] *= (
            2.5  # +150% day on day (and -60% back): kept, flagged
        )
        weekend = frame.loc[[0]].assign(date=date(2024, 1, 6))  # a Saturday
        return pd.concat([frame, weekend], ignore_index=True)

    result = run_job(db, JobRequest("prices", ["AAA"], days[0], days[-1]), [SyntheticPrices(behaviour=corrupt)], CONFIG)
    assert result.status == "success" and result.quarantined == 3
    with db.connect() as conn:
        reasons = conn.execute(
            sa.select(tables.quarantined_rows.c.key, tables.quarantined_rows.c.reason).order_by("key")
        ).all()
        flags = dict(conn.execute(sa.select(tables.daily_bars.c.date, tables.daily_bars.c.flags)).all())
    assert reasons == [
        (f"AAA/{days[1]}", INCOMPLETE_OHLC),
        (f"AAA/{days[2]}", "low above high"),
        ("AAA/2024-01-06", "not a trading day"),
    ]
    # The +150% bar and the -60% fall back from it are both jumps; the others carry no flag.
    assert flags[days[4]] == "jump" and flags[days[5]] == "jump"
    assert [d for d, f in flags.items() if f] == [days[4], days[5]]
    assert len(flags) == len(days) - 2
    assert result.items["AAA"]["rejected"] == 3


def test_jump_against_the_last_stored_close_is_flagged(db):
    provider = SyntheticPrices()
    run_job(db, JobRequest("prices", ["AAA"], date(2024, 1, 2), date(2024, 1, 31)), [provider], CONFIG)

    def doubled(call, symbols, frame):
        frame = frame[frame["date"] > date(2024, 1, 31)].copy()
        frame[["open", "high", "low", "close", "adj_close"]] *= 2
        return frame

    run_job(
        db,
        JobRequest("prices", ["AAA"], date(2024, 2, 1), date(2024, 2, 9)),
        [SyntheticPrices(behaviour=doubled)],
        CONFIG,
    )
    with db.connect() as conn:
        flagged = conn.execute(sa.select(tables.daily_bars.c.date).where(tables.daily_bars.c.flags == "jump")).scalars()
        assert list(flagged) == [date(2024, 2, 1)]


def test_second_runner_skips_while_the_lock_is_held_and_abandoned_runs_are_closed(db):
    provider = SyntheticPrices()
    request = JobRequest("prices", ["AAA"], date(2024, 1, 2), date(2024, 1, 5))
    with job_lock(db, "prices") as held:
        assert held is not None
        with job_lock(db, "prices") as second:
            assert second is None  # same process, different session: still refused
        result = run_job(db, request, [provider], CONFIG)
        assert result.status == "skipped" and provider.calls == [] and runs(db) == []
        # Another job has its own lock.
        assert run_job(db, JobRequest("quotes", ["AAA"]), [provider], CONFIG).status == "failed"

    with db.begin() as conn:  # a run left behind by a killed process
        conn.execute(tables.ingestion_runs.insert().values(job="prices", source="x", status="running"))
    assert run_job(db, request, [provider], CONFIG).status == "success"
    ledger = [r for r in runs(db) if r["job"] == "prices"]
    assert ledger[0]["status"] == "failed" and ledger[0]["error_summary"].startswith("abandoned")
    assert ledger[1]["status"] == "success"


def test_dry_run_writes_and_records_nothing(db):
    result = run_job(
        db,
        JobRequest("prices", ["AAA"], date(2024, 1, 2), date(2024, 1, 31), dry_run=True),
        [SyntheticPrices()],
        CONFIG,
    )
    assert result.dry_run and result.status == "success" and result.items["AAA"]["rows"] == 21
    assert bar_counts(db) == {} and runs(db) == []


def test_universe_is_seeded_and_edits_survive(db):
    assert ensure_universe(db, SAMPLE) == {"instruments": 35, "macro_series": 15}
    assert "SPY" in active_symbols(db)
    with db.begin() as conn:
        conn.execute(tables.instruments.update().where(tables.instruments.c.symbol == "TSLA").values(active=False))
    assert ensure_universe(db, SAMPLE) == {"instruments": 0, "macro_series": 0}
    assert "TSLA" not in active_symbols(db) and len(active_symbols(db)) == 34

    provider = SyntheticPrices()
    run_job(db, JobRequest("prices", start=date(2024, 1, 2), end=date(2024, 1, 3)), [provider], CONFIG)
    assert "TSLA" not in {s for call in provider.calls for s in call[0]}
    assert len(bar_counts(db)) == 34


def test_macro_job_writes_metadata_and_observations_and_names_a_bad_id(db):
    ensure_universe(db, SAMPLE)
    provider = SampleProvider(SAMPLE)
    result = run_job(db, JobRequest("macro", ["DGS10", "NOPE_ID"], end=date(2026, 6, 25)), [provider])
    assert result.status == "partial"
    assert "NOPE_ID" in result.failures["NOPE_ID"] and "DGS10" not in result.failures
    with db.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(tables.macro_observations.c.series_id == "DGS10")
        ).scalar_one()
    assert count == len(provider.macro_observations(["DGS10"], date(2019, 1, 1), date(2026, 6, 25)))
    again = run_job(db, JobRequest("macro", ["DGS10"], end=date(2026, 6, 25)), [provider])
    assert again.status == "success" and again.rows_written == 0


class Reference(Provider):
    name = "refsource"

    def instruments(self, symbols):
        return pd.DataFrame(
            [
                {
                    "symbol": s,
                    "name": f"{s} Inc.",
                    "asset_class": "stock",
                    "sector": "Tech",
                    "industry": None,
                    "currency": "USD",
                }
                for s in symbols
                if s != "ZZZZ"
            ]
        )

    def shares_outstanding(self, symbols, start, end):
        days = [date(2024, 1, 2), date(2024, 4, 1)]
        return pd.DataFrame({"symbol": "AAPL", "period_end": days, "filing_date": days, "shares": [15e9, 14.9e9]})

    def corporate_actions(self, symbols, start, end):
        return pd.DataFrame(
            {
                "symbol": "AAPL",
                "date": [date(2020, 8, 31), date(2024, 2, 9)],
                "action": ["split", "dividend"],
                "value": [4.0, 0.24],
            }
        )

    def intraday_quotes(self, symbols):
        ts = pd.Timestamp("2024-03-01 15:35:00", tz="UTC")
        return pd.DataFrame({"symbol": symbols, "ts": ts, "price": 180.25, "volume": 1200})


def test_reference_job_writes_instruments_shares_and_actions(db):
    ensure_universe(db, SAMPLE)
    result = run_job(db, JobRequest("reference", ["AAPL", "ZZZZ"]), [Reference()])
    assert result.status == "partial" and set(result.failures) == {"ZZZZ"}
    with db.connect() as conn:
        name, source = conn.execute(
            sa.select(tables.instruments.c.name, tables.instruments.c.source).where(
                tables.instruments.c.symbol == "AAPL"
            )
        ).one()
        shares = conn.execute(sa.select(tables.shares_outstanding.c.shares)).scalars().all()
        actions = conn.execute(sa.select(tables.corporate_actions.c.action, tables.corporate_actions.c.value)).all()
        active = conn.execute(sa.select(tables.instruments.c.active).where(tables.instruments.c.symbol == "AAPL")).one()
    assert (name, source) == ("AAPL Inc.", "refsource") and active == (True,)
    assert sorted(shares) == [14_900_000_000, 15_000_000_000]
    assert sorted(actions) == [("dividend", 0.24), ("split", 4.0)]
    assert run_job(db, JobRequest("reference", ["AAPL"]), [Reference()]).rows_written == 0


def test_the_reference_job_stores_yahoos_share_history_point_in_time(db, monkeypatch):
    """Live: the reference job asks yfinance (recorded-shape frames) for each active symbol's share counts; each
    figure is stored as public from the day Yahoo dated it, next to the demo bundle's filings for the same symbol."""
    import yfinance as yf

    from ingestion.providers.resilience import GuardPolicy, ProviderGuard
    from ingestion.providers.yahoo import YahooProvider
    from tests.support.yahoo import FakeDownload, FakeTicker

    monkeypatch.setattr(yf, "download", FakeDownload())
    monkeypatch.setattr(yf, "Ticker", FakeTicker)
    guard = ProviderGuard("yfinance", None, policy=GuardPolicy(attempts=1), sleep=lambda s: None)
    ensure_universe(db, SAMPLE)
    with db.begin() as conn:  # a quarterly filing of the same symbol from another source stays beside them
        conn.execute(
            tables.shares_outstanding.insert().values(
                symbol="AAPL",
                period_end=date(2024, 9, 28),
                filing_date=date(2024, 11, 1),
                shares=15_100_000_000,
                source="sample-sp500-fmp",
            )
        )
    result = run_job(db, JobRequest("reference", ["AAPL"]), [YahooProvider(guard=guard)])
    assert result.status == "success"
    expected = pd.read_csv(SAMPLE / "reference" / "shares_outstanding.csv").query("ticker == 'AAPL'")
    t = tables.shares_outstanding
    with db.connect() as conn:
        stored = pd.read_sql(sa.select(t).where(t.c.source == "yfinance").order_by(t.c.period_end), conn)
        others = conn.execute(sa.select(sa.func.count()).where(t.c.source != "yfinance")).scalar_one()
    # yfinance dates a figure by when Yahoo recorded it, in New York time: one figure per such day.
    days = pd.to_datetime(expected["fetched_utc"], utc=True).dt.tz_convert("America/New_York").dt.date
    assert len(stored) == days.nunique() and others == 1
    assert (stored["filing_date"] == stored["period_end"]).all()
    assert stored["period_end"].iloc[0] == date(2024, 10, 10) and stored["shares"].iloc[0] == 15_204_099_609
    assert run_job(db, JobRequest("reference", ["AAPL"]), [YahooProvider(guard=guard)]).rows_written == 0


def test_quotes_keep_their_time(db):
    result = run_job(db, JobRequest("quotes", ["AAPL", "MSFT"]), [SampleProvider(SAMPLE), Reference()])
    assert result.status == "success" and result.rows_written == 2
    with db.connect() as conn:
        stamps = conn.execute(sa.select(tables.intraday_quotes.c.ts).distinct()).scalars().all()
    assert stamps == [datetime(2024, 3, 1, 15, 35, tzinfo=UTC)]


def test_request_validation():
    with pytest.raises(ValueError, match="unknown job"):
        JobRequest("everything")
    with pytest.raises(ValueError, match="after end"):
        JobRequest("prices", start=date(2024, 2, 1), end=date(2024, 1, 1))


def test_not_found_without_details_is_split_per_symbol(db):
    class Strict(Provider):
        name = "strict"

        def __init__(self):
            self.calls = []

        def daily_bars(self, symbols, start, end):
            self.calls.append(list(symbols))
            if "ZZZZ" in symbols:
                raise NotFound("strict: ZZZZ unknown")
            return SyntheticPrices().daily_bars(symbols, start, end)

    strict = Strict()
    result = run_job(db, JobRequest("prices", ["AAA", "ZZZZ"], date(2024, 1, 2), date(2024, 1, 5)), [strict], CONFIG)
    assert strict.calls == [["AAA", "ZZZZ"], ["AAA"], ["ZZZZ"]]
    assert result.status == "partial" and set(bar_counts(db)) == {"AAA"}


def test_a_stop_request_ends_the_run_between_batches_and_records_it(db):
    provider = SyntheticPrices()
    calls = iter([False, True, True])
    result = run_job(
        db,
        JobRequest("prices", ["AAA", "BBB", "CCC", "DDD"], date(2024, 1, 2), date(2024, 1, 31)),
        [provider],
        CONFIG,
        should_stop=lambda: next(calls),
    )
    assert len(provider.calls) == 1 and set(bar_counts(db)) == {"AAA", "BBB"}
    assert result.status == "partial"
    assert result.failures == dict.fromkeys(["CCC", "DDD"], "stopped before this batch ran (worker shutting down)")
    assert runs(db)[-1]["status"] == "partial"


def active_symbols(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return read_active_symbols(conn)
