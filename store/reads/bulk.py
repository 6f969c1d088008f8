"""Large reads through COPY ... TO STDOUT, parsed by Arrow: several times faster than fetching a million rows."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

# Arrow types of the columns a bulk read returns: a date becomes datetime64[s] (what pandas makes of a date).
DATE = pa.timestamp("s")
TEXT = pa.string()
FLOAT = pa.float64()
INTEGER = pa.int64()

# Symbols per COPY in a wide read (`copy_wide`). The S&P 500 over seven years in one COPY held about 100 MiB at
# once (its CSV text, Arrow's table, the long frame) for a 7 MiB result, 0.33 s; 32 symbols at a time hold about
# 25 MiB, 0.36 s. From about 50 symbols (a tenth of the table) PostgreSQL scans the whole table for each chunk.
CHUNK = 32


def copy_frame(conn: sa.Connection, query: sa.Select, types: dict[str, pa.DataType]) -> pd.DataFrame:
    """The rows of `query` (its columns named and typed by `types`, in order) as a DataFrame; NULL -> NaN/NaT/None.

    The query is rendered with its values inlined (COPY takes no parameters): only for queries whose values
    were checked first (symbols by the identifier rule, dates by type).
    """
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    buffer = io.BytesIO()
    raw: Any = conn.connection.dbapi_connection  # psycopg2's connection: COPY needs its cursor
    with raw.cursor() as cursor:
        cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", buffer)
    columns = list(types)
    if buffer.tell() == 0:
        return pa.table({c: pa.array([], type=t) for c, t in types.items()}).to_pandas()
    buffer.seek(0)
    table = pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=columns),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            true_values=["t"],  # PostgreSQL's text form of a boolean
            false_values=["f"],
        ),
    )
    return table.to_pandas()


def wide(long: pd.DataFrame, values: str, symbols: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Dates x symbols (ascending, float64) from a long frame with date, symbol and `values` (one row per date and
    symbol); NaN where absent.

    `symbols` fixes the columns (in that order; a symbol without rows is a column of NaN). What
    `long.pivot(index="date", columns="symbol", values=values)` gives, built by placing each value at its (date,
    symbol) codes in one float64 matrix: a pivot's intermediate index and copies took about 100 MiB for the S&P 500
    over seven years (a million rows), where this needs the matrix and two integer codes per row.
    """
    date_codes, dates = pd.factorize(long["date"], sort=True)
    symbol_codes, names = pd.factorize(long["symbol"], sort=True)
    matrix = np.full((len(dates), len(names)), np.nan)
    matrix[date_codes, symbol_codes] = long[values].to_numpy(dtype="float64", na_value=np.nan)
    frame = pd.DataFrame(
        matrix,
        index=pd.DatetimeIndex(dates, name="date"),
        columns=pd.Index(names, name="symbol"),
        copy=False,
    )
    if symbols is not None:
        frame = frame.reindex(columns=pd.Index(list(symbols), name="symbol"))
    return frame


def copy_wide(
    conn: sa.Connection,
    select: Callable[[list[str]], sa.Select],
    symbols: Sequence[str],
    types: dict[str, pa.DataType],
    values: Sequence[str],
    *,
    every_symbol: bool = False,
) -> dict[str, pd.DataFrame]:
    """Dates x symbols for each column of `values`, read through COPY (`copy_frame`) CHUNK symbols at a
    time: `select(some_symbols)` is the query (date, symbol and the values, typed by `types`) for those
    symbols. The same frames as `wide` of one read of all the rows, holding a chunk's rows at once, not every row.

    Columns sorted by symbol, only those with rows; `every_symbol`: every symbol of `symbols`, in that order, NaN
    where it has none. {} when no symbol has a row.
    """
    parts: dict[str, list[pd.DataFrame]] = {value: [] for value in values}
    for first in range(0, len(symbols), CHUNK):
        some = list(symbols[first : first + CHUNK])
        long = copy_frame(conn, select(some), types)
        if long.empty and not every_symbol:
            continue
        for value in values:
            parts[value].append(wide(long, value, tuple(some) if every_symbol else None))
        del long  # before the next chunk's rows arrive
    if not any(len(frame) for frames in parts.values() for frame in frames):
        return {}
    out = {}
    for value, frames in parts.items():
        frame = pd.concat(frames, axis=1).sort_index() if len(frames) > 1 else frames[0]
        out[value] = frame if every_symbol else frame.sort_index(axis=1)
    return out
