"""FRED observations and series metadata through `fredapi.Fred`, plus a keyless fallback on fredgraph.csv.

Network step: `Fred.get_series` / `Fred.get_series_info` (FRED's XML API, which is what fredapi asks
for), with the one HTTP helper given a timeout and named errors (fredapi's own raises a bare
ValueError and waits forever). Transforms: the pure `observations_from_series` and
`metadata_from_info`. FRED's "." (value not published) is kept as NaN: a gap, stored as NULL.
"""

from __future__ import annotations

import io
import logging
import socket
import xml.etree.ElementTree as ET
from datetime import date
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote_plus
from urllib.request import urlopen

import pandas as pd
import requests
from fredapi import Fred

from ingestion.datasets import MACRO_OBSERVATIONS, MACRO_SERIES
from ingestion.providers.base import (
    AuthenticationError,
    NotFound,
    Provider,
    ProviderError,
    checked,
    fetch_each,
    finish,
)
from ingestion.providers.resilience import GuardPolicy, ProviderGuard, Transient, error_for_status, per_minute
from store.identifiers import SERIES_ID

log = logging.getLogger(__name__)

NAME = "fred"


def fred_root_url(base_url: str) -> str:
    """fredapi's `Fred.root_url` for a host root: 'https://api.stlouisfed.org' -> '.../fred'."""
    return base_url.rstrip("/") + "/fred"


def error_message_from_body(body: bytes) -> str | None:
    """FRED's error text from an XML (`<error message=...>`) or JSON (`error_message`) error body."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            import json

            return str(json.loads(text).get("error_message") or "") or None
        except ValueError:
            return None
    try:
        return ET.fromstring(body).get("message")  # noqa: S314 - same parser fredapi uses, configured host
    except ET.ParseError:
        return None


def error_for_response(status: int, retry_after: str | None, body: bytes, series_id: str | None) -> ProviderError:
    """The named error for a FRED error response; a bad series id names the id."""
    message = error_message_from_body(body)
    lowered = (message or "").lower()
    if "api_key" in lowered or "api key" in lowered:
        return AuthenticationError(f"{NAME}: the API key was refused: {message}")
    if status == 400 and "does not exist" in lowered:
        return NotFound(f"{NAME}: series {series_id or '?'} does not exist ({(message or '').strip()})")
    return error_for_status(NAME, status, retry_after, message or "") or ProviderError(f"{NAME}: HTTP {status}")


class _Fred(Fred):
    """fredapi's client with a timeout, a configurable host and named errors on its one HTTP helper."""

    def __init__(self, api_key: str, base_url: str, timeout: float) -> None:
        super().__init__(api_key=api_key)
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"FRED_BASE_URL must start with http:// or https://, got {base_url!r}")
        self.root_url = fred_root_url(base_url)
        self._timeout = timeout

    # fredapi routes every request through the name-mangled private `__fetch_data`; overriding it
    # keeps all of the library's URL building and XML parsing.
    def _Fred__fetch_data(self, url: str) -> ET.Element:  # noqa: N802
        series_id = url.split("series_id=", 1)[1].split("&", 1)[0] if "series_id=" in url else None
        url += "&api_key=" + quote_plus(self.api_key)
        try:
            with urlopen(url, timeout=self._timeout) as response:  # noqa: S310 - scheme checked in __init__
                body = response.read()
        except HTTPError as exc:
            raise error_for_response(exc.code, exc.headers.get("Retry-After"), exc.read(), series_id) from None
        except TimeoutError:
            raise Transient(f"{NAME}: no response within {self._timeout:g} s") from None
        except (URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError | socket.timeout):
                raise Transient(f"{NAME}: no response within {self._timeout:g} s") from None
            raise Transient(f"{NAME}: connection failed: {reason}") from None
        try:
            return ET.fromstring(body)  # noqa: S314 - as fredapi does, from the configured host
        except ET.ParseError as exc:
            snippet = body[:60].decode("utf-8", errors="replace")
            raise ProviderError(f"{NAME}: response is not XML ({exc}; starts {snippet!r})") from None


