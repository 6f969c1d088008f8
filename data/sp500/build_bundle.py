"""Rebuild the compact S&P 500 demo bundle in this folder from the full shared set (see PROVENANCE.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
LAST_DATE = pd.Timestamp("2026-06-25")  # last session of the original price set: every A1 symbol ends here
A2_END = pd.Timestamp("2024-09-10")
# Old tickers in A2/A3/A4 that are the same security as a current constituent under its new ticker.
# Evidence: median |daily return difference| against A1 over 1,431 shared sessions <= 1.3e-7 for each pair.
RENAMES = {"BK": "BNY", "FI": "FISV", "MMC": "MRSH", "PARA": "PSKY"}
# In A2 but never S&P 500 members: left out so that an "all symbols" ranking stays an S&P 500 demo.
NON_MEMBERS = {"TSM", "SOFI", "TGLS", "TWST", "GOLD"}


def write(table: pd.DataFrame, name: str, floats: list[str]) -> None:
    """Parquet, zstd; byte-stream-split floats and delta-coded dates/volumes (about 30% smaller than plain)."""
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    deltas = {col: "DELTA_BINARY_PACKED" for col in ("date", "volume") if col in arrow.column_names}
    pq.write_table(
        arrow,
        HERE / name,
        compression="zstd",
        compression_level=19,
        use_dictionary=["symbol"],
        use_byte_stream_split=floats or False,
        column_encoding=deltas or None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=Path("/work/shared/data"))
    args = parser.parse_args()
    src = args.source / "sp500"

    a1 = pd.read_parquet(src / "sp500_adj_close_daily_2019_2026.parquet")
    a1 = a1[a1["date"] <= LAST_DATE]
    a6 = pd.read_parquet(src / "sp500_adj_ohlcv_daily_missing5_2019_2025.parquet")[["date", "symbol", "adj_close"]]
    adj = pd.concat([a1, a6], ignore_index=True)
    adj["symbol"] = adj["symbol"].astype(str)
    adj["adj_close"] = adj["adj_close"].astype("float32")
    adj = adj.sort_values(["symbol", "date"], ignore_index=True)
    members = set(adj["symbol"])
    write(adj, "adj_close_daily_2019_2026.parquet", ["adj_close"])

    a2 = pd.read_parquet(src / "sp500_ohlcv_close_adjclose_daily_2019_2024.parquet")
    a2["symbol"] = a2["symbol"].astype(str).replace(RENAMES)
    a2 = a2[~a2["symbol"].isin(NON_MEMBERS)]
    former = sorted(set(a2["symbol"]) - members)
    a2 = a2[["date", "symbol", "close", "adj_close", "volume"]].copy()
    # A1/A6 hold the adjusted closes of current members; A2's are kept only where nothing else has them.
    a2["adj_close"] = a2["adj_close"].where(a2["symbol"].isin(former)).astype("float32")
    a2["close"] = a2["close"].astype("float32")
    a2 = a2.sort_values(["symbol", "date"], ignore_index=True)
    write(a2, "close_volume_daily_2019_2024.parquet", ["close", "adj_close"])
    universe = members | set(former)

    a3 = pd.read_csv(src / "sp500_quarterly_shares_marketcap_fmp_2018_2025.csv.gz")
    a3["symbol"] = a3["symbol"].replace(RENAMES)
    shares = pd.DataFrame(
        {
            "symbol": a3["symbol"].astype(str),
            "period_end": pd.to_datetime(a3["period_end"]),
            "filing_date": pd.to_datetime(a3["filing_date"]),
            "shares": a3["weighted_avg_shares_basic"].astype("int64"),
        }
    )
    dropped_zero = int((shares["shares"] <= 0).sum())
    dropped_early = int((shares["filing_date"] < shares["period_end"]).sum())
    shares = shares[
        shares["symbol"].isin(universe) & (shares["shares"] > 0) & (shares["filing_date"] >= shares["period_end"])
    ]
    shares = shares.sort_values(["symbol", "period_end"], ignore_index=True)
    write(shares, "shares_quarterly_fmp_2018_2025.parquet", [])

    a4 = pd.read_csv(src / "sp500_marketcap_snapshots_yahoo_2024_2026.csv.gz")
    a4["symbol"] = a4["symbol"].replace(RENAMES)
    snaps = pd.DataFrame(
        {
            "symbol": a4["symbol"].astype(str),
            "date": pd.to_datetime(a4["date"]),
            "market_cap": a4["market_cap"].astype("float64"),
            "price": a4["price"].astype("float64"),
            "shares": a4["shares_outstanding_derived"].astype("int64"),
        }
    )
    snaps = snaps[snaps["symbol"].isin(universe)].sort_values(["symbol", "date"], ignore_index=True)
    write(snaps, "marketcap_snapshots_yahoo_2024_2026.parquet", [])

    cons = pd.read_csv(args.source / "reference" / "sp500_constituents.csv")
    cons = cons.rename(
        columns={
            "Symbol": "symbol",
            "Security": "name",
            "GICS Sector": "gics_sector",
            "GICS Sub-Industry": "gics_sub_industry",
            "Date added": "date_added",
        }
    )[["symbol", "name", "gics_sector", "gics_sub_industry", "date_added"]]
    cons.sort_values("symbol").to_csv(HERE / "constituents.csv", index=False, lineterminator="\n")
    pd.DataFrame(
        sorted(RENAMES.items()),
        columns=["source_symbol", "symbol"],
    ).to_csv(HERE / "symbol_renames.csv", index=False, lineterminator="\n")

    print(f"adjusted closes: {len(adj)} rows, {adj['symbol'].nunique()} symbols")
    print(f"close/volume: {len(a2)} rows, {a2['symbol'].nunique()} symbols, {len(former)} former members: {former}")
    print(f"shares: {len(shares)} rows (dropped {dropped_zero} zero, {dropped_early} filed before period end)")
    print(f"snapshots: {len(snaps)} rows; constituents: {len(cons)} rows")
    assert np.isfinite(adj["adj_close"]).all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
