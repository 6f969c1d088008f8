"""The alert rule language (parse, validate, canonical text) and its evaluation over a pandas Series, pure."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from analytics.macro import UNITS, transform_series

__all__ = [
    "KINDS",
    "MARKET_TZ",
    "MAX_WINDOW",
    "NEW_HIGH_WINDOW",
    "Condition",
    "Hit",
    "RuleError",
    "SeriesWork",
    "context_start",
    "examples",
    "hits",
    "hits_many",
    "parse",
    "stale_hit",
]

KINDS: tuple[str, ...] = ("price", "macro", "data")
MAX_WINDOW = 2520  # ten years of sessions
NEW_HIGH_WINDOW = 252  # "52-week" in sessions, as the market counts a trading year
MARKET_TZ = "America/New_York"  # where a tz-aware price label's session date is read
_ECHO_LIMIT = 80  # what the user typed is echoed back, cut so a pasted essay does not become the message

_EXAMPLES: dict[str, tuple[str, ...]] = {
    "price": (
        "close above 100",
        "close below 100",
        "up 5% over 10",
        "down 5% over 10",
        "moves 5% over 10",
        "crosses above sma 50",
        "crosses below sma 50",
        "new 52-week high",
        "new 52-week low",
    ),
    "macro": ("above 4", "below 4", "pc1 above 3", "chg below 0", "inverts", "uninverts"),
    "data": ("older than 3 days", "job failed", "circuit opened"),
}


class RuleError(ValueError):
    """A condition the rule language refuses; the message is the reason shown to the user (plain text)."""


@dataclass(frozen=True)
class Condition:
    """A parsed rule condition; `text` is canonical, so parse(kind, c.text) == c."""

    kind: str  # "price" | "macro" | "data"
    op: str
    level: float | None  # price level, percent (5 for 5%), macro level, age in days
    window: int | None  # N sessions (moves), SMA length, 252 for 52-week
    units: str | None  # macro only: a FRED units code of analytics.macro.UNITS
    text: str


@dataclass(frozen=True)
class Hit:
    """One observation on which a condition held."""

    at: pd.Timestamp  # the index label of the observation that fired
    value: float  # the value compared (close, % move, transformed macro value, spread, age in days)
    threshold: float  # the level it was compared with (for SMA rules: the SMA value)
    detail: str  # one human line, numbers formatted, no symbol


def examples(kind: str) -> tuple[str, ...]:
    """Example conditions of a kind, for help texts and placeholders (each one parses)."""
    return _EXAMPLES[_check_kind(kind)]


# --------------------------------------------------------------------------- parsing

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?", re.ASCII)
_GROUPED = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)  # 1,000.5
_INTEGER = re.compile(r"\+?\d+", re.ASCII)


def _check_kind(kind: object) -> str:
    if kind not in KINDS:
        raise RuleError(f"unknown rule kind {_echo(str(kind))}: expected price, macro or data")
    return str(kind)


def _echo(text: str) -> str:
    """The user's text, quoted and cut, for a message (plain text: the caller escapes it)."""
    text = " ".join(text.split())
    if len(text) > _ECHO_LIMIT:
        text = text[: _ECHO_LIMIT - 1] + "…"
    return f"'{text}'"


def _normalise(when: str) -> str:
    """Lower case, one space between words, '%' and parentheses as words of their own."""
    text = when.lower().replace("%", " % ").replace("(", " ").replace(")", " ")
    return " ".join(text.split())


def _number(token: str, what: str) -> float:
    """A finite float from the user's token ('100', '4.5', '-0.25', '1,000', '$100', '1e3'), or RuleError."""
    cleaned = token.lstrip("$")
    if _GROUPED.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    if not _NUMBER.fullmatch(cleaned):
        raise RuleError(f"{what} {_echo(token)} is not a number")
    value = float(cleaned)
    if not math.isfinite(value):
        raise RuleError(f"{what} must be a finite number, got {_echo(token)}")
    return value + 0.0  # -0.0 -> 0.0, so "-0" and "0" give the same condition


