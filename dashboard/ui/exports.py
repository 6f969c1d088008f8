"""Export files (CSV with a parameter block, XLSX with a parameters sheet) built from what a page shows."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

import pandas as pd

from analytics.market import price_basis
from dashboard.ui.url_state import View
from store import clock


def export_frame(frames: Mapping[str, pd.DataFrame], usd: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Long frame (date, symbol, prices, volume, indicators, normalised) from per-symbol displayed frames.

    `usd`: the same frames before display-currency conversion; the rebased-to-100 column is computed on
    them so it stays a pure price ratio whatever the currency shown.
    """
    parts = []
    for symbol, frame in frames.items():
        if frame.empty:
            continue
        part = frame.copy()
        part.insert(0, "symbol", symbol)
        close = (usd or frames)[symbol]["close"]
        part["normalised_100"] = (close / close.dropna().iloc[0] * 100.0).to_numpy()
        parts.append(part.rename_axis("date").reset_index())
    if not parts:
        return pd.DataFrame(columns=["date", "symbol", "open", "high", "low", "close", "volume"])
    out = pd.concat(parts, ignore_index=True)
    out["date"] = pd.to_datetime(out["date"]).dt.date
    return out


def export_parameters(
    view: View,
    start: date,
    end: date,
    as_of: date | None,
    sources: Sequence[str],
    fallback: Iterable[str] = (),
) -> dict:
    """The parameters written into every export (header block in CSV, a sheet in XLSX).

    `fallback`: tickers shown adjusted although unadjusted prices were asked for (see ticker_frames).
    """
    return {
        "exported_by": "Market Desk",
        "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
        "data_as_of": as_of.isoformat() if as_of else "",
        "source": ", ".join(sources),
        "tickers": ",".join(view.tickers),
        "range": view.range,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "prices": price_basis(view.adjusted, fallback, view.tickers),
        "indicators": ",".join(view.indicators) or "none",
        "rows": "daily bars (not downsampled)",
    }


def to_csv(data: pd.DataFrame, params: Mapping[str, str]) -> bytes:
    """CSV with a `# key: value` header block; read back with `pd.read_csv(f, comment="#")`."""
    header = "".join(f"# {k}: {v}\n" for k, v in params.items())
    return (header + data.to_csv(index=False, float_format="%.6f")).encode()


def to_xlsx(data: pd.DataFrame, params: Mapping[str, str]) -> bytes:
    """XLSX with the data on sheet `data` and the parameters on sheet `parameters` (openpyxl)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        data.to_excel(writer, sheet_name="data", index=False)
        pd.DataFrame({"parameter": list(params), "value": [str(v) for v in params.values()]}).to_excel(
            writer, sheet_name="parameters", index=False
        )
    return buffer.getvalue()


def to_xlsx_sheets(sheets: Mapping[str, pd.DataFrame], params: Mapping[str, str]) -> bytes:
    """XLSX with one sheet per frame (in order) and the parameters on a last sheet, `parameters` (openpyxl)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, data in sheets.items():
            data.to_excel(writer, sheet_name=name[:31], index=False)
        pd.DataFrame({"parameter": list(params), "value": [str(v) for v in params.values()]}).to_excel(
            writer, sheet_name="parameters", index=False
        )
    return buffer.getvalue()


def read_csv_export(raw: bytes) -> tuple[pd.DataFrame, dict[str, str]]:
    """Inverse of to_csv: the data and the header parameters."""
    text = raw.decode()
    params = {}
    for line in text.splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(": ")
        params[key] = value
    return pd.read_csv(io.StringIO(text), comment="#"), params
