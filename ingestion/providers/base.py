"""The one provider contract: a network (or file) step that returns raw payloads, and pure transforms to records.

Standard records are pandas DataFrames with the columns of their dataset's declaration
(`ingestion.datasets`); every provider returns exactly these columns, so validation and writing never
depend on where data came from.

Dtypes: `date` holds `datetime.date` objects; prices and values are float64 (NaN = missing); `volume`
and `shares` are integers (int64, or nullable Int64 when a provider row lacks them); `ts` is
datetime64 tz-aware UTC; text columns are str or None.

Many symbols, some failing (live providers; the jobs layer relies on this):

- A fetcher taking `symbols` / `series_ids` returns ONE frame with the rows of every symbol that
  succeeded. Each requested symbol that produced no rows is listed in `failures_of(frame)`, a
  `dict[str, str]` symbol -> human reason (stored in `frame.attrs["failures"]`; read it straight after
  the call, before concatenating, because some pandas operations drop attrs). Nothing is left out
  silently: every requested symbol is either in the rows or in the failures. (Corporate actions: a
  known symbol with no split or dividend in the range succeeds with no rows.)
- Live providers check every symbol / series id first (`store.identifiers`, the one rule the app and the
  universe tables share): a malformed one fails alone, with the reason, and is never sent; the others
  are fetched (`checked`).
- Daily bars with `frame.attrs["adj_close_is_raw"] is True` (Alpha Vantage without a premium key)
  carry the unadjusted close in `adj_close`.
- When NO requested symbol succeeded, the fetcher raises instead of returning an empty frame:
  `NotFound` when every symbol failed on its own (unknown ticker, no data in range; `exc.failures`
  holds the same dict), or the provider-wide error (`RateLimited`, `DailyLimitReached`,
  `AuthenticationError`, `CircuitOpen`, `ProviderError`) when the provider as a whole failed.
- A provider-wide error AFTER some symbols succeeded (e.g. Alpha Vantage's daily limit on the 4th of
  6 one-symbol requests) does not lose the successes: they are returned, and each symbol not fetched
  is listed in the failures with that error's message. Failed symbols can go to the next provider.
- `SampleProvider` (the bundled dataset, not a live fallback) is stricter: it raises `NotFound` for
  the first unknown symbol.
- `RateLimited`, `DailyLimitReached` and `CircuitOpen` mean "try another provider now, this one
  later"; `NotFound` means "this symbol is unknown here" (another provider may still know it).
- `NoNetwork` means this machine cannot reach the provider at all (its host does not resolve): nothing was
  fetched, and it says nothing about the symbols or the provider's health. A run records it once and
  each item as `NOT_FETCHED` (`reason_is_no_network` recognises its message in a per-item reason).
- Paging: `window_days` says how a provider pages history. None means one request returns the whole
  history of a symbol whatever the range (Alpha Vantage's `outputsize=full`), so the job asks once per
  symbol per run; a number means the job cuts long ranges into windows of that many days.
- `finish` is the one way a many-item fetch ends: rows plus failures, or the right error when nothing
  succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime

import pandas as pd

from store import clock
from store.identifiers import Identifier
from store.redaction import redact


class ProviderError(RuntimeError):
    """A provider failed; the message says which provider and why, with every configured secret masked.

    Redacted here, where provider errors are created, so nothing downstream (run records, pages, CLI lines,
    logs) can show an API key an upstream echoed back in its error text or a URL.
    """

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(redact(str(message)), *args)


class RateLimited(ProviderError):
    """The provider refused because of its request budget; retry after `retry_after` seconds if given."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DailyLimitReached(RateLimited):
    """The provider's daily budget is spent (Alpha Vantage `Information`); unusable until `until` (UTC)."""

    def __init__(self, message: str, until: datetime | None = None, now: datetime | None = None) -> None:
        retry_after = None if until is None else max(0.0, (until - (now or clock.now())).total_seconds())
        super().__init__(message, retry_after=retry_after)
        self.until = until


class CircuitOpen(ProviderError):
    """The provider failed repeatedly and is switched off for a while; use the next provider."""