def _window(token: str, what: str, minimum: int = 1) -> int:
    """An integer number of sessions in [minimum, MAX_WINDOW], or RuleError."""
    if not _INTEGER.fullmatch(token):
        if _NUMBER.fullmatch(token):
            raise RuleError(f"{what} must be a whole number, got {_echo(token)}")
        raise RuleError(f"{what} {_echo(token)} is not a number")
    value = int(token)
    if not minimum <= value <= MAX_WINDOW:
        raise RuleError(f"{what} must be between {minimum} and {MAX_WINDOW}, got {value}")
    return value


def _num_text(value: float) -> str:
    """The shortest text that reads back as exactly `value` ('100', '4.5', '1e+16')."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _units(token: str | None) -> str:
    code = (token or "lin").lower()
    if code not in UNITS:
        valid = ", ".join(f"{k} ({v})" for k, v in UNITS.items())
        raise RuleError(f"unknown units {_echo(token or '')}: valid units are {valid}")
    return code


def _price(op: str, level: float | None, window: int | None, text: str) -> Condition:
    return Condition("price", op, level, window, None, text)


def _parse_price(text: str) -> Condition | None:
    if m := re.fullmatch(r"(?:close|closes|price) (?:crosses )?(above|below) (\S+)", text):
        side, level = m[1], _number(m[2], "the price level")
        return _price(f"cross-{side}", level, None, f"close {side} {_num_text(level)}")
    if m := re.fullmatch(r"(up|down|moves?) (\S+) (?:%|percent|pct) (?:over|in) (\S+)(?: sessions?)?", text):
        word = {"up": "up", "down": "down"}.get(m[1], "moves")
        pct = _number(m[2], "the percentage")
        if pct <= 0:
            raise RuleError(f"the percentage must be greater than 0, got {_num_text(pct)}")
        n = _window(m[3], "the number of sessions")
        op = {"up": "up", "down": "down", "moves": "move"}[word]
        return _price(op, pct, n, f"{word} {_num_text(pct)}% over {n}")
    sma = re.fullmatch(r"crosses (above|below) (?:the |its )?(?:sma ?(\S+)|(\S+?)[- ](?:day|session) sma)", text)
    if sma:
        n = _window(sma[2] or sma[3], "the SMA length", minimum=2)
        return _price(f"cross-{sma[1]}-sma", None, n, f"crosses {sma[1]} sma {n}")
    if m := re.fullmatch(r"new 52[- ]?week (high|low)", text):
        return _price(f"new-{m[1]}", None, NEW_HIGH_WINDOW, f"new 52-week {m[1]}")
    return None


def _parse_macro(text: str) -> Condition | None:
    if m := re.fullmatch(r"(?:(?!crosses\b)(\w+) )?(?:crosses )?(above|below) (\S+)", text):
        units = _units(m[1])
        level = _number(m[3], "the level")
        prefix = "" if units == "lin" else f"{units} "
        return Condition("macro", f"cross-{m[2]}", level, None, units, f"{prefix}{m[2]} {_num_text(level)}")
    if text in ("inverts", "uninverts", "un-inverts"):
        op = "inverts" if text == "inverts" else "uninverts"
        return Condition("macro", op, 0.0, None, "lin", op)
    return None


def _parse_data(text: str) -> Condition | None:
    if m := re.fullmatch(r"older than (\S+?) ?(?:days?|d)", text):
        age = _number(m[1], "the age limit")
        if age <= 0:
            raise RuleError(f"the age limit must be greater than 0 days, got {_num_text(age)}")
        return Condition("data", "older-than", age, None, None, f"older than {_num_text(age)} days")
    if text in ("job failed", "job fails", "a job failed", "ingestion job failed"):
        return Condition("data", "job-failed", None, None, None, "job failed")
    if text in ("circuit opened", "circuit opens", "a circuit opened", "circuit open"):
        return Condition("data", "circuit-opened", None, None, None, "circuit opened")
    return None


_PARSERS = {"price": _parse_price, "macro": _parse_macro, "data": _parse_data}


def parse(kind: str, when: str) -> Condition:
    """Parse a `kind` ("price", "macro", "data") condition such as "close above 100"; RuleError with the reason.

    Case and spacing are free; the result's `text` is canonical and parses back to the same Condition.
    """
    kind = _check_kind(kind)
    expected = ", ".join(f"'{e}'" for e in _EXAMPLES[kind])
    if not isinstance(when, str) or not when.strip():
        raise RuleError(f"the condition is empty: expected e.g. {expected}")
    condition = _PARSERS[kind](_normalise(when))
    if condition is None:
        raise RuleError(f"unknown {kind} condition {_echo(when)}: expected e.g. {expected}")
    return condition


# --------------------------------------------------------------------------- evaluation


def _fmt(value: float) -> str:
    """Two decimals with thousands separators; small magnitudes keep four significant digits."""
    if value == 0 or abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"


def _valid(series: pd.Series) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The labels and float values of the observations with a value; the index must be ascending and unique."""
    if not isinstance(series, pd.Series) or not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError("series must be a pandas Series with a DatetimeIndex")
    if not (series.index.is_monotonic_increasing and series.index.is_unique):
        raise ValueError("series must have an ascending index without duplicates")
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    ok = np.isfinite(values)
    if ok.all():  # the usual case: no copy of the index
        return series.index, values
    return series.index[ok], values[ok]


