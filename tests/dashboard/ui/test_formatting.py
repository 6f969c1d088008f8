"""The one formatting module (numbers, percentages, signed colours, currency axes) and the series palette."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.ui import figures, formatting, macro_figures, options_figures, palette


def shown_text(styler) -> list[list[str]]:
    """The cell text a Styler hands Streamlit (what st.dataframe shows when no column format overrides it)."""
    return [[cell["display_value"] for cell in row[1:]] for row in styler._translate(False, False)["body"]]


def css(styler) -> dict[tuple[int, int], str]:
    styler._compute()
    return {cell: "; ".join(f"{k}: {v}" for k, v in props) for cell, props in styler.ctx.items()}


@pytest.mark.parametrize(
    ("value", "digits", "signed", "text"),
    [
        (27.2831, 2, False, "2,728.31%"),  # the issue's 2,728.31%: separators and fixed decimals
        (-0.109, 2, False, "-10.90%"),  # not -10.9%
        (0.34, 2, False, "34.00%"),  # not 34%
        (0.0123, 2, True, "+1.23%"),
        (0.0, 2, True, "+0.00%"),
        (-0.5, 1, True, "-50.0%"),
        (float("nan"), 2, False, "–"),
        (None, 2, False, "–"),
    ],
)
def test_percentages_have_fixed_decimals_and_separators(value, digits, signed, text):
    assert formatting.format_percent(value, digits, signed) == text


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(1057.01, 2, "1,057.01"), (1234567.891, 2, "1,234,567.89"), (-0.005, 2, "-0.01"), (12, 0, "12"), (np.inf, 2, "–")],
)
def test_numbers_have_thousands_separators(value, digits, text):
    assert formatting.format_number(value, digits) == text


def test_tables_get_their_text_and_change_colours_from_one_place():
    frame = pd.DataFrame(
        {
            "symbol": ["CAT", "PFE", None],
            "last": [1057.0123, 23.67, np.nan],
            "chg_1d": [27.2831, -0.109, 0.0],
            "volume": [1234567, 2, 0],
            "other": [0.5, 3.0, np.nan],
            "when": pd.to_datetime(["2026-06-25", "2026-06-24", None]),
        }
    )
    styler = formatting.styled(frame, percent=["chg_1d"], signed=["chg_1d"], numbers=["last"], integers=["volume"])
    assert shown_text(styler) == [
        ["CAT", "1,057.01", "+2,728.31%", "1,234,567", "0.50", "2026-06-25"],
        ["PFE", "23.67", "-10.90%", "2", "3.00", "2026-06-24"],
        ["–", "–", "+0.00%", "0", "–", "–"],
    ]
    # Gains green, losses red, no colour for an unchanged value; no other column is coloured.
    assert css(styler) == {(0, 2): f"color: {formatting.GAIN}", (1, 2): f"color: {formatting.LOSS}"}
    assert styler.data["chg_1d"].tolist() == [27.2831, -0.109, 0.0]  # the values stay numbers (sorting works)


def test_digits_per_column_and_unknown_columns_are_ignored():
    styler = formatting.styled(
        pd.DataFrame({"iv": [0.23456]}), percent=["iv", "absent"], signed=["absent"], digits={"iv": 1}
    )
    assert shown_text(styler) == [["23.5%"]]


@pytest.mark.parametrize(("ccy", "ticks"), [("JPY", {"tickprefix": "¥"}), ("USD", {"tickprefix": "$"}),
                                            ("GBP", {"tickprefix": "£"}), ("CHF", {"ticksuffix": " CHF"})])  # fmt: skip
def test_price_axes_name_the_currency(ccy, ticks):
    frame = pd.DataFrame(
        {"open": [100.0, 101], "high": [102.0, 103], "low": [99.0, 100], "close": [101.0, 102], "volume": [10, 20]},
        index=pd.to_datetime(["2026-06-24", "2026-06-25"]),
    )
    fig = formatting.currency_axis(figures.price_figure(frame, "SPY"), ccy, row=1, col=1)
    price_axis, volume_axis = fig.layout.yaxis, fig.layout.yaxis2
    for key, value in ticks.items():
        assert price_axis[key] == value
    assert price_axis.separatethousands is True
    assert volume_axis.tickprefix is None and volume_axis.ticksuffix is None  # volume is not money


# -- palette -------------------------------------------------------------------------------------------------------


def cielab(colour: str) -> tuple[float, float, float]:
    """sRGB hex -> CIELAB (D65), the textbook formulas (IEC 61966-2-1 and CIE 1976), written out here."""
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def hue_gap(first: str, second: str) -> float | None:
    """Degrees between two colours' CIELAB hue angles; None when either is (near) grey and has no hue."""
    (_, a1, b1), (_, a2, b2) = cielab(first), cielab(second)
    if math.hypot(a1, b1) < 10 or math.hypot(a2, b2) < 10:
        return None
    gap = abs(math.degrees(math.atan2(b1, a1)) - math.degrees(math.atan2(b2, a2))) % 360
    return min(gap, 360 - gap)


