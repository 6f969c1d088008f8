"""The Options page's cached loaders (stored chains with our greeks, ATM IV, the delta-targeted series) and the pure
shaping of what it shows: the side-by-side chain table, the smile and open-interest rows, the series table, exports.

Every cached function takes the data version (the latest finished ingestion run), so a new load of chains
invalidates it at once; the TTL bounds staleness for anything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import streamlit as st

from analytics import options as opt
from dashboard.ui import exports
from dashboard.ui.loaders import LARGE, SMALL, TTL, read
from ingestion import options as chains
from ingestion.options import SeriesParams, SessionChain
from store import clock
from store.db import get_engine
from store.reads import options as reads

__all__ = [
    "DEFAULTS",
    "SeriesParams",
    "SessionChain",
    "atm_iv",
    "chain_table",
    "check_series",
    "contract_series",
    "default_session",
    "expiries",
    "series_csv",
    "series_export",
    "series_summary",
    "series_table",
    "series_xlsx",
    "session_chain",
    "sessions",
    "smile_rows",
    "underlyings",
]

DEFAULTS = SeriesParams()  # the series widgets start from the puller's own defaults
STRIKES_EACH_SIDE = 25  # the chain table: this many strikes below and above the underlying price
CHART_MONEYNESS = 0.20  # the smile and open-interest charts: strikes within +/-20% of the underlying price
SMILE_DEFAULT_DAYS = (7, 30, 60)  # the smile's default expiries: the nearest to a week, a month and two months out
PRICING_NOTE = (
    "Prices, IVs and greeks are European Black-Scholes-Merton (continuous dividend yield): the early-exercise value "
    "of these American contracts is ignored, which is negligible for out-of-the-money calls and puts with a small "
    "dividend yield (deep in-the-money puts and calls just before an ex-dividend date are the exceptions)."
)
# What each side of the chain table shows, in order from the strike outwards (chain_greeks columns, module units).
SIDE_COLUMNS = (
    "price_used",
    "price_basis",
    "iv",
    "delta",
    "gamma",
    "vega",
    "theta",
    "volume",
    "open_interest",
    "reason",
)
SIDES = {"C": "call", "P": "put"}


# -- cached reads ---------------------------------------------------------------------------------------------


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=SMALL)
def underlyings(version: int) -> pd.DataFrame:
    """Underlyings with stored chains: symbol, first, last, sessions, rows, sources."""
    return read(reads.underlyings)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def sessions(version: int, symbol: str) -> list[date]:
    return read(reads.sessions, symbol)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def default_session(version: int, symbol: str) -> date | None:
    """The last stored session whose chain carries an underlying close (the source misses some: AAPL's last five
    demo sessions), else the last session; None when nothing is stored."""
    stored = sessions(version, symbol)
    for day in reversed(stored[-10:]):
        closes = read(reads.chain, symbol, day)["underlying_close"]
        if closes.notna().any():
            return day
    return stored[-1] if stored else None


# A priced chain is ~1 MB (SPY: 4,300 contracts x 30 columns): few are kept.
@st.cache_data(ttl=TTL, show_spinner="Pricing the chain…", max_entries=SMALL)
def session_chain(version: int, symbol: str, session: date) -> SessionChain:
    """One session's chain with our IV and greeks (ingestion.options.session_chain)."""
    return chains.session_chain(get_engine(), symbol, session)


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=LARGE)
def atm_iv(version: int, symbol: str, session: date) -> pd.DataFrame:
    """ATM IV per expiry and type of one session (ingestion.options.atm_iv) with the session as a column."""
    found = session_chain(version, symbol, session)
    out = chains.atm_iv(found.chain, found.spot)
    out.insert(0, "session", session)
    return out


def check_series(params: SeriesParams) -> None:
    """ValueError with the analytics' own message when the series parameters are bad, before any chain is read:
    select_contract_series checks its arguments first, so an empty history is enough."""
    empty = pd.DataFrame(columns=["session_date", "underlying", "underlying_close", "expiration", "strike", "type"])
    opt.select_contract_series(
        empty.assign(price=pd.Series(dtype="float64")),
        0.0,
        target_delta=params.target_delta,
        months=params.months,
        window_days=params.window_days,
        roll_dte=params.roll_dte,
        band=(params.band_low, params.band_high),
        kind=params.kind,
    )


@st.cache_data(ttl=TTL, show_spinner="Following the contract through the sessions…", max_entries=LARGE)
def contract_series(version: int, params: SeriesParams) -> pd.DataFrame:
    """The delta-targeted series (analytics SERIES_COLUMNS, one row per stored session); ValueError on bad
    parameters (not cached: the page shows it)."""
    check_series(params)
    return chains.contract_series(get_engine(), params)


