"""The one syntax of symbols and FRED ids: the app, the universe tables and the providers accept the same strings."""

from __future__ import annotations

import pytest

from store.identifiers import SERIES_ID, SYMBOL

validate_symbols = SYMBOL.validate
validate_series_ids = SERIES_ID.validate


def test_tickers_are_normalised_and_deduplicated() -> None:
    assert validate_symbols([" aapl", "BRK-B", "BRK.B", "^GSPC", "EURUSD=X", "AAPL"]) == [
        "AAPL",
        "BRK-B",
        "BRK.B",
        "^GSPC",
        "EURUSD=X",
    ]


@pytest.mark.parametrize(
    "bad",
    ["AAPL MSFT", "AAPL'; DROP TABLE daily_bars; --", "A" * 200, "", "   ", "AAPL\nMSFT", "$AAPL", "ABCDEFGHIJKLMNOP"],
)
def test_non_tickers_are_rejected_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid symbol"):
        validate_symbols(["AAPL", bad])


def test_every_bad_value_is_named_and_long_ones_shortened() -> None:
    with pytest.raises(ValueError) as caught:
        validate_symbols(["A B", "X" * 200])
    message = str(caught.value)
    assert "'A B' may contain only" in message and "is 200 characters long" in message and len(message) < 300


def test_a_bare_string_is_refused() -> None:
    with pytest.raises(ValueError, match="single string"):
        validate_symbols("AAPL")


def test_series_ids() -> None:
    assert validate_series_ids(["dgs10", "BAMLH0A0HYM2", "T10Y2Y"]) == ["DGS10", "BAMLH0A0HYM2", "T10Y2Y"]
    with pytest.raises(ValueError, match="invalid FRED series id"):
        validate_series_ids(["DGS-10"])
