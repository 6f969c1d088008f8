"""The keyless FRED fallback (fredgraph.csv) against a fake server."""

from __future__ import annotations

from datetime import date

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from ingestion.providers.base import NotFound, ProviderError, failures_of
from ingestion.providers.fred import FredGraphProvider, observations_from_graph_csv
from ingestion.providers.resilience import GuardPolicy, ProviderGuard
from tests.support.fred import graph_csv_from_sample


def provider(server: HTTPServer) -> FredGraphProvider:
    guard = ProviderGuard("fred_graph", None, policy=GuardPolicy(attempts=2, backoff_initial=0), sleep=lambda s: None)
    return FredGraphProvider(server.url_for("/").rstrip("/"), timeout=5, guard=guard)


def test_observations_and_range_parameters(httpserver: HTTPServer) -> None:
    csv = graph_csv_from_sample("DGS10", "2024-01-02", "2024-01-31")
    httpserver.expect_request(
        "/graph/fredgraph.csv", query_string={"id": "DGS10", "cosd": "2024-01-02", "coed": "2024-01-31"}
    ).respond_with_response(Response(csv, content_type="text/csv"))
    httpserver.expect_request(
        "/graph/fredgraph.csv", query_string={"id": "NOSUCH", "cosd": "2024-01-02", "coed": "2024-01-31"}
    ).respond_with_response(Response("Not Found", status=404))
    frame = provider(httpserver).macro_observations(["DGS10", "NOSUCH"], date(2024, 1, 2), date(2024, 1, 31))
    assert frame["date"].min() == date(2024, 1, 2) and frame["date"].max() <= date(2024, 1, 31)
    assert frame["value"].notna().all() and len(frame) > 15
    assert "series NOSUCH does not exist" in failures_of(frame)["NOSUCH"]


def test_dot_and_blank_are_gaps() -> None:
    frame = observations_from_graph_csv("DGS10", "observation_date,DGS10\n2021-01-04,0.93\n2021-01-05,.\n2021-01-06,\n")
    assert frame["value"].isna().tolist() == [False, True, True] and frame["value"].iloc[0] == 0.93


def test_old_header_and_wrong_body() -> None:
    assert len(observations_from_graph_csv("GDP", "DATE,GDP\n2024-01-01,27000.0\n")) == 1
    with pytest.raises(ProviderError, match="not a fredgraph CSV for GDP"):
        observations_from_graph_csv("GDP", "<html>Error</html>")


def test_unknown_series_is_not_found(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/graph/fredgraph.csv").respond_with_response(Response("Not Found", status=404))
    with pytest.raises(NotFound, match="series NOSUCH does not exist"):
        provider(httpserver).macro_observations(["NOSUCH"])
