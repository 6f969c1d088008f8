"""Request planning per provider: Alpha Vantage is asked once per symbol per run, others in windows."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ingestion.config import IngestionConfig
from ingestion.jobs import JobRequest, run_job
from ingestion.planning import Span, plan
from ingestion.providers.alphavantage import AlphaVantageProvider
from ingestion.providers.base import Provider, RateLimited
from ingestion.providers.resilience import GuardPolicy, ProviderGuard
from tests.conftest import ROOT
from tests.support.doubles import SyntheticPrices, bar_counts, migrated_engine

RECORDED = json.loads((ROOT / "tests" / "fixtures" / "api_samples" / "alphavantage_time_series_daily.json").read_text())


@pytest.fixture
def db(make_migrated_database):
    engine = migrated_engine(make_migrated_database())
    yield engine
    engine.dispose()


def alpha_vantage(server: HTTPServer) -> AlphaVantageProvider:
    """The real provider (and library) against a fake that answers every symbol with real-shaped daily bars."""

    def answer(request: Request) -> Response:
        body = json.loads(json.dumps(RECORDED).replace("IBM", request.args["symbol"]))
        return Response(json.dumps(body), content_type="application/json")

    server.expect_request("/query").respond_with_handler(answer)
    guard = ProviderGuard("alpha_vantage", None, policy=GuardPolicy(attempts=1), sleep=lambda s: None)
    return AlphaVantageProvider("k", server.url_for("/").rstrip("/"), guard=guard)


def test_a_long_backfill_costs_one_alpha_vantage_request_per_symbol(db, httpserver: HTTPServer):
    """2019 to 2026 for three symbols: 3 of the 25 free daily requests, not one per 366-day window (24)."""
    provider = alpha_vantage(httpserver)
    request = JobRequest("prices", ["IBM", "AAPL", "MSFT"], date(2019, 1, 2), date(2026, 6, 25))
    result = run_job(db, request, [provider], IngestionConfig())
    assert result.status == "success"
    asked = [(r.args["symbol"], r.args["outputsize"]) for r, _ in httpserver.log]
    assert sorted(asked) == [("AAPL", "full"), ("IBM", "full"), ("MSFT", "full")]
    assert bar_counts(db) == {"AAPL": 2, "IBM": 2, "MSFT": 2}  # the recorded body holds two sessions


def test_a_windowing_provider_gets_the_backfill_in_windows():
    provider = SyntheticPrices()
    pending = {"AAA": [Span(date(2024, 1, 1), date(2024, 12, 31))]}
    requests = plan(provider, pending, 25, IngestionConfig(backfill_window_days=120), windowed=True, sessions=True)
    assert [(r.start, r.end) for r in requests] == [
        (date(2024, 1, 1), date(2024, 4, 29)),
        (date(2024, 4, 30), date(2024, 8, 27)),
        (date(2024, 8, 28), date(2024, 12, 25)),
        (date(2024, 12, 26), date(2024, 12, 31)),
    ]


def test_what_the_first_provider_missed_goes_to_alpha_vantage_in_one_request(db, httpserver: HTTPServer):
    """A window the first provider could not deliver merges with the others for a whole-history provider."""

    class FailsIn2020(Provider):
        name = "first"

        def daily_bars(self, symbols, start, end):
            if start.year == 2020:
                raise RateLimited("first: HTTP 429 Too Many Requests")
            return SyntheticPrices().daily_bars(symbols, start, end)

    backup = alpha_vantage(httpserver)
    request = JobRequest("prices", ["IBM"], date(2019, 1, 2), date(2021, 12, 31))
    result = run_job(db, request, [FailsIn2020(), backup], IngestionConfig(backfill_window_days=366))
    assert [r.args["symbol"] for r, _ in httpserver.log] == ["IBM"]  # one request, whatever the windows missed
    assert result.items["IBM"]["providers"] == ["first", "alpha_vantage"]
