"""examples/api_client.py against the real read API: uvicorn serving /api/v1 on 127.0.0.1, the sample database.

The example's own functions are called (so it cannot rot): every page of a paged table makes one frame, the same
rows as one big page; the risk table; a problem raised and shown with its suggestions; and `main()` as a reader
runs it, configured from MD_API_URL and MD_TOKEN.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
import uvicorn
from starlette.applications import Starlette

from dashboard.access import tokens, users
from dashboard.web.api import LIMITS, routes

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "api_client.py"


@pytest.fixture(scope="module")
def client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_client_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and the like look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def served(make_sample_database, engine_for, monkeypatch) -> Iterator[tuple[str, str]]:
    """(base URL, token): the API served by uvicorn in a thread on a free loopback port, a fresh sample database."""
    engine = engine_for(make_sample_database(), API_REQUESTS_PER_MINUTE="1000")
    LIMITS.close()
    users.add_user(engine, "analyst", "viewer", "analyst-password-1234", actor="test")
    _, token = tokens.create(engine, "analyst", "notebook", actor="test")
    for name in ("NO_PROXY", "no_proxy"):  # urllib would send a loopback request to a configured proxy otherwise
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", token
    server.should_exit = True
    thread.join(10)
    LIMITS.close()


def test_pages_make_one_frame_with_the_rows_of_one_big_page(client, served):
    base, token = served
    asked = {"symbols": "AAPL,MSFT", "start": "2025-01-01"}
    paged = client.table("prices", {**asked, "limit": 100}, base=base, token=token)
    whole = client.get("prices", {**asked, "limit": 50_000}, base=base, token=token)
    assert whole["meta"]["next_cursor"] is None
    assert len(paged) == whole["meta"]["rows"] > 300  # a year and a half of two tickers: several pages of 100
    expected = pd.DataFrame(whole["data"]).assign(date=lambda f: pd.to_datetime(f["date"]))
    pd.testing.assert_frame_equal(paged, expected)
    assert paged["date"].min() >= pd.Timestamp("2025-01-01")
    assert not paged.duplicated(["date", "symbol"]).any()


def test_risk_and_a_problem(client, served):
    base, token = served
    risk = client.table("risk", {"symbols": "AAPL,MSFT"}, base=base, token=token)
    assert risk["symbol"].tolist() == ["AAPL", "MSFT", "SPY"]  # and the benchmark
    with pytest.raises(client.ApiError) as raised:
        client.table("prices", {"symbols": "AAPL,MSFTT"}, base=base, token=token)
    assert raised.value.status == 404
    assert str(raised.value) == "404 Not found: unknown symbol(s): MSFTT\n  - MSFTT: did you mean MSFT?"
    with pytest.raises(client.ApiError) as raised:
        client.get("prices", {"symbols": "AAPL", "start": "2025-13-01"}, base=base, token=token)
    assert raised.value.status == 400
    assert "  - start: " in str(raised.value)
    with pytest.raises(client.ApiError) as raised:
        client.get("risk", {"symbols": "AAPL"}, base=base, token="mdk_not-a-token")
    assert raised.value.status == 401


def test_main_prints_prices_risk_and_a_problem(client, served, monkeypatch, capsys):
    base, token = served
    monkeypatch.setenv("MD_API_URL", base)
    monkeypatch.setenv("MD_TOKEN", token)
    assert client.main() == 0
    out = capsys.readouterr().out
    assert "daily bars, 2025-01-02 to 2026-06-25" in out
    assert "sharpe" in out and "SPY" in out
    assert "404 Not found: unknown symbol(s): MSFTT" in out and "did you mean MSFT?" in out
    monkeypatch.delenv("MD_TOKEN")
    assert client.main() == 2
