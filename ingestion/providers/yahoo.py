"""Yahoo Finance via yfinance: daily bars (raw and adjusted close), actions, instruments, shares, intraday.

Network steps are the thin `fetch_*` methods (one yfinance call each, under the guard); everything
else is a pure transform from yfinance's frames to standard records, tested offline.

yfinance's `download()` batches many tickers but does not raise for a failed one: the ticker's
columns come back NaN and the reason is only logged. The provider captures those log lines during
the call, so each failed symbol is reported with Yahoo's reason (see base.py for the contract).
"""

from __future__ import annotations

import ast
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pandas as pd
import yfinance as yf
from yfinance.exceptions import YFException, YFRateLimitError, YFTickerMissingError

from ingestion.datasets import CORPORATE_ACTIONS, DAILY_BARS, INSTRUMENTS, INTRADAY_QUOTES, SHARES_OUTSTANDING
from ingestion.providers.base import (
    NotFound,
    Provider,
    ProviderError,
    RateLimited,
    checked,
    chunks,
    fetch_each,
    finish,
)
from ingestion.providers.resilience import GuardPolicy, ProviderGuard, Transient, per_minute
from store.identifiers import SYMBOL

log = logging.getLogger(__name__)

NAME = "yfinance"
_PRICE_FIELDS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
# Yahoo's quoteType -> our asset_class.
ASSET_CLASSES = {
    "EQUITY": "stock",
    "ETF": "etf",
    "INDEX": "index",
    "CURRENCY": "fx",
    "MUTUALFUND": "fund",
    "FUTURE": "future",
    "CRYPTOCURRENCY": "crypto",
}


# -- pure transforms ---------------------------------------------------------------------------------
def _per_ticker(frame: pd.DataFrame, symbol: str) -> pd.DataFrame | None:
    """One ticker's columns from a download() frame (MultiIndex ['Price','Ticker'] either way round)."""
    if frame is None or frame.empty or not isinstance(frame.columns, pd.MultiIndex):
        return None
    names = list(frame.columns.names)
    level = names.index("Ticker") if "Ticker" in names else 1
    if symbol not in frame.columns.get_level_values(level):
        return None
    return frame.xs(symbol, axis=1, level=level)


def _dates(index: pd.Index) -> pd.Series:
    stamps = pd.DatetimeIndex(index)
    if stamps.tz is not None:
        stamps = stamps.tz_localize(None)
    return pd.Series(stamps.date, dtype=object)