def observations_from_series(series_id: str, values: pd.Series) -> pd.DataFrame:
    """Standard observations from fredapi's Series (DatetimeIndex -> float; NaN is FRED's "." gap)."""
    index = pd.to_datetime(pd.Index(values.index), errors="coerce")
    if index.isna().any():
        raise ProviderError(f"{NAME}: malformed observations for {series_id}: a date could not be read")
    frame = pd.DataFrame(
        {
            "series_id": series_id,
            "date": index.date,
            "value": pd.to_numeric(pd.Series(values.to_numpy()), errors="coerce").astype("float64"),
        }
    )
    return frame[MACRO_OBSERVATIONS.columns].sort_values("date").reset_index(drop=True)


def metadata_from_info(series_id: str, info: pd.Series) -> pd.DataFrame:
    """One metadata record from fredapi's `get_series_info` Series (XML attributes)."""
    missing = [key for key in ("title", "units", "frequency") if not info.get(key)]
    if missing:
        raise ProviderError(f"{NAME}: malformed series info for {series_id}: missing {', '.join(missing)}")
    # FRED writes offsets as "-05"; pandas reads that and we store UTC.
    last_updated = pd.to_datetime(info.get("last_updated"), errors="coerce", utc=True)
    return pd.DataFrame(
        {
            "series_id": [series_id],
            "title": [info["title"]],
            "units": [info["units"]],
            "frequency": [info["frequency"]],
            "seasonal_adjustment": [info.get("seasonal_adjustment") or None],
            "last_updated": pd.Series([last_updated], dtype="datetime64[ns, UTC]"),
        }
    )[MACRO_SERIES.columns]


class FredProvider(Provider):
    """Macro observations and series metadata; one request per series, under the guard."""

    name = NAME

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.stlouisfed.org",
        *,
        timeout: float = 20.0,
        guard: ProviderGuard | None = None,
    ) -> None:
        if not api_key:
            raise AuthenticationError(f"{NAME}: FRED_API_KEY is not set")
        self._client = _Fred(api_key, base_url, timeout)
        self.guard = guard or ProviderGuard(NAME, [per_minute(120)], policy=GuardPolicy())

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FredProvider:
        guard = ProviderGuard(
            NAME,
            [per_minute(settings.fred_requests_per_minute)],
            policy=GuardPolicy.from_settings(settings),
            **kwargs,
        )
        key = settings.fred_api_key.get_secret_value() if settings.fred_api_key else ""
        return cls(key, settings.fred_base_url, timeout=settings.provider_timeout_seconds, guard=guard)

    # -- network step ---------------------------------------------------------------------------
    def fetch_series(self, series_id: str, start: date | None, end: date | None) -> pd.Series:
        def call() -> pd.Series:
            try:
                return self._client.get_series(series_id, observation_start=start, observation_end=end)
            except ValueError as exc:
                if "no data exists" in str(exc).lower():
                    raise NotFound(f"{NAME}: series {series_id}: {exc}") from None
                raise ProviderError(f"{NAME}: malformed observations for {series_id}: {exc}") from None

        return self.guard.call(call)

    def fetch_info(self, series_id: str) -> pd.Series:
        def call() -> pd.Series:
            try:
                return self._client.get_series_info(series_id)
            except ValueError as exc:  # fredapi: "No info exists for series id: X"
                raise NotFound(f"{NAME}: series {series_id}: {exc}") from None

        return self.guard.call(call)

    # -- contract -------------------------------------------------------------------------------
    def macro_observations(
        self, series_ids: list[str], start: date | None = None, end: date | None = None
    ) -> pd.DataFrame:
        def one(series_id: str) -> pd.DataFrame:
            frame = observations_from_series(series_id, self.fetch_series(series_id, start, end))
            if frame.empty:
                raise NotFound(f"{NAME}: series {series_id} has no observations in the requested range")
            return frame

        return _per_series(NAME, series_ids, one, MACRO_OBSERVATIONS.columns)

    def series_metadata(self, series_ids: list[str]) -> pd.DataFrame:
        return _per_series(NAME, series_ids, lambda s: metadata_from_info(s, self.fetch_info(s)), MACRO_SERIES.columns)