class NotFound(ProviderError):
    """The symbol or series does not exist at the provider, or it returned no data.

    `failures` maps each requested symbol to its reason when a many-symbol call found none of them.
    """

    def __init__(self, message: str, failures: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.failures = dict(failures or {})


class AuthenticationError(ProviderError):
    """Missing or rejected API key."""


class NotSupported(ProviderError):
    """The provider does not offer this kind of data."""


class NoNetwork(ProviderError):
    """This machine cannot reach the provider: its host name does not resolve (no network, DNS down).

    The message reads "<provider>: no network: could not resolve <host> (<why>)"; `reason` is the part after the
    provider's name, the one line a run records.
    """

    def __init__(self, provider: str, host: str, why: str = "") -> None:
        super().__init__(f"{provider}: {NO_NETWORK}: could not resolve {host}" + (f" ({why})" if why else ""))
        self.host = host
        self.reason = str(self).removeprefix(f"{provider}: ")


NO_NETWORK = "no network"
# What an item that was never asked for because the network is down records, instead of a per-symbol guess.
NOT_FETCHED = f"not fetched: {NO_NETWORK}"


RATE_LIMIT_HINTS = ("rate limit", "too many requests", "yfratelimiterror", "http 429")


def reason_is_rate_limit(reason: str) -> bool:
    lowered = reason.lower()
    return any(hint in lowered for hint in RATE_LIMIT_HINTS)


def reason_is_no_network(reason: str) -> bool:
    """True for a `NoNetwork` message (or its `reason`), however a caller prefixed it."""
    return f"{NO_NETWORK}: could not resolve " in reason


def failures_of(frame: pd.DataFrame) -> dict[str, str]:
    """Per-symbol failures of a many-symbol fetch: symbol -> reason (empty when all succeeded)."""
    return dict(frame.attrs.get("failures", {}))


def with_failures(frame: pd.DataFrame, failures: dict[str, str]) -> pd.DataFrame:
    """Attach per-symbol failures to a fetch result (see the module docstring)."""
    frame.attrs["failures"] = dict(failures)
    return frame


def checked(items: Sequence[str], rule: Identifier, provider: str) -> tuple[list[str], dict[str, str]]:
    """The items worth a request (normalised), and the malformed ones with their reason (never sent)."""
    good, bad = rule.split(items)
    return good, {item: f"{provider}: {reason}" for item, reason in bad.items()}


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """`items` in consecutive lists of at most `size`."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def between(frame: pd.DataFrame, start: date | None, end: date | None, column: str = "date") -> pd.DataFrame:
    """Rows of `frame` with `column` in [start, end] (None = unbounded), index reset."""
    if start is not None:
        frame = frame[frame[column] >= start]
    if end is not None:
        frame = frame[frame[column] <= end]
    return frame.reset_index(drop=True)


def fetch_each(items: list[str], fetch_one: Callable[[str], pd.DataFrame]) -> tuple[list[pd.DataFrame], dict]:
    """One request per symbol / series under the contract above: the frames that succeeded, and failures.

    `NotFound` from `fetch_one` fails that item only. Any other `ProviderError` is provider-wide: raised
    when nothing has succeeded yet, otherwise the successes are kept and every item not yet fetched fails
    with its message. The caller ends with `finish`.
    """
    frames: list[pd.DataFrame] = []
    failures: dict[str, str] = {}
    for position, item in enumerate(items):
        try:
            frames.append(fetch_one(item))
        except NotFound as exc:
            failures[item] = str(exc)
        except ProviderError as exc:
            if not frames:
                raise
            failures.update(dict.fromkeys(items[position:], str(exc)))
            break
    return frames, failures


def finish(
    provider: str, frames: list[pd.DataFrame], failures: dict[str, str], items: Sequence[str], columns: list[str]
) -> pd.DataFrame:
    """The one end of a many-item fetch: raise when no requested item succeeded, else rows plus failures.

    Nothing succeeded: `RateLimited` when every reason is a rate limit, otherwise `NotFound` carrying the
    per-item reasons. Items neither in the rows nor in `failures` do not exist here: a provider lists every
    item it could not deliver.
    """
    frames = [f for f in frames if not f.empty]
    if items and not frames:
        reasons = dict(failures) or dict.fromkeys(items, f"{provider}: no data returned")
        message = f"{provider}: no data for " + "; ".join(f"{item}: {reason}" for item, reason in reasons.items())
        if all(reason_is_rate_limit(r) for r in reasons.values()):
            raise RateLimited(message)
        raise NotFound(message, reasons)
    result = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    return with_failures(result, failures)


class Provider:
    """Base class: a provider overrides the fetchers it supports; the others raise NotSupported."""

    name: str = "provider"
    # How history is paged: days per request window, or None when one request returns a symbol's whole history.
    window_days: int | None = 366

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

    def raw_closes(self, symbols: list[str], start: date | None, end: date | None) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide raw closes")

    def key_statistics(self, symbols: list[str]) -> pd.DataFrame:
        """P/E, EPS, dividend yield, beta and next earnings date as the provider shows them today."""
        raise NotSupported(f"{self.name} does not provide key statistics")

    def index_members(self, symbols: list[str]) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide index membership")

    def option_chains(self, symbols: list[str]) -> pd.DataFrame:
        """Today's chains of the underlyings `symbols` (option_quotes records; the session is the provider's)."""
        raise NotSupported(f"{self.name} does not provide option chains")

    def macro_observations(self, series_ids: list[str], start: date | None, end: date | None) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide macro observations")

    def series_metadata(self, series_ids: list[str]) -> pd.DataFrame:
        raise NotSupported(f"{self.name} does not provide series metadata")

    def supports(self, method: str) -> bool:
        """True when this provider overrides `method` (the base class raises NotSupported)."""
        return getattr(type(self), method, None) is not getattr(Provider, method)
