"""Yahoo Finance via yfinance: daily bars (raw and adjusted close), actions, instruments, shares, intraday,
option chains.

Network steps are the thin `fetch_*` methods (one yfinance call each, under the guard); everything
else is a pure transform from yfinance's frames to standard records, tested offline.

yfinance's `download()` batches many tickers but does not raise for a failed one: the ticker's
columns come back NaN and the reason is only logged. The provider captures those log lines during
the call, so each failed symbol is reported with Yahoo's reason (see base.py for the contract), and keeps
yfinance's logger off the console: what it says outside a capture becomes a DEBUG line of this module
(otherwise a run without network printed one ERROR line per symbol, each at every catch-up).

No network: the guard looks Yahoo's host up before a call (`NetworkCheck`, remembered for a minute), and a
batch in which every ticker failed for a network reason (or while the host no longer resolves) is `NoNetwork`
rather than each symbol "possibly delisted; no timezone found", yfinance's words for any failed first request.

Option chains cost one request per underlying (its listed expiries) plus one call per expiry inside the
window (`options_max_days`); yfinance's `option_chain(date)` on a fresh Ticker sends two requests (the
expiry list again, then the chain), so that call takes two slots of the budget.
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
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import yfinance as yf
import yfinance.const as yf_const
from yfinance.exceptions import YFException, YFRateLimitError, YFTickerMissingError

from ingestion.datasets import (
    CORPORATE_ACTIONS,
    DAILY_BARS,
    INSTRUMENTS,
    INTRADAY_QUOTES,
    KEY_STATISTICS,
    OPTION_QUOTES,
    SHARES_OUTSTANDING,
)
from ingestion.providers.base import (
    NoNetwork,
    NotFound,
    Provider,
    ProviderError,
    RateLimited,
    checked,
    chunks,
    fetch_each,
    finish,
)
from ingestion.providers.resilience import GuardPolicy, NetworkCheck, ProviderGuard, Transient, per_minute
from store import calendar, clock
from store.identifiers import SYMBOL

log = logging.getLogger(__name__)

NAME = "yfinance"
# The host yfinance's price requests go to (not configurable in yfinance): the one the network check looks up.
HOST = urlsplit(getattr(yf_const, "_BASE_URL_", "https://query2.finance.yahoo.com")).hostname or "finance.yahoo.com"
# How yfinance / curl / requests word a failure to reach the host at all (lower case).
OFFLINE_HINTS = (
    "could not resolve",
    "dnserror",
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "failed to resolve",
    "nameresolutionerror",
    "curl: (6)",
    "curl: (7)",
    "network is unreachable",
)
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


def _info_number(info: dict[str, Any], *keys: str) -> float:
    """The first of `keys` in `info` that holds a finite number, else NaN (Yahoo leaves a figure out, or sends
    None, "Infinity" or a formatted string, when it has none)."""
    for key in keys:
        value = info.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
            return float(value)
    return float("nan")


def _next_earnings(info: dict[str, Any], as_of: date) -> date | None:
    """The first earnings day on or after `as_of` among the quote's earnings stamps (epoch seconds; the day in New
    York): `earningsTimestamp` is the latest report once it has happened, `earningsTimestampStart` the next one's
    (often estimated) first day."""
    days = []
    for key in ("earningsTimestamp", "earningsTimestampStart", "earningsTimestampEnd"):
        value = info.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
            days.append(pd.Timestamp(int(value), unit="s", tz="UTC").tz_convert(clock.NEW_YORK).date())
    upcoming = [d for d in days if d >= as_of]
    return min(upcoming) if upcoming else None


def key_statistics_from_info(symbol: str, info: dict[str, Any] | None, as_of: date) -> pd.DataFrame:
    """One key_statistics record from `Ticker.info` as read on `as_of` (a New York date).

    `Ticker.info` is quoteSummary's modules with the v7 quote laid over them, and the two disagree on the unit of
    `dividendYield` (0.0041 in summaryDetail, 0.41 meaning percent in the v7 quote): the yield is therefore the
    forward dividend over the price (`dividendRate` / `regularMarketPrice`, as Yahoo itself computes it), a fraction
    whichever module answered. A figure Yahoo does not give is NaN (an ETF has no P/E); NotFound when Yahoo knows
    nothing about the symbol.
    """
    info = info or {}
    if not (info.get("longName") or info.get("shortName") or info.get("quoteType")):
        raise NotFound(f"{NAME}: no key statistics for {symbol}")
    rate = _info_number(info, "dividendRate")
    price = _info_number(info, "regularMarketPrice", "currentPrice", "previousClose")
    record = {
        "symbol": symbol,
        "as_of": as_of,
        "trailing_pe": _info_number(info, "trailingPE"),
        "trailing_eps": _info_number(info, "trailingEps", "epsTrailingTwelveMonths"),
        "dividend_yield": rate / price if price > 0 else float("nan"),
        "beta": _info_number(info, "beta"),
        "next_earnings": _next_earnings(info, as_of),
    }
    return pd.DataFrame([record], columns=KEY_STATISTICS.columns)


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """`column` as float64 (NaN where absent, non-numeric or infinite); a missing column is all NaN."""
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return values.where(np.isfinite(values))


def _stamps(frame: pd.DataFrame, column: str) -> pd.Series:
    """`column` as datetime64[ns, UTC] (NaT where absent); epoch seconds are read as Yahoo sends them."""
    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        stamps = pd.to_datetime(values, unit="s", utc=True, errors="coerce")
    else:
        stamps = pd.to_datetime(values, utc=True, errors="coerce")
    return pd.Series(stamps, index=frame.index).astype("datetime64[ns, UTC]")


def _chain_side(frame: pd.DataFrame | None, kind: str) -> pd.DataFrame:
    """One side (calls "C" or puts "P") of a yfinance `option_chain` result, in option_quotes' own columns."""
    frame = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame()
    frame = frame.reset_index(drop=True)
    counts = {
        column: pd.array(_numbers(frame, source).round(), dtype="Int64")
        for column, source in (("volume", "volume"), ("open_interest", "openInterest"))
    }
    return pd.DataFrame(
        {
            "type": pd.Series(kind, index=frame.index, dtype=object),
            "strike": _numbers(frame, "strike"),
            "bid": _numbers(frame, "bid"),
            "ask": _numbers(frame, "ask"),
            "last": _numbers(frame, "lastPrice"),
            **counts,
            "provider_iv": _numbers(frame, "impliedVolatility"),
            "last_trade_ts": _stamps(frame, "lastTradeDate"),
        },
        index=frame.index,
    )


