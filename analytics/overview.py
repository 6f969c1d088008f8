"""Universe snapshot for the Overview page: last close, 1D / 1M / YTD change, 52-week range, a trend line."""

from __future__ import annotations

import numpy as np
import pandas as pd

SPARK_POINTS = 60


def overview_table(closes: pd.DataFrame, spark_days: int = 92) -> pd.DataFrame:
    """One row per symbol from a long frame of `date, symbol, close` (adjusted closes, any order).

    Conventions: each symbol is measured at its own last date (a stale symbol is not compared with
    fresher ones). 1D compares with the previous stored session; 1M with the last close on or before the
    same calendar day a month earlier; YTD with the last close of the previous calendar year; the 52-week
    high and low cover the 365 calendar days up to and including the last date. Changes are fractions
    (0.012 = +1.2%). `trend` holds up to SPARK_POINTS closes over the last `spark_days` calendar days.
    """
    columns = ["symbol", "as_of", "last", "chg_1d", "chg_1m", "chg_ytd", "high_52w", "low_52w", "trend"]
    if closes.empty:
        return pd.DataFrame(columns=columns)
    wide = (
        closes.assign(date=pd.to_datetime(closes["date"]))
        .pivot_table(index="date", columns="symbol", values="close", aggfunc="last")
        .sort_index()
    )
    rows = []
    for symbol in wide.columns:
        series = wide[symbol].dropna()
        if series.empty:
            continue
        as_of = series.index[-1]
        last = series.iloc[-1]
        prev = series.iloc[-2] if len(series) > 1 else np.nan
        month_ago = series.loc[: as_of - pd.DateOffset(months=1)]
        year_end = series.loc[: pd.Timestamp(year=as_of.year - 1, month=12, day=31)]
        window = series.loc[as_of - pd.Timedelta(days=364) :]
        spark = series.loc[as_of - pd.Timedelta(days=spark_days) :]
        if len(spark) > SPARK_POINTS:
            spark = spark.iloc[np.linspace(0, len(spark) - 1, SPARK_POINTS).round().astype(int)]
        rows.append(
            {
                "symbol": symbol,
                "as_of": as_of.date(),
                "last": last,
                "chg_1d": last / prev - 1,
                "chg_1m": last / month_ago.iloc[-1] - 1 if not month_ago.empty else np.nan,
                "chg_ytd": last / year_end.iloc[-1] - 1 if not year_end.empty else np.nan,
                "high_52w": window.max(),
                "low_52w": window.min(),
                "trend": [round(float(v), 4) for v in spark],
            }
        )
    return pd.DataFrame(rows, columns=columns)


def quotes_vs_close(quotes: pd.DataFrame, bars: pd.DataFrame) -> pd.DataFrame:
    """Latest quotes with `change` against each symbol's last daily close and `ts` in New York local time.

    Quotes are as traded, so they are compared with the last close as traded (`close`, not `adj_close`)
    from `bars` (date-ordered daily bars); `change` is NaN for a symbol with no close in `bars`.
    """
    last_close = bars.groupby("symbol")["close"].last()
    return quotes.assign(
        change=quotes["price"] / quotes["symbol"].map(last_close) - 1,
        ts=pd.to_datetime(quotes["ts"], utc=True).dt.tz_convert("America/New_York").dt.tz_localize(None),
    )
