"""Screener: one row of metrics per symbol from a wide frame of closes, market caps, and filters applied to them."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

TRADING_DAYS = 252
VOL_RETURNS = 63  # three months of sessions: the volatility window
RSI_PERIOD = 14
SMA_WINDOWS = (50, 200)
HIGH_WINDOW_DAYS = 364  # the 52-week high covers 365 calendar days up to and including the last date

METRIC_COLUMNS = [
    "symbol", "as_of", "last", "chg_1d", "chg_1m", "chg_ytd", "high_52w", "from_high_52w", "volatility_3m",
    "rsi_14", "sma_50", "sma_200", "vs_sma_50", "vs_sma_200",
]  # fmt: skip
# Fractions (0.012 = +1.2%), which a page shows as percentages and takes as percentages in its filters.
PERCENT_COLUMNS = ("chg_1d", "chg_1m", "chg_ytd", "from_high_52w", "volatility_3m", "vs_sma_50", "vs_sma_200")


def wide_closes(closes: pd.DataFrame) -> pd.DataFrame:
    """Dates x symbols (float, NaN where a symbol has no close) from a long frame of `date, symbol, close`."""
    if closes.empty:
        return pd.DataFrame(dtype="float64")
    frame = closes.assign(date=pd.to_datetime(closes["date"]), close=closes["close"].astype("float64"))
    return frame.pivot_table(index="date", columns="symbol", values="close", aggfunc="last").sort_index()


def _right_aligned(wide: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Each symbol's observed closes (NaN skipped, as analytics.indicators does) moved to the bottom rows of one
    matrix, so row -1 is every symbol's own last close: (symbols, closes, dates), NaN / NaT above a short history."""
    symbols = [str(s) for s in wide.columns if wide[s].notna().any()]
    dates = wide.index.to_numpy(dtype="datetime64[ns]")
    closes = np.full((len(wide), len(symbols)), np.nan)
    days = np.full((len(wide), len(symbols)), np.datetime64("NaT"), dtype="datetime64[ns]")
    for j, column in enumerate(c for c in wide.columns if wide[c].notna().any()):
        values = wide[column].to_numpy(dtype="float64")
        seen = ~np.isnan(values)
        n = int(seen.sum())
        closes[-n:, j], days[-n:, j] = values[seen], dates[seen]
    return symbols, closes, days


def _wilder_rsi(closes: np.ndarray, period: int) -> np.ndarray:
    """The last Wilder RSI of each right-aligned column, as analytics.indicators.rsi computes it: seed the average
    gain and loss with the mean of the first `period` changes, then avg += (x - avg) / period; 100 with no loss, 50
    when flat; NaN with `period` closes or fewer. Vectorised over the symbols (one pass over the rows)."""
    rows, count = closes.shape[0], np.sum(~np.isnan(closes), axis=0)
    first = rows - count  # the row of each column's first close
    delta = np.diff(closes, axis=0)  # row t: the change into close row t + 1
    gains, losses = np.clip(delta, 0.0, None), np.clip(-delta, 0.0, None)
    avg_gain, avg_loss = np.full(closes.shape[1], np.nan), np.full(closes.shape[1], np.nan)
    seed_row = first + period  # the close row at which the seed (mean of the first `period` changes) is known
    for t in range(1, rows):
        seeding = seed_row == t
        if seeding.any():
            window = slice(t - period, t)
            avg_gain[seeding] = gains[window][:, seeding].mean(axis=0)
            avg_loss[seeding] = losses[window][:, seeding].mean(axis=0)
        later = seed_row < t
        avg_gain[later] += (gains[t - 1, later] - avg_gain[later]) / period
        avg_loss[later] += (losses[t - 1, later] - avg_loss[later]) / period
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    rsi = np.where(avg_loss == 0.0, np.where(avg_gain == 0.0, 50.0, 100.0), rsi)
    return np.where(count > period, rsi, np.nan)