def option_quotes_from_chain(
    symbol: str,
    expiration: date,
    calls: pd.DataFrame | None,
    puts: pd.DataFrame | None,
    underlying_price: float | None,
    session_date: date,
    snapshot_ts: pd.Timestamp,
) -> pd.DataFrame:
    """option_quotes records from one expiry of yfinance's `Ticker.option_chain(date)` (its calls and puts frames).

    Prices are kept as Yahoo published them (0/0 bid/ask included: "not quoted" to analytics); a missing column
    or value becomes NaN / NA, and no row is dropped or raises here: validation quarantines bad ones. Yahoo
    gives no delta and no "delta inconsistent" flag (NaN / NA). `snapshot_ts` (tz-aware) is when the chain was
    read; it is the same on every row.
    """
    sides = [_chain_side(calls, "C"), _chain_side(puts, "P")]
    records = pd.concat([side for side in sides if len(side)] or sides[:1], ignore_index=True)
    index = records.index
    try:
        spot = float(underlying_price) if underlying_price is not None else float("nan")
    except (TypeError, ValueError):
        spot = float("nan")
    stamp = pd.Timestamp(snapshot_ts).tz_convert("UTC")
    records = records.assign(
        symbol=pd.Series(symbol, index=index, dtype=object),
        session_date=pd.Series([session_date] * len(index), index=index, dtype=object),
        expiration=pd.Series([expiration] * len(index), index=index, dtype=object),
        provider_delta=pd.Series(np.nan, index=index, dtype="float64"),
        delta_inconsistent=pd.Series(pd.NA, index=index, dtype="boolean"),
        underlying_price=pd.Series(spot if np.isfinite(spot) else np.nan, index=index, dtype="float64"),
        snapshot_ts=pd.Series(stamp, index=index).astype("datetime64[ns, UTC]"),
    )
    return records[OPTION_QUOTES.columns]


