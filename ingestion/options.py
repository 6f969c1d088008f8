"""Stored option chains through analytics.options: one session's chain with our greeks, the delta-targeted series.

The glue the Options page, the `options-series` command and the benchmark share (no Streamlit): reads from
store.reads.options, rates from the stored Treasury curve as of each session (the last value on or before it,
carried forward), the dividend yield from stored dividends over the last year or the OPTIONS_DEFAULT_DIVIDEND_YIELD
setting, and the pure computations of analytics.options.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from analytics import options as opt
from store.reads import options as reads
from store.settings import get_settings


@dataclass(frozen=True)
class SeriesParams:
    """The options puller's rule (see analytics.options.select_contract_series)."""

    underlying: str = "SPY"
    kind: str = "C"
    target_delta: float = 0.15
    months: int = 2
    window_days: int = 15
    roll_dte: int = 21
    band_low: float = 0.05
    band_high: float = 0.30
    start: date | None = None
    end: date | None = None

    def describe(self) -> dict[str, str]:
        """The parameters as export metadata (strings)."""
        return {k: "" if v is None else str(v) for k, v in asdict(self).items()}


@dataclass
class Rates:
    """The rate curve used for one session: tenor (years) -> decimal rate, and each series' last date used."""

    curve: pd.Series
    as_of: dict[str, date] = field(default_factory=dict)

    def note(self, session: date) -> str:
        if self.curve.empty:
            return "no Treasury yield is stored on or before this session"
        parts = [
            f"{series_id} {day:%Y-%m-%d}" + (" (carried forward)" if day < session else "")
            for series_id, day in self.as_of.items()
        ]
        return "Treasury yields as of " + ", ".join(parts)


def rates_on(yields: pd.DataFrame, session: date) -> Rates:
    """The curve as of `session` from stored yields in percent: each series' last value on or before it."""
    if yields.empty:
        return Rates(pd.Series(dtype="float64"))
    upto = yields[yields.index <= pd.Timestamp(session)]
    last: dict[str, Any] = {}
    as_of: dict[str, date] = {}
    for series_id in upto.columns:
        values = upto[series_id].dropna()
        if not values.empty:
            last[series_id] = values.iloc[-1]
            as_of[series_id] = values.index[-1].date()
    return Rates(opt.treasury_curve(pd.Series(last, dtype="float64")), as_of)


@dataclass(frozen=True)
class DividendYield:
    value: float
    basis: str  # how it was found, said on the page


def dividend_yield(conn: sa.Connection, symbol: str, spot: float, session: date) -> DividendYield:
    """Trailing-year dividends over the price when any is stored, else the OPTIONS_DEFAULT_DIVIDEND_YIELD setting."""
    dividends = reads.dividends(conn, symbol, session)
    if not dividends.empty and np.isfinite(spot) and spot > 0:
        value = opt.dividend_yield(dividends, spot, session)
        return DividendYield(value, f"trailing 12-month stored dividends ({value:.2%})")
    default = get_settings().options_default_dividend_yield
    return DividendYield(default, f"setting OPTIONS_DEFAULT_DIVIDEND_YIELD ({default:.2%}): no dividend stored")


@dataclass
class SessionChain:
    """One session's chain with our IV and greeks (analytics.options.chain_greeks columns), and what went in."""

    symbol: str
    session: date
    spot: float
    chain: pd.DataFrame
    rates: Rates
    q: DividendYield

    @property
    def basis_counts(self) -> dict[str, int]:
        """How many contracts were priced off a mid quote, the last trade, or nothing."""
        basis = self.chain["price_basis"].fillna("none") if not self.chain.empty else pd.Series(dtype=object)
        return {str(k): int(v) for k, v in basis.value_counts().items()}


def session_chain(engine: sa.Engine, symbol: str, session: date) -> SessionChain:
    """`symbol`'s stored chain on `session` with our greeks (empty chain when none is stored)."""
    with engine.connect() as conn:
        raw = reads.chain(conn, symbol, session)
        yields = reads.treasury_yields(conn, session)
        spots = raw["underlying_close"].dropna()
        spot = float(spots.iloc[0]) if not spots.empty else float("nan")
        q = dividend_yield(conn, symbol, spot, session)
    rates = rates_on(yields, session)
    if raw.empty:
        return SessionChain(symbol, session, spot, raw, rates, q)
    curve = rates.curve if not rates.curve.empty else float("nan")
    greeks = opt.chain_greeks(raw, spot, curve, q.value, session)
    greeks["dte"] = (pd.to_datetime(greeks["expiration"]) - pd.Timestamp(session)).dt.days
    greeks["contract"] = opt.occ_symbol(symbol, greeks["expiration"], greeks["type"], greeks["strike"])
    return SessionChain(symbol, session, spot, greeks, rates, q)