def _per_series(name: str, series_ids: list[str], fetch_one, columns: list[str]) -> pd.DataFrame:
    """Run `fetch_one` per valid id (a malformed id fails alone and is never sent); end as the contract says."""
    requested = list(series_ids)
    valid, failures = checked(requested, SERIES_ID, name)
    frames, fetched = fetch_each(valid, fetch_one) if valid else ([], {})
    return finish(name, frames, {**failures, **fetched}, requested, columns)


# -- keyless fallback: FRED's public graph CSV --------------------------------------------------------
GRAPH_NAME = "fred_graph"


def observations_from_graph_csv(series_id: str, text: str) -> pd.DataFrame:
    """Observations from fredgraph.csv: header `observation_date,<ID>` (older files `DATE,<ID>`);
    "." or an empty cell is a gap, kept as NaN."""
    lines = text.lstrip("\ufeff").splitlines()
    header = [cell.strip() for cell in lines[0].split(",")] if lines else []
    if len(header) != 2 or header[0].lower() not in ("observation_date", "date") or header[1].upper() != series_id:
        shown = lines[0][:60] if lines else ""
        raise ProviderError(f"{GRAPH_NAME}: not a fredgraph CSV for {series_id} (first line {shown!r})")
    frame = pd.read_csv(io.StringIO(text.lstrip("\ufeff")), dtype=str, keep_default_na=False)
    dates = pd.to_datetime(frame.iloc[:, 0], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        raise ProviderError(f"{GRAPH_NAME}: malformed CSV for {series_id}: {frame.iloc[:, 0][dates.isna()].iloc[0]!r}")
    raw = frame.iloc[:, 1].str.strip()
    values = pd.to_numeric(raw.mask(raw.isin([".", ""])), errors="coerce").astype("float64")
    result = pd.DataFrame({"series_id": series_id, "date": dates.dt.date, "value": values})
    return result[MACRO_OBSERVATIONS.columns].sort_values("date").reset_index(drop=True)


class FredGraphProvider(Provider):
    """Keyless FRED observations from the public graph CSV (no metadata); the fallback after `fred`."""

    name = GRAPH_NAME

    def __init__(
        self,
        base_url: str = "https://fred.stlouisfed.org",
        *,
        timeout: float = 20.0,
        guard: ProviderGuard | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/graph/fredgraph.csv"
        self.timeout = timeout
        self.guard = guard or ProviderGuard(GRAPH_NAME, [per_minute(60)], policy=GuardPolicy())

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> FredGraphProvider:
        guard = ProviderGuard(
            GRAPH_NAME,
            [per_minute(settings.fred_requests_per_minute)],
            policy=GuardPolicy.from_settings(settings),
            **kwargs,
        )
        return cls(settings.fred_graph_base_url, timeout=settings.provider_timeout_seconds, guard=guard)

    def fetch_csv(self, series_id: str, start: date | None, end: date | None) -> str:
        params = {"id": series_id}
        if start is not None:
            params["cosd"] = start.isoformat()
        if end is not None:
            params["coed"] = end.isoformat()

        def call() -> str:
            try:
                response = requests.get(self.url, params=params, timeout=self.timeout)
            except requests.Timeout:
                raise Transient(f"{GRAPH_NAME}: no response within {self.timeout:g} s") from None
            except requests.ConnectionError as exc:
                raise Transient(f"{GRAPH_NAME}: connection failed: {type(exc).__name__}") from None
            if response.status_code in (400, 404):
                raise NotFound(f"{GRAPH_NAME}: series {series_id} does not exist (HTTP {response.status_code})")
            error = error_for_status(GRAPH_NAME, response.status_code, response.headers.get("Retry-After"))
            if error is not None:
                raise error
            return response.text

        return self.guard.call(call)

    def macro_observations(
        self, series_ids: list[str], start: date | None = None, end: date | None = None
    ) -> pd.DataFrame:
        def one(series_id: str) -> pd.DataFrame:
            frame = observations_from_graph_csv(series_id, self.fetch_csv(series_id, start, end))
            if frame.empty:
                raise NotFound(f"{GRAPH_NAME}: series {series_id} has no observations in the requested range")
            return frame

        return _per_series(GRAPH_NAME, series_ids, one, MACRO_OBSERVATIONS.columns)