def _after_mask(index: pd.DatetimeIndex, after: pd.Timestamp | datetime | date | None) -> np.ndarray:
    """Observations strictly after `after` (all when None); a naive `after` is read in the index's time zone."""
    if after is None:
        return np.ones(len(index), dtype=bool)
    cutoff = pd.Timestamp(after)
    if index.tz is not None and cutoff.tz is None:
        cutoff = cutoff.tz_localize(index.tz)
    elif index.tz is None and cutoff.tz is not None:
        cutoff = cutoff.tz_convert(index.tz).tz_localize(None)
    return np.asarray(index > cutoff)


class _Sessions:
    """Valid observations grouped into sessions: the label's date, in New York when the labels are tz-aware.

    Daily closes are one observation per session (stamped with their date, or tz-aware at the close, 16:00
    New York); the intraday quotes appended for today share one session, whose close is its last observation.
    "N sessions earlier", the SMA and the 52-week window count sessions, so a quote at 10:05 is compared with
    yesterday's close, not with the 10:00 quote.
    """

    def __init__(self, index: pd.DatetimeIndex, values: np.ndarray) -> None:
        self.values = values
        # The US market's session date; a UTC date would put a 20:30 New York quote on the next day.
        local = index.tz_convert(MARKET_TZ).tz_localize(None) if index.tz is not None else index
        days = local.to_numpy().astype("datetime64[D]")
        # Labels ascend, so their dates do too: a new session starts wherever the date changes.
        changes = np.cumsum(days[1:] != days[:-1])
        self.session = np.concatenate([[0], changes]).astype(np.int64) if len(days) else np.empty(0, np.int64)
        count = int(self.session.max()) + 1 if len(self.session) else 0
        last = np.full(count, -1, dtype=np.int64)
        last[self.session] = np.arange(len(self.session))  # later positions overwrite earlier ones
        self.closes = self.values[last] if count else np.empty(0)
        self._memo: dict[tuple, np.ndarray] = {}  # (what, n[, high]) -> the array: shared by the rules alike

    def earlier_close(self, n: int) -> np.ndarray:
        """Per observation, the close `n` sessions before its session (NaN when there is no such session)."""
        key = ("earlier", n)
        if key not in self._memo:
            self._memo[key] = self._earlier_close(n)
        return self._memo[key]

    def _earlier_close(self, n: int) -> np.ndarray:
        target = self.session - n
        out = np.full(len(self.values), np.nan)
        ok = target >= 0
        out[ok] = self.closes[target[ok]]
        return out

    def sma(self, n: int) -> np.ndarray:
        """Per observation, the mean of itself and the closes of the n-1 sessions before its own (NaN if fewer)."""
        key = ("sma", n)
        if key not in self._memo:
            self._memo[key] = self._sma(n)
        return self._memo[key]

    def _sma(self, n: int) -> np.ndarray:
        out = np.full(len(self.values), np.nan)
        if n > 1 and len(self.closes) >= n - 1:
            window_sums = np.lib.stride_tricks.sliding_window_view(self.closes, n - 1).sum(axis=1)
            start = self.session - (n - 1)  # first of the n-1 earlier sessions
            ok = start >= 0
            out[ok] = (window_sums[start[ok]] + self.values[ok]) / n
        elif n == 1:
            out[:] = self.values
        return out

    def previous_extreme(self, n: int, high: bool) -> np.ndarray:
        """Per observation, the max (min) of the closes of the n sessions before its own and of the earlier
        observations of its own session; NaN when fewer than n earlier sessions exist."""
        key = ("extreme", n, high)
        if key not in self._memo:
            self._memo[key] = self._previous_extreme(n, high)
        return self._memo[key]

    def _previous_extreme(self, n: int, high: bool) -> np.ndarray:
        out = np.full(len(self.values), np.nan)
        if len(self.closes) > n:
            windows = np.lib.stride_tricks.sliding_window_view(self.closes, n)  # row j: sessions j .. j+n-1
            extremes = windows.max(axis=1) if high else windows.min(axis=1)
            ok = self.session >= n
            out[ok] = extremes[self.session[ok] - n]
        if len(self.closes) < len(self.values):  # intraday quotes: the day's earlier quotes count too
            pick = np.fmax if high else np.fmin
            running = np.nan
            for i in range(len(self.values)):
                if i and self.session[i] == self.session[i - 1]:
                    out[i] = pick(out[i], running) if not np.isnan(out[i]) else np.nan
                    running = pick(running, self.values[i])
                else:
                    running = self.values[i]
        return out


