"""Alpha Vantage daily bars through the `alpha_vantage` library: the second price provider and the fallback.

Network step: `alpha_vantage.timeseries.TimeSeries.get_daily` (one symbol per request), with the
library's URL building and output shaping kept, and its HTTP call given a timeout, the configured
host and named errors. Transform: the pure `daily_bars_from_payload` (JSON body -> standard bars).

adj_close: TIME_SERIES_DAILY_ADJUSTED is a premium endpoint, so with a free key (the default,
`ALPHAVANTAGE_PREMIUM=false`) bars come from TIME_SERIES_DAILY and `adj_close` equals the raw
`close` (NOT adjusted for splits or dividends); such frames carry `attrs["adj_close_is_raw"] = True`
so the caller can tell. With `ALPHAVANTAGE_PREMIUM=true` the adjusted endpoint is used and
`adj_close` is Alpha Vantage's split/dividend-adjusted close.

Response bodies: `Note` (per-minute limit) -> RateLimited(retry_after=60), retried by the guard;
`Information` about the daily limit -> DailyLimitReached (provider off until the next UTC day);
`Information` about a premium endpoint -> NotSupported; `Error Message` -> NotFound (or
AuthenticationError when it is about the API key).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import requests
from alpha_vantage.alphavantage import AlphaVantage
from alpha_vantage.timeseries import TimeSeries

from ingestion.datasets import CORPORATE_ACTIONS, DAILY_BARS
from ingestion.providers.base import (
    AuthenticationError,
    DailyLimitReached,
    NotFound,
    NotSupported,
    Provider,
    ProviderError,
    RateLimited,
    between,
    checked,
    fetch_each,
    finish,
)
from ingestion.providers.resilience import (
    GuardPolicy,
    ProviderGuard,
    Transient,
    error_for_status,
    next_utc_midnight,
    per_minute,
)
from store import clock
from store.identifiers import SYMBOL

log = logging.getLogger(__name__)

NAME = "alpha_vantage"
# The library appends "function=...&symbol=..." to this prefix; the host root comes from the settings.
QUERY_PATH = "/query?"
# "compact" returns the latest 100 sessions (about 145 calendar days); older starts need "full".
COMPACT_CALENDAR_DAYS = 140
NOTE_RETRY_SECONDS = 60.0


def api_url(base_url: str) -> str:
    """The library's `_ALPHA_VANTAGE_API_URL` form for a host root: 'https://host' -> 'https://host/query?'."""
    return base_url.rstrip("/") + QUERY_PATH


def error_from_body(payload: Any, now: datetime | None = None) -> ProviderError | None:
    """The named error an Alpha Vantage JSON body stands for, or None when it carries data."""
    if not isinstance(payload, dict) or not payload:
        return ProviderError(f"{NAME}: empty or non-object JSON response")
    if "Error Message" in payload:
        message = str(payload["Error Message"])
        if "apikey" in message.lower() or "api key" in message.lower():
            return AuthenticationError(f"{NAME}: {message}")
        return NotFound(f"{NAME}: {message}")
    if "Note" in payload:
        return RateLimited(f"{NAME}: per-minute limit: {payload['Note']}", retry_after=NOTE_RETRY_SECONDS)
    if "Information" in payload:
        message = str(payload["Information"])
        lowered = message.lower()
        if "per day" in lowered or "daily" in lowered:
            now = now or clock.now()
            return DailyLimitReached(f"{NAME}: daily limit reached: {message}", next_utc_midnight(now), now)
        if "per second" in lowered or "per minute" in lowered or "sparingly" in lowered:
            return RateLimited(f"{NAME}: burst limit: {message}", retry_after=NOTE_RETRY_SECONDS)
        if "premium" in lowered:
            return NotSupported(f"{NAME}: {message}")
        now = now or clock.now()
        return DailyLimitReached(f"{NAME}: {message}", next_utc_midnight(now), now)
    return None


def _field(fields: dict[str, Any], name: str) -> Any:
    """Alpha Vantage keys are numbered ('4. close'); match on the name, whatever the number."""
    for key, value in fields.items():
        if re.sub(r"^\d+\.\s*", "", key) == name:
            return value
    return None


