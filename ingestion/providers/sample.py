"""The bundled offline datasets (data/sample; the S&P 500 demo bundle, data/sp500) behind the provider contract."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.datasets import (
    DAILY_BARS,
    INDEX_MEMBERS,
    INSTRUMENTS,
    KEY_STATISTICS,
    MACRO_OBSERVATIONS,
    MACRO_SERIES,
    OPTION_QUOTES,
    RAW_CLOSES,
    SHARES_OUTSTANDING,
)
from ingestion.providers.base import (
    NotFound,
    Provider,
    ProviderError,
    between,
    finish,
)
from store import clock


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

    def shares_outstanding(
        self, symbols: list[str] | None = None, start: date | None = None, end: date | None = None
    ) -> pd.DataFrame:
        """Yahoo's share counts as snapshotted (reference/shares_outstanding.csv), filed in [start, end].

        A figure is dated by the New York day it was read (`fetched_utc`), like yfinance's own share history: that
        day is both the day it describes and the day it was public; of several reads a day the last one wins.
        """
        path = self.root / "reference" / "shares_outstanding.csv"
        raw = _read_csv(path, ["ticker", "shares_outstanding", "fetched_utc"])
        stamps = pd.to_datetime(raw["fetched_utc"], utc=True, errors="coerce")
        _fail_on_bad(path, raw["fetched_utc"], stamps.isna(), "a UTC timestamp")
        frame = pd.DataFrame(
            {
                "symbol": raw["ticker"],
                "day": stamps.dt.tz_convert(clock.NEW_YORK).dt.date,
                "stamp": stamps,
                "shares": _parse_numbers(path, raw["shares_outstanding"]).round().astype("int64"),
            }
        )
        frame = frame.sort_values(["symbol", "stamp"]).groupby(["symbol", "day"], as_index=False).last()
        frame = frame.assign(period_end=frame["day"], filing_date=frame["day"])[SHARES_OUTSTANDING.columns]
        return self._of(symbols, between(frame, start, end, column="filing_date"), "share counts")

    def key_statistics(self, symbols: list[str] | None = None) -> pd.DataFrame:
        """P/E, EPS, dividend yield, beta and next earnings as recorded from Yahoo (reference/key_statistics.csv:
        AAPL only, see SOURCES.md); empty fields are figures Yahoo did not give."""
        path = self.root / "reference" / "key_statistics.csv"
        raw = _read_csv(path, KEY_STATISTICS.columns)
        frame = pd.DataFrame(
            {
                "symbol": raw["symbol"],
                "as_of": _parse_dates(path, raw["as_of"]),
                **{c: _parse_numbers(path, raw[c], allow_empty=True) for c in KEY_STATISTICS.columns[2:-1]},
                "next_earnings": _optional_dates(path, raw["next_earnings"]),
            }
        )
        return self._of(symbols, frame[KEY_STATISTICS.columns], "key statistics")

    def _of(self, symbols: list[str] | None, frame: pd.DataFrame, what: str) -> pd.DataFrame:
        """The rows of `symbols` (None: all) under the contract: each symbol without any is a failure."""
        if symbols is None:
            return frame.reset_index(drop=True)
        failures = {s: f"sample: no {what} bundled for {s}" for s in symbols if not (frame["symbol"] == s).any()}
        return finish(self.name, [frame[frame["symbol"].isin(symbols)]], failures, symbols, list(frame.columns))

    def series_metadata(self, series_ids: list[str] | None = None) -> pd.DataFrame:
        path = self.root / "macro" / "series.csv"
        raw = _read_csv(path, MACRO_SERIES.columns[:-1])
        frame = raw.assign(seasonal_adjustment=_none_if_empty(raw["seasonal_adjustment"]), last_updated=pd.NaT)
        if series_ids:
            frame = frame[frame["series_id"].isin(series_ids)]
        return frame[MACRO_SERIES.columns].reset_index(drop=True)


def _optional_dates(path: Path, values: pd.Series) -> pd.Series:
    """Dates where given, None where the field is empty."""
    empty = values.eq("")
    parsed = pd.to_datetime(values.mask(empty), format="%Y-%m-%d", errors="coerce")
    _fail_on_bad(path, values, parsed.isna() & ~empty, "a date (YYYY-MM-DD) or nothing")
    return pd.Series([d.date() if not pd.isna(d) else None for d in parsed], index=values.index, dtype=object)


def _none_if_empty(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values != "", None)


# -- the S&P 500 demo bundle (data/sp500, see its PROVENANCE.md) ------------------------------------------

SP500_INDEX = "SP500"  # index_members.index_code of the bundle's constituents (and former members)
SP500_FILES = {
    "adjusted": "adj_close_daily_2019_2026.parquet",
    "raw": "close_volume_daily_2019_2024.parquet",
    "shares": "shares_quarterly_fmp_2018_2025.parquet",
    "snapshots": "marketcap_snapshots_yahoo_2024_2026.parquet",
    "constituents": "constituents.csv",
}
_SP500_COLUMNS = {
    "adjusted": ["date", "symbol", "adj_close"],
    "raw": ["date", "symbol", "close", "adj_close", "volume"],
    "shares": ["symbol", "period_end", "filing_date", "shares"],
    "snapshots": ["symbol", "date", "shares"],
    "constituents": ["symbol", "name", "gics_sector", "gics_sub_industry", "date_added"],
}


def _exact_floats(values: pd.Series) -> pd.Series:
    """float32 values as the float64 of their shortest decimal form (62.180546, not 62.18054580688477).

    The bundle stores prices as float32, losslessly (PROVENANCE.md); the decimal they were written as is the value.
    """
    as_text = pc.cast(pa.array(values.to_numpy(dtype="float32")), pa.string())  # Arrow: the shortest round trip
    return pd.Series(pc.cast(as_text, pa.float64()).to_numpy(), index=values.index)


class SP500SampleProvider(Provider):
    """The S&P 500 demo bundle through the provider contract: the second bundled dataset, offline.

    Daily bars carry the adjusted close only (open/high/low/close/volume missing: the bundle has nothing else,
    and nothing is invented); closes as traded and volumes 2019-2024 are `raw_closes`; shares outstanding come
    from two origins (FMP quarterly filings with their filing dates, Yahoo market-cap snapshots), asked for one
    at a time so that each is stored under its own source. Symbols are today's constituents plus the former
    members the bundle has prices for. `check()` reads every file through (a missing or corrupt one raises
    SampleDataError naming it). The two large files are streamed on each call, keeping only the rows of the
    symbols asked for, so a caller going through the bundle a slice at a time holds one slice in memory (holding
    the decoded files would cost about 100 MB more; a pass over one takes under 0.1 s).
    """

    name = "sample-sp500"
    window_days = None
    SHARES_SOURCES = {"fmp": "sample-sp500-fmp", "yahoo": "sample-sp500-yahoo"}
    _STREAMED = ("adjusted", "raw")
    _BATCH_ROWS = 65_536

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        missing = [f for f in SP500_FILES.values() if not (self.root / f).is_file()]
        if missing:
            raise SampleDataError(f"{self.root}: missing {', '.join(missing)}; is the S&P 500 demo bundle missing?")
        self._tables: dict[str, pa.Table] = {}
        self._symbols: dict[str, list[str]] = {}
        self._constituents: pd.DataFrame | None = None

    def check(self) -> None:
        """Read every file of the bundle through now (SampleDataError naming a missing column or a corrupt file)."""
        for key in SP500_FILES:
            if key in self._STREAMED:
                self._file_symbols(key)
            elif key != "constituents":
                self._table(key)
        self._cons()

    def _path(self, key: str) -> Path:
        return self.root / SP500_FILES[key]

    def _open(self, key: str) -> pq.ParquetFile:
        path = self._path(key)
        try:
            parquet = pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a corrupt file
            raise SampleDataError(f"{path}: cannot read: {exc}") from None
        missing = [c for c in _SP500_COLUMNS[key] if c not in parquet.schema_arrow.names]
        if missing:
            raise SampleDataError(f"{path}: missing column(s) {', '.join(missing)}")
        return parquet

    def _batches(self, key: str) -> Iterator[pa.RecordBatch]:
        """One file's record batches, decoded one at a time."""
        parquet = self._open(key)
        try:
            yield from parquet.iter_batches(batch_size=self._BATCH_ROWS, columns=_SP500_COLUMNS[key])
        except Exception as exc:  # noqa: BLE001
            raise SampleDataError(f"{self._path(key)}: cannot read: {exc}") from None

    def _file_symbols(self, key: str) -> list[str]:
        """The symbols in a streamed file (reading it through once, which also proves it decodes)."""
        if key not in self._symbols:
            found: set[str] = set()
            for batch in self._batches(key):
                found.update(pc.unique(batch.column("symbol")).to_pylist())
            self._symbols[key] = sorted(found)
        return list(self._symbols[key])

    def _table(self, key: str) -> pa.Table:
        if key not in self._tables:
            parquet = self._open(key)
            try:
                self._tables[key] = parquet.read(columns=_SP500_COLUMNS[key])
            except Exception as exc:  # noqa: BLE001
                raise SampleDataError(f"{self._path(key)}: cannot read: {exc}") from None
        return self._tables[key]

    def _rows(self, key: str, symbols: list[str]) -> pd.DataFrame:
        """The rows of `symbols` in one file, as pandas (the other rows never leave Arrow)."""
        wanted = pa.array(symbols, type=pa.string())
        if key in self._STREAMED:
            parts = [b.filter(pc.is_in(b.column("symbol"), value_set=wanted)) for b in self._batches(key)]
            schema = self._open(key).schema_arrow
            return pa.Table.from_batches(parts, pa.schema([schema.field(c) for c in _SP500_COLUMNS[key]])).to_pandas()
        whole = self._table(key)
        return whole.filter(pc.is_in(whole.column("symbol"), value_set=wanted)).to_pandas()

    def _cons(self) -> pd.DataFrame:
        if self._constituents is None:
            self._constituents = _read_csv(self.root / SP500_FILES["constituents"], _SP500_COLUMNS["constituents"])
        return self._constituents

    # -- discovery -------------------------------------------------------------------------------
    def members(self) -> list[str]:
        """Today's constituents."""
        return sorted(self._cons()["symbol"].unique())

    def former_members(self) -> list[str]:
        """Former members with prices in the bundle (in the 2019-2024 file, not among today's constituents)."""
        return sorted(set(self._file_symbols("raw")) - set(self.members()))

    def symbols(self) -> list[str]:
        return sorted(set(self.members()) | set(self.former_members()))

    def _chosen(self, symbols: list[str] | None) -> list[str]:
        if not symbols:
            return self.symbols()
        known = set(self.symbols())
        for symbol in symbols:
            if symbol not in known:
                raise NotFound(f"{self.name}: {symbol} is not in the S&P 500 demo bundle")
        return list(symbols)

    # -- contract ----------------------------------------------------------------------------------
    def daily_bars(
        self, symbols: list[str] | None = None, start: date | None = None, end: date | None = None
    ) -> pd.DataFrame:
        """Adjusted-close-only bars: today's constituents from the adjusted file, former members from the other."""
        chosen = self._chosen(symbols)
        former = sorted(set(self.former_members()) & set(chosen))
        parts = [self._rows("adjusted", chosen)]
        if former:
            raw = self._rows("raw", former)
            parts.append(raw[raw["adj_close"].notna()])
        long = pd.concat([p[["symbol", "date", "adj_close"]] for p in parts], ignore_index=True)
        long = between(long.assign(date=long["date"].dt.date), start, end)
        nothing = pd.Series(float("nan"), index=long.index)
        bars = pd.DataFrame(
            {
                "symbol": long["symbol"],
                "date": long["date"],
                "open": nothing,
                "high": nothing,
                "low": nothing,
                "close": nothing,
                "adj_close": _exact_floats(long["adj_close"]),
                "volume": pd.Series(pd.NA, index=long.index, dtype="Int64"),
            }
        )
        return bars[DAILY_BARS.columns]

    def raw_closes(
        self, symbols: list[str] | None = None, start: date | None = None, end: date | None = None
    ) -> pd.DataFrame:
        """Closes as traded (split-adjusted as of the 2024-09 download, never dividend-adjusted) and volumes."""
        raw = self._rows("raw", self._chosen(symbols))
        frame = pd.DataFrame(
            {
                "symbol": raw["symbol"],
                "date": raw["date"].dt.date,
                "close": _exact_floats(raw["close"]),
                "volume": raw["volume"].astype("int64"),
            }
        )
        return between(frame, start, end)[RAW_CLOSES.columns]

    def shares_outstanding(
        self,
        symbols: list[str] | None = None,
        start: date | None = None,
        end: date | None = None,
        origin: str = "fmp",
    ) -> pd.DataFrame:
        """Share counts of one origin, filed in [start, end]: "fmp" (quarterly weighted-average basic shares,
        public from their SEC filing date) or "yahoo" (snapshot share counts, public on the snapshot's date)."""
        if origin not in self.SHARES_SOURCES:
            raise ValueError(f"origin must be one of {', '.join(self.SHARES_SOURCES)}, got {origin!r}")
        chosen = self._chosen(symbols)
        if origin == "fmp":
            fmp = self._rows("shares", chosen)
            frame = pd.DataFrame(
                {
                    "symbol": fmp["symbol"],
                    "period_end": fmp["period_end"].dt.date,
                    "filing_date": fmp["filing_date"].dt.date,
                    "shares": fmp["shares"].astype("int64"),
                }
            )
        else:
            snaps = self._rows("snapshots", chosen)
            day = snaps["date"].dt.date
            frame = pd.DataFrame(
                {"symbol": snaps["symbol"], "period_end": day, "filing_date": day, "shares": snaps["shares"]}
            )
            frame["shares"] = frame["shares"].astype("int64")
        return between(frame, start, end, column="filing_date")[SHARES_OUTSTANDING.columns]

    def instruments(self, symbols: list[str] | None = None) -> pd.DataFrame:
        """Stocks: today's constituents with their name and GICS sector and sub-industry; former members by ticker
        alone (the bundle has no name or sector for them)."""
        chosen = self._chosen(symbols)
        cons = self._cons().set_index("symbol")
        current = cons.reindex([s for s in chosen if s in cons.index])
        former = [s for s in chosen if s not in cons.index]
        frame = pd.concat(
            [
                pd.DataFrame(
                    {
                        "symbol": current.index,
                        "name": current["name"].where(current["name"] != "", current.index).to_numpy(),
                        "sector": _none_if_empty(current["gics_sector"]).to_numpy(),
                        "industry": _none_if_empty(current["gics_sub_industry"]).to_numpy(),
                    }
                ),
                pd.DataFrame({"symbol": former, "name": former, "sector": None, "industry": None}),
            ],
            ignore_index=True,
        )
        frame = frame.assign(asset_class="stock", currency="USD")
        return frame[INSTRUMENTS.columns].sort_values("symbol", ignore_index=True)

    def index_members(self, symbols: list[str] | None = None) -> pd.DataFrame:
        """Membership of "SP500": today's constituents (GICS sector, sub-industry, date added) and the former
        members the bundle has prices for (`is_current` false, no classification)."""
        chosen = self._chosen(symbols)
        cons = self._cons().set_index("symbol").reindex(chosen)
        added = pd.to_datetime(cons["date_added"], format="%Y-%m-%d", errors="coerce")
        frame = pd.DataFrame(
            {
                "index_code": SP500_INDEX,
                "symbol": chosen,
                "is_current": cons["name"].notna().to_numpy(),
                "sector": _text_or_none(cons["gics_sector"]).to_numpy(),
                "sub_industry": _text_or_none(cons["gics_sub_industry"]).to_numpy(),
                "date_added": [d.date() if pd.notna(d) else None for d in added],
            }
        )
        return frame[INDEX_MEMBERS.columns].sort_values("symbol", ignore_index=True)