def _underlying_price(underlying: Any) -> float | None:
    """The underlying's price from the chain's `underlying` (Yahoo's quote dict): `regularMarketPrice`."""
    if not isinstance(underlying, dict):
        return None
    price = underlying.get("regularMarketPrice")
    return price if isinstance(price, int | float) and not isinstance(price, bool) else None


def _expiry_date(expiry: str) -> date | None:
    """yfinance's expiry label ("YYYY-MM-DD") as a date; None for anything else."""
    try:
        return date.fromisoformat(str(expiry))
    except ValueError:
        return None


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


class _DemoteToDebug(logging.Handler):
    """yfinance's own lines as DEBUG lines of this module: the console stays quiet, LOG_LEVEL=DEBUG still shows them."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage().strip()
        except Exception:  # noqa: BLE001 - a malformed yfinance record is not worth a crash
            message = str(record.msg)
        if message:
            log.debug("yfinance %s: %s", record.levelname, message)


def quiet_yfinance_logger() -> None:
    """Stop yfinance's logger reaching the root handler (idempotent); its records still reach our collectors."""
    logger = logging.getLogger("yfinance")
    with _capture_lock:
        logger.propagate = False
        if not any(isinstance(h, _DemoteToDebug) for h in logger.handlers):
            logger.addHandler(_DemoteToDebug())


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


def looks_offline(reason: str) -> bool:
    """True when yfinance's (or its HTTP stack's) text says the host could not be reached at all."""
    lowered = reason.lower()
    return any(hint in lowered for hint in OFFLINE_HINTS)


def _short(reason: str) -> str:
    """The first line of a curl/yfinance message without its "See https://curl.se/..." tail."""
    return reason.strip().splitlines()[0].split(" See https://", 1)[0].strip() if reason.strip() else reason