def _close_on_or_before(closes: np.ndarray, days: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per column, the close on the last date on or before its target; NaN when its history starts after it."""
    out = np.full(closes.shape[1], np.nan)
    for j in range(closes.shape[1]):
        known = ~np.isnat(days[:, j])
        position = int(np.searchsorted(days[known, j], targets[j], side="right")) - 1
        if position >= 0:
            out[j] = closes[known, j][position]
    return out


def metrics_table(wide: pd.DataFrame) -> pd.DataFrame:
    """One row per symbol with stored closes, from a wide frame of adjusted closes (dates x symbols).

    Conventions (the Overview's, so both pages agree): each symbol is measured at its own last date. 1D: against
    the previous stored close; 1M: against the last close on or before the same day a calendar month earlier;
    YTD: against the last close of the previous calendar year; 52-week high: the highest close in the 365 days to
    the last date (from_high_52w = last / high - 1, zero or below); volatility: the sample standard deviation of
    the last 63 daily simple returns x sqrt(252) (NaN with fewer); RSI 14 with Wilder's smoothing (as
    analytics.indicators.rsi); SMA n: the mean of the last n closes (NaN with fewer), vs_sma_n = last / SMA - 1
    (above the average when positive). Changes and distances are fractions; NaN where the data does not reach.
    Computed on all symbols at once (a loop of pandas calls per symbol took seconds on the S&P 500).
    """
    if wide.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    symbols, closes, days = _right_aligned(wide)
    count = np.sum(~np.isnan(closes), axis=0)
    last, as_of = closes[-1], pd.DatetimeIndex(days[-1])
    month_ago = _close_on_or_before(closes, days, (as_of - pd.DateOffset(months=1)).to_numpy())
    year_end = _close_on_or_before(closes, days, pd.to_datetime([f"{y - 1}-12-31" for y in as_of.year]).to_numpy())
    in_year = days >= (as_of - pd.Timedelta(days=HIGH_WINDOW_DAYS)).to_numpy()[None, :]
    high = np.nanmax(np.where(in_year, closes, np.nan), axis=0)
    returns = closes[1:] / closes[:-1] - 1.0
    volatility = np.full(len(symbols), np.nan)
    if len(returns) >= VOL_RETURNS:
        volatility = np.std(returns[-VOL_RETURNS:], axis=0, ddof=1) * math.sqrt(TRADING_DAYS)
        volatility[count <= VOL_RETURNS] = np.nan  # fewer than 63 returns: NaN rows inside the window
    smas = {n: np.where(count >= n, closes[-n:].mean(axis=0), np.nan) for n in SMA_WINDOWS}
    prev = closes[-2] if len(closes) > 1 else np.full(len(symbols), np.nan)
    return pd.DataFrame(
        {
            "symbol": symbols,
            "as_of": as_of.date,
            "last": last,
            "chg_1d": last / prev - 1.0,
            "chg_1m": last / month_ago - 1.0,
            "chg_ytd": last / year_end - 1.0,
            "high_52w": high,
            "from_high_52w": last / high - 1.0,
            "volatility_3m": volatility,
            "rsi_14": _wilder_rsi(closes, RSI_PERIOD),
            "sma_50": smas[50],
            "sma_200": smas[200],
            "vs_sma_50": last / smas[50] - 1.0,
            "vs_sma_200": last / smas[200] - 1.0,
        },
        columns=METRIC_COLUMNS,
    )


def market_caps(metrics: pd.DataFrame, shares: pd.DataFrame) -> pd.Series:
    """Market capitalisation per row of `metrics` (symbol, as_of, last): last close x the latest share count
    published on or before that row's as_of (`shares`: symbol, published, shares, as
    store.reads.index.shares_published gives them); NaN where none is published by then.

    The last adjusted close is the close as traded on that day (adjustments only lower earlier prices), so it is the
    price a market cap needs. Several figures published the same day: the one with the latest period end wins.
    """
    if metrics.empty or shares.empty:
        return pd.Series(np.nan, index=metrics.index, dtype="float64", name="market_cap")
    left = metrics[["symbol", "as_of", "last"]].assign(
        day=pd.to_datetime(metrics["as_of"]).astype("datetime64[ns]"), row=np.arange(len(metrics))
    )
    right = shares.assign(day=pd.to_datetime(shares["published"]).astype("datetime64[ns]"))
    sort = ["day", "period_end"] if "period_end" in right else ["day"]
    right = right.sort_values(sort, kind="stable")[["symbol", "day", "shares"]]
    joined = pd.merge_asof(left.sort_values("day"), right, on="day", by="symbol", direction="backward")
    caps = (joined["last"] * joined["shares"].astype("float64")).to_numpy()
    out = np.full(len(metrics), np.nan)
    out[joined["row"].to_numpy()] = caps
    return pd.Series(out, index=metrics.index, name="market_cap")


# -- filters: (column, op, value), checked against the table before they are applied -----------------------------

NUMERIC_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
}
TEXT_OPS = ("=", "!=", "in", "not in")
OPS = (*NUMERIC_OPS, "in", "not in")


class FilterError(ValueError):
    """A filter that cannot be applied; the message says why (plain text)."""


@dataclass(frozen=True)
class Filter:
    """One condition on a column of the screener table: a number for numeric columns, text or texts otherwise."""

    column: str
    op: str
    value: float | str | tuple[str, ...]


def parse_number(value: object) -> float:
    """A finite number from a number or text ('1,200.5' and ' 3 ' are fine); FilterError otherwise."""
    if isinstance(value, bool):
        raise FilterError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise FilterError(f"{str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise FilterError(f"{str(value)[:40]!r} is not a finite number")
    return number


def is_numeric(frame: pd.DataFrame, column: str) -> bool:
    """Whether a column holds numbers (compared with >, <, ...) rather than text (or booleans)."""
    return pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])


def check_filter(frame: pd.DataFrame, column: str, op: str, value: object) -> Filter:
    """The filter `column op value` checked against `frame`'s columns; FilterError with the reason otherwise."""
    if column not in frame.columns:
        raise FilterError(f"unknown column {str(column)[:40]!r}")
    if op not in OPS:
        raise FilterError(f"unknown operator {str(op)[:10]!r} (expected one of {', '.join(OPS)})")
    if is_numeric(frame, column):
        if op not in NUMERIC_OPS:
            raise FilterError(f"{column} is a number: compare it with {', '.join(NUMERIC_OPS)}")
        return Filter(column, op, parse_number(value))
    if op not in TEXT_OPS:
        raise FilterError(f"{column} is text: use {', '.join(TEXT_OPS)}")
    if op in ("in", "not in"):
        texts = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else [value]
        if not texts:
            raise FilterError(f"{column} {op}: name at least one value")
        return Filter(column, op, tuple(str(t) for t in texts))
    return Filter(column, op, str(value))