def daily_bars_from_download(frame: pd.DataFrame, symbols: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Standard bars for each symbol with data, and the symbols whose columns are all NaN (failed).

    Rows where every price field is NaN are alignment padding (another ticker traded that day) and
    are dropped; rows with SOME missing fields are kept so validation quarantines them with a reason.
    """
    frames, empty = [], []
    for symbol in symbols:
        sub = _per_ticker(frame, symbol)
        if sub is None or not set(_PRICE_FIELDS) <= set(sub.columns):
            empty.append(symbol)
            continue
        sub = sub[_PRICE_FIELDS].dropna(how="all")
        if sub.empty:
            empty.append(symbol)
            continue
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "date": _dates(sub.index),
                    "open": sub["Open"].to_numpy("float64"),
                    "high": sub["High"].to_numpy("float64"),
                    "low": sub["Low"].to_numpy("float64"),
                    "close": sub["Close"].to_numpy("float64"),
                    "adj_close": sub["Adj Close"].to_numpy("float64"),
                    "volume": pd.array(sub["Volume"].round(), dtype="Int64"),
                }
            )
        )
    bars = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=DAILY_BARS.columns)
    return bars[DAILY_BARS.columns], empty


def corporate_actions_from_download(frame: pd.DataFrame, symbols: list[str]) -> pd.DataFrame:
    """Dividends (cash per share) and splits (new shares per old share) from a download(actions=True) frame."""
    rows = []
    for symbol in symbols:
        sub = _per_ticker(frame, symbol)
        if sub is None:
            continue
        for column, action in (("Dividends", "dividend"), ("Stock Splits", "split")):
            if column not in sub.columns:
                continue
            values = sub[column]
            values = values[values.notna() & (values > 0)]  # yfinance writes 0 on days without an action
            for day, value in zip(_dates(values.index), values.to_numpy("float64"), strict=True):
                rows.append({"symbol": symbol, "date": day, "action": action, "value": float(value)})
    actions = pd.DataFrame(rows, columns=CORPORATE_ACTIONS.columns)
    actions["value"] = actions["value"].astype("float64")
    return actions.sort_values(["symbol", "date", "action"]).reset_index(drop=True)


def quotes_from_download(frame: pd.DataFrame, symbols: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Intraday bars as quotes (ts = bar start in UTC, price = bar close) and the symbols without any."""
    frames, empty = [], []
    for symbol in symbols:
        sub = _per_ticker(frame, symbol)
        sub = None if sub is None or "Close" not in sub.columns else sub[sub["Close"].notna()]
        if sub is None or sub.empty:
            empty.append(symbol)
            continue
        stamps = pd.DatetimeIndex(sub.index)
        # Intraday frames carry the exchange time zone; a naive index is already UTC (ignore_tz=True).
        stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
        volume = sub["Volume"] if "Volume" in sub.columns else pd.Series(float("nan"), index=sub.index)
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "ts": stamps,
                    "price": sub["Close"].to_numpy("float64"),
                    "volume": pd.array(volume.round(), dtype="Int64"),
                }
            )
        )
    quotes = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=INTRADAY_QUOTES.columns)
    if quotes.empty:
        quotes["ts"] = pd.Series(dtype="datetime64[ns, UTC]")
    return quotes[INTRADAY_QUOTES.columns], empty


def instrument_from_info(symbol: str, info: dict[str, Any] | None) -> pd.DataFrame:
    """One instrument record from `Ticker.info`; NotFound when Yahoo knows nothing about the symbol."""
    info = info or {}
    name = info.get("longName") or info.get("shortName")
    quote_type = info.get("quoteType")
    if not name and not quote_type:
        raise NotFound(f"{NAME}: no instrument information for {symbol}")
    return pd.DataFrame(
        [
            {
                "symbol": symbol,
                "name": name or symbol,
                "asset_class": ASSET_CLASSES.get(str(quote_type).upper(), str(quote_type or "other").lower()),
                "sector": info.get("sector") or None,
                "industry": info.get("industry") or None,
                "currency": (info.get("currency") or "USD").upper(),
            }
        ],
        columns=INSTRUMENTS.columns,
    )


def shares_from_series(symbol: str, shares: pd.Series | None) -> pd.DataFrame:
    """Share-count history from `Ticker.get_shares_full` (several figures a day possible: the last one wins).

    Yahoo dates each figure by when it recorded it, so that day is both what the figure describes
    (`period_end`) and when it was public (`filing_date`): a point-in-time read may use it from that day on.
    """
    if shares is None or len(shares) == 0:
        raise NotFound(f"{NAME}: no shares-outstanding history for {symbol}")
    values = pd.to_numeric(shares, errors="coerce").dropna()
    values = values[values > 0]
    if values.empty:
        raise NotFound(f"{NAME}: no usable shares-outstanding figures for {symbol}")
    frame = pd.DataFrame({"date": _dates(values.index).to_numpy(), "shares": values.to_numpy()})
    frame = frame.groupby("date", sort=True).last().reset_index()
    frame["shares"] = frame["shares"].round().astype("int64")
    frame.insert(0, "symbol", symbol)
    frame = frame.rename(columns={"date": "period_end"}).assign(filing_date=lambda f: f["period_end"])
    return frame[SHARES_OUTSTANDING.columns]


