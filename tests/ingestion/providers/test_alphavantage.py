"""Alpha Vantage through the real alpha_vantage library against a fake server serving recorded bodies."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ingestion.providers.alphavantage import AlphaVantageProvider, api_url, daily_bars_from_payload
from ingestion.providers.base import (
    AuthenticationError,
    DailyLimitReached,
    NotFound,
    ProviderError,
    RateLimited,
    failures_of,
)
from ingestion.providers.resilience import GuardPolicy, ProviderGuard, Transient

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "api_samples"


def body(name: str) -> str:
    return (FIXTURES / name).read_text()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def provider(server: HTTPServer, clock: Clock, *, premium: bool = False, timeout: float = 5.0, **policy):
    guard = ProviderGuard(
        "alpha_vantage",
        None,
        daily_limit=None,
        policy=GuardPolicy(**{"attempts": 3, "max_wait": 300, "backoff_initial": 0.5, "fail_max": 10, **policy}),
        sleep=clock.sleep,
        now=lambda: clock.now,
    )
    base = server.url_for("/").rstrip("/")
    return AlphaVantageProvider("demo-key", base, timeout=timeout, premium=premium, guard=guard)


_QUEUES: dict[int, dict[tuple[str, str], list[Response]]] = {}


def serve(server: HTTPServer, symbol: str, *responses, function: str = "TIME_SERIES_DAILY") -> None:
    """Queue responses for (function, symbol); the fake answers each request with the next one."""
    queues = _QUEUES.setdefault(id(server), {})
    if not queues:

        def answer(request: Request) -> Response:
            queue = queues.get((request.args.get("function", ""), request.args.get("symbol", "")))
            if not queue:
                return Response("no recorded response queued", status=418)
            return queue.pop(0) if len(queue) > 1 else queue[0]

        server.expect_request("/query").respond_with_handler(answer)
    queues.setdefault((function, symbol), []).extend(responses)


@pytest.fixture(autouse=True)
def _fresh_queues():
    _QUEUES.clear()
    yield
    _QUEUES.clear()


def ok(name: str) -> Response:
    return Response(body(name), content_type="application/json")


def test_base_url_form_matches_the_library() -> None:
    assert api_url("https://www.alphavantage.co") == "https://www.alphavantage.co/query?"


def test_daily_bars_through_the_library(httpserver: HTTPServer, clock: Clock) -> None:
    serve(httpserver, "IBM", ok("alphavantage_time_series_daily.json"))
    bars = provider(httpserver, clock).daily_bars(["IBM"], None, None)
    request, _ = httpserver.log[0]
    assert request.args["apikey"] == "demo-key" and request.args["outputsize"] == "full"
    assert bars.to_dict("records")[-1] == {
        "symbol": "IBM",
        "date": date(2020, 5, 8),
        "open": 122.67,
        "high": 122.8,
        "low": 121.06,
        "close": 121.79,
        "adj_close": 121.79,  # free endpoint: no adjusted close, flagged below
        "volume": 2538547,
    }
    assert bars.attrs["adj_close_is_raw"] is True and list(bars["date"]) == [date(2020, 5, 7), date(2020, 5, 8)]


def test_premium_adjusted_endpoint_and_corporate_actions(httpserver: HTTPServer, clock: Clock) -> None:
    serve(
        httpserver,
        "IBM",
        *[ok("alphavantage_time_series_daily_adjusted.json")] * 2,
        function="TIME_SERIES_DAILY_ADJUSTED",
    )
    av = provider(httpserver, clock, premium=True)
    bars = av.daily_bars(["IBM"], None, None)
    assert bars.attrs["adj_close_is_raw"] is False
    actions = av.corporate_actions(["IBM"], None, None)
    assert actions.to_dict("records") == [
        {"symbol": "IBM", "date": date(2020, 5, 7), "action": "dividend", "value": 1.63}
    ]


def test_note_is_a_per_minute_limit_waited_out_then_retried(httpserver: HTTPServer, clock: Clock) -> None:
    serve(httpserver, "IBM", ok("alphavantage_rate_limit_note.json"), ok("alphavantage_time_series_daily.json"))
    bars = provider(httpserver, clock).daily_bars(["IBM"], None, None)
    assert len(bars) == 2 and clock.slept == [60.0]


def test_information_disables_the_provider_until_the_next_utc_day(httpserver: HTTPServer, clock: Clock) -> None:
    serve(httpserver, "IBM", ok("alphavantage_rate_limit_information.json"), ok("alphavantage_time_series_daily.json"))
    av = provider(httpserver, clock)
    with pytest.raises(DailyLimitReached) as caught:
        av.daily_bars(["IBM"], None, None)
    assert caught.value.until == datetime(2026, 11, 26, tzinfo=UTC)
    assert len(httpserver.log) == 1 and clock.slept == []  # not retried
    clock.now += timedelta(hours=3)
    with pytest.raises(DailyLimitReached):
        av.daily_bars(["IBM"], None, None)
    assert len(httpserver.log) == 1  # no request while disabled
    assert av.guard.state()["disabled_until"] == "2026-11-26T00:00:00+00:00"
    clock.now = datetime(2026, 11, 26, 0, 0, 1, tzinfo=UTC)
    assert len(av.daily_bars(["IBM"], None, None)) == 2


def test_daily_limit_mid_batch_keeps_the_successes(httpserver: HTTPServer, clock: Clock) -> None:
    serve(httpserver, "IBM", ok("alphavantage_time_series_daily.json"))
    serve(httpserver, "MSFT", ok("alphavantage_rate_limit_information.json"))
    bars = provider(httpserver, clock).daily_bars(["IBM", "MSFT", "AAPL"], None, None)
    assert set(bars["symbol"]) == {"IBM"}
    assert set(failures_of(bars)) == {"MSFT", "AAPL"} and "daily limit" in failures_of(bars)["AAPL"]


def test_error_message_is_not_found(httpserver: HTTPServer, clock: Clock) -> None:
    error = {"Error Message": "Invalid API call. Please retry or visit the documentation for TIME_SERIES_DAILY."}
    serve(httpserver, "ZZZZ", Response(json.dumps(error), content_type="application/json"))
    serve(httpserver, "IBM", ok("alphavantage_time_series_daily.json"))
    bars = provider(httpserver, clock).daily_bars(["ZZZZ", "IBM"], None, None)
    assert "Invalid API call" in failures_of(bars)["ZZZZ"] and set(bars["symbol"]) == {"IBM"}


def test_error_message_about_the_key_is_authentication(httpserver: HTTPServer, clock: Clock) -> None:
    error = {"Error Message": "the parameter apikey is invalid or missing."}
    serve(httpserver, "IBM", Response(json.dumps(error), content_type="application/json"))
    with pytest.raises(AuthenticationError):
        provider(httpserver, clock).daily_bars(["IBM"], None, None)


def test_5xx_then_success(httpserver: HTTPServer, clock: Clock) -> None:
    serve(httpserver, "IBM", Response("upstream down", status=503), ok("alphavantage_time_series_daily.json"))
    assert len(provider(httpserver, clock).daily_bars(["IBM"], None, None)) == 2
    assert len(clock.slept) == 1 and 0.5 <= clock.slept[0] <= 1.0  # backoff with jitter


def test_429_storm_honours_retry_after_then_gives_up(httpserver: HTTPServer, clock: Clock) -> None:
    serve(httpserver, "IBM", *[Response("slow down", status=429, headers={"Retry-After": "7"})] * 3)
    with pytest.raises(RateLimited) as caught:
        provider(httpserver, clock).daily_bars(["IBM"], None, None)
    assert caught.value.retry_after == 7 and clock.slept == [7.0, 7.0] and len(httpserver.log) == 3


def test_retry_after_beyond_the_bound_is_not_waited(httpserver: HTTPServer, clock: Clock) -> None:
    serve(httpserver, "IBM", Response("", status=429, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimited):
        provider(httpserver, clock, max_wait=60).daily_bars(["IBM"], None, None)
    assert clock.slept == [] and len(httpserver.log) == 1


def test_timeout_is_transient(httpserver: HTTPServer, clock: Clock) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.5)
        return ok("alphavantage_time_series_daily.json")

    httpserver.expect_request("/query").respond_with_handler(slow)
    with pytest.raises(Transient, match="no response within 0.1 s"):
        provider(httpserver, clock, timeout=0.1, attempts=2).daily_bars(["IBM"], None, None)
    assert len(clock.slept) == 1


@pytest.mark.parametrize(
    ("payload", "message"),
    [("<html>502 Bad Gateway</html>", "not JSON"), ('{"Meta Data": {}}', "Time Series"), ("{}", "empty")],
)
def test_malformed_payloads(httpserver: HTTPServer, clock: Clock, payload: str, message: str) -> None:
    serve(httpserver, "IBM", Response(payload, content_type="application/json"))
    with pytest.raises(ProviderError, match=message):
        provider(httpserver, clock).daily_bars(["IBM"], None, None)


def test_malformed_numbers_become_nan_for_validation() -> None:
    payload = json.loads(body("alphavantage_time_series_daily.json"))
    payload["Time Series (Daily)"]["2020-05-08"]["2. high"] = "n/a"
    bars = daily_bars_from_payload("IBM", payload)
    assert bars["high"].isna().sum() == 1 and len(bars) == 2


def test_unknown_symbol_alone_is_not_found(httpserver: HTTPServer, clock: Clock) -> None:
    error = {"Error Message": "Invalid API call. Please retry or visit the documentation for TIME_SERIES_DAILY."}
    serve(httpserver, "ZZZZ", Response(json.dumps(error), content_type="application/json"))
    with pytest.raises(NotFound) as caught:
        provider(httpserver, clock).daily_bars(["ZZZZ"], None, None)
    assert "ZZZZ" in caught.value.failures
