"""The one provider contract: a network (or file) step that returns raw payloads, and pure transforms to records.

Standard records are pandas DataFrames with the columns below; every provider returns exactly these
columns, so validation and writing never depend on where data came from.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

DAILY_BAR_COLUMNS = ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume"]
INSTRUMENT_COLUMNS = ["symbol", "name", "asset_class", "sector", "industry", "currency"]
MACRO_OBSERVATION_COLUMNS = ["series_id", "date", "value"]
INTRADAY_QUOTE_COLUMNS = ["symbol", "ts", "price", "volume"]  # ts: tz-aware UTC timestamp
CORPORATE_ACTION_COLUMNS = ["symbol", "date", "action", "value"]  # action: split | dividend
SHARES_OUTSTANDING_COLUMNS = ["symbol", "date", "shares"]
SERIES_METADATA_COLUMNS = [
    "series_id",
    "title",
    "units",
    "frequency",
    "seasonal_adjustment",
    "last_updated",
]


class ProviderError(RuntimeError):
    """A provider failed; the message says which provider and why."""


class RateLimited(ProviderError):
    """The provider refused because of its request budget; retry after `retry_after` seconds if given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(ProviderError):
    """The symbol or series does not exist at the provider, or it returned no data."""


class AuthenticationError(ProviderError):
    """Missing or rejected API key."""


class NotSupported(ProviderError):
    """The provider does not offer this kind of data."""


class Provider:
    """Base class: a provider overrides the fetchers it supports; the others raise NotSupported."""

    name: str = "provider"

    def daily_bars(self, symbols: list[str], start: date | None, end: date | None) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide daily bars")

    def instruments(self, symbols: list[str]) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide instrument information")

    def intraday_quotes(self, symbols: list[str]) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide intraday quotes")

    def corporate_actions(self, symbols: list[str], start: date | None, end: date | None) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide corporate actions")

    def shares_outstanding(self, symbols: list[str], start: date | None, end: date | None) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide shares outstanding")

    def macro_observations(self, series_ids: list[str], start: date | None, end: date | None) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide macro observations")

    def series_metadata(self, series_ids: list[str]) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide series metadata")
