"""FRED through the real fredapi client against a fake server serving recorded FRED responses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from ingestion.providers.base import AuthenticationError, NotFound, ProviderError, failures_of
from ingestion.providers.fred import FredProvider, error_for_response, fred_root_url
from ingestion.providers.resilience import GuardPolicy, ProviderGuard, Transient
from tests.support.fred import observations_json_as_xml, recorded

XML = "text/xml; charset=UTF-8"


def provider(server: HTTPServer, slept: list[float] | None = None, **policy) -> FredProvider:
    slept = [] if slept is None else slept
    guard = ProviderGuard(
        "fred", None, policy=GuardPolicy(**{"attempts": 3, "backoff_initial": 0.1, **policy}), sleep=slept.append
    )
    return FredProvider("fred-test-key", server.url_for("/").rstrip("/"), timeout=5, guard=guard)


def serve(server: HTTPServer, path: str, series_id: str, body: bytes, status: int = 200) -> None:
    server.expect_request(
        f"/fred/{path}", query_string={"series_id": series_id, "api_key": "fred-test-key"}
    ).respond_with_response(Response(body, status=status, content_type=XML))


def test_root_url_is_the_host_plus_fred() -> None:
    assert fred_root_url("https://api.stlouisfed.org/") == "https://api.stlouisfed.org/fred"


def test_observations_from_recorded_xml(httpserver: HTTPServer) -> None:
    serve(httpserver, "series/observations", "SP500", recorded("fred_series_observations_SP500.xml"))
    frame = provider(httpserver).macro_observations(["SP500"])
    assert frame.to_dict("records") == [
        {"series_id": "SP500", "date": date(2014, 9, 2), "value": 2002.28},
        {"series_id": "SP500", "date": date(2014, 9, 3), "value": 2000.72},
        {"series_id": "SP500", "date": date(2014, 9, 4), "value": 1997.65},
        {"series_id": "SP500", "date": date(2014, 9, 5), "value": 2007.71},
    ]
    assert failures_of(frame) == {}


def test_dot_is_a_gap_kept_as_nan(httpserver: HTTPServer) -> None:
    serve(
        httpserver,
        "series/observations",
        "FEDFUNDS",
        observations_json_as_xml("fred_series_observations_FEDFUNDS.json"),
    )
    frame = provider(httpserver).macro_observations(["FEDFUNDS"])
    assert len(frame) == 829 and frame["date"].iloc[0] == date(1954, 7, 1) and frame["value"].iloc[0] == 0.8
    assert frame["date"].iloc[-1] == date(2023, 7, 1) and pd.isna(frame["value"].iloc[-1])
    assert frame["value"].isna().sum() == 1


def test_range_is_sent_to_fred(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/fred/series/observations").respond_with_response(
        Response(recorded("fred_series_observations_SP500.xml"), content_type=XML)
    )
    provider(httpserver).macro_observations(["SP500"], date(2014, 9, 2), date(2014, 9, 5))
    request, _ = httpserver.log[0]
    assert request.args["observation_start"] == "2014-09-02" and request.args["observation_end"] == "2014-09-05"


def test_series_metadata(httpserver: HTTPServer) -> None:
    serve(httpserver, "series", "PAYEMS", recorded("fred_series_PAYEMS.xml"))
    meta = provider(httpserver).series_metadata(["PAYEMS"]).iloc[0]
    assert meta["title"] == "All Employees: Total Nonfarm Payrolls"
    assert meta["units"] == "Thousands of Persons" and meta["frequency"] == "Monthly"
    assert meta["seasonal_adjustment"] == "Seasonally Adjusted"
    assert meta["last_updated"] == pd.Timestamp(datetime(2015, 6, 5, 13, 47, 20, tzinfo=UTC))


def test_bad_series_id_names_the_id(httpserver: HTTPServer) -> None:
    serve(httpserver, "series/observations", "NOSUCHSERIES", recorded("fred_error_bad_series_id.xml"), status=400)
    with pytest.raises(NotFound, match="series NOSUCHSERIES does not exist") as caught:
        provider(httpserver).macro_observations(["NOSUCHSERIES"])
    assert "NOSUCHSERIES" in caught.value.failures and len(httpserver.log) == 1  # not retried


def test_bad_series_among_good_ones_is_a_failure_not_an_abort(httpserver: HTTPServer) -> None:
    serve(httpserver, "series/observations", "NOSUCHSERIES", recorded("fred_error_bad_series_id.xml"), status=400)
    serve(httpserver, "series/observations", "SP500", recorded("fred_series_observations_SP500.xml"))
    frame = provider(httpserver).macro_observations(["NOSUCHSERIES", "SP500"])
    assert set(frame["series_id"]) == {"SP500"} and "does not exist" in failures_of(frame)["NOSUCHSERIES"]


def test_json_error_body_is_understood_too() -> None:
    error = error_for_response(400, None, recorded("fred_error_bad_series_id.json"), "GDPX")
    assert isinstance(error, NotFound) and "GDPX" in str(error)


def test_refused_key_is_authentication(httpserver: HTTPServer) -> None:
    message = "Bad Request.  The value for variable api_key is not registered."
    body = f'<?xml version="1.0" encoding="utf-8" ?>\n<error code="400" message="{message}" />'.encode()
    serve(httpserver, "series/observations", "SP500", body, status=400)
    with pytest.raises(AuthenticationError):
        provider(httpserver).macro_observations(["SP500"])


def test_5xx_then_success(httpserver: HTTPServer) -> None:
    slept: list[float] = []
    httpserver.expect_ordered_request("/fred/series/observations").respond_with_response(Response("", status=502))
    httpserver.expect_ordered_request("/fred/series/observations").respond_with_response(
        Response(recorded("fred_series_observations_SP500.xml"), content_type=XML)
    )
    assert len(provider(httpserver, slept).macro_observations(["SP500"])) == 4 and len(slept) == 1


def test_429_with_retry_after_is_waited(httpserver: HTTPServer) -> None:
    slept: list[float] = []
    httpserver.expect_ordered_request("/fred/series/observations").respond_with_response(
        Response("", status=429, headers={"Retry-After": "2"})
    )
    httpserver.expect_ordered_request("/fred/series/observations").respond_with_response(
        Response(recorded("fred_series_observations_SP500.xml"), content_type=XML)
    )
    assert len(provider(httpserver, slept).macro_observations(["SP500"])) == 4 and slept == [2.0]


def test_malformed_xml_is_a_provider_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/fred/series/observations").respond_with_response(
        Response("<observations><obs", content_type=XML)
    )
    with pytest.raises(ProviderError, match="not XML"):
        provider(httpserver).macro_observations(["SP500"])


def test_connection_refused_is_transient() -> None:
    guard = ProviderGuard("fred", None, policy=GuardPolicy(attempts=2, backoff_initial=0), sleep=lambda s: None)
    fred = FredProvider("k", "http://127.0.0.1:9", timeout=1, guard=guard)
    with pytest.raises(Transient, match="connection failed"):
        fred.macro_observations(["SP500"])


def test_a_bad_id_fails_alone_and_is_never_sent(httpserver: HTTPServer) -> None:
    """One malformed id in a batch (e.g. 31 characters) must not fail the valid ones beside it."""
    httpserver.expect_request("/fred/series/observations").respond_with_data(
        recorded("fred_series_observations_SP500.xml"), content_type="text/xml"
    )
    frame = provider(httpserver).macro_observations(["SP500", "GDP' OR 1=1 --", "X" * 31])
    assert set(frame["series_id"]) == {"SP500"}
    failures = failures_of(frame)
    assert set(failures) == {"GDP' OR 1=1 --", "X" * 31}
    assert "may contain only" in failures["GDP' OR 1=1 --"] and "at most 30" in failures["X" * 31]
    assert [r.args["series_id"] for r, _ in httpserver.log] == ["SP500"]
    with pytest.raises(NotFound):  # nothing valid: nothing is sent, and every id says why
        provider(httpserver).macro_observations(["NOT VALID"])