def _text_or_none(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna() & (values != ""), None)


# -- the option-chain demo bundle (data/options, see its PROVENANCE.md) -------------------------------------

OPTIONS_FILE = "option_chains_eod_SPY_AAPL_calls_dte120_2026-05-22_2026-08-21.parquet"
_OPTIONS_COLUMNS = [
    "session_date",
    "underlying",
    "underlying_close",
    "expiration",
    "strike",
    "type",
    "price",
    "delta",
    "iv_pct",
    "volume",
    "open_interest",
    "qa_delta_inconsistent",
]


class OptionsSampleProvider(Provider):
    """The bundled end-of-day option chains (SPY and AAPL calls up to 120 days out, 63 sessions) as option_quotes.

    The file has the last trade price, the source's delta and IV (percent), volume, open interest and the
    underlying's close per session; no bid/ask (NaN here: "mid" is never claimed) and no snapshot time (an
    end-of-day file). An IV of 0 is the source's blank and becomes NaN; its "delta inconsistent with its own IV" flag
    is kept. `option_chains(symbols)` returns every session of the symbols asked for (unknown ones: NotFound).
    """

    name = "sample-options"
    window_days = None

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / OPTIONS_FILE
        if not self.path.is_file():
            raise SampleDataError(f"{self.root}: missing {OPTIONS_FILE}; is the option-chain demo bundle missing?")

    def _read(self, symbols: list[str] | None) -> pd.DataFrame:
        try:
            filters = [("underlying", "in", list(symbols))] if symbols else None
            frame = pd.read_parquet(self.path, columns=_OPTIONS_COLUMNS, filters=filters)
        except (OSError, pa.ArrowException, KeyError, ValueError) as exc:
            raise SampleDataError(f"{self.path}: cannot read: {exc}") from None
        return frame

    def symbols(self) -> list[str]:
        return sorted(str(s) for s in self._read(None)["underlying"].unique())

    def option_chains(self, symbols: list[str] | None = None) -> pd.DataFrame:
        frame = self._read(symbols)
        found = {str(s) for s in frame["underlying"].unique()}
        for symbol in symbols or []:
            if symbol not in found:
                raise NotFound(f"sample-options: no bundled chains for {symbol}")
        iv = frame["iv_pct"].to_numpy("float64") / 100.0
        records = pd.DataFrame(
            {
                "symbol": frame["underlying"].astype(str),
                "session_date": frame["session_date"].dt.date,
                "expiration": frame["expiration"].dt.date,
                "type": frame["type"].astype(str),
                "strike": frame["strike"].astype("float64"),
                "bid": float("nan"),
                "ask": float("nan"),
                "last": frame["price"].astype("float64"),
                "volume": pd.array(frame["volume"], dtype="Int64"),
                "open_interest": pd.array(frame["open_interest"], dtype="Int64"),
                "provider_iv": pd.Series(iv, index=frame.index).where(iv > 0),
                "provider_delta": frame["delta"].astype("float64"),
                "delta_inconsistent": frame["qa_delta_inconsistent"].astype("boolean"),
                "underlying_price": frame["underlying_close"].astype("float64"),
                "snapshot_ts": pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]"),
                "last_trade_ts": pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]"),
            }
        )
        return records[OPTION_QUOTES.columns].reset_index(drop=True)
