"""Chart-line formulas over stored macro series (`DGS10 - DGS2`, `CPIAUCSL / CPIAUCSL[-12] - 1`), parsed safely.

The grammar is tiny and parsed by hand (recursive descent, never `eval`):

    formula := sum
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := "-" unary | primary
    primary := NUMBER | SERIES lag? | "(" sum ")"
    lag     := "[" "-" INTEGER "]" | "[" "0" "]"

NUMBER is `12`, `1.5` or `.5`; SERIES is a stored series id (letters, digits, `_`; case-insensitive, shown upper
case). `X[-k]` is X's value k stored observations earlier (a missing value still counts as an observation, so a
gap never shifts the lag). Series are combined by date: a date missing in any series used is missing in the
result, never a zero. Division by zero gives a missing value. Every problem raises FormulaError with a message
that names it and, for syntax, the position (1-based) where it was found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analytics import macro

__all__ = [
    "MAX_LAG",
    "MAX_LENGTH",
    "Binary",
    "chart_formula",
    "Formula",
    "FormulaError",
    "Negate",
    "Number",
    "SeriesRef",
    "common_units",
    "evaluate",
    "parse",
    "series_ids",
]

MAX_LENGTH = 200
# Nesting deeper than this is no formula anyone types; the limit keeps the recursion far from Python's own.
MAX_DEPTH = 40
MAX_LAG = 10_000

_TOKEN = re.compile(
    r"(?P<number>\d+\.\d*|\.\d+|\d+(?![A-Za-z0-9_]))|(?P<name>[A-Za-z0-9_]+)|(?P<op>[-+*/()\[\]])", re.ASCII
)


class FormulaError(ValueError):
    """A formula that cannot be charted; the message says why (and where, for a syntax error)."""


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class SeriesRef:
    series_id: str
    lag: int = 0  # observations back (0 = the value itself)
    position: int = 1  # where it was written (1-based), for messages


@dataclass(frozen=True)
class Negate:
    operand: Formula


@dataclass(frozen=True)
class Binary:
    op: str
    left: Formula
    right: Formula


Formula = Number | SeriesRef | Negate | Binary


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", "op", "end"
    text: str
    position: int  # 1-based


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            out.append(_Token("end", "", at + 1))
            return out
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise FormulaError(f"syntax error at position {at + 1}: unexpected character {text[at]!r}")
        kind = match.lastgroup or "op"
        out.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        at = match.end()


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def take(self, text: str) -> bool:
        if self.token.kind == "op" and self.token.text == text:
            self.at += 1
            return True
        return False

    def fail(self, expected: str) -> FormulaError:
        token = self.token
        found = "the end of the formula" if token.kind == "end" else repr(token.text)
        return FormulaError(f"syntax error at position {token.position}: expected {expected}, found {found}")

    def formula(self) -> Formula:
        node = self.sum()
        if self.token.kind != "end":
            raise self.fail("an operator (+ - * /)")
        return node

    def sum(self) -> Formula:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(f"syntax error at position {self.token.position}: nested more than {MAX_DEPTH} deep")
        node = self.product()
        while self.token.kind == "op" and self.token.text in "+-":
            op = self.token.text
            self.at += 1
            node = Binary(op, node, self.product())
        self.depth -= 1
        return node

    def product(self) -> Formula:
        node = self.unary()
        while self.token.kind == "op" and self.token.text in "*/":
            op = self.token.text
            self.at += 1
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Formula:
        minuses = 0
        while self.take("-"):
            minuses += 1
            if minuses > MAX_DEPTH:
                raise FormulaError(f"syntax error at position {self.token.position}: too many minus signs")
        node = self.primary()
        return Negate(node) if minuses % 2 else node

    def primary(self) -> Formula:
        token = self.token
        if token.kind == "number":
            self.at += 1
            return Number(float(token.text))
        if token.kind == "name":
            self.at += 1
            return SeriesRef(token.text.upper(), self.lag(), token.position)
        if self.take("("):
            node = self.sum()
            if not self.take(")"):
                raise self.fail("')'")
            return node
        raise self.fail("a number, a series id or '('")

    def lag(self) -> int:
        if not self.take("["):
            return 0
        negative = self.take("-")
        token = self.token
        if token.kind != "number" or not token.text.isdigit():  # ASCII digits: the tokenizer is ASCII-only
            raise self.fail("a whole number of observations, as in [-12]")
        steps = int(token.text)
        if steps and not negative:
            raise FormulaError(
                f"syntax error at position {token.position}: a lag looks back, so it is negative, as in [-{steps}]"
            )
        if steps > MAX_LAG:
            raise FormulaError(f"syntax error at position {token.position}: a lag of at most {MAX_LAG} observations")
        self.at += 1
        if not self.take("]"):
            raise self.fail("']'")
        return steps


def parse(text: object) -> Formula:
    """The formula tree of `text`; FormulaError naming the problem (and its position) when it is not a formula."""
    if not isinstance(text, str):
        raise FormulaError("a formula is text, as in DGS10 - DGS2")
    if not text.strip():
        raise FormulaError("the formula is empty; type one, as in DGS10 - DGS2")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"the formula is {len(text)} characters long (at most {MAX_LENGTH})")
    return _Parser(text).formula()


def _walk(node: Formula) -> list[Formula]:
    out: list[Formula] = []
    stack: list[Formula] = [node]
    while stack:
        item = stack.pop()
        out.append(item)
        if isinstance(item, Negate):
            stack.append(item.operand)
        elif isinstance(item, Binary):
            stack.extend((item.right, item.left))
    return out


def series_ids(node: Formula) -> list[str]:
    """The series a formula uses, in the order written, each once."""
    return list(dict.fromkeys(n.series_id for n in _walk(node) if isinstance(n, SeriesRef)))


def common_units(node: Formula, units: Mapping[str, str | None]) -> str | None:
    """The units of the formula's result when they are plain: sums and differences (and their negatives) of
    series that share one unit, plus constants; None otherwise (a ratio or a product has no stated unit)."""
    nodes = _walk(node)
    if any(isinstance(n, Binary) and n.op in "*/" for n in nodes):
        return None
    found = {units.get(n.series_id) for n in nodes if isinstance(n, SeriesRef)}
    return found.pop() if len(found) == 1 and None not in found else None


def evaluate(node: Formula, data: Mapping[str, pd.Series]) -> pd.Series:
    """The formula's values by date from `data` (series id -> stored observations by date, NaN = missing).

    Each series is lagged over its own stored observations first, then series are aligned on the union of
    their dates (a date absent from one of them is missing). Results that are not finite are NaN. A series
    id not in `data` raises FormulaError naming it; a formula of constants only has no dates and raises too.
    """
    unknown = [n for n in _walk(node) if isinstance(n, SeriesRef) and n.series_id not in data]
    if unknown:
        first = unknown[0]
        names = ", ".join(dict.fromkeys(n.series_id for n in unknown))
        raise FormulaError(f"unknown series {names} (at position {first.position}): not a stored series id")
    if not series_ids(node):
        raise FormulaError("the formula uses no series; use at least one stored series id, as in DGS10 - DGS2")
    prepared = {key: _prepared(key, data[key]) for key in series_ids(node)}
    dates = pd.DatetimeIndex([])
    for values in prepared.values():
        dates = dates.union(values.index)
    with np.errstate(all="ignore"):
        values = _value(node, prepared, dates)
    array = np.broadcast_to(np.asarray(values, dtype="float64"), (len(dates),)).copy()
    array[~np.isfinite(array)] = np.nan
    return pd.Series(array, index=dates, dtype="float64")


def _prepared(series_id: str, values: pd.Series) -> pd.Series:
    if not isinstance(values, pd.Series) or not isinstance(values.index, pd.DatetimeIndex):
        raise FormulaError(f"{series_id}: stored values must be a Series by date")
    if values.index.has_duplicates:
        raise FormulaError(f"{series_id} has two values on one date")
    return pd.to_numeric(values, errors="coerce").astype("float64").sort_index()


def _value(node: Formula, data: Mapping[str, pd.Series], dates: pd.DatetimeIndex) -> np.ndarray | float:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, SeriesRef):
        series = data[node.series_id]
        if node.lag:
            series = series.shift(node.lag)
        return series.reindex(dates).to_numpy(dtype="float64")
    if isinstance(node, Negate):
        return -_value(node.operand, data, dates)
    left, right = _value(node.left, data, dates), _value(node.right, data, dates)
    if node.op == "+":
        return np.add(left, right)
    if node.op == "-":
        return np.subtract(left, right)
    if node.op == "*":
        return np.multiply(left, right)
    return np.divide(left, right)


def chart_formula(
    node: Formula,
    data: Mapping[str, pd.Series],
    label: str,
    units: str,
    start: date,
    end: date,
    frequency: str | None = None,
    how: str = "avg",
    stored_frequencies: Mapping[str, str | None] | None = None,
) -> tuple[pd.Series, list[str]]:
    """A formula line ready to plot: evaluated on the stored observations (all of them, so lags reach back), then
    FRED's aggregation and `units` transformation as for one series (analytics.macro.chart_series).

    `stored_frequencies`: each series' frequency as FRED words it; when they agree it is the formula's.
    FormulaError when the series used never have a value on the same date.
    """
    values = evaluate(node, data)
    if values.dropna().empty:
        raise FormulaError(
            f"{label} has no date on which every series it uses has a value (are they of different frequencies?)"
        )
    stated = {(stored_frequencies or {}).get(s) for s in series_ids(node)}
    stored = stated.pop() if len(stated) == 1 else None
    return macro.chart_series(values.rename(label), label, units, start, end, frequency, how, stored)
