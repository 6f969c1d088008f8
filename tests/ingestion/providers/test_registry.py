"""Which providers are on, why the others are off, and the fallback chains."""

from __future__ import annotations

import logging

import pytest

from ingestion.providers.registry import (
    available_providers,
    disabled_providers,
    macro_chain,
    price_chain,
    provider_states,
    reset_registry,
)
from store.settings import Settings


@pytest.fixture(autouse=True)
def _fresh_registry():
    reset_registry()
    yield
    reset_registry()


def test_without_keys_only_sample_and_yfinance(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(_env_file=None, alphavantage_api_key=None, fred_api_key=None)
    with caplog.at_level(logging.INFO, logger="ingestion.providers.registry"):
        for _ in range(3):
            assert sorted(available_providers(settings)) == ["fred_graph", "sample", "yfinance"]
    assert disabled_providers(settings) == {
        "alpha_vantage": "ALPHAVANTAGE_API_KEY is not set",
        "fred": "FRED_API_KEY is not set",
    }
    # Only the registry's own lines: libraries (pyrate-limiter) log at INFO too when buckets are built.
    lines = [r.getMessage() for r in caplog.records if r.name == "ingestion.providers.registry"]
    assert lines.count("provider fred disabled: FRED_API_KEY is not set") == 1 and len(lines) == 2
    assert [p.name for p in price_chain(settings)] == ["yfinance"]
    assert [p.name for p in macro_chain(settings)] == ["fred_graph"]


def test_with_keys_the_chains_and_shared_state() -> None:
    settings = Settings(_env_file=None, alphavantage_api_key="av-key", fred_api_key="fred-key", yfinance_enabled=True)
    assert [p.name for p in price_chain(settings)] == ["yfinance", "alpha_vantage"]
    assert [p.name for p in macro_chain(settings)] == ["fred", "fred_graph"]
    # Same objects on every call, so budgets and breakers are shared by all jobs.
    assert price_chain(settings)[1] is price_chain(settings)[1]
    assert {s["provider"]: s["circuit"] for s in provider_states(settings)} == {
        "yfinance": "closed",
        "alpha_vantage": "closed",
        "fred": "closed",
        "fred_graph": "closed",
    }


def test_yfinance_and_the_keyless_fred_can_be_switched_off() -> None:
    settings = Settings(_env_file=None, yfinance_enabled=False, fred_graph_enabled=False, alphavantage_api_key="k")
    assert disabled_providers(settings)["yfinance"] == "YFINANCE_ENABLED is false"
    assert disabled_providers(settings)["fred_graph"] == "FRED_GRAPH_ENABLED is false"
    assert [p.name for p in price_chain(settings)] == ["alpha_vantage"] and macro_chain(settings) == []


def test_settings_feed_the_guards() -> None:
    settings = Settings(_env_file=None, alphavantage_api_key="k", circuit_fail_max=2, alphavantage_requests_per_day=7)
    av = available_providers(settings)["alpha_vantage"]
    assert av.guard.policy.fail_max == 2 and av.guard.rates[-1].limit == 7