# -- capturing download()'s per-ticker errors ------------------------------------------------------------
_FAILED_LINE = re.compile(r"^(\[.*?\]):\s*(.+)$", re.S)


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.reasons: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = _FAILED_LINE.match(record.getMessage().strip())
        if not match:
            return
        try:
            tickers = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            return
        for ticker in tickers:
            self.reasons[str(ticker).upper()] = match.group(2).strip()


_capture_lock = threading.Lock()


@contextmanager
def _yfinance_errors() -> Iterator[dict[str, str]]:
    """Collect the "['TICKER']: reason" lines download() logs for failed tickers."""
    collector = _ErrorCollector()
    logger = logging.getLogger("yfinance")
    with _capture_lock:
        logger.addHandler(collector)
    try:
        yield collector.reasons
    finally:
        with _capture_lock:
            logger.removeHandler(collector)


def _translate(exc: Exception, what: str) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, YFRateLimitError):
        return RateLimited(f"{NAME}: rate limited by Yahoo ({what}): {exc}")
    if isinstance(exc, YFTickerMissingError):
        return NotFound(f"{NAME}: {exc}")
    if isinstance(exc, YFException):
        return ProviderError(f"{NAME}: {what}: {exc}")
    # Anything else from the HTTP stack (curl_cffi/requests): a timeout or a dropped connection.
    return Transient(f"{NAME}: {what} failed: {type(exc).__name__}: {exc}")