# -- the chain ------------------------------------------------------------------------------------------------


def expiries(chain: pd.DataFrame) -> pd.DataFrame:
    """Expirations of a session's chain: expiration (date), dte, calls, puts."""
    if chain.empty:
        return pd.DataFrame(columns=["expiration", "dte", "calls", "puts"])
    sides = {"calls": chain["type"].eq("C").astype("int64"), "puts": chain["type"].eq("P").astype("int64")}
    counts = chain[["expiration", "dte"]].assign(**sides).groupby(["expiration", "dte"]).sum()
    out = counts.reset_index()
    out["expiration"] = pd.to_datetime(out["expiration"]).dt.date
    return out


def default_expiry(table: pd.DataFrame, days: int = 30) -> date | None:
    """The expiry nearest `days` out (a month: liquid, past the weekly noise)."""
    if table.empty:
        return None
    return table.iloc[int((table["dte"] - days).abs().argmin())]["expiration"]


def smile_defaults(table: pd.DataFrame) -> list[date]:
    """The smile's default expiries: the one nearest each of SMILE_DEFAULT_DAYS out (distinct, by date), so the
    curves show how the smile changes with maturity rather than three near-identical weeklies."""
    picked = {default_expiry(table, days) for days in SMILE_DEFAULT_DAYS}
    return sorted(day for day in picked if day is not None)


def _one_expiry(chain: pd.DataFrame, expiration: date) -> pd.DataFrame:
    return chain[pd.to_datetime(chain["expiration"]).dt.date == expiration]


def chain_table(chain: pd.DataFrame, expiration: date, spot: float, all_strikes: bool = False) -> pd.DataFrame:
    """Calls and puts of one expiry side by side, one row per strike: `call_<col>` (mirrored: outermost first),
    `strike`, `moneyness` (strike / spot - 1), `put_<col>` (SIDE_COLUMNS; vega per vol point, theta per calendar day;
    `reason` is why a contract has no IV). With calls only: strike, moneyness, then the calls. Without `all_strikes`,
    the STRIKES_EACH_SIDE strikes below and above `spot`."""
    rows = _one_expiry(chain, expiration)
    sides = []
    for kind, word in SIDES.items():
        side = rows[rows["type"] == kind]
        if side.empty:
            continue
        shown = side.set_index("strike")[list(SIDE_COLUMNS)].copy()
        shown["vega"] = shown["vega"] / 100.0
        shown["theta"] = shown["theta"] / opt.DAYS_PER_YEAR
        shown["reason"] = shown["reason"].fillna("")
        sides.append(shown.add_prefix(f"{word}_"))
    if not sides:
        return pd.DataFrame(columns=["strike", "moneyness"])
    table = pd.concat(sides, axis=1).sort_index()
    strikes = table.index.to_numpy(dtype="float64")
    if not all_strikes and np.isfinite(spot):
        at = int(np.searchsorted(strikes, spot))
        table = table.iloc[max(0, at - STRIKES_EACH_SIDE) : at + STRIKES_EACH_SIDE]
    table = table.rename_axis("strike").reset_index()
    table["moneyness"] = table["strike"] / spot - 1.0 if np.isfinite(spot) else np.nan
    calls = [c for c in table.columns if c.startswith("call_")]
    puts = [c for c in table.columns if c.startswith("put_")]
    if not puts:  # calls only: read from the strike rightwards, as the put side would
        return table[["strike", "moneyness", *calls]].reset_index(drop=True)
    return table[[*calls[::-1], "strike", "moneyness", *puts]].reset_index(drop=True)


def no_iv_reasons(chain: pd.DataFrame, expiration: date) -> dict[str, dict[str, int]]:
    """Per type ("call"/"put") of one expiry: why contracts have no IV -> how many."""
    rows = _one_expiry(chain, expiration)
    out: dict[str, dict[str, int]] = {}
    for kind, word in SIDES.items():
        reasons = rows.loc[(rows["type"] == kind) & rows["iv"].isna(), "reason"].fillna("unknown")
        if len(reasons):
            out[word] = {str(k): int(v) for k, v in reasons.value_counts().items()}
    return out


