"""Which providers are enabled for these settings, why the others are not, and the fallback chains."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingestion.providers.base import Provider
    from ingestion.providers.resilience import GuardMemory

log = logging.getLogger(__name__)

# Live providers are built once per process and settings, so their rate budgets, circuit breakers
# and daily-limit state are shared by every job (a new object per call would forget them).
_cache: dict[tuple, dict[str, Provider]] = {}
_logged_disabled: set[tuple[str, str]] = set()
_lock = threading.Lock()
_memory: GuardMemory | None = None  # where guards built from now on keep their circuit and daily-limit state


def disabled_providers(settings: Any) -> dict[str, str]:
    """Provider name -> a human reason it is off (for the UI and the logs)."""
    reasons = {}
    if not settings.yfinance_enabled:
        reasons["yfinance"] = "YFINANCE_ENABLED is false"
    if settings.alphavantage_api_key is None or not settings.alphavantage_api_key.get_secret_value().strip():
        reasons["alpha_vantage"] = "ALPHAVANTAGE_API_KEY is not set"
    if settings.fred_api_key is None or not settings.fred_api_key.get_secret_value().strip():
        reasons["fred"] = "FRED_API_KEY is not set"
    if not settings.fred_graph_enabled:
        reasons["fred_graph"] = "FRED_GRAPH_ENABLED is false"
    return reasons


def _key(settings: Any) -> tuple:
    secret = lambda value: value.get_secret_value() if value is not None else None  # noqa: E731
    return (
        settings.sample_data_dir,
        settings.yfinance_enabled,
        secret(settings.alphavantage_api_key),
        settings.alphavantage_base_url,
        secret(settings.fred_api_key),
        settings.fred_base_url,
        settings.fred_graph_enabled,
        settings.fred_graph_base_url,
    )


def available_providers(settings: Any) -> dict[str, Provider]:
    """The enabled providers by name: sample always; yfinance unless disabled; alpha_vantage and fred with keys.

    A provider without its key is left out with ONE log line per process (not one per call).
    """
    key = _key(settings)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return dict(cached)
        disabled = disabled_providers(settings)
        for name, reason in disabled.items():
            if (name, reason) not in _logged_disabled:
                _logged_disabled.add((name, reason))
                log.info("provider %s disabled: %s", name, reason)
        # Imported here, not at the top: the web process and an idle worker need the job registry, not yfinance
        # or fredapi and what they pull in (tens of MiB on a 512 MB instance).
        from ingestion.providers.alphavantage import AlphaVantageProvider
        from ingestion.providers.fred import FredGraphProvider, FredProvider
        from ingestion.providers.sample import SampleProvider
        from ingestion.providers.yahoo import YahooProvider

        kept: dict[str, Any] = {"memory": _memory} if _memory is not None else {}
        providers: dict[str, Provider] = {"sample": SampleProvider(settings.sample_data_dir)}
        if "yfinance" not in disabled:
            providers["yfinance"] = YahooProvider.from_settings(settings, **kept)
        if "alpha_vantage" not in disabled:
            providers["alpha_vantage"] = AlphaVantageProvider.from_settings(settings, **kept)
        if "fred" not in disabled:
            providers["fred"] = FredProvider.from_settings(settings, **kept)
        if "fred_graph" not in disabled:
            providers["fred_graph"] = FredGraphProvider.from_settings(settings, **kept)
        _cache[key] = providers
        return dict(providers)


def price_chain(settings: Any) -> list[Provider]:
    """Live price providers in fallback order: yfinance, then alpha_vantage (sample is not a live fallback)."""
    providers = available_providers(settings)
    return [providers[name] for name in ("yfinance", "alpha_vantage") if name in providers]


def macro_chain(settings: Any) -> list[Provider]:
    """Live macro providers in fallback order: fred (with a key), then the keyless fred_graph CSV."""
    providers = available_providers(settings)
    return [providers[name] for name in ("fred", "fred_graph") if name in providers]


def provider_states(settings: Any) -> list[dict[str, Any]]:
    """Circuit and daily-limit state of every enabled live provider (for the status page and the CLI)."""
    return [p.guard.state() for p in available_providers(settings).values() if hasattr(p, "guard")]


def built_provider_states() -> list[dict[str, Any]]:
    """Like `provider_states`, for the providers this process has already built (a heartbeat builds none)."""
    with _lock:
        built = {name: p for providers in _cache.values() for name, p in providers.items()}
    return [p.guard.state() for p in built.values() if hasattr(p, "guard")]


def use_guard_memory(memory: GuardMemory | None) -> None:
    """Build the guards of providers from now on with `memory` (a worker's task child: the database), so an open
    circuit or a spent daily limit carries over from one child to the next; forgets the providers built before."""
    global _memory
    with _lock:
        _memory = memory
        _cache.clear()


def reset_registry() -> None:
    """Forget built providers and any guard memory (tests; a settings reload)."""
    global _memory
    with _lock:
        _cache.clear()
        _logged_disabled.clear()
        _memory = None