def _series(payload: dict[str, Any], symbol: str) -> dict[str, dict[str, Any]]:
    error = error_from_body(payload)
    if error is not None:
        raise error
    series = payload.get("Time Series (Daily)")
    if not isinstance(series, dict):
        keys = ", ".join(map(repr, payload)) or "none"
        raise ProviderError(f"{NAME}: malformed response for {symbol}: no 'Time Series (Daily)' (keys: {keys})")
    return series


def daily_bars_from_payload(symbol: str, payload: dict[str, Any]) -> pd.DataFrame:
    """Standard daily bars from a TIME_SERIES_DAILY(_ADJUSTED) body; raises ProviderError on a malformed one."""
    series = _series(payload, symbol)
    rows = []
    for day, fields in series.items():
        if not isinstance(fields, dict):
            raise ProviderError(f"{NAME}: malformed response for {symbol}: entry {day!r} is not an object")
        rows.append(
            {
                "date": day,
                "open": _field(fields, "open"),
                "high": _field(fields, "high"),
                "low": _field(fields, "low"),
                "close": _field(fields, "close"),
                "adj_close": _field(fields, "adjusted close"),
                "volume": _field(fields, "volume"),
            }
        )
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "adj_close", "volume"])
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        bad = frame.loc[dates.isna(), "date"].iloc[0]
        raise ProviderError(f"{NAME}: malformed response for {symbol}: {bad!r} is not a date")
    adjusted = frame["adj_close"].notna().any()
    bars = pd.DataFrame(
        {
            "symbol": symbol,
            "date": dates.dt.date,
            # Unparseable numbers become NaN and the row is quarantined by validation, not dropped here.
            **{c: pd.to_numeric(frame[c], errors="coerce").astype("float64") for c in ("open", "high", "low", "close")},
        }
    )
    bars["adj_close"] = (
        pd.to_numeric(frame["adj_close"], errors="coerce").astype("float64") if adjusted else bars["close"]
    )
    bars["volume"] = pd.to_numeric(frame["volume"], errors="coerce").round().astype("Int64")
    bars = bars.sort_values("date", kind="stable").reset_index(drop=True)[DAILY_BARS.columns]
    bars.attrs["adj_close_is_raw"] = not adjusted
    return bars


def corporate_actions_from_payload(symbol: str, payload: dict[str, Any]) -> pd.DataFrame:
    """Splits (coefficient != 1) and dividends (amount > 0) from a TIME_SERIES_DAILY_ADJUSTED body."""
    series = _series(payload, symbol)
    rows = []
    for day, fields in series.items():
        dividend = pd.to_numeric(_field(fields, "dividend amount"), errors="coerce")
        split = pd.to_numeric(_field(fields, "split coefficient"), errors="coerce")
        when = date.fromisoformat(day)
        if pd.notna(dividend) and dividend > 0:
            rows.append({"symbol": symbol, "date": when, "action": "dividend", "value": float(dividend)})
        if pd.notna(split) and split > 0 and split != 1:
            rows.append({"symbol": symbol, "date": when, "action": "split", "value": float(split)})
    frame = pd.DataFrame(rows, columns=CORPORATE_ACTIONS.columns)
    frame["value"] = frame["value"].astype("float64")
    return frame.sort_values(["date", "action"]).reset_index(drop=True)