def check_filters(frame: pd.DataFrame, filters: Iterable[tuple[str, str, object]]) -> tuple[list[Filter], list[str]]:
    """The filters that can be applied, and a reason for each one refused ('rsi_14 > abc: 'abc' is not a number')."""
    good, refused = [], []
    for column, op, value in filters:
        try:
            good.append(check_filter(frame, column, op, value))
        except FilterError as exc:
            refused.append(f"{str(column)[:40]} {str(op)[:10]} {str(value)[:40]}: {exc}")
    return good, refused


def _mask(frame: pd.DataFrame, f: Filter) -> pd.Series:
    values = frame[f.column]
    if f.op == "in":
        return values.isin(f.value)
    if f.op == "not in":
        return values.notna() & ~values.isin(f.value)
    # A missing value matches no condition (not even !=): an unknown RSI is neither above nor below 30.
    return values.notna() & NUMERIC_OPS[f.op](values, f.value)


def apply_filters(frame: pd.DataFrame, filters: Sequence[Filter | tuple[str, str, object]]) -> pd.DataFrame:
    """The rows of `frame` that meet every filter (all of them: AND); FilterError for a filter that is not valid."""
    mask = pd.Series(True, index=frame.index)
    for f in filters:
        checked = check_filter(frame, f.column, f.op, f.value) if isinstance(f, Filter) else check_filter(frame, *f)
        mask &= _mask(frame, checked)
    return frame[mask]


def range_filters(column: str, low: object, high: object) -> list[tuple[str, str, object]]:
    """`column >= low` and `column <= high` for the ends given (None: open); FilterError when low > high."""
    out: list[tuple[str, str, object]] = []
    if low is not None:
        out.append((column, ">=", parse_number(low)))
    if high is not None:
        out.append((column, "<=", parse_number(high)))
    if len(out) == 2 and float(out[0][2]) > float(out[1][2]):  # type: ignore[arg-type]
        raise FilterError(f"the minimum {low} is above the maximum {high}")
    return out


def sort_table(frame: pd.DataFrame, column: str, descending: bool = False) -> pd.DataFrame:
    """`frame` by `column` (missing values last whatever the order; ties keep their order)."""
    if column not in frame.columns:
        raise FilterError(f"unknown column {str(column)[:40]!r}")
    return frame.sort_values(column, ascending=not descending, na_position="last", kind="stable")


def screen_table(
    metrics: pd.DataFrame,
    instruments: pd.DataFrame,
    caps: pd.Series | None = None,
    statistics: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The screener's universe: metrics with name, sector (an ETF's is "ETF"), asset class and market cap, and the
    numeric columns of `statistics` (symbol + any key statistics stored), one row per symbol with closes."""
    names = instruments[["symbol", "name", "asset_class", "sector"]]
    table = metrics.merge(names, on="symbol", how="left")
    table["sector"] = table["sector"].fillna(table["asset_class"].str.upper())
    table["market_cap"] = caps.to_numpy() if caps is not None else np.nan
    if statistics is not None and not statistics.empty:
        extra = [c for c in statistics.columns if c != "symbol" and c not in table.columns]
        table = table.merge(statistics[["symbol", *extra]], on="symbol", how="left")
    return table
