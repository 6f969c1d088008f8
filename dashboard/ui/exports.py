"""Export files built from what a page shows: CSV (data only) with a parameters sidecar, typed XLSX, audited buttons."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from streamlit.runtime.media_file_storage import MediaFileKind
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from analytics.market import price_basis
from dashboard.ui.url_state import View
from store import clock, downloads
from store.db import get_engine

log = logging.getLogger(__name__)


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
    """The parameters written into every export (the CSV's sidecar, a sheet in XLSX).

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


def to_csv(data: pd.DataFrame) -> bytes:
    """CSV of the data only (a spreadsheet opens it as it is); its parameters go in a sidecar (params_json)."""
    return data.to_csv(index=False, float_format="%.6f").encode()


def sidecar_name(file_name: str) -> str:
    """The parameters file beside an export, as the options-series command names it: `<name>.params.json`."""
    return f"{file_name}.params.json"


def params_json(params: Mapping[str, object]) -> bytes:
    """The sidecar: the export's parameters as a JSON object (keys in the order given)."""
    return (json.dumps({k: str(v) for k, v in params.items()}, indent=1, ensure_ascii=False) + "\n").encode()


def read_csv_export(raw: bytes, sidecar: bytes | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Inverse of to_csv and params_json: the data, and the parameters of the sidecar (empty without one)."""
    return pd.read_csv(io.BytesIO(raw)), (json.loads(sidecar) if sidecar else {})


# -- XLSX: typed cells, a frozen header and readable widths ------------------------------------------------------

# Columns holding fractions that a spreadsheet should show as percentages (e.g. 0.0123 -> 1.23%).
PERCENT_COLUMNS = frozenset(
    {"return", "drawdown", "exposure", "turnover", "change", "weight", "iv", "rate", "q", "volatility", "cagr"}
)
PERCENT_PREFIXES = ("chg_",)
NUMBER_FORMAT, INTEGER_FORMAT, PERCENT_FORMAT, DATE_FORMAT = "#,##0.00", "#,##0", "0.00%", "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
MIN_WIDTH, MAX_WIDTH = 8, 60


def _is_percent(column: object, percent: Iterable[str]) -> bool:
    name = str(column)
    return name in set(percent) or name.lower() in PERCENT_COLUMNS or name.lower().startswith(PERCENT_PREFIXES)


def _cell_format(values: pd.Series, column: object, percent: Iterable[str]) -> str | None:
    """The Excel number format of a column, from its dtype (and its name for percentages); None leaves it."""
    kind = values.dtype.kind
    if kind == "M":
        return DATE_FORMAT if (values.dropna().dt.normalize() == values.dropna()).all() else DATETIME_FORMAT
    if kind == "O" and len(values.dropna()) and values.dropna().map(lambda v: isinstance(v, date)).all():
        has_time = values.dropna().map(lambda v: isinstance(v, datetime)).any()
        return DATETIME_FORMAT if has_time else DATE_FORMAT
    if kind in "iu":
        return PERCENT_FORMAT if _is_percent(column, percent) else INTEGER_FORMAT
    if kind == "f":
        return PERCENT_FORMAT if _is_percent(column, percent) else NUMBER_FORMAT
    return None


def _text_width(value: object, number_format: str | None) -> int:
    if number_format in (NUMBER_FORMAT, PERCENT_FORMAT, INTEGER_FORMAT) and isinstance(value, int | float):
        shown = f"{value:,.0f}" if number_format == INTEGER_FORMAT else f"{value:,.2f}"
        return len(shown) + 1
    if number_format in (DATE_FORMAT, DATETIME_FORMAT):
        return len(number_format)
    return len(str(value))


def _write_sheet(writer: pd.ExcelWriter, name: str, data: pd.DataFrame, percent: Iterable[str]) -> None:
    """One sheet: the frame, each column in its number format, the header frozen, widths from the contents."""
    # openpyxl (with lxml, about 13 MiB of modules) is imported by the first XLSX export, not by every app process.
    from openpyxl.utils import get_column_letter

    sheet_name = name[:31]
    # Timezones are refused by Excel: the wall time is written, and the header says which zone it is in.
    frame = data.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_localize(None)
    frame.to_excel(writer, sheet_name=sheet_name, index=False)
    sheet = writer.sheets[sheet_name]
    sheet.freeze_panes = "A2"
    sample = frame.head(500)  # widths from the first rows: enough to size them, cheap on long histories
    for position, column in enumerate(frame.columns, start=1):
        number_format = _cell_format(frame[column], column, percent)
        letter = get_column_letter(position)
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=position, max_col=position):
                cell.number_format = number_format
        widest = max([len(str(column)), *(_text_width(v, number_format) for v in sample[column].dropna())])
        sheet.column_dimensions[letter].width = min(max(widest + 2, MIN_WIDTH), MAX_WIDTH)


def _parameters_frame(params: Mapping[str, object]) -> pd.DataFrame:
    return pd.DataFrame({"parameter": list(params), "value": [str(v) for v in params.values()]})


def to_xlsx(data: pd.DataFrame, params: Mapping[str, str], percent: Iterable[str] = ()) -> bytes:
    """XLSX with the data on sheet `data` and the parameters on sheet `parameters` (see to_xlsx_sheets)."""
    return to_xlsx_sheets({"data": data}, params, percent)


def to_xlsx_sheets(sheets: Mapping[str, pd.DataFrame], params: Mapping[str, str], percent: Iterable[str] = ()) -> bytes:
    """XLSX with one sheet per frame (in order) and the parameters on a last sheet, `parameters` (openpyxl).

    Cells are typed: numbers '#,##0.00', counts '#,##0', fractions '0.00%' (columns in `percent` or named as
    PERCENT_COLUMNS), dates as dates; every sheet's header row is frozen and its columns sized to their text.
    """
    percent = tuple(percent)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, data in sheets.items():
            _write_sheet(writer, name, data, percent)
        _write_sheet(writer, "parameters", _parameters_frame(params), ())
    return buffer.getvalue()


# -- audited downloads -------------------------------------------------------------------------------------------

CSV_MIME, JSON_MIME = "text/csv", "application/json"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SIDECAR_NOTE = (
    "The CSV holds the data only; its parameters are in the `.params.json` file beside it "
    "(the XLSX has them on a `parameters` sheet)."
)


def audited(build: Callable[[], bytes], record: Callable[[], None]) -> Callable[[], bytes]:
    """A file builder that writes its audit record when the browser actually asks for the file."""

    def _build() -> bytes:
        record()
        return build()

    return _build


# dashboard.access.sessions.COOKIE_NAME (the ui room cannot import access; a test keeps the two equal).
SESSION_COOKIE = "md_session"


def media_file_id(content: bytes, mime: str, file_name: str) -> str:
    """The id under which Streamlit serves a download button's file (`/media/<id>.<ext>`): its own hash, asked of
    a throwaway store so that a Streamlit upgrade that changes the formula changes ours with it."""
    return MemoryMediaFileStorage("/media").load_and_get_id(content, mime, MediaFileKind.DOWNLOADABLE, file_name)


def shared(build: Callable[[], bytes], file_name: str, mime: str) -> Callable[[], bytes]:
    """A file builder whose file every web instance can serve, not only the one that built it.

    Streamlit keeps a download's bytes in the memory of the process that built them, and the browser fetches them
    with a separate GET that a balancer without sticky sessions may send to another instance (404). The file is
    also saved in PostgreSQL for a few minutes (store.downloads), for this browser's session only, and that other
    instance serves it from there (dashboard/web/shared_downloads.py). Without a session cookie (AppTest) the
    builder is returned as it is.
    """
    cookie = st.context.cookies.get(SESSION_COOKIE)  # now: the builder runs outside the script run
    if not isinstance(cookie, str) or not cookie:  # AppTest's client gives a mock
        return build
    owner = downloads.owner_key(cookie)

    def _build() -> bytes:
        content = build()
        try:
            with get_engine().begin() as conn:
                downloads.save(conn, media_file_id(content, mime, file_name), owner, file_name, mime, content)
        except sa.exc.SQLAlchemyError as exc:  # this instance still serves it; only another one would not
            log.warning("export %s not shared across instances: %s", file_name, type(exc).__name__)
        return content

    return _build


def export_buttons(
    stem: str,
    data: Callable[[], pd.DataFrame],
    params: Mapping[str, str],
    recorder: Callable[[str], Callable[[], None]],
    *,
    key: str,
    percent: Iterable[str] = (),
    note: bool = True,
) -> None:
    """CSV, its parameters sidecar and XLSX download buttons for one table; files are built (and audited) on click.

    `data` builds the table; `recorder(format)` gives the audit record of one format (e.g. a
    `gate.recorder("export", {...})` call; the user is captured now, the record written when the file is
    requested). `key` keeps the buttons of several tables on one page apart. Every file is `shared`: any web
    instance serves it.
    """
    percent = tuple(percent)
    cols = st.columns([1, 1, 1, 5])
    buttons = (
        ("CSV", f"{stem}.csv", CSV_MIME, audited(lambda: to_csv(data()), recorder("csv"))),
        ("Parameters", sidecar_name(f"{stem}.csv"), JSON_MIME, lambda: params_json(params)),
        ("XLSX", f"{stem}.xlsx", XLSX_MIME, audited(lambda: to_xlsx(data(), params, percent), recorder("xlsx"))),
    )
    for column, (label, file_name, mime, build) in zip(cols, buttons, strict=False):
        column.download_button(
            label,
            shared(build, file_name, mime),
            file_name=file_name,
            mime=mime,
            icon=":material/download:",
            key=f"{key}_{label.lower()}",
            on_click="ignore",  # a rerun would re-register the files under new ids while another button is clicked
        )
    if note:
        cols[-1].caption(SIDECAR_NOTE)