def _translate(exc: Exception, what: str) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    if looks_offline(text):  # curl_cffi's DNSError, or a resolver error from requests
        return NoNetwork(NAME, HOST, _short(text))
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
        options_max_days: int = 120,
    ) -> None:
        self.guard = guard or ProviderGuard(
            NAME, [per_minute(120)], policy=GuardPolicy(), network=NetworkCheck(NAME, HOST)
        )
        limit = min((rate.limit for rate in self.guard.rates), default=batch_size)
        # A batch costs one budget slot per ticker, so it must fit in the budget.
        self.batch_size = max(1, min(batch_size, limit))
        # option_chain(date) sends two requests (see the module docstring); a weight above the budget never fits.
        self.chain_weight = max(1, min(2, limit))
        self.threads = threads
        self.timeout = timeout
        # Option chains: expiries up to this many days after the session are fetched.
        self.options_max_days = options_max_days
        quiet_yfinance_logger()

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> YahooProvider:
        guard = ProviderGuard(
            NAME,
            [per_minute(settings.yahoo_requests_per_minute)],
            policy=GuardPolicy.from_settings(settings),
            network=kwargs.pop("network", None) or NetworkCheck(NAME, HOST),
            **kwargs,
        )
        return cls(
            batch_size=settings.yahoo_batch_size,
            threads=settings.yahoo_max_concurrency,
            timeout=settings.provider_timeout_seconds,
            guard=guard,
            options_max_days=getattr(settings, "options_max_days", 120),
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
            offline = self._offline(symbols, reasons)
            if offline is not None:
                raise offline
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

    def fetch_expirations(self, symbol: str) -> tuple[str, ...]:
        """The underlying's listed option expiries as yfinance labels them ("YYYY-MM-DD"); () when none."""

        def call() -> tuple[str, ...]:
            try:
                return tuple(yf.Ticker(symbol).options)
            except Exception as exc:  # noqa: BLE001
                raise _translate(exc, f"option expiries for {symbol}") from None

        return self.guard.call(call)

    def fetch_option_chain(self, symbol: str, expiry: str) -> Any:
        """One expiry's chain: yfinance's `Options` namedtuple (.calls, .puts frames or None; .underlying dict)."""

        def call() -> Any:
            try:
                return yf.Ticker(symbol).option_chain(expiry)
            except ValueError as exc:
                if "cannot be found" in str(exc):  # yfinance: the expiry is no longer listed
                    raise NotFound(f"{NAME}: {symbol}: option expiry {expiry} no longer listed") from None
                raise _translate(exc, f"option chain {expiry} for {symbol}") from None
            except Exception as exc:  # noqa: BLE001
                raise _translate(exc, f"option chain {expiry} for {symbol}") from None

        return self.guard.call(call, weight=self.chain_weight)

    def _offline(self, symbols: list[str], reasons: dict[str, str]) -> NoNetwork | None:
        """`NoNetwork` when every ticker of a download failed and the reason is the network, not the tickers.

        Yahoo's words name a network failure (curl could not resolve the host), or they do not ("possibly
        delisted; no timezone found" is what yfinance says when its first request failed for any reason): then a
        fresh look-up of the host decides. One ticker delivered means the network is there.
        """
        if not symbols or not all(s.upper() in reasons for s in symbols):
            return None
        offline = [reason for reason in reasons.values() if looks_offline(reason)]
        if offline:
            return NoNetwork(NAME, HOST, _short(offline[0]))
        if self.guard.network is None:
            return None
        return self.guard.network.recheck()

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

    def key_statistics(self, symbols: list[str]) -> pd.DataFrame:
        """P/E, EPS, dividend yield, beta and next earnings from `Ticker.info`, as of New York's today."""
        today = clock.new_york_today()
        return self._per_symbol(
            symbols, lambda s: key_statistics_from_info(s, self.fetch_info(s), today), KEY_STATISTICS.columns
        )

    def option_chains(self, symbols: list[str]) -> pd.DataFrame:
        """Today's chains of the underlyings `symbols`, expiries up to `options_max_days` out (option_quotes records).

        The session is the NYSE session the snapshot belongs to (`store.calendar.current_session`: today's once it
        has opened, else the previous one: a weekend or pre-open read shows that session's close), and `snapshot_ts`
        the moment of the call (read once: every row carries
        the same stamp). An underlying without listed options fails alone; a provider-wide error on any expiry
        ends the run under the contract (`fetch_each`).
        """
        snapshot = clock.now()
        session = calendar.current_session(snapshot)
        stamp = pd.Timestamp(snapshot)
        return self._per_symbol(symbols, lambda s: self._option_chain(s, session, stamp), OPTION_QUOTES.columns)

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

    def _option_chain(self, symbol: str, session: date, snapshot: pd.Timestamp) -> pd.DataFrame:
        """Every listed expiry of `symbol` from New York's date of the snapshot to `options_max_days` after it (the
        request budget), as option_quotes records of `session`."""
        expiries = self.fetch_expirations(symbol)
        if not expiries:
            raise NotFound(f"{NAME}: {symbol}: no listed options")
        first = max(session, clock.new_york_today(snapshot.to_pydatetime()))
        last = first + timedelta(days=self.options_max_days)
        wanted = [(e, d) for e in expiries if (d := _expiry_date(e)) is not None and first <= d <= last]
        if not wanted:
            raise NotFound(f"{NAME}: {symbol}: no option expiry between {first} and {last}")
        frames = []
        for expiry, day in wanted:
            try:
                chain = self.fetch_option_chain(symbol, expiry)
            except NotFound as exc:  # listed a moment ago, gone now: the other expiries still count
                log.warning("%s", exc)
                continue
            calls, puts = getattr(chain, "calls", None), getattr(chain, "puts", None)
            spot = _underlying_price(getattr(chain, "underlying", None))
            records = option_quotes_from_chain(symbol, day, calls, puts, spot, session, snapshot)
            if not records.empty:
                frames.append(records)
        if not frames:
            raise NotFound(f"{NAME}: {symbol}: no option quotes in the {len(wanted)} expiries up to {last}")
        return pd.concat(frames, ignore_index=True)


def _has(frames: list[pd.DataFrame], symbol: str) -> bool:
    return any((frame["symbol"] == symbol).any() for frame in frames)


def _reasons(empty: list[str], logged: dict[str, str], default: str) -> dict[str, str]:
    return {symbol: f"{NAME}: {symbol}: {logged.get(symbol, default)}" for symbol in empty}
