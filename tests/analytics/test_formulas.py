"""Tests for analytics.formulas: the grammar, hand-computed values on the bundled FRED files, and fuzzing."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import formulas, macro
from analytics.formulas import Binary, FormulaError, Negate, Number, SeriesRef

ROOT = Path(__file__).resolve().parents[2]
MACRO = ROOT / "data" / "sample" / "macro"


def raw(name: str) -> dict[date, float | None]:
    """A bundled FRED csv read with the csv module: {date: value or None}, in file order."""
    with open(MACRO / f"{name}.csv", newline="") as fh:
        return {
            date.fromisoformat(row["date"]): (float(row["value"]) if row["value"] not in ("", ".") else None)
            for row in csv.DictReader(fh)
        }


def load(name: str) -> pd.Series:
    frame = pd.read_csv(MACRO / f"{name}.csv", parse_dates=["date"], index_col="date")
    return frame["value"].astype("float64").rename(name)


DATA = {name: load(name) for name in ("DGS10", "DGS2", "CPIAUCSL", "UNRATE")}


def value_on(series: pd.Series, day: str) -> float:
    return float(series.loc[pd.Timestamp(day)])


# -- the grammar -----------------------------------------------------------------------------------------------


def test_precedence_associativity_unary_minus_and_lags():
    assert formulas.parse("1 - 2 - 3") == Binary("-", Binary("-", Number(1), Number(2)), Number(3))
    assert formulas.parse("1 + 2 * 3") == Binary("+", Number(1), Binary("*", Number(2), Number(3)))
    assert formulas.parse("(1 + 2) * 3") == Binary("*", Binary("+", Number(1), Number(2)), Number(3))
    assert formulas.parse("-dgs10") == Negate(SeriesRef("DGS10", 0, 2))
    assert formulas.parse("--DGS10") == SeriesRef("DGS10", 0, 3)
    assert formulas.parse("CPIAUCSL[-12]") == SeriesRef("CPIAUCSL", 12, 1)
    assert formulas.parse("X[ - 3 ]") == SeriesRef("X", 3, 1)
    assert formulas.parse("X[0]") == SeriesRef("X", 0, 1)
    assert formulas.parse(".5 * 2.") == Binary("*", Number(0.5), Number(2.0))
    assert formulas.series_ids(formulas.parse("A / A[-1] + b - 10Y2Y")) == ["A", "B", "10Y2Y"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the formula is empty"),
        ("   ", "the formula is empty"),
        ("DGS10 -", "syntax error at position 8: expected a number, a series id or '(', found the end of the formula"),
        ("DGS10 DGS2", "syntax error at position 7: expected an operator (+ - * /), found 'DGS2'"),
        ("(DGS10 - DGS2", "syntax error at position 14: expected ')'"),
        ("DGS10 - DGS2)", "syntax error at position 13"),
        ("DGS10 ^ 2", "syntax error at position 7: unexpected character '^'"),
        ("__import__('os')", 'syntax error at position 12: unexpected character "\'"'),
        ("DGS10[3]", "syntax error at position 7: a lag looks back, so it is negative, as in [-3]"),
        ("DGS10[-1.5]", "syntax error at position 8: expected a whole number of observations"),
        ("DGS10[-2", "syntax error at position 9: expected ']'"),
        ("1 +* 2", "syntax error at position 4"),
        ("(" * 50 + "1" + ")" * 50, "nested more than"),
        ("X" * 201, "at most 200"),
        (None, "a formula is text"),
    ],
)
def test_bad_formulas_name_the_problem(text, message):
    with pytest.raises(FormulaError) as caught:
        formulas.parse(text)
    assert message in str(caught.value)


def test_unknown_series_and_constants_only_are_refused_by_name():
    with pytest.raises(FormulaError, match=r"unknown series NOPE, ZZZ \(at position 9\)"):
        formulas.evaluate(formulas.parse("DGS10 - NOPE + ZZZ * NOPE"), DATA)
    with pytest.raises(FormulaError, match="uses no series"):
        formulas.evaluate(formulas.parse("1 + 2"), DATA)


# -- values against hand computations on the bundled files ----------------------------------------------------


def test_dgs10_minus_dgs2_by_date_with_gaps_missing_not_zero():
    got = formulas.evaluate(formulas.parse("DGS10 - DGS2"), DATA)
    ten, two = raw("DGS10"), raw("DGS2")
    for day in (date(2024, 8, 26), date(2023, 7, 3), date(2019, 8, 28)):
        assert got[pd.Timestamp(day)] == pytest.approx(ten[day] - two[day], abs=1e-12)
    # 2023-07-03 is 10Y 3.86 and 2Y 4.94 in FRED's data: an inversion of -1.08 pp.
    assert got[pd.Timestamp("2023-07-03")] == pytest.approx(-1.08, abs=1e-9)
    # DGS10 starts in 1962, DGS2 in 1976: before that the difference is missing, not DGS10 minus zero.
    only_ten = sorted(set(ten) - set(two))
    assert only_ten and all(np.isnan(got[pd.Timestamp(d)]) for d in only_ten)
    assert set(got.index) == {pd.Timestamp(d) for d in set(ten) | set(two)}
    assert pd.Timestamp("2024-07-04") not in got.index  # a holiday is no observation


def test_cpi_year_on_year_ratio_uses_the_value_twelve_observations_earlier():
    got = formulas.evaluate(formulas.parse("CPIAUCSL / CPIAUCSL[-12] - 1"), DATA)
    cpi = raw("CPIAUCSL")
    months = list(cpi)
    # The missing October 2025 is still an observation: November 2025 compares with November 2024.
    for day in (date(2024, 6, 1), date(2022, 6, 1), date(2025, 11, 1), date(2026, 6, 1)):
        earlier = months[months.index(day) - 12]
        assert earlier == date(day.year - 1, day.month, 1)
        assert got[pd.Timestamp(day)] == pytest.approx(cpi[day] / cpi[earlier] - 1, rel=1e-12)
    # The same as FRED's pc1 / 100 on every month, including around the missing October 2025.
    pc1 = macro.transform_series(DATA["CPIAUCSL"], "pc1", "M") / 100
    np.testing.assert_allclose(got.to_numpy(), pc1.reindex(got.index).to_numpy(), rtol=1e-12, equal_nan=True)
    assert np.isnan(got[pd.Timestamp("2025-10-01")])
    assert got.iloc[:12].isna().all()


def test_arithmetic_division_by_zero_and_unary_minus():
    got = formulas.evaluate(formulas.parse("-(UNRATE - 2 * UNRATE) / (UNRATE - UNRATE)"), DATA)
    assert got.isna().all()  # x / 0 is missing, never infinite
    got = formulas.evaluate(formulas.parse("-UNRATE * 2 + 1"), DATA)
    assert got[pd.Timestamp("2020-04-01")] == pytest.approx(-2 * raw("UNRATE")[date(2020, 4, 1)] + 1)


def test_chart_formula_applies_fred_transforms_and_aggregation_per_line():
    node = formulas.parse("DGS10 - DGS2")
    stored = {"DGS10": "Daily", "DGS2": "Daily"}
    values, notes = formulas.chart_formula(
        node, DATA, "DGS10 - DGS2", "lin", date(2024, 1, 1), date(2024, 12, 31), "M", "eop", stored
    )
    ten, two = raw("DGS10"), raw("DGS2")
    june = [d for d in ten if d.year == 2024 and d.month == 6 and ten[d] is not None and two[d] is not None]
    assert values[pd.Timestamp("2024-06-01")] == pytest.approx(ten[june[-1]] - two[june[-1]])
    assert len(values) == 12 and not notes
    changes, _ = formulas.chart_formula(
        node, DATA, "DGS10 - DGS2", "chg", date(2024, 1, 1), date(2024, 12, 31), "M", "eop", stored
    )
    assert changes[pd.Timestamp("2024-06-01")] == pytest.approx(
        values[pd.Timestamp("2024-06-01")] - values[pd.Timestamp("2024-05-01")]
    )
    with pytest.raises(FormulaError, match="no date on which every series"):
        formulas.chart_formula(
            formulas.parse("DGS10 - UNRATE[-1] * 0 + X"),
            {**DATA, "X": pd.Series([1.0], index=[pd.Timestamp("1900-01-01")])},
            "f",
            "lin",
            date(2024, 1, 1),
            date(2024, 12, 31),
        )


def test_common_units():
    units = {"DGS10": "Percent", "DGS2": "Percent", "CPIAUCSL": "Index 1982-1984=100"}
    assert formulas.common_units(formulas.parse("DGS10 - DGS2 + 1"), units) == "Percent"
    assert formulas.common_units(formulas.parse("-(DGS10 - DGS2[-1])"), units) == "Percent"
    assert formulas.common_units(formulas.parse("DGS10 - CPIAUCSL"), units) is None
    assert formulas.common_units(formulas.parse("CPIAUCSL / CPIAUCSL[-12]"), units) is None
    assert formulas.common_units(formulas.parse("NOPE"), units) is None


# -- fuzzing: whatever is typed, the only error is FormulaError --------------------------------------------------

ALPHABET = st.sampled_from(list("DGS102CPIAUx_ .[]-+*/()9e^%'\"\\\n\t") + ["é", "٣", "²", "\x00", "DGS10", "[-12]"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(ALPHABET, max_size=40).map("".join)))
def test_arbitrary_text_raises_nothing_but_formula_error(text):
    try:
        node = formulas.parse(text)
    except FormulaError as exc:
        assert str(exc)
        return
    try:
        values = formulas.evaluate(node, DATA)
    except FormulaError as exc:
        assert str(exc)
        return
    assert isinstance(values, pd.Series) and not np.isinf(values.to_numpy()).any()
