"""Exports (CSV and XLSX with their parameters), the view state in the URL, and price formatting."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
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


def test_csv_export_is_data_only_with_its_parameters_in_a_sidecar():
    data, params, frames = exported()
    raw = exports.to_csv(data)
    assert raw.splitlines()[0].startswith(b"date,symbol,open,high,low,close,volume")  # no comment lines to skip
    back = pd.read_csv(io.BytesIO(raw))  # what a spreadsheet or pandas does with it, no skiprows
    assert list(back.columns[:7]) == ["date", "symbol", "open", "high", "low", "close", "volume"]
    assert len(back) == len(frames["AAPL"]) == 21  # September 2020 trading days
    assert back["close"].to_numpy() == pytest.approx(frames["AAPL"]["close"].to_numpy(), abs=1e-6)
    assert back["normalised_100"].iloc[0] == pytest.approx(100.0)
    assert back["volume"].dtype.kind == "i" and back["volume"].tolist() == frames["AAPL"]["volume"].tolist()
    assert {"SMA20", "macd", "macd_signal"} <= set(back.columns)

    sidecar = exports.params_json(params)
    assert json.loads(sidecar) == params and exports.sidecar_name("x.csv") == "x.csv.params.json"
    again, header = exports.read_csv_export(raw, sidecar)
    assert again.equals(back)
    assert header["data_as_of"] == "2020-11-06" and header["tickers"] == "AAPL"
    assert header["start"] == "2020-09-01" and header["end"] == "2020-09-30"
    assert header["prices"] == "unadjusted (as traded)" and header["indicators"] == "SMA20,MACD"


def test_xlsx_export_reads_back_with_a_parameters_sheet():
    data, params, frames = exported()
    book = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx(data, params)))
    assert book.sheetnames == ["data", "parameters"]
    sheet = pd.read_excel(io.BytesIO(exports.to_xlsx(data, params)), sheet_name=None)
    assert dict(zip(sheet["parameters"]["parameter"], sheet["parameters"]["value"], strict=True)) == params
    back = sheet["data"]
    assert len(back) == 21 and back["close"].to_numpy() == pytest.approx(frames["AAPL"]["close"].to_numpy())


def test_xlsx_cells_are_typed_the_header_frozen_and_columns_sized():
    frame = pd.DataFrame(
        {
            "date": [date(2026, 6, 24), date(2026, 6, 25)],
            "symbol": ["CAT", "A very long instrument name that needs a wide column"],
            "close": [1057.0123456789, 23.67],
            "volume": [1234567, 2],
            "chg_1d": [0.0123, -0.109],
            "total_return": [27.2831, 0.5],
            "at": pd.to_datetime(["2026-06-25 14:30:00", "2026-06-25 15:00:00"]).tz_localize("UTC"),
        }
    )
    book = openpyxl.load_workbook(
        io.BytesIO(exports.to_xlsx_sheets({"table": frame}, {"k": "v"}, percent=["total_return"]))
    )
    sheet = book["table"]
    assert sheet.freeze_panes == "A2" and book["parameters"].freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header == list(frame.columns)
    formats = {name: sheet.cell(row=2, column=i + 1).number_format for i, name in enumerate(header)}
    assert formats == {
        "date": "yyyy-mm-dd",
        "symbol": "General",
        "close": "#,##0.00",
        "volume": "#,##0",
        "chg_1d": "0.00%",  # a change column by its name
        "total_return": "0.00%",  # named by the caller
        "at": "yyyy-mm-dd hh:mm:ss",
    }
    assert all(sheet.cell(row=3, column=i + 1).number_format == formats[n] for i, n in enumerate(header))
    # The values stay full-precision numbers and real dates: only their display is formatted.
    assert sheet["C2"].value == pytest.approx(1057.0123456789) and isinstance(sheet["A2"].value, datetime)
    assert sheet["E3"].value == pytest.approx(-0.109)
    widths = {name: sheet.column_dimensions[chr(ord("A") + i)].width for i, name in enumerate(header)}
    assert widths["symbol"] >= len(frame["symbol"].iloc[1]) and widths["symbol"] <= exports.MAX_WIDTH
    assert widths["date"] >= len("2026-06-25") and widths["volume"] >= len("1,234,567")
    assert all(w >= exports.MIN_WIDTH for w in widths.values())


def test_view_parameters_encode_what_the_bound_widgets_read():
    view = url_state.View(
        ("AAPL", "MSFT"), "Custom", date(2024, 1, 2), date(2024, 6, 28), "Line", ("SMA50", "RSI"), False
    )
    params = url_state.view_params(view)
    assert params == {
        "tk_t": "AAPL,MSFT",
        "tk_range": "Custom",
        "tk_dates": ["2024-01-02", "2024-06-28"],
        "tk_chart": "Line",
        "tk_ind": ["SMA50", "RSI"],
        "tk_adj": "false",
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