def smile_rows(
    chain: pd.DataFrame,
    expirations: Sequence[date],
    spot: float,
    all_strikes: bool = False,
    traded_only: bool = True,
) -> pd.DataFrame:
    """IV by strike for the chosen expiries (expiration, dte, type, strike, iv, contract, volume), strikes within
    CHART_MONEYNESS of `spot` unless `all_strikes`; contracts without an IV left out, and with `traded_only` those
    that did not trade that session (volume 0: their last trade is stale, often by days, so their IV is noise)."""
    rows = chain[pd.to_datetime(chain["expiration"]).dt.date.isin(list(expirations)) & chain["iv"].notna()]
    if not all_strikes and np.isfinite(spot):
        rows = rows[(rows["strike"] / spot - 1.0).abs() <= CHART_MONEYNESS]
    if traded_only:
        rows = rows[~(rows["volume"] == 0)]  # an unknown volume (NaN) is kept
    out = rows[["expiration", "dte", "type", "strike", "iv", "contract", "volume"]].copy()
    out["expiration"] = pd.to_datetime(out["expiration"]).dt.date
    return out.sort_values(["expiration", "type", "strike"]).reset_index(drop=True)


def open_interest_rows(chain: pd.DataFrame, expiration: date, spot: float, all_strikes: bool = False) -> pd.DataFrame:
    """Open interest and volume by strike and type for one expiry (strikes within CHART_MONEYNESS unless all)."""
    rows = _one_expiry(chain, expiration)
    if not all_strikes and np.isfinite(spot):
        rows = rows[(rows["strike"] / spot - 1.0).abs() <= CHART_MONEYNESS]
    return rows[["type", "strike", "open_interest", "volume"]].sort_values(["type", "strike"]).reset_index(drop=True)


def pricing_caption(found: SessionChain) -> str:
    """What went into the session's prices, as plain text (the page escapes it): the underlying close, the rates,
    the dividend yield and the price basis counts."""
    session = found.session
    if np.isfinite(found.spot):
        spot = f"Underlying: {found.symbol} close {found.spot:,.2f} on {session:%Y-%m-%d}, as stored with the chain"
    else:
        spot = f"Underlying: no {found.symbol} close is stored with this chain on {session:%Y-%m-%d}"
    counts = found.basis_counts
    basis = f"Priced off the last trade for {counts.get('last', 0):,} contracts; mid for {counts.get('mid', 0):,}"
    if counts.get("none"):
        basis += f"; no usable price for {counts['none']:,}"
    return f"{spot}. Rates: {found.rates.note(session)}. Dividend yield {found.q.value:.2%} ({found.q.basis}). {basis}."


# -- the series -----------------------------------------------------------------------------------------------


def series_table(series: pd.DataFrame) -> pd.DataFrame:
    """The series as the page shows it: dates as dates, the columns a reader needs (rate and q kept)."""
    out = series.drop(columns=["underlying"]).copy()
    for column in ("session_date", "expiration"):
        out[column] = pd.to_datetime(out[column]).dt.date
    return out


def series_export(series: pd.DataFrame) -> pd.DataFrame:
    """The series as the exports carry it (the options-series command's rule: ingestion.options.for_export)."""
    return chains.for_export(series)


def export_parameters(params: SeriesParams, sources: str) -> dict[str, str]:
    """The series' parameters (SeriesParams.describe()) and how it was priced, for the CSV header / XLSX sheet."""
    return {
        "exported_by": "Market Desk",
        "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
        **params.describe(),
        "source": sources,
        "pricing": "European Black-Scholes-Merton, our IV from the last trade (mid when quoted)",
    }


def series_csv(series: pd.DataFrame) -> bytes:
    """The series as CSV, data only (its parameters go in the sidecar, exports.params_json)."""
    return exports.to_csv(series_export(series))


def series_xlsx(series: pd.DataFrame, params: Mapping[str, str]) -> bytes:
    return exports.to_xlsx(series_export(series), params, SERIES_PERCENT)


SERIES_PERCENT = ("iv", "rate", "q")  # fractions in the series export, shown as percentages in the XLSX


@dataclass(frozen=True)
class SeriesSummary:
    sessions: int
    changes: int
    change_reasons: dict[str, int]
    without_contract: dict[str, int]  # reason -> sessions
    flags: dict[str, int]  # zero_volume, no_price, delta_mismatch -> sessions


def series_summary(series: pd.DataFrame) -> SeriesSummary:
    """How many sessions, contract changes (by reason), sessions without a contract (by why), flagged sessions."""
    changed = series[series["changed"].astype(bool)]
    missing = series.loc[series["contract"].isna(), "reason"].replace("", "unknown")
    return SeriesSummary(
        sessions=len(series),
        changes=len(changed),
        change_reasons={str(k): int(v) for k, v in changed["change_reason"].value_counts().items()},
        without_contract={str(k): int(v) for k, v in missing.value_counts().items()},
        flags={flag: int(series[flag].astype(bool).sum()) for flag in ("zero_volume", "no_price", "delta_mismatch")},
    )