def atm_iv(chain: pd.DataFrame, spot: float) -> pd.DataFrame:
    """At-the-money IV per expiry of one session's greeks frame: IV interpolated linearly in strike at `spot`
    between the two strikes around it (both with an IV), per type; NaN where the strikes do not straddle spot.
    Columns: expiration, dte, type, atm_iv."""
    rows = []
    if chain.empty or not np.isfinite(spot):
        return pd.DataFrame(columns=["expiration", "dte", "type", "atm_iv"])
    usable = chain[np.isfinite(chain["iv"].to_numpy(dtype="float64"))]
    for (expiration, kind), group in usable.groupby(["expiration", "type"], sort=True):
        group = group.sort_values("strike")
        strikes, ivs = group["strike"].to_numpy(dtype="float64"), group["iv"].to_numpy(dtype="float64")
        value = float(np.interp(spot, strikes, ivs)) if strikes[0] <= spot <= strikes[-1] else float("nan")
        rows.append({"expiration": expiration, "dte": int(group["dte"].iloc[0]), "type": kind, "atm_iv": value})
    return pd.DataFrame(rows, columns=["expiration", "dte", "type", "atm_iv"])


def contract_series(engine: sa.Engine, params: SeriesParams) -> pd.DataFrame:
    """The delta-targeted contract followed through the stored sessions (analytics SERIES_COLUMNS; one row per
    session, with the reason where a session has no contract). ValueError for bad parameters or dates."""
    if params.start and params.end and params.start > params.end:
        raise ValueError(f"start {params.start} is after end {params.end}")
    reach = 31 * params.months + params.window_days + 1  # the farthest expiry a pick can take
    with engine.connect() as conn:
        # Rows a pick can take: a held contract within roll_dte days of expiry rolls whether or not its row is read.
        history = reads.chains(
            conn, params.underlying, params.start, params.end, params.kind, reach, min_days=params.roll_dte
        )
        yields = reads.treasury_yields(conn, params.end)
        dividends = reads.dividends(conn, params.underlying, params.end)
    if history.empty:
        return pd.DataFrame(columns=opt.SERIES_COLUMNS)
    q: float | pd.Series = dividends if not dividends.empty else get_settings().options_default_dividend_yield
    rates: pd.DataFrame | float = yields if not yields.empty else float("nan")
    return opt.select_contract_series(
        history,
        rates,
        q={params.underlying: q},
        target_delta=params.target_delta,
        months=params.months,
        window_days=params.window_days,
        roll_dte=params.roll_dte,
        band=(params.band_low, params.band_high),
        kind=params.kind,
    )


def write_series(series: pd.DataFrame, params: SeriesParams, path: Path) -> list[Path]:
    """The series as CSV (data only: a spreadsheet opens it as it is) with its parameters in `<path>.params.json`,
    or as XLSX (sheets `series` and `parameters`) when `path` ends in .xlsx. Returns the files written."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            for_export(series).to_excel(writer, sheet_name="series", index=False)
            described = params.describe()
            pd.DataFrame({"parameter": list(described), "value": list(described.values())}).to_excel(
                writer, sheet_name="parameters", index=False
            )
        return [path]
    for_export(series).to_csv(path, index=False)
    sidecar = path.with_name(path.name + ".params.json")
    sidecar.write_text(json.dumps(params.describe(), indent=2) + "\n")
    return [path, sidecar]


def for_export(series: pd.DataFrame) -> pd.DataFrame:
    """The series as files carry it: every column, dates as dates, volume and open interest as integers."""
    out = series.copy()
    for column in ("session_date", "expiration"):
        out[column] = pd.to_datetime(out[column]).dt.date
    for column in ("volume", "open_interest"):
        out[column] = pd.to_numeric(out[column], errors="coerce").round().astype("Int64")
    return out