def distinct(colours: list[str]) -> bool:
    """Every pair at least 25 CIELAB units apart and, both having a hue, at least 28 degrees of hue apart."""
    for one, two in itertools.combinations(colours, 2):
        gap = hue_gap(one, two)
        if math.dist(cielab(one), cielab(two)) < 25 or (gap is not None and gap < 28):
            return False
    return True


def test_cielab_matches_textbook_values():
    assert cielab("#FFFFFF") == pytest.approx((100.0, 0.0, 0.0), abs=0.01)
    assert cielab("#FF0000") == pytest.approx((53.24, 80.09, 67.20), abs=0.02)  # sRGB red, D65
    assert cielab("#0000FF") == pytest.approx((32.30, 79.19, -107.86), abs=0.02)


def test_the_first_ten_series_colours_are_pairwise_distinct():
    colours = [palette.series_colour(i) for i in range(10)]
    assert len(set(colours)) == 10 and distinct(colours)
    # The check catches what the issue saw: Streamlit's categorical blues (and reds) are one hue apart in lightness.
    assert not distinct(["#0068c9", "#83c9ff"]) and not distinct(["#ff2b2b", "#ffabab"])


def test_series_beyond_ten_get_a_dash_and_colour_and_dash_stay_unique():
    styles = [(palette.series_colour(i), palette.series_dash(i)) for i in range(40)]
    assert {dash for _, dash in styles[:10]} == {"solid"}
    assert all(dash != "solid" for _, dash in styles[10:])
    assert len(set(styles)) == 40
    assert palette.series_line(3, width=2) == {"width": 2, "color": palette.series_colour(3), "dash": "solid"}


def line_colours(fig: go.Figure) -> dict[str, tuple[str, str]]:
    return {t.name: (t.line.color, t.line.dash) for t in fig.data if t.line.color}


def test_every_multi_series_figure_takes_the_palette():
    dates = pd.date_range("2026-01-02", periods=5, freq="B")
    wide = pd.DataFrame({s: np.linspace(100, 110, 5) for s in ["AAPL", "MSFT", "NVDA", "TSLA"]}, index=dates)
    compared = line_colours(figures.compare_figure(wide))
    assert compared["AAPL"][0] != compared["MSFT"][0] and compared["NVDA"][0] != compared["TSLA"][0]
    assert distinct([c for c, _ in compared.values()])
    many = pd.DataFrame({f"S{i}": np.arange(5.0) for i in range(12)}, index=dates)
    drawn = line_colours(figures.lines_figure(many, "Rolling", ""))
    assert drawn["S10"] == (palette.series_colour(0), "dash") and drawn["S0"] == (palette.series_colour(0), "solid")

    series = {"UNRATE": pd.Series([4.0, 4.1], index=dates[:2]), "FEDFUNDS": pd.Series([5.3, 5.3], index=dates[:2])}
    macro = line_colours(macro_figures.series_figure(series, {"UNRATE": "Percent", "FEDFUNDS": "Percent"}))
    assert distinct([macro["UNRATE"][0], macro["FEDFUNDS"][0]])
    curves = line_colours(macro_figures.yield_curve_figure(pd.DataFrame({"2024": [5.0, 4.5], "2025": [4.0, 4.2]})))
    assert curves["2024"][0] != curves["2025"][0]

    rows = pd.DataFrame(
        {
            "expiration": pd.to_datetime(["2026-07-17"] * 2 + ["2026-08-21"] * 2),
            "dte": [22, 22, 57, 57],
            "type": ["C", "P", "C", "P"],
            "strike": [100.0, 100.0, 100.0, 100.0],
            "iv": [0.2, 0.22, 0.21, 0.23],
            "contract": ["a", "b", "c", "d"],
            "volume": [1, 1, 1, 1],
        }
    )
    smile = [(t.line.color, t.line.dash) for t in options_figures.smile_figure(rows, np.nan, "SPY").data]
    assert smile[0][0] == smile[1][0] != smile[2][0]  # one hue per expiry; puts dashed
    assert [dash for _, dash in smile] == ["solid", "dash", "solid", "dash"]