def _previous(values: np.ndarray) -> np.ndarray:
    return np.concatenate([[np.nan], values[:-1]])


def _crossings(values: np.ndarray, levels: np.ndarray, op: str) -> np.ndarray:
    """Where the value crossed its level since the previous observation; equal to the level is not across."""
    prev, prev_level = _previous(values), _previous(levels)
    with np.errstate(invalid="ignore"):
        if op == "above":
            return (prev <= prev_level) & (values > levels)
        return (prev >= prev_level) & (values < levels)


class SeriesWork:
    """One series' work shared by every condition evaluated on it: its valid observations, their sessions (whose
    SMAs, N-sessions-back closes and 52-week extremes are kept per window), each units transform, and the
    positions after each watermark. Thousands of rules on one symbol then cost little more than their distinct
    windows. Pass the same object to `hits` / `hits_many` for every condition on `series`."""

    def __init__(self, series: pd.Series) -> None:
        self.series = series
        self._valid: dict[str, tuple[pd.DatetimeIndex, np.ndarray]] = {}
        self._sessions: _Sessions | None = None
        self._after: dict[tuple[int, object], np.ndarray] = {}

    def valid(self, units: str = "lin") -> tuple[pd.DatetimeIndex, np.ndarray]:
        """The valid observations, raw ("lin") or transformed by date on the raw ones (a gap stays a gap)."""
        if units not in self._valid:
            raw = self.valid() if units != "lin" else None  # the index checks, on the raw series first
            self._valid[units] = (
                _valid(transform_series(self.series, units)) if raw is not None else _valid(self.series)
            )
        return self._valid[units]

    def sessions(self) -> _Sessions:
        if self._sessions is None:
            self._sessions = _Sessions(*self.valid())
        return self._sessions

    def after(self, index: pd.DatetimeIndex, after: pd.Timestamp | datetime | date | None) -> np.ndarray:
        """The positions in `index` (one of this object's) strictly after `after`, ascending."""
        key = (id(index), after)
        if key not in self._after:
            self._after[key] = np.flatnonzero(_after_mask(index, after))
        return self._after[key]


