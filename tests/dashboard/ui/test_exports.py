"""Exports (CSV and XLSX with their parameters), the view state in the URL, and price formatting."""

from __future__ import annotations

import io
from datetime import date
from urllib.parse import parse_qs

import openpyxl
import pandas as pd
import pytest

from analytics import market
from dashboard.ui import exports, formatting, url_state
from tests.support.market_data import yahoo_bars_and_actions


def exported():
    bars, _ = yahoo_bars_and_actions()
    view = url_state.View(("AAPL",), "Custom", date(2020, 9, 1), date(2020, 9, 30), "OHLC", ("SMA20", "MACD"), False)
    frames, _ = market.ticker_frames(bars, ["AAPL"], False, view.start, view.end, view.indicators)
    params = exports.export_parameters(view, view.start, view.end, date(2020, 11, 6), ["yahoo"])
    return exports.export_frame(frames), params, frames


def test_csv_export_reads_back_with_its_parameters():
    data, params, frames = exported()
    back, header = exports.read_csv_export(exports.to_csv(data, params))
    assert header["data_as_of"] == "2020-11-06" and header["tickers"] == "AAPL"
    assert header["start"] == "2020-09-01" and header["end"] == "2020-09-30"
    assert header["prices"] == "unadjusted (as traded)" and header["indicators"] == "SMA20,MACD"
    assert list(back.columns[:7]) == ["date", "symbol", "open", "high", "low", "close", "volume"]
    assert len(back) == len(frames["AAPL"]) == 21  # September 2020 trading days
    assert back["close"].to_numpy() == pytest.approx(frames["AAPL"]["close"].to_numpy(), abs=1e-6)
    assert back["normalised_100"].iloc[0] == pytest.approx(100.0)
    assert back["volume"].dtype.kind == "i" and back["volume"].tolist() == frames["AAPL"]["volume"].tolist()
    assert {"SMA20", "macd", "macd_signal"} <= set(back.columns)


def test_xlsx_export_reads_back_with_a_parameters_sheet():
    data, params, frames = exported()
    book = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx(data, params)))
    assert book.sheetnames == ["data", "parameters"]
    sheet = pd.read_excel(io.BytesIO(exports.to_xlsx(data, params)), sheet_name=None)
    assert dict(zip(sheet["parameters"]["parameter"], sheet["parameters"]["value"], strict=True)) == params
    back = sheet["data"]
    assert len(back) == 21 and back["close"].to_numpy() == pytest.approx(frames["AAPL"]["close"].to_numpy())


def test_view_parameters_encode_what_the_bound_widgets_read():
    view = url_state.View(
        ("AAPL", "MSFT"), "Custom", date(2024, 1, 2), date(2024, 6, 28), "Line", ("SMA50", "RSI"), False
    )
    params = url_state.view_params(view)
    assert params == {
        "t": "AAPL,MSFT",
        "range": "Custom",
        "chart": "Line",
        "dates": ["2024-01-02", "2024-06-28"],
        "ind": ["SMA50", "RSI"],
        "adj": "false",
    }
    assert parse_qs(url_state.query_string(params)[1:]) == {
        k: v if isinstance(v, list) else [v] for k, v in params.items()
    }


def test_price_formatting_lives_in_one_place():
    assert formatting.format_price(1234.5) == "$1,234.50"
    assert formatting.format_price(float("nan")) == "–"
    assert formatting.format_price(10, "CHF") == "10.00 CHF"
    frame = pd.DataFrame(columns=["date", "open", "close", "volume", "SMA20", "bb_upper", "rsi", "chg_1d", "last"])
    assert formatting.price_columns(frame) == ["open", "close", "SMA20", "bb_upper", "last"]
