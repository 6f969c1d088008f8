"""One contract, every provider: same columns and dtypes out, named errors for unknown symbols."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yfinance as yf
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ingestion.datasets import DAILY_BARS, MACRO_OBSERVATIONS, OPTION_QUOTES
from ingestion.providers.alphavantage import AlphaVantageProvider
from ingestion.providers.base import (
    NotFound,
    failures_of,
)
from ingestion.providers.fred import FredGraphProvider, FredProvider
from ingestion.providers.resilience import GuardPolicy, ProviderGuard
from ingestion.providers.sample import OptionsSampleProvider, SampleProvider
from ingestion.providers.yahoo import YahooProvider
from ingestion.validate import validate_option_quotes
from store import clock
from tests.ingestion.providers.test_yahoo_options import CAPTURED, RecordedTicker
from tests.support.fred import graph_csv_from_sample, recorded
from tests.support.yahoo import FakeDownload, FakeTicker

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "api_samples"
AV_UNKNOWN = {"Error Message": "Invalid API call. Please retry or visit the documentation for TIME_SERIES_DAILY."}


def quiet_guard(name: str) -> ProviderGuard:
    return ProviderGuard(name, None, policy=GuardPolicy(attempts=1), sleep=lambda s: None)


def sample(_httpserver, _monkeypatch):
    return SampleProvider(ROOT / "data" / "sample"), "AAPL"


def yahoo(_httpserver, monkeypatch):
    monkeypatch.setattr(yf, "download", FakeDownload())
    monkeypatch.setattr(yf, "Ticker", FakeTicker)
    return YahooProvider(guard=quiet_guard("yfinance")), "AAPL"


def alpha_vantage(httpserver: HTTPServer, _monkeypatch):
    def answer(request: Request) -> Response:
        if request.args.get("symbol") == "IBM":
            return Response(
                (FIXTURES / "alphavantage_time_series_daily.json").read_text(), content_type="application/json"
            )
        return Response(json.dumps(AV_UNKNOWN), content_type="application/json")

    httpserver.expect_request("/query").respond_with_handler(answer)
    base = httpserver.url_for("/").rstrip("/")
    return AlphaVantageProvider("k", base, guard=quiet_guard("alpha_vantage")), "IBM"


def fred(httpserver: HTTPServer, _monkeypatch):
    def answer(request: Request) -> Response:
        if request.args.get("series_id") == "SP500":
            return Response(recorded("fred_series_observations_SP500.xml"), content_type="text/xml")
        return Response(recorded("fred_error_bad_series_id.xml"), status=400, content_type="text/xml")

    httpserver.expect_request("/fred/series/observations").respond_with_handler(answer)
    return FredProvider("k", httpserver.url_for("/").rstrip("/"), guard=quiet_guard("fred")), "SP500"


def fred_graph(httpserver: HTTPServer, _monkeypatch):
    def answer(request: Request) -> Response:
        if request.args.get("id") == "DGS10":
            return Response(graph_csv_from_sample("DGS10", "2024-01-01", "2024-03-31"), content_type="text/csv")
        return Response("Not Found", status=404)

    httpserver.expect_request("/graph/fredgraph.csv").respond_with_handler(answer)
    return FredGraphProvider(httpserver.url_for("/").rstrip("/"), guard=quiet_guard("fred_graph")), "DGS10"


def yahoo_options(_httpserver, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: CAPTURED)  # the recorded chains' moment
    monkeypatch.setattr(yf, "Ticker", RecordedTicker)
    return YahooProvider(guard=quiet_guard("yfinance"), options_max_days=4), "AAPL"


def sample_options(_httpserver, _monkeypatch):
    return OptionsSampleProvider(ROOT / "data" / "options"), "AAPL"


PRICE_PROVIDERS = [sample, yahoo, alpha_vantage]
MACRO_PROVIDERS = [fred, fred_graph]
OPTION_PROVIDERS = [yahoo_options, sample_options]


def assert_standard(frame: pd.DataFrame, columns: list[str], key: str) -> None:
    assert list(frame.columns) == columns
    assert len(frame) > 0
    assert all(isinstance(d, date) and not isinstance(d, pd.Timestamp) for d in frame["date"])
    assert frame[key].map(type).eq(str).all()
    floats = [c for c in columns if c in ("open", "high", "low", "close", "adj_close", "value")]
    for column in floats:
        assert frame[column].dtype == "float64", column
    if "volume" in columns:
        assert pd.api.types.is_integer_dtype(frame["volume"].dtype)
    assert not frame.duplicated([key, "date"]).any()


@pytest.mark.parametrize("make", PRICE_PROVIDERS, ids=lambda f: f.__name__)
def test_daily_bars_contract(make, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    provider, symbol = make(httpserver, monkeypatch)
    bars = provider.daily_bars([symbol], None, None)
    assert_standard(bars, DAILY_BARS.columns, "symbol")
    assert set(bars["symbol"]) == {symbol} and failures_of(bars) == {}


@pytest.mark.parametrize("make", PRICE_PROVIDERS, ids=lambda f: f.__name__)
def test_daily_bars_unknown_symbol_is_named(make, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    provider, _ = make(httpserver, monkeypatch)
    with pytest.raises(NotFound, match="ZZZZ"):
        provider.daily_bars(["ZZZZ"], None, None)


@pytest.mark.parametrize("make", [yahoo, alpha_vantage], ids=lambda f: f.__name__)
def test_live_price_providers_report_partial_failures(make, httpserver, monkeypatch) -> None:
    provider, symbol = make(httpserver, monkeypatch)
    bars = provider.daily_bars([symbol, "ZZZZ"], None, None)
    assert set(bars["symbol"]) == {symbol} and list(failures_of(bars)) == ["ZZZZ"]


@pytest.mark.parametrize("make", MACRO_PROVIDERS + [sample], ids=lambda f: f.__name__)
def test_macro_contract(make, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    provider, series = make(httpserver, monkeypatch)
    series = "DGS10" if make is sample else series
    frame = provider.macro_observations([series], None, None)
    assert_standard(frame, MACRO_OBSERVATIONS.columns, "series_id")
    with pytest.raises(NotFound, match="NOSUCHSERIES"):
        provider.macro_observations(["NOSUCHSERIES"], None, None)


@pytest.mark.parametrize("make", OPTION_PROVIDERS, ids=lambda f: f.__name__)
def test_option_chains_contract(make, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    provider, symbol = make(httpserver, monkeypatch)
    assert provider.supports("option_chains")
    quotes = provider.option_chains([symbol])
    assert list(quotes.columns) == OPTION_QUOTES.columns and len(quotes) > 0
    assert set(quotes["symbol"]) == {symbol} and failures_of(quotes) == {}
    for column in ("session_date", "expiration"):
        assert all(type(d) is date for d in quotes[column]), column
    assert set(quotes["type"]) <= {"C", "P"}
    for column in ("strike", "bid", "ask", "last", "provider_iv", "provider_delta", "underlying_price"):
        assert quotes[column].dtype == "float64", column
    assert str(quotes["volume"].dtype) == str(quotes["open_interest"].dtype) == "Int64"
    assert str(quotes["delta_inconsistent"].dtype) == "boolean"
    assert str(quotes["snapshot_ts"].dtype) == str(quotes["last_trade_ts"].dtype) == "datetime64[ns, UTC]"
    assert len(validate_option_quotes(quotes).valid) == len(quotes)
    with pytest.raises(NotFound, match="ZZZZ"):
        provider.option_chains(["ZZZZ"])