class _TimeSeries(TimeSeries):
    """The library's TimeSeries with a timeout, the configured host and named errors on its one HTTP call."""

    def __init__(self, key: str, base_url: str, timeout: float, now: Callable[[], datetime]) -> None:
        super().__init__(key=key, output_format="json")
        self._api_url = api_url(base_url)
        self._timeout = timeout
        self._now = now

    def _handle_api_call(self, url: str) -> dict[str, Any]:
        # The library builds every URL on the class attribute; swap in this instance's host root, so
        # two providers (e.g. tests against different fake servers) never share a global.
        if url.startswith(AlphaVantage._ALPHA_VANTAGE_API_URL):
            url = self._api_url + url[len(AlphaVantage._ALPHA_VANTAGE_API_URL) :]
        try:
            response = requests.get(url, proxies=self.proxy, headers=self.headers, timeout=self._timeout)
        except requests.Timeout:
            raise Transient(f"{NAME}: no response within {self._timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise Transient(f"{NAME}: connection failed: {type(exc).__name__}") from None
        error = error_for_status(NAME, response.status_code, response.headers.get("Retry-After"))
        if error is not None:
            raise error
        try:
            payload = response.json()
        except ValueError:
            snippet = response.text[:80].replace("\n", " ")
            raise ProviderError(f"{NAME}: response is not JSON (starts {snippet!r})") from None
        error = error_from_body(payload, self._now())
        if error is not None:
            raise error
        return payload


class AlphaVantageProvider(Provider):
    """Daily bars (and, with a premium key, corporate actions); one request per symbol, under the guard."""

    name = NAME
    # TIME_SERIES_DAILY(outputsize=full) returns a symbol's whole history in one request: ask once per symbol.
    window_days = None

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://www.alphavantage.co",
        *,
        timeout: float = 20.0,
        premium: bool = False,
        guard: ProviderGuard | None = None,
    ) -> None:
        if not api_key:
            raise AuthenticationError(f"{NAME}: ALPHAVANTAGE_API_KEY is not set")
        self.guard = guard or ProviderGuard(NAME, [per_minute(5)], daily_limit=25, policy=GuardPolicy())
        self._client = _TimeSeries(api_key, base_url, timeout, self.guard.now)
        self.premium = premium

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> AlphaVantageProvider:
        guard = ProviderGuard(
            NAME,
            [per_minute(settings.alphavantage_requests_per_minute)],
            daily_limit=settings.alphavantage_requests_per_day,
            policy=GuardPolicy.from_settings(settings),
            **kwargs,
        )
        return cls(
            settings.alphavantage_api_key.get_secret_value() if settings.alphavantage_api_key else "",
            settings.alphavantage_base_url,
            timeout=settings.provider_timeout_seconds,
            premium=getattr(settings, "alphavantage_premium", False),
            guard=guard,
        )

    # -- network step ---------------------------------------------------------------------------
    def fetch_daily(self, symbol: str, start: date | None) -> dict[str, Any]:
        """The raw JSON body of TIME_SERIES_DAILY (or _ADJUSTED with a premium key) for one symbol."""
        today = self.guard.now().date()
        recent = start is not None and start >= today - timedelta(days=COMPACT_CALENDAR_DAYS)
        outputsize = "compact" if recent else "full"
        method = self._client.get_daily_adjusted if self.premium else self._client.get_daily

        def call() -> dict[str, Any]:
            try:
                data, meta = method(symbol=symbol, outputsize=outputsize)
            except KeyError as exc:
                raise ProviderError(f"{NAME}: malformed response for {symbol}: missing key {exc}") from None
            return {"Meta Data": meta, "Time Series (Daily)": data}

        return self.guard.call(call)

    # -- contract -------------------------------------------------------------------------------
    def daily_bars(self, symbols: list[str], start: date | None = None, end: date | None = None) -> pd.DataFrame:
        return self._per_symbol(symbols, start, end, daily_bars_from_payload, DAILY_BARS.columns)

    def corporate_actions(self, symbols: list[str], start: date | None = None, end: date | None = None) -> pd.DataFrame:
        if not self.premium:
            raise NotSupported(f"{NAME}: corporate actions need the premium TIME_SERIES_DAILY_ADJUSTED endpoint")
        return self._per_symbol(symbols, start, end, corporate_actions_from_payload, CORPORATE_ACTIONS.columns)

    def _per_symbol(self, symbols, start, end, transform, columns) -> pd.DataFrame:
        requested = list(symbols)
        symbols, failures = checked(requested, SYMBOL, NAME)
        bars = columns is DAILY_BARS.columns

        def fetch_one(symbol: str) -> pd.DataFrame:
            try:
                records = between(transform(symbol, self.fetch_daily(symbol, start)), start, end)
            except NotFound as exc:
                raise NotFound(f"{exc} ({symbol})") from None
            if records.empty and bars:
                raise NotFound(f"{NAME}: no bars for {symbol} between {start or 'the start'} and {end or 'today'}")
            return records

        frames, fetched = fetch_each(symbols, fetch_one) if symbols else ([], {})
        result = finish(NAME, frames, {**failures, **fetched}, requested, columns)
        if bars:
            result.attrs["adj_close_is_raw"] = not self.premium
        return result