class YahooProvider(Provider):
    """yfinance behind the contract; downloads are batched and budgeted by ticker count."""

    name = NAME

    def __init__(
        self,
        *,
        batch_size: int = 50,
        threads: int = 2,
        timeout: float = 20.0,
        guard: ProviderGuard | None = None,
    ) -> None:
        self.guard = guard or ProviderGuard(NAME, [per_minute(120)], policy=GuardPolicy())
        limit = min((rate.limit for rate in self.guard.rates), default=batch_size)
        # A batch costs one budget slot per ticker, so it must fit in the budget.
        self.batch_size = max(1, min(batch_size, limit))
        self.threads = threads
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> YahooProvider:
        guard = ProviderGuard(
            NAME, [per_minute(settings.yahoo_requests_per_minute)], policy=GuardPolicy.from_settings(settings), **kwargs
        )
        return cls(
            batch_size=settings.yahoo_batch_size,
            threads=settings.yahoo_max_concurrency,
            timeout=settings.provider_timeout_seconds,
            guard=guard,
        )

    # -- network steps ----------------------------------------------------------------------------
    def fetch_download(self, symbols: list[str], **kwargs: Any) -> tuple[pd.DataFrame, dict[str, str]]:
        """One yf.download() call; returns the frame and the per-ticker reasons it logged."""

        def call() -> tuple[pd.DataFrame, dict[str, str]]:
            with _yfinance_errors() as reasons:
                try:
                    frame = yf.download(
                        symbols,
                        auto_adjust=False,
                        group_by="column",
                        multi_level_index=True,
                        progress=False,
                        threads=self.threads,
                        timeout=self.timeout,
                        **kwargs,
                    )
                except Exception as exc:  # noqa: BLE001 - translated into a named provider error
                    raise _translate(exc, "download") from None
            if frame is None:
                raise ProviderError(f"{NAME}: download returned nothing")
            if not isinstance(frame, pd.DataFrame):
                raise ProviderError(f"{NAME}: download returned a {type(frame).__name__}, not a frame")
            return frame, dict(reasons)

        return self.guard.call(call, weight=len(symbols))

    def fetch_info(self, symbol: str) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            try:
                return yf.Ticker(symbol).info
            except Exception as exc:  # noqa: BLE001
                raise _translate(exc, f"info for {symbol}") from None

        return self.guard.call(call)

    def fetch_shares(self, symbol: str, start: date | None, end: date | None) -> pd.Series | None:
        def call() -> pd.Series | None:
            try:
                return yf.Ticker(symbol).get_shares_full(start=start, end=end)
            except Exception as exc:  # noqa: BLE001
                raise _translate(exc, f"shares for {symbol}") from None

        return self.guard.call(call)

    # -- contract -----------------------------------------------------------------------------------
    def daily_bars(self, symbols: list[str], start: date | None = None, end: date | None = None) -> pd.DataFrame:
        return self._batched(symbols, start, end, want="bars")

    def corporate_actions(self, symbols: list[str], start: date | None = None, end: date | None = None) -> pd.DataFrame:
        return self._batched(symbols, start, end, want="actions")

    def intraday_quotes(self, symbols: list[str], interval: str = "5m", period: str = "1d") -> pd.DataFrame:
        requested = list(symbols)
        symbols, failures = checked(requested, SYMBOL, NAME)
        frames: list[pd.DataFrame] = []
        for batch in chunks(symbols, self.batch_size):
            try:
                frame, reasons = self.fetch_download(batch, period=period, interval=interval, prepost=False)
            except ProviderError as exc:
                if not frames:
                    raise
                failures.update(
                    dict.fromkeys([s for s in symbols if s not in failures and not _has(frames, s)], str(exc))
                )
                break
            quotes, empty = quotes_from_download(frame, batch)
            failures.update(_reasons(empty, reasons, "no intraday quotes"))
            frames.append(quotes)
        return finish(NAME, frames, failures, requested, INTRADAY_QUOTES.columns)

    def instruments(self, symbols: list[str]) -> pd.DataFrame:
        return self._per_symbol(symbols, lambda s: instrument_from_info(s, self.fetch_info(s)), INSTRUMENTS.columns)

    def shares_outstanding(
        self, symbols: list[str], start: date | None = None, end: date | None = None
    ) -> pd.DataFrame:
        return self._per_symbol(
            symbols, lambda s: shares_from_series(s, self.fetch_shares(s, start, end)), SHARES_OUTSTANDING.columns
        )

    # -- helpers --------------------------------------------------------------------------------
    def _batched(self, symbols: list[str], start: date | None, end: date | None, want: str) -> pd.DataFrame:
        requested = list(symbols)
        symbols, failures = checked(requested, SYMBOL, NAME)
        frames: list[pd.DataFrame] = []
        # yfinance's `end` is exclusive; ours is inclusive.
        window: dict[str, Any] = {"start": start, "end": end + timedelta(days=1) if end else None}
        if start is None and end is None:
            window = {"period": "max"}
        columns = DAILY_BARS.columns if want == "bars" else CORPORATE_ACTIONS.columns
        done: list[str] = []
        for batch in chunks(symbols, self.batch_size):
            try:
                frame, reasons = self.fetch_download(batch, actions=True, interval="1d", **window)
            except ProviderError as exc:
                if not done:
                    raise
                failures.update({s: str(exc) for s in symbols if s not in done and s not in failures})
                break
            bars, empty = daily_bars_from_download(frame, batch)
            failures.update(_reasons(empty, reasons, "no daily bars in the requested range"))
            done.extend(s for s in batch if s not in empty)
            frames.append(bars if want == "bars" else corporate_actions_from_download(frame, batch))
        return finish(NAME, frames, failures, requested, columns)

    def _per_symbol(self, symbols: list[str], fetch_one, columns: list[str]) -> pd.DataFrame:
        requested = list(symbols)
        symbols, failures = checked(requested, SYMBOL, NAME)
        frames, fetched = fetch_each(symbols, fetch_one) if symbols else ([], {})
        return finish(NAME, frames, {**failures, **fetched}, requested, columns)


def _has(frames: list[pd.DataFrame], symbol: str) -> bool:
    return any((frame["symbol"] == symbol).any() for frame in frames)


def _reasons(empty: list[str], logged: dict[str, str], default: str) -> dict[str, str]:
    return {symbol: f"{NAME}: {symbol}: {logged.get(symbol, default)}" for symbol in empty}
