"""The bundled offline dataset (data/sample) served through the provider contract, like any live source."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from ingestion.datasets import DAILY_BARS, INSTRUMENTS, MACRO_OBSERVATIONS, MACRO_SERIES
from ingestion.providers.base import (
    NotFound,
    Provider,
    ProviderError,
    between,
)


class SampleDataError(ProviderError):
    """A bundled file is corrupt or partial; the message names the file and the line."""


# Files in macro/ that are not FRED `date,value` series (VIX OHLC duplicates VIXCLS).
_NON_SERIES_FILES = {"series.csv", "VIX_CBOE_OHLC.csv"}


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read a CSV as strings and insist on the expected header, naming the file on any parse failure."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SampleDataError(f"{path}: cannot parse: {exc}") from None
    except pd.errors.EmptyDataError:
        raise SampleDataError(f"{path}: file is empty") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SampleDataError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
    return frame


def _parse_dates(path: Path, values: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    _fail_on_bad(path, values, parsed.isna(), "a date (YYYY-MM-DD)")
    return parsed.dt.date


def _parse_numbers(path: Path, values: pd.Series, *, allow_empty: bool = False) -> pd.Series:
    empty = values.eq("") if allow_empty else pd.Series(False, index=values.index)
    parsed = pd.to_numeric(values.mask(empty), errors="coerce")
    bad = parsed.isna() & ~empty
    _fail_on_bad(path, values, bad, "a number")
    return parsed.astype("float64")


def _fail_on_bad(path: Path, raw: pd.Series, bad: pd.Series, expected: str) -> None:
    if bad.any():
        position = int(bad.to_numpy().nonzero()[0][0])
        line = position + 2  # one header line, and lines count from 1
        raise SampleDataError(
            f"{path}: line {line}: column {raw.name!r} is {raw.iloc[position]!r}, expected {expected}"
        )


class SampleProvider(Provider):
    """Reads prices/, macro/ and reference/ under `root`; values are returned exactly as stored."""

    name = "sample"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if not (self.root / "prices").is_dir():
            raise SampleDataError(f"{self.root}: no prices/ folder; is the sample dataset missing?")

    # -- discovery -------------------------------------------------------------------------------
    def symbols(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "prices").glob("*.csv"))

    def series_ids(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "macro").glob("*.csv") if p.name not in _NON_SERIES_FILES)

    # -- contract ----------------------------------------------------------------------------------
    def daily_bars(
        self, symbols: list[str] | None = None, start: date | None = None, end: date | None = None
    ) -> pd.DataFrame:
        frames = [self._bars_for(symbol) for symbol in (symbols or self.symbols())]
        bars = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=DAILY_BARS.columns)
        return between(bars, start, end)

    def _bars_for(self, symbol: str) -> pd.DataFrame:
        path = self.root / "prices" / f"{symbol}.csv"
        if not path.is_file():
            raise NotFound(f"sample: no bundled prices for {symbol}")
        raw = _read_csv(path, ["Date", "Open", "High", "Low", "Close", "Volume"])
        bars = pd.DataFrame(
            {
                "symbol": symbol,
                "date": _parse_dates(path, raw["Date"]),
                "open": _parse_numbers(path, raw["Open"]),
                "high": _parse_numbers(path, raw["High"]),
                "low": _parse_numbers(path, raw["Low"]),
                "close": _parse_numbers(path, raw["Close"]),
                "volume": _parse_numbers(path, raw["Volume"]).astype("int64"),
            }
        )
        # The bundle is yfinance auto-adjusted (split and dividend): the stored close is already adjusted.
        bars["adj_close"] = bars["close"]
        return bars[DAILY_BARS.columns]

    def instruments(self, symbols: list[str] | None = None) -> pd.DataFrame:
        path = self.root / "reference" / "price_universe.csv"
        raw = _read_csv(path, ["ticker", "asset_type", "Security", "GICS Sector", "GICS Sub-Industry"])
        frame = pd.DataFrame(
            {
                "symbol": raw["ticker"],
                "name": raw["Security"].where(raw["Security"] != "", raw["ticker"]),
                "asset_class": raw["asset_type"],
                "sector": _none_if_empty(raw["GICS Sector"]),
                "industry": _none_if_empty(raw["GICS Sub-Industry"]),
                "currency": "USD",
            }
        )
        if symbols:
            frame = frame[frame["symbol"].isin(symbols)]
        return frame[INSTRUMENTS.columns].reset_index(drop=True)

    def macro_observations(
        self, series_ids: list[str] | None = None, start: date | None = None, end: date | None = None
    ) -> pd.DataFrame:
        frames = []
        for series_id in series_ids or self.series_ids():
            path = self.root / "macro" / f"{series_id}.csv"
            if not path.is_file():
                raise NotFound(f"sample: no bundled series {series_id}")
            raw = _read_csv(path, ["date", "value"])
            frames.append(
                pd.DataFrame(
                    {
                        "series_id": series_id,
                        "date": _parse_dates(path, raw["date"]),
                        # An empty value is FRED's "." (not published): a gap, kept as NULL.
                        "value": _parse_numbers(path, raw["value"], allow_empty=True),
                    }
                )
            )
        if not frames:
            return pd.DataFrame(columns=MACRO_OBSERVATIONS.columns)
        return between(pd.concat(frames, ignore_index=True), start, end)[MACRO_OBSERVATIONS.columns]

    def series_metadata(self, series_ids: list[str] | None = None) -> pd.DataFrame:
        path = self.root / "macro" / "series.csv"
        raw = _read_csv(path, MACRO_SERIES.columns[:-1])
        frame = raw.assign(seasonal_adjustment=_none_if_empty(raw["seasonal_adjustment"]), last_updated=pd.NaT)
        if series_ids:
            frame = frame[frame["series_id"].isin(series_ids)]
        return frame[MACRO_SERIES.columns].reset_index(drop=True)


def _none_if_empty(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values != "", None)
