"""The S&P 500 demo bundle for tests: the real files, a few symbols' slice of them, and their expected row counts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ingestion.providers.sample import SP500_FILES

ROOT = Path(__file__).resolve().parents[2]
SP500 = ROOT / "data" / "sp500"
SAMPLE_PRICES = ROOT / "data" / "sample" / "prices"


def bundle_frame(key: str) -> pd.DataFrame:
    """One file of the real bundle (key as in SP500_FILES: adjusted, raw, shares, snapshots, constituents)."""
    path = SP500 / SP500_FILES[key]
    return pd.read_csv(path, dtype=str, keep_default_na=False) if path.suffix == ".csv" else pd.read_parquet(path)


def sample_symbols() -> set[str]:
    """The 35-ticker sample's symbols (their bars are kept when the S&P 500 bundle loads)."""
    return {p.stem for p in SAMPLE_PRICES.glob("*.csv")}


def write_bundle(dest: Path, symbols: list[str]) -> Path:
    """A copy of the bundle holding only `symbols` (every file filtered the same way) in `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for key, name in SP500_FILES.items():
        frame = bundle_frame(key)
        part = frame[frame["symbol"].isin(symbols)]
        if name.endswith(".csv"):
            part.to_csv(dest / name, index=False, lineterminator="\n")
        else:
            schema = pq.read_schema(SP500 / name)
            pq.write_table(pq.read_table(SP500 / name).filter(_mask(part, frame)).cast(schema), dest / name)
    shutil.copy(SP500 / "PROVENANCE.md", dest / "PROVENANCE.md")
    return dest


def _mask(part: pd.DataFrame, frame: pd.DataFrame):  # noqa: ANN202 - a pyarrow boolean array
    import pyarrow as pa

    return pa.array(frame.index.isin(part.index))