LEVEL_OPS = frozenset({"cross-above", "cross-below", "up", "down", "move"})  # rules that differ only by level


@dataclass(frozen=True)
class _Prepared:
    """What a level rule compares, computed once per series (and shared by every level: hits_many)."""

    index: pd.DatetimeIndex
    values: np.ndarray  # the close, or the transformed macro value
    base: np.ndarray | None = None  # moves: the close N sessions earlier
    pct: np.ndarray | None = None  # moves: the % change from it
    label: str = ""  # macro: " (pc1)" for a transformed series


def _prepare(cond: Condition, work: SeriesWork) -> _Prepared:
    if cond.kind == "macro":
        units = cond.units or "lin"
        index, values = work.valid(units)
        return _Prepared(index, values, label="" if units == "lin" else f" ({units})")
    index, values = work.valid()
    if cond.op in ("up", "down", "move"):
        base = work.sessions().earlier_close(cond.window or 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(base > 0, (values / base - 1.0) * 100.0, np.nan)
        return _Prepared(index, values, base, pct)
    return _Prepared(index, values)


def _level_hits(
    conds: list[Condition], p: _Prepared, positions: np.ndarray
) -> list[list[tuple[int, float, float, str]]]:
    """The hits of level rules of one shape (same op and window, any level) among `positions` (indices into
    p.values, ascending), per rule: every level is compared with every position in one array operation, and only
    the hits are formatted."""
    first = conds[0]
    levels = np.array([float(c.level or 0.0) for c in conds])[:, None]
    if first.op in ("cross-above", "cross-below"):
        side = first.op.removeprefix("cross-")
        positions = positions[positions > 0]
        prev, cur = p.values[positions - 1], p.values[positions]
        with np.errstate(invalid="ignore"):
            held = (prev <= levels) & (cur > levels) if side == "above" else (prev >= levels) & (cur < levels)
    else:
        assert p.pct is not None and p.base is not None
        pct = p.pct[positions]
        with np.errstate(invalid="ignore"):
            held = {"up": pct >= levels, "down": pct <= -levels, "move": np.abs(pct) >= levels}[first.op]
        held &= np.isfinite(pct)
    out: list[list[tuple[int, float, float, str]]] = [[] for _ in conds]
    for row in np.flatnonzero(held.any(axis=1)) if positions.size else ():
        out[row] = [_level_hit(first, float(levels[row, 0]), p, int(i)) for i in positions[held[row]]]
    return out


def _level_hit(cond: Condition, level: float, p: _Prepared, i: int) -> tuple[int, float, float, str]:
    """A level rule's hit at position i: (position, value, threshold, detail)."""
    if cond.op in ("cross-above", "cross-below"):
        value, what = float(p.values[i]), "close " if cond.kind == "price" else ""
        side = cond.op.removeprefix("cross-")
        return i, value, level, f"{what}{_fmt(value)}{p.label} crossed {side} {_fmt(level)}"
    assert p.pct is not None and p.base is not None
    window = cond.window or 0
    sessions_text = f"{window} session{'s' if window > 1 else ''}"
    change = float(p.pct[i])
    word = "up" if change >= 0 else "down"
    detail = (
        f"{word} {_fmt(abs(change))}% over {sessions_text} ({_fmt(float(p.base[i]))} to {_fmt(float(p.values[i]))}),"
        f" limit {_fmt(level)}%"
    )
    return i, change, level if word == "up" else -level, detail


def _price_hits(cond: Condition, work: SeriesWork, positions: np.ndarray) -> list[tuple[int, float, float, str]]:
    """The hits of a windowed price rule (SMA crossing, 52-week high or low) among `positions` (ascending)."""
    op, window = cond.op, cond.window or 0
    _, values = work.valid()
    found: list[tuple[int, float, float, str]] = []
    if op in ("cross-above-sma", "cross-below-sma"):
        side = op.split("-")[1]
        sma = work.sessions().sma(window)
        crossed = _crossings(values, sma, side)
        for i in positions[crossed[positions]]:
            detail = f"close {_fmt(values[i])} crossed {side} its {window}-session SMA {_fmt(sma[i])}"
            found.append((int(i), values[i], sma[i], detail))
    elif op in ("new-high", "new-low"):
        high = op == "new-high"
        extreme = work.sessions().previous_extreme(window, high)
        with np.errstate(invalid="ignore"):
            held = values[positions] > extreme[positions] if high else values[positions] < extreme[positions]
        word = "high" if high else "low"
        for i in positions[held]:
            detail = f"close {_fmt(values[i])} is a new 52-week {word} (previous {word} {_fmt(extreme[i])})"
            found.append((int(i), values[i], extreme[i], detail))
    else:
        raise ValueError(f"unknown price operation {op!r}")
    return found


def _macro_hits(cond: Condition, work: SeriesWork, positions: np.ndarray) -> list[tuple[int, float, float, str]]:
    # The transform runs on the raw observations by date, so a missing month stays missing (never a zero,
    # never a shift); only then are the gaps dropped and each value compared with the previous valid one.
    _, values = work.valid(cond.units or "lin")
    found: list[tuple[int, float, float, str]] = []
    if cond.op in ("inverts", "uninverts"):
        # An inversion is a spread below zero (a zero spread is not inverted, as in spread_inversions), so
        # "uninverts" is the end of such a run: a spread back at or above zero after a negative one.
        inverted = values < 0
        prev = _previous(inverted.astype(float))
        fired = (prev == 0) & inverted if cond.op == "inverts" else (prev == 1) & ~inverted
        for i in positions[fired[positions]]:
            text = "inverted (below 0)" if cond.op == "inverts" else "un-inverted (back at or above 0)"
            found.append((int(i), values[i], 0.0, f"spread {_fmt(values[i])} {text}"))
    else:
        raise ValueError(f"unknown macro operation {cond.op!r}")
    return found


def hits(
    cond: Condition, series: pd.Series, after: pd.Timestamp | None = None, work: SeriesWork | None = None
) -> list[Hit]:
    """Every observation labelled strictly after `after` (all when None) on which `cond` holds, oldest first.

    `series`: float values on an ascending unique DatetimeIndex (daily dates, or tz-aware timestamps when
    today's intraday quotes follow the daily closes); NaN observations are skipped, so a crossing compares
    with the previous valid observation. Earlier observations are context (previous value, SMA, 52-week
    window, N sessions back); an observation without enough history gives no hit. Macro conditions get
    the raw stored observations and apply their units transform here (read from `context_start`).
    Price and macro conditions only: data conditions are evaluated with `stale_hit` or on job events.
    `work`: a SeriesWork of `series` shared with other conditions on it (a new one when None).
    """
    if isinstance(series, pd.Series) and series.empty:
        return []  # nothing stored yet, whatever its index
    if cond.kind not in ("price", "macro"):
        raise ValueError(f"{cond.kind} conditions are not evaluated on a series")
    work = work if work is not None else SeriesWork(series)
    if cond.op in LEVEL_OPS:
        prepared = _prepare(cond, work)
        return _as_hits(prepared.index, _level_hits([cond], prepared, work.after(prepared.index, after))[0])
    index, _ = work.valid(cond.units or "lin" if cond.kind == "macro" else "lin")
    positions = work.after(index, after)
    found = _price_hits(cond, work, positions) if cond.kind == "price" else _macro_hits(cond, work, positions)
    return _as_hits(index, found)


def _as_hits(index: pd.DatetimeIndex, found: list[tuple[int, float, float, str]]) -> list[Hit]:
    return [
        Hit(at=index[i], value=float(value), threshold=float(threshold), detail=detail)
        for i, value, threshold, detail in found
    ]


def hits_many(
    conds: list[Condition], series: pd.Series, after: pd.Timestamp | None = None, work: SeriesWork | None = None
) -> list[list[Hit]]:
    """`[hits(c, series, after) for c in conds]` for conditions that differ only in their level (same kind, op,
    window and units): the series' work (validation, transform, moves) is done once and each level is checked on
    the observations after `after` only, so thousands of rules on one symbol cost little more than one."""
    if not conds:
        return []
    shape = {(c.kind, c.op, c.window, c.units) for c in conds}
    if len(shape) > 1:
        raise ValueError("hits_many takes conditions that differ only in their level")
    first = conds[0]
    work = work if work is not None else SeriesWork(series)
    if (isinstance(series, pd.Series) and series.empty) or first.op not in LEVEL_OPS:
        once: dict[Condition, list[Hit]] = {}  # identical conditions (an SMA, a 52-week high): evaluated once
        return [once[c] if c in once else once.setdefault(c, hits(c, series, after, work)) for c in conds]
    prepared = _prepare(first, work)
    tail = work.after(prepared.index, after)
    return [_as_hits(prepared.index, found) for found in _level_hits(conds, prepared, tail)]


def _sessions_back(n: int) -> timedelta:
    """Calendar days that surely hold `n` sessions (about 1.45 days a session, holidays included) and a margin."""
    return timedelta(days=math.ceil(n * 1.5) + 10)


def context_start(cond: Condition, after: date) -> date:
    """The first date the caller must read so that `hits(cond, series, after)` has its context.

    Price: the previous observation (a crossing), N sessions back (moves), N sessions for an SMA and the one
    before it, 252 sessions for the 52-week window. Macro: a level crossing needs the previous observation
    (400 days covers an annual series); a change transform needs one period, a year-ago one a year, before
    that previous observation (two years and a month covers annual series and one missing observation).
    """
    if cond.kind == "price":
        if cond.op in ("cross-above", "cross-below"):
            return after - _sessions_back(1)
        window = cond.window or 1
        extra = 1 if cond.op in ("cross-above-sma", "cross-below-sma") else 0
        return after - _sessions_back(window + extra)
    if cond.kind == "macro":
        if (cond.units or "lin") in ("lin", "log"):
            return after - timedelta(days=400)
        return after - timedelta(days=800)
    return after


def stale_hit(cond: Condition, last_observed: datetime | None, now: datetime) -> Hit | None:
    """For "older than N days": a Hit (value = age in days, threshold = N) when the data is older than N days.

    `last_observed` None means nothing was ever stored: that is a hit, with an infinite age. An age equal to
    the limit is not older. `last_observed` and `now` must both be time-zone aware (or both naive).
    """
    if cond.op != "older-than" or cond.level is None:
        raise ValueError(f"stale_hit evaluates 'older than' conditions, not {cond.text!r}")
    limit = float(cond.level)
    at = pd.Timestamp(now)
    if last_observed is None:
        return Hit(at=at, value=math.inf, threshold=limit, detail=f"nothing stored yet (limit {_num_text(limit)} days)")
    age = (now - last_observed).total_seconds() / 86400.0
    if age <= limit:
        return None
    detail = f"last observation {_fmt(age)} days old, older than the {_num_text(limit)}-day limit"
    return Hit(at=at, value=age, threshold=limit, detail=detail)
