"""bulk.wide against pandas' own pivot (the oracle), on long frames of every shape the reads produce."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.reads import bulk

SYMBOLS = ["AAPL", "BRK-B", "MSFT", "SPY", "^VIX"]


def pivoted(long: pd.DataFrame, values: str, symbols: tuple[str, ...] | None) -> pd.DataFrame:
    """The pivot wide replaces, as the reads computed it before."""
    frame = long.pivot(index="date", columns="symbol", values=values).sort_index().astype("float64")
    frame.index = pd.DatetimeIndex(frame.index, name="date")
    frame.columns.name = "symbol"
    if symbols is not None:
        frame = frame.reindex(columns=pd.Index(list(symbols), name="symbol"))
    return frame


@st.composite
def long_frames(draw) -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=draw(st.integers(1, 12)), freq="B").astype("datetime64[s]")
    cells = draw(st.sets(st.tuples(st.integers(0, len(days) - 1), st.sampled_from(SYMBOLS)), min_size=1))
    values = st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan")))
    order = draw(st.permutations(sorted(cells)))  # rows in any order, as COPY without ORDER BY returns them
    return pd.DataFrame(
        {
            "date": [days[i] for i, _ in order],
            "symbol": [s for _, s in order],
            "close": [draw(values) for _ in order],
        }
    )


@settings(max_examples=150, deadline=None)
@given(long_frames(), st.one_of(st.none(), st.lists(st.sampled_from([*SYMBOLS, "ZZZZ"]), unique=True)))
def test_wide_is_the_pivot(long, symbols):
    chosen = tuple(symbols) if symbols is not None else None
    pd.testing.assert_frame_equal(bulk.wide(long, "close", chosen), pivoted(long, "close", chosen), check_exact=True)


def test_wide_on_arrow_backed_columns_as_copy_frame_returns_them():
    import pyarrow as pa

    table = pa.table(
        {
            "date": pa.array(np.array(["2024-01-03", "2024-01-02", "2024-01-02"], dtype="datetime64[s]"), bulk.DATE),
            "symbol": pa.array(["MSFT", "MSFT", "AAPL"], bulk.TEXT),
            "adj_close": pa.array([2.0, None, 1.0], bulk.FLOAT),
        }
    )
    long = table.to_pandas()
    got = bulk.wide(long, "adj_close")
    pd.testing.assert_frame_equal(got, pivoted(long, "adj_close", None), check_exact=True)
    assert np.isnan(got.loc["2024-01-03", "AAPL"])  # no row: NaN
    assert np.isnan(got.loc["2024-01-02", "MSFT"]) and got.loc["2024-01-02", "AAPL"] == pytest.approx(1.0)
