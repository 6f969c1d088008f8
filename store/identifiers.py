"""The one syntax of ticker symbols and FRED series ids, shared by the app's inputs, the store and the providers.

The same patterns back the CHECK constraints on the universe tables (see `sql_check`), so the app's input
check, the database and the provider's request guard accept exactly the same strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Identifier:
    """One kind of identifier: what it is called, its pattern (after upper-casing), its length and alphabet."""

    kind: str
    body: str  # the pattern without anchors, also used by PostgreSQL's `~` operator
    max_length: int
    allowed: str  # how the alphabet reads in a message
    example: str

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(f"^{self.body}$")

    def sql_check(self, column: str) -> str:
        """The CHECK constraint text that accepts exactly what `problem()` accepts."""
        return f"{column} ~ '^{self.body}$' AND char_length({column}) <= {self.max_length}"

    def problem(self, value: object) -> str | None:
        """Why `value` (already normalised) is not an identifier of this kind, or None when it is one."""
        if not isinstance(value, str):
            return f"is a {type(value).__name__}, not text"
        if not value:
            return "is empty"
        if len(value) > self.max_length:
            return f"is {len(value)} characters long (at most {self.max_length})"
        if not self.pattern.fullmatch(value):
            return f"may contain only {self.allowed}"
        return None

    def normalise(self, value: object) -> str:
        """The canonical (stripped, upper-case) form of `value`, or ValueError saying why it is not one."""
        cleaned = value.strip().upper() if isinstance(value, str) else value
        problem = self.problem(cleaned)
        if problem is not None:
            raise ValueError(f"{shown(value)} is not a {self.kind}: it {problem} (e.g. {self.example}).")
        assert isinstance(cleaned, str)
        return cleaned

    def split(self, values: Iterable[object]) -> tuple[list[str], dict[str, str]]:
        """Valid identifiers (normalised, de-duplicated, input order) and the others with their reason.

        A bad item never fails the others: callers fetch the valid ones and report the rest.
        """
        if isinstance(values, str):
            raise ValueError(f"expected a list of {self.kind}s, got the single string {shown(values)}")
        good: list[str] = []
        bad: dict[str, str] = {}
        for value, problem in self._checked(values, good):
            bad[value if isinstance(value, str) else str(value)] = f"not a {self.kind}: {shown(value)} {problem}"
        return good, bad

    def validate(self, values: Iterable[object]) -> list[str]:
        """All of `values` normalised, or ValueError naming every value that is not an identifier of this kind."""
        if isinstance(values, str):
            raise ValueError(f"expected a list of {self.kind}s, got the single string {shown(values)}")
        good: list[str] = []
        problems = [f"{shown(value)} {problem}" for value, problem in self._checked(values, good)]
        if problems:
            raise ValueError(f"invalid {self.kind}(s): " + "; ".join(problems))
        return good

    def _checked(self, values: Iterable[object], good: list[str]) -> list[tuple[object, str]]:
        """Append the valid values (normalised, once each) to `good`; return (value, problem) for the others."""
        bad = []
        for value in values:
            cleaned = value.strip().upper() if isinstance(value, str) else value
            problem = self.problem(cleaned)
            if problem is not None:
                bad.append((value, problem))
            elif cleaned not in good:
                good.append(cleaned)  # type: ignore[arg-type]
        return bad


def shown(value: object, limit: int = 40) -> str:
    """A value as it may appear in a message: repr'd and shortened."""
    text = value if isinstance(value, str) else str(value)
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# Yahoo/Alpha Vantage tickers: AAPL, BRK-B, BRK.B, ^GSPC, EURUSD=X, GC=F.
SYMBOL = Identifier(
    kind="symbol",
    body=r"\^?[A-Z0-9][A-Z0-9.=-]*",
    max_length=15,
    allowed="letters, digits, '.', '-', '=' and a leading '^'",
    example="AAPL, BRK.B or ^GSPC",
)
# FRED ids: DGS10, BAMLH0A0HYM2, T10Y2Y, CPIAUCSL ... letters, digits and underscores.
SERIES_ID = Identifier(
    kind="FRED series id",
    body=r"[A-Z0-9][A-Z0-9_]*",
    max_length=30,
    allowed="letters, digits and '_'",
    example="DGS30 or CPILFESL",
)


def normalise_symbol(value: object) -> str:
    return SYMBOL.normalise(value)


def normalise_series_id(value: object) -> str:
    return SERIES_ID.normalise(value)
