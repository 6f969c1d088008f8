"""Real-shaped yfinance results built from recorded data, and stand-ins for `yf.download` / `yf.Ticker`.

AAPL comes from the recorded Yahoo v8 chart body (tests/fixtures/api_samples/yahoo_chart_v8_AAPL_1d.json:
49 sessions with a 4:1 split on 2020-08-31 and a $0.205 dividend on 2020-11-06); MSFT from the bundled
sample prices (yfinance auto-adjusted, so close == adj close). Frames have the exact layout
`yf.download(..., auto_adjust=False, actions=True, group_by="column")` returns: a MultiIndex of
['Price', 'Ticker'], a naive daily DatetimeIndex named Date, and all-NaN columns for a failed ticker,
whose reason is logged on the "yfinance" logger the way download() logs it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "api_samples"
SAMPLE = ROOT / "data" / "sample"
PRICE_FIELDS = ["Adj Close", "Close", "Dividends", "High", "Low", "Open", "Stock Splits", "Volume"]
DELISTED = "possibly delisted; no price data found  (1d 2020-08-31 -> 2020-11-07)"


def aapl_chart_frame() -> pd.DataFrame:
    """AAPL from the recorded v8 chart body, in the single-ticker layout of Ticker.history(actions=True)."""
    body = json.loads((FIXTURES / "yahoo_chart_v8_AAPL_1d.json").read_text())
    result = body["chart"]["result"][0]
    quote = result["indicators"]["quote"][0]
    tz = result["meta"]["exchangeTimezoneName"]
    index = pd.to_datetime(result["timestamp"], unit="s", utc=True).tz_convert(tz).normalize().tz_localize(None)
    frame = pd.DataFrame(
        {
            "Open": quote["open"],
            "High": quote["high"],
            "Low": quote["low"],
            "Close": quote["close"],
            "Adj Close": result["indicators"]["adjclose"][0]["adjclose"],
            "Volume": quote["volume"],
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=pd.DatetimeIndex(index, name="Date"),
    )
    for event in result["events"]["dividends"].values():
        day = pd.Timestamp(event["date"], unit="s", tz="UTC").tz_convert(tz).normalize().tz_localize(None)
        frame.loc[day, "Dividends"] = event["amount"]
    for event in result["events"]["splits"].values():
        day = pd.Timestamp(event["date"], unit="s", tz="UTC").tz_convert(tz).normalize().tz_localize(None)
        frame.loc[day, "Stock Splits"] = event["numerator"] / event["denominator"]
    return frame


def sample_frame(symbol: str) -> pd.DataFrame:
    """A bundled sample ticker (auto-adjusted) in the same single-ticker layout."""
    raw = pd.read_csv(SAMPLE / "prices" / f"{symbol}.csv", parse_dates=["Date"]).set_index("Date")
    frame = raw.assign(**{"Adj Close": raw["Close"], "Dividends": 0.0, "Stock Splits": 0.0})
    return frame.astype({"Volume": "float64"})


def per_ticker_frames() -> dict[str, pd.DataFrame]:
    return {"AAPL": aapl_chart_frame(), "MSFT": sample_frame("MSFT")}


def combine(frames: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """What download() does: align on the union of dates, NaN for failed tickers, swap to ['Price','Ticker']."""
    index = None
    for frame in frames.values():
        if frame is not None and not frame.empty:
            index = frame.index if index is None else index.union(frame.index)
    index = index if index is not None else pd.DatetimeIndex([], name="Date")
    empty = pd.DataFrame(np.nan, index=index, columns=PRICE_FIELDS)
    aligned = {t: (f if f is not None else empty).reindex(index)[PRICE_FIELDS] for t, f in frames.items()}
    data = pd.concat(aligned.values(), axis=1, keys=aligned.keys(), names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    data = data.sort_index(level=0, axis=1)
    data.index.name = "Date"
    return data


class FakeDownload:
    """Stands in for yf.download: serves known tickers, NaN columns plus a logged reason for the others."""

    def __init__(self, frames: dict[str, pd.DataFrame] | None = None, reasons: dict[str, str] | None = None) -> None:
        self.frames = per_ticker_frames() if frames is None else frames
        self.reasons = reasons or {}
        self.calls: list[dict[str, Any]] = []

    def __call__(self, tickers: list[str], **kwargs: Any) -> pd.DataFrame:
        self.calls.append({"tickers": list(tickers), **kwargs})
        start = pd.Timestamp(kwargs["start"]) if kwargs.get("start") is not None else None
        end = pd.Timestamp(kwargs["end"]) if kwargs.get("end") is not None else None  # exclusive, as yfinance
        chosen: dict[str, pd.DataFrame | None] = {}
        failed: dict[str, list[str]] = {}
        for ticker in sorted({t.upper() for t in tickers}):
            frame = self.frames.get(ticker)
            if frame is not None:
                if start is not None:
                    frame = frame[frame.index >= start]
                if end is not None:
                    frame = frame[frame.index < end]
            if frame is None or frame.empty:
                failed.setdefault(self.reasons.get(ticker, DELISTED), []).append(ticker)
                frame = None
            chosen[ticker] = frame
        logger = logging.getLogger("yfinance")
        if failed:
            logger.error(f"\n{sum(map(len, failed.values()))} Failed downloads:")
            for reason, syms in failed.items():
                logger.error(f"{syms}: " + reason)
        return combine(chosen)


def intraday_frame(symbols: list[str], day: str = "2020-11-06") -> pd.DataFrame:
    """Shape of download(period='1d', interval='5m'): exchange-tz index named Datetime (values from AAPL's day)."""
    daily = aapl_chart_frame().loc[day]
    index = pd.date_range(f"{day} 09:30", periods=4, freq="5min", tz="America/New_York", name="Datetime")
    closes = np.linspace(daily["Open"], daily["Close"], num=4)
    one = pd.DataFrame(
        {
            "Adj Close": closes,
            "Close": closes,
            "High": closes + 0.1,
            "Low": closes - 0.1,
            "Open": closes,
            "Volume": [1_000_000.0, 800_000.0, 750_000.0, 900_000.0],
        },
        index=index,
    )
    data = pd.concat([one] * len(symbols), axis=1, keys=symbols, names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)


class FakeTicker:
    """Stands in for yf.Ticker: `.info` and `.get_shares_full` from the bundled reference data."""

    def __init__(self, symbol: str) -> None:
        self.ticker = symbol.upper()

    @property
    def info(self) -> dict[str, Any]:
        universe = pd.read_csv(SAMPLE / "reference" / "price_universe.csv", dtype=str, keep_default_na=False)
        row = universe[universe["ticker"] == self.ticker]
        if row.empty:
            # What yfinance returns for an unknown symbol: a stub without names or a quote type.
            return {"trailingPegRatio": None}
        record = row.iloc[0]
        return {
            "symbol": self.ticker,
            "longName": record["Security"],
            "quoteType": "ETF" if record["asset_type"] == "etf" else "EQUITY",
            "sector": record["GICS Sector"] or None,
            "industry": record["GICS Sub-Industry"] or None,
            "currency": "USD",
        }

    def get_shares_full(self, start: Any = None, end: Any = None) -> pd.Series | None:
        table = pd.read_csv(SAMPLE / "reference" / "shares_outstanding.csv")
        rows = table[table["ticker"] == self.ticker]
        if rows.empty:
            return None
        stamps = pd.to_datetime(rows["fetched_utc"], utc=True).dt.tz_convert("America/New_York")
        return pd.Series(rows["shares_outstanding"].to_numpy(), index=pd.DatetimeIndex(stamps)).sort_index()
