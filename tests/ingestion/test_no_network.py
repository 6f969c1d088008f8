"""No network: the yfinance provider finds it once per run, the run records it once, yfinance's logger stays quiet."""

from __future__ import annotations

import logging
import socket
from datetime import date

import pytest
import yfinance as yf

from ingestion.config import IngestionConfig
from ingestion.jobs import JobRequest, run_job
from ingestion.providers.base import NOT_FETCHED, NoNetwork
from ingestion.providers.resilience import GuardPolicy, NetworkCheck, ProviderGuard
from ingestion.providers.sample import SampleProvider
from ingestion.providers.yahoo import HOST, NAME, YahooProvider
from store.reads import core as reads
from tests.conftest import ROOT
from tests.support.doubles import bar_counts, migrated_engine, runs

SAMPLE = ROOT / "data" / "sample"
SYMBOLS = ["AAPL", "MSFT", "NVDA", "JPM"]
START, END = date(2026, 6, 1), date(2026, 6, 25)
CONFIG = IngestionConfig(chunk_symbols=1)  # one request per symbol: four chances to report it four times


@pytest.fixture
def db(make_migrated_database):
    engine = migrated_engine(make_migrated_database())
    yield engine
    engine.dispose()


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> list:
    """yf.download and yf.Ticker must never be reached when the host does not resolve."""
    calls: list = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("yfinance was called although the network check failed")

    monkeypatch.setattr(yf, "download", refuse)
    monkeypatch.setattr(yf, "Ticker", refuse)
    return calls


def gaierror_resolver(*args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def provider(resolve=None, fail_max: int = 5) -> YahooProvider:
    """The provider with a fast guard and the network check the real one gets (the test's guard refuses the lookup
    unless `resolve` is given)."""
    check = NetworkCheck(NAME, HOST, resolve=resolve)
    policy = GuardPolicy(attempts=3, backoff_initial=0, fail_max=fail_max)
    return YahooProvider(guard=ProviderGuard(NAME, None, policy=policy, sleep=lambda s: None, network=check))


def yfinance_noise(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("yfinance") or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("resolve", [None, gaierror_resolver], ids=["network guard", "gaierror"])
def test_an_unresolvable_host_is_no_network_before_any_request(no_download, resolve) -> None:
    yahoo = provider(resolve)
    with pytest.raises(NoNetwork) as caught:
        yahoo.daily_bars(SYMBOLS, START, END)
    assert str(caught.value).startswith(f"yfinance: no network: could not resolve {HOST} (")
    assert caught.value.reason.startswith(f"no network: could not resolve {HOST}")
    assert "delisted" not in str(caught.value) and no_download == []


def test_no_network_is_looked_up_once_never_retried_and_never_opens_the_circuit(no_download) -> None:
    yahoo = provider(gaierror_resolver, fail_max=2)
    for _ in range(50):
        with pytest.raises(NoNetwork):
            yahoo.daily_bars(["AAPL"], START, END)
    state = yahoo.guard.state()
    assert yahoo.guard.network is not None and yahoo.guard.network.lookups == 1  # remembered for a minute
    assert state["circuit"] == "closed" and state["consecutive_failures"] == 0
    assert state["requests"] == 0 and state["retries"] == 0 and state["errors"] == {"no_network": 50}


def test_the_lookup_is_repeated_after_its_ttl(no_download, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime, timedelta

    moments = iter([datetime(2026, 6, 1, tzinfo=UTC) + timedelta(seconds=s) for s in (0, 30, 61)])
    check = NetworkCheck(NAME, HOST, ttl=60, resolve=gaierror_resolver, now=lambda: next(moments))
    for _ in range(3):
        with pytest.raises(NoNetwork):
            check.require()
    assert check.lookups == 2


def test_a_run_without_network_records_it_once_and_the_fallback_still_delivers(db, no_download, caplog) -> None:
    caplog.set_level(logging.INFO)
    yahoo = provider()  # the test network guard refuses the lookup, as a machine without DNS would
    result = run_job(db, JobRequest("prices", SYMBOLS, START, END), [yahoo, SampleProvider(SAMPLE)], CONFIG)

    assert result.status == "success" and set(bar_counts(db)) == set(SYMBOLS)
    assert all(item["providers"] == ["sample"] for item in result.items.values())
    ledger = runs(db)[-1]
    notes = ledger["details"]["notes"]
    assert len(notes) == 1 and notes[0].startswith(f"yfinance: no network: could not resolve {HOST}")
    assert ledger["error_summary"] == notes[0]
    # Asked once: the lookup failed on the first request, the other three were not sent to yfinance at all.
    assert yahoo.guard.network.lookups == 1 and yahoo.guard.state()["calls"] == 1 and no_download == []
    assert yfinance_noise(caplog) == []
    assert sum("no network" in r.getMessage() for r in caplog.records) == 1  # one warning line, not one per symbol


def test_items_not_fetched_for_lack_of_network_say_so(db, no_download, caplog) -> None:
    result = run_job(db, JobRequest("prices", SYMBOLS, START, END), [provider(gaierror_resolver)], CONFIG)

    assert result.status == "failed"
    assert result.failures == dict.fromkeys(SYMBOLS, f"daily_bars: yfinance: {NOT_FETCHED}")
    ledger = runs(db)[-1]
    assert len(ledger["details"]["notes"]) == 1
    assert ledger["error_summary"].startswith(f"yfinance: no network: could not resolve {HOST}")
    assert ledger["error_summary"].count("could not resolve") == 1
    assert "delisted" not in ledger["error_summary"]
    # What the Data health page's runs table shows: the one problem, and each item as not fetched.
    with db.connect() as conn:
        row = reads.ingestion_runs(conn).iloc[0]
    assert row["problem"] == ledger["details"]["notes"][0]
    assert row["failures"].count(NOT_FETCHED) == len(SYMBOLS) and "delisted" not in row["failures"]
    assert yfinance_noise(caplog) == []


def test_a_healthy_run_records_no_problem(db) -> None:
    run_job(db, JobRequest("prices", ["AAPL"], START, END), [SampleProvider(SAMPLE)], CONFIG)
    ledger = runs(db)[-1]
    assert "notes" not in (ledger["details"] or {}) and ledger["error_summary"] is None
    with db.connect() as conn:
        assert reads.ingestion_runs(conn).iloc[0]["problem"] == ""


def test_the_data_health_page_shows_the_one_problem_and_each_item_not_fetched(app_on, make_sample_database) -> None:
    from tests.support.app import frame, open_page

    engine = app_on(make_sample_database())
    result = run_job(engine, JobRequest("prices", ["AAPL", "MSFT"], START, END), [provider(gaierror_resolver)], CONFIG)
    at = open_page("data_health")
    assert not at.exception
    runs_table = frame(at, "problem")
    row = runs_table[runs_table["id"] == result.run_id].iloc[0]
    assert row["problem"].startswith(f"yfinance: no network: could not resolve {HOST}")
    assert row["failures"] == f"AAPL: daily_bars: yfinance: {NOT_FETCHED}; MSFT: daily_bars: yfinance: {NOT_FETCHED}"
