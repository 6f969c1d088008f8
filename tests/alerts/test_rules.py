"""Tests for alerts.rules: the rule language round-trips, and every evaluation against an independent oracle."""

from __future__ import annotations

import csv
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts import rules
from alerts.rules import (
    Condition,
    Hit,
    RuleError,
    SeriesWork,
    context_start,
    hits,
    hits_many,
    parse,
    stale_hit,
)
from analytics.macro import UNITS

ROOT = Path(__file__).resolve().parents[2]
MACRO = ROOT / "data" / "sample" / "macro"
PRICES = ROOT / "data" / "sample" / "prices"


# --------------------------------------------------------------------------- independent helpers


def closes(ticker: str) -> pd.Series:
    """A bundled symbol's daily closes, as the evaluation task would pass them."""
    frame = pd.read_csv(PRICES / f"{ticker}.csv", parse_dates=["Date"], index_col="Date")
    return frame["Close"].astype("float64")


def close_rows(ticker: str) -> list[tuple[date, float]]:
    """The same closes read with the csv module: [(date, close)] in file order."""
    with open(PRICES / f"{ticker}.csv", newline="") as fh:
        return [(date.fromisoformat(r["Date"]), float(r["Close"])) for r in csv.DictReader(fh)]


def fred(name: str) -> dict[date, float | None]:
    """A bundled FRED csv with the csv module: {date: value or None (missing)}."""
    with open(MACRO / f"{name}.csv", newline="") as fh:
        return {
            date.fromisoformat(r["date"]): (float(r["value"]) if r["value"] not in ("", ".") else None)
            for r in csv.DictReader(fh)
        }


def fred_series(name: str) -> pd.Series:
    frame = pd.read_csv(MACRO / f"{name}.csv", parse_dates=["date"], index_col="date")
    return frame["value"].astype("float64")


def dates_of(found: list[Hit]) -> list[date]:
    return [h.at.date() for h in found]


def loop_crossings(pairs: list[tuple[date, float, float]], side: str) -> list[date]:
    """(date, value, level) in order; NaN values skipped; a cross is strict on the new side."""
    out, prev = [], None
    for day, value, level in pairs:
        if math.isnan(value):
            continue
        if prev is not None and not math.isnan(prev[0]) and not math.isnan(prev[1]) and not math.isnan(level):
            before, before_level = prev
            if side == "above" and before <= before_level and value > level:
                out.append(day)
            if side == "below" and before >= before_level and value < level:
                out.append(day)
        prev = (value, level)
    return out


# --------------------------------------------------------------------------- parsing


ROUND_TRIPS = [
    ("price", "close above 100", ("cross-above", 100.0, None, None)),
    ("price", "close below 100", ("cross-below", 100.0, None, None)),
    ("price", "up 5% over 10", ("up", 5.0, 10, None)),
    ("price", "down 5% over 10", ("down", 5.0, 10, None)),
    ("price", "moves 5% over 10", ("move", 5.0, 10, None)),
    ("price", "crosses above sma 50", ("cross-above-sma", None, 50, None)),
    ("price", "crosses below sma 50", ("cross-below-sma", None, 50, None)),
    ("price", "new 52-week high", ("new-high", None, 252, None)),
    ("price", "new 52-week low", ("new-low", None, 252, None)),
    ("macro", "above 4", ("cross-above", 4.0, None, "lin")),
    ("macro", "below 4", ("cross-below", 4.0, None, "lin")),
    ("macro", "pc1 above 3", ("cross-above", 3.0, None, "pc1")),
    ("macro", "chg below 0", ("cross-below", 0.0, None, "chg")),
    ("macro", "inverts", ("inverts", 0.0, None, "lin")),
    ("macro", "uninverts", ("uninverts", 0.0, None, "lin")),
    ("data", "older than 3 days", ("older-than", 3.0, None, None)),
    ("data", "older than 0.5 days", ("older-than", 0.5, None, None)),
    ("data", "job failed", ("job-failed", None, None, None)),
    ("data", "circuit opened", ("circuit-opened", None, None, None)),
]


@pytest.mark.parametrize(("kind", "when", "expected"), ROUND_TRIPS, ids=[w for _, w, _ in ROUND_TRIPS])
def test_every_example_parses_and_round_trips(kind, when, expected):
    c = parse(kind, when)
    assert (c.op, c.level, c.window, c.units) == expected
    assert c.kind == kind and c.text == when
    assert parse(kind, c.text) == c


@pytest.mark.parametrize("kind", rules.KINDS)
def test_the_published_examples_all_parse(kind):
    for example in rules.examples(kind):
        assert parse(kind, example).text == example


@pytest.mark.parametrize(
    ("kind", "typed", "canonical"),
    [
        ("price", "  CLOSE   Above  100.0 ", "close above 100"),
        ("price", "close above $1,250.50", "close above 1250.5"),
        ("price", "Up 5 % over 10 sessions", "up 5% over 10"),
        ("price", "move 2.5 percent over 1", "moves 2.5% over 1"),
        ("price", "crosses above SMA(50)", "crosses above sma 50"),
        ("price", "crosses below the 200-day sma", "crosses below sma 200"),
        ("price", "New 52 week HIGH", "new 52-week high"),
        ("macro", "PC1 crosses above 3.0", "pc1 above 3"),
        ("macro", "lin below -0.5", "below -0.5"),
        ("macro", "crosses below 4", "below 4"),
        ("macro", "Un-Inverts", "uninverts"),
        ("data", "older than 2 day", "older than 2 days"),
        ("data", "Job  Failed", "job failed"),
    ],
)
def test_parse_tolerates_case_spacing_and_common_spellings(kind, typed, canonical):
    c = parse(kind, typed)
    assert c.text == canonical
    assert parse(kind, canonical) == c


@given(
    level=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    pct=st.floats(min_value=1e-6, max_value=1e4, allow_nan=False, allow_infinity=False),
    n=st.integers(min_value=2, max_value=rules.MAX_WINDOW),
    units=st.sampled_from(sorted(UNITS)),
)
@settings(max_examples=200, deadline=None)
def test_canonical_text_round_trips_for_any_level_and_window(level, pct, n, units):
    for kind, when in (
        ("price", f"close above {level!r}"),
        ("price", f"down {pct!r}% over {n}"),
        ("price", f"crosses below sma {n}"),
        ("macro", f"{units} below {level!r}"),
        ("data", f"older than {pct!r} days"),
    ):
        c = parse(kind, when)
        assert parse(kind, c.text) == c
        assert c.level in (None, level, pct)


BAD = [
    ("price", "close abve 100", "unknown price condition 'close abve 100': expected e.g. 'close above 100'"),
    ("price", "", "the condition is empty"),
    ("price", "   ", "the condition is empty"),
    ("price", "close above abc", "the price level 'abc' is not a number"),
    ("price", "close above inf", "the price level 'inf' is not a number"),
    ("price", "close above 1e999", "the price level must be a finite number"),
    ("price", "close above \u0661\u0660\u0660", "is not a number"),  # Arabic-Indic digits: ASCII only
    ("price", "up 0% over 10", "the percentage must be greater than 0"),
    ("price", "down -5% over 10", "the percentage must be greater than 0"),
    ("price", "up 5% over 0", "the number of sessions must be between 1 and 2520, got 0"),
    ("price", "up 5% over 2521", "the number of sessions must be between 1 and 2520"),
    ("price", "up 5% over 2.5", "the number of sessions must be a whole number, got '2.5'"),
    ("price", "up 5 over 10", "unknown price condition"),
    ("price", "crosses above sma 1", "the SMA length must be between 2 and 2520, got 1"),
    ("price", "crosses above sma 5000", "the SMA length must be between 2 and 2520"),
    ("price", "new 13-week high", "unknown price condition"),
    ("price", "inverts", "unknown price condition"),
    ("macro", "xyz above 3", "unknown units 'xyz': valid units are lin (Levels), chg (Change)"),
    ("macro", "pc1 above nan", "the level 'nan' is not a number"),
    ("macro", "close above 100", "unknown units 'close'"),
    ("macro", "up 5% over 10", "unknown macro condition"),
    ("data", "older than 0 days", "the age limit must be greater than 0 days, got 0"),
    ("data", "older than -1 days", "the age limit must be greater than 0 days"),
    ("data", "older than soon days", "the age limit 'soon' is not a number"),
    ("data", "older than 3 weeks", "unknown data condition"),
    ("stock", "close above 100", "unknown rule kind 'stock': expected price, macro or data"),
]


@pytest.mark.parametrize(("kind", "when", "reason"), BAD, ids=[f"{k}:{w}" for k, w, _ in BAD])
def test_bad_conditions_are_refused_with_a_reason(kind, when, reason):
    with pytest.raises(RuleError) as caught:
        parse(kind, when)
    assert reason in str(caught.value)


def test_a_long_input_is_echoed_cut_and_as_typed_text():
    typed = "close abve " + "9" * 500 + " <b>"
    with pytest.raises(RuleError) as caught:
        parse("price", typed)
    message = str(caught.value)
    assert "close abve 999" in message and "<b>" not in message and len(message) < 400


def test_rule_error_is_a_value_error():
    assert issubclass(RuleError, ValueError)


# --------------------------------------------------------------------------- crossing semantics


def series(values: list[float], start: str = "2026-01-05") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), dtype="float64")


def test_equal_to_the_level_is_not_a_cross_and_a_cross_needs_the_other_side_first():
    s = series([99, 100, 100, 101, 101, 100, 99, 100, 101])
    above = hits(parse("price", "close above 100"), s)
    below = hits(parse("price", "close below 100"), s)
    # 100 -> 101 crosses (prev <= level); 99 -> 100 does not; staying above does not fire again.
    assert dates_of(above) == [s.index[3].date(), s.index[8].date()]
    assert dates_of(below) == [s.index[6].date()]
    assert above[0].value == 101.0 and above[0].threshold == 100.0
    assert above[0].detail == "close 101.00 crossed above 100.00"


def test_nan_is_skipped_and_compared_with_the_previous_valid_observation():
    s = series([99, np.nan, np.nan, 101, np.nan, 102, 98])
    assert dates_of(hits(parse("price", "close above 100"), s)) == [s.index[3].date()]
    assert dates_of(hits(parse("price", "close below 100"), s)) == [s.index[6].date()]
    # A NaN is never a zero: "below 100" does not fire on the gap, nor does the gap count as crossing.
    s2 = series([101, np.nan, 101])
    assert hits(parse("price", "close below 100"), s2) == []
    assert hits(parse("price", "close above 100"), s2) == []


def test_after_excludes_older_observations_but_keeps_them_as_context():
    s = series([99, 101, 99, 101])
    c = parse("price", "close above 100")
    assert dates_of(hits(c, s, after=s.index[1])) == [s.index[3].date()]
    # The crossing on index 3 needs index 2 as its previous value: it is context, not a hit.
    assert dates_of(hits(c, s, after=s.index[2])) == [s.index[3].date()]
    assert hits(c, s, after=s.index[3]) == []


def test_not_enough_history_is_no_hit_not_an_error():
    s = series([100.0, 120.0, 130.0])
    assert hits(parse("price", "up 5% over 10"), s) == []
    assert hits(parse("price", "crosses above sma 50"), s) == []
    assert hits(parse("price", "new 52-week high"), s) == []
    assert hits(parse("price", "close above 1"), series([])) == []
    assert hits(parse("macro", "pc1 above 1"), pd.Series(dtype="float64")) == []
    empty_utc = pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz="UTC"))
    assert hits(parse("price", "new 52-week low"), empty_utc, after=pd.Timestamp("2026-01-01")) == []
    assert hits(parse("price", "up 1% over 1"), series([np.nan, np.nan])) == []
    assert hits(parse("macro", "pc1 above 1"), series([np.nan, 1.0])) == []


def test_bad_series_are_programming_errors():
    c = parse("price", "close above 100")
    with pytest.raises(ValueError, match="ascending"):
        hits(c, pd.Series([1.0, 2.0], index=pd.to_datetime(["2026-01-02", "2026-01-01"])))
    with pytest.raises(ValueError, match="DatetimeIndex"):
        hits(c, pd.Series([1.0, 2.0]))
    with pytest.raises(ValueError, match="not evaluated on a series"):
        hits(parse("data", "job failed"), series([1.0]))


GRID = st.lists(st.one_of(st.sampled_from([98.0, 99.0, 100.0, 101.0, 102.0]), st.just(math.nan)), max_size=40)


@given(values=GRID, side=st.sampled_from(["above", "below"]), level=st.sampled_from([99.0, 100.0, 101.0]))
@settings(max_examples=300, deadline=None)
def test_level_crossings_match_a_loop(values, side, level):
    s = series(values)
    c = parse("price", f"close {side} {level}")
    expected = loop_crossings([(d.date(), v, level) for d, v in s.items()], side)
    assert dates_of(hits(c, s)) == expected


CONDITIONS = [
    ("price", "close above 100"),
    ("price", "close below 100"),
    ("price", "up 2% over 1"),
    ("price", "down 2% over 3"),
    ("price", "moves 3% over 2"),
    ("price", "crosses above sma 3"),
    ("price", "crosses below sma 4"),
    ("macro", "above 100"),
    ("macro", "pch below 0"),
    ("macro", "inverts"),
    ("macro", "uninverts"),
]


@given(
    values=st.lists(
        st.one_of(st.floats(min_value=-5, max_value=5, allow_nan=False), st.just(math.nan)), min_size=1, max_size=60
    ),
    which=st.sampled_from(CONDITIONS),
    cut=st.integers(min_value=0, max_value=70),
    shift=st.sampled_from([pd.Timedelta(0), pd.Timedelta(hours=12)]),
)
@settings(max_examples=300, deadline=None)
def test_after_filters_exactly_the_hits_of_the_whole_series(values, which, cut, shift):
    kind, when = which
    s = series([100.0 + v for v in values]) if not when.endswith("inverts") else series(values)
    c = parse(kind, when)
    after = (s.index[min(cut, len(s) - 1)] + shift) if cut < len(s) else s.index[0] - pd.Timedelta(days=1)
    assert hits(c, s, after) == [h for h in hits(c, s) if h.at > after]


# --------------------------------------------------------------------------- price rules on real closes


def test_percent_moves_on_aapl_match_hand_computed_values():
    s = closes("AAPL")
    # 2019-01-03, the revenue warning: 33.737003326416016 / 37.469200134277344 - 1 = -9.9607 %.
    found = hits(parse("price", "down 9% over 1"), s, after=pd.Timestamp("2019-01-02"))
    assert found[0].at == pd.Timestamp("2019-01-03")
    assert found[0].value == pytest.approx((33.737003326416016 / 37.469200134277344 - 1) * 100, abs=1e-9)
    assert found[0].value == pytest.approx(-9.9607, abs=1e-4)
    assert found[0].threshold == -9.0
    assert found[0].detail == "down 9.96% over 1 session (37.47 to 33.74), limit 9.00%"
    # Over 10 sessions: 2019-01-16 vs ten rows earlier (2019-01-02), both read from the file.
    rows = close_rows("AAPL")
    i = next(k for k, (d, _) in enumerate(rows) if d == date(2019, 1, 16))
    expected = (rows[i][1] / rows[i - 10][1] - 1) * 100
    assert rows[i - 10][0] == date(2019, 1, 2)
    got = {h.at.date(): h.value for h in hits(parse("price", "moves 0.000001% over 10"), s)}
    assert got[date(2019, 1, 16)] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("when", ["up 10% over 1", "down 7% over 5", "moves 20% over 21", "up 50% over 252"])
def test_percent_moves_on_aapl_match_a_positional_loop(when):
    rows = close_rows("AAPL")
    c = parse("price", when)
    n, limit = c.window or 0, c.level or 0.0
    expected = []
    for i in range(n, len(rows)):
        pct = (rows[i][1] / rows[i - n][1] - 1) * 100
        if (
            (c.op == "up" and pct >= limit)
            or (c.op == "down" and pct <= -limit)
            or (c.op == "move" and abs(pct) >= limit)
        ):
            expected.append((rows[i][0], pct))
    found = hits(c, closes("AAPL"))
    assert expected, "the oracle found nothing: pick another threshold"
    assert [(h.at.date(), round(h.value, 9)) for h in found] == [(d, round(p, 9)) for d, p in expected]


def test_a_move_of_exactly_the_limit_holds():
    # (150 / 100 - 1) * 100 is exactly 50.0 in floating point: "up 50%" means at least 50 %.
    s = series([100.0, 150.0, 75.0])
    assert [h.value for h in hits(parse("price", "up 50% over 1"), s)] == [50.0]
    assert [h.value for h in hits(parse("price", "down 50% over 1"), s)] == [-50.0]
    assert [h.value for h in hits(parse("price", "moves 50% over 1"), s)] == [50.0, -50.0]
    assert [h.threshold for h in hits(parse("price", "moves 50% over 1"), s)] == [50.0, -50.0]


def test_known_big_aapl_days_fire_up_10_percent_over_1():
    fired = dates_of(hits(parse("price", "up 10% over 1"), closes("AAPL")))
    assert date(2020, 3, 13) in fired and date(2025, 4, 9) in fired


@pytest.mark.parametrize(("ticker", "n"), [("AAPL", 50), ("SPY", 200), ("TLT", 20), ("NVDA", 2)])
@pytest.mark.parametrize("side", ["above", "below"])
def test_sma_crossings_match_a_plain_loop(ticker, n, side):
    rows = close_rows(ticker)
    pairs = []
    for i, (d, v) in enumerate(rows):
        sma = math.fsum(x for _, x in rows[i - n + 1 : i + 1]) / n if i >= n - 1 else math.nan
        pairs.append((d, v, sma))
    expected = loop_crossings(pairs, side)
    found = hits(parse("price", f"crosses {side} sma {n}"), closes(ticker))
    assert expected and dates_of(found) == expected
    smas = {d: sma for d, _, sma in pairs}
    for h in found:
        assert h.threshold == pytest.approx(smas[h.at.date()], rel=1e-12)
        assert h.value == pytest.approx(dict((d, v) for d, v, _ in pairs)[h.at.date()])


def test_sma_matches_numpy_convolution():
    s = closes("MSFT")
    n = 50
    sma = np.convolve(s.to_numpy(), np.ones(n) / n, mode="valid")  # sma[k] ends at row k + n - 1
    above = np.flatnonzero((s.to_numpy()[n:] > sma[1:]) & (s.to_numpy()[n - 1 : -1] <= sma[:-1])) + n
    assert dates_of(hits(parse("price", "crosses above sma 50"), s)) == [d.date() for d in s.index[above]]


@pytest.mark.parametrize("ticker", ["AAPL", "PFE", "NVDA", "BA"])
@pytest.mark.parametrize("word", ["high", "low"])
def test_new_52_week_extremes_match_a_brute_force_loop(ticker, word):
    rows = close_rows(ticker)
    expected = []
    for i in range(252, len(rows)):
        previous = [v for _, v in rows[i - 252 : i]]
        if (word == "high" and rows[i][1] > max(previous)) or (word == "low" and rows[i][1] < min(previous)):
            expected.append((rows[i][0], rows[i][1], max(previous) if word == "high" else min(previous)))
    found = hits(parse("price", f"new 52-week {word}"), closes(ticker))
    assert expected, "the oracle found nothing"
    assert [(h.at.date(), h.value, h.threshold) for h in found] == expected


def test_a_close_equal_to_the_52_week_high_is_not_a_new_high():
    s = series([100.0] + [90.0] * 251 + [100.0, 100.5])
    found = hits(parse("price", "new 52-week high"), s)
    assert dates_of(found) == [s.index[-1].date()]
    assert found[0].threshold == 100.0


# --------------------------------------------------------------------------- intraday quotes after the closes


def at_close(days: list[str]) -> pd.DatetimeIndex:
    """Bar dates stamped at their session's close, 16:00 New York, in UTC (as the evaluation task does)."""
    return (pd.DatetimeIndex(days) + pd.Timedelta(hours=16)).tz_localize("America/New_York").tz_convert("UTC")


def with_quotes() -> pd.Series:
    """Three daily closes followed by today's quotes (UTC; the last one is 20:30 New York, after hours)."""
    daily = pd.Series([100.0, 110.0, 100.0], index=at_close(["2026-11-24", "2026-11-25", "2026-11-27"]))
    quotes = pd.Series(
        [104.0, 106.0, 108.0, 101.0],
        index=pd.DatetimeIndex(
            ["2026-11-30 14:35", "2026-11-30 15:00", "2026-11-30 15:30", "2026-12-01 01:30"], tz="UTC"
        ),
    )
    return pd.concat([daily, quotes])


def test_quotes_compare_with_earlier_sessions_not_with_earlier_quotes():
    s = with_quotes()
    # Over 1 session: every quote of the 30th is compared with the close of the 27th (100), not the prior quote.
    up = hits(parse("price", "up 5% over 1"), s, after=s.index[2])
    assert [(h.at.strftime("%H:%M"), round(h.value, 6)) for h in up] == [("15:00", 6.0), ("15:30", 8.0)]
    # Over 2 sessions: the 25th (110); the 01:30 UTC quote is 20:30 on the 30th in New York, the same session.
    down = hits(parse("price", "down 5% over 2"), s, after=s.index[2])
    assert [round(h.value, 6) for h in down] == [round((104 / 110 - 1) * 100, 6), round((101 / 110 - 1) * 100, 6)]


def test_quotes_sma_uses_the_quote_and_the_previous_closes():
    s = with_quotes()
    found = hits(parse("price", "crosses above sma 3"), s, after=s.index[2])
    # SMA at the 14:35 quote = (110 + 100 + 104) / 3 = 104.67 > 104; at 15:00 (110 + 100 + 106) / 3 = 105.33 < 106.
    assert [h.at.strftime("%H:%M") for h in found] == ["15:00"]
    assert found[0].threshold == pytest.approx((110 + 100 + 106) / 3)


def test_quotes_new_high_is_above_the_window_and_the_earlier_quotes_of_the_day():
    days = pd.bdate_range("2025-12-01", periods=253)
    daily = pd.Series(np.linspace(90.0, 100.0, 252), index=at_close([str(d.date()) for d in days[:-1]]))
    day = pd.Timestamp(days[-1]).tz_localize("UTC")
    quotes = pd.Series([101.0, 100.5, 102.0, 102.0], index=day + pd.to_timedelta([14.6, 15, 15.5, 16], unit="h"))
    found = hits(parse("price", "new 52-week high"), pd.concat([daily, quotes]), after=daily.index[-1])
    # 101 beats the 252 closes; 100.5 does not beat the 101 quote; 102 does; an equal 102 does not.
    assert [(h.value, h.threshold) for h in found] == [(101.0, 100.0), (102.0, 101.0)]


def test_a_naive_after_is_read_in_the_series_time_zone():
    s = with_quotes()
    assert hits(parse("price", "up 5% over 1"), s, after=pd.Timestamp("2026-11-30 15:00")) == hits(
        parse("price", "up 5% over 1"), s, after=pd.Timestamp("2026-11-30 15:00", tz="UTC")
    )


# --------------------------------------------------------------------------- macro rules


def cpi_pc1_oracle() -> dict[date, float]:
    """FRED's pc1 by date: (x_t / x_{same month a year earlier} - 1) * 100, only where both exist."""
    raw = fred("CPIAUCSL")
    out = {}
    for d, v in raw.items():
        prior = raw.get(d.replace(year=d.year - 1))
        if v is not None and prior is not None:
            out[d] = (v / prior - 1) * 100
    return out


@pytest.mark.parametrize("drop_missing_row", [False, True], ids=["nan-row", "no-row"])
def test_cpi_pc1_fires_on_the_right_month_across_the_october_2025_gap(drop_missing_row):
    cpi = fred_series("CPIAUCSL")
    if drop_missing_row:
        cpi = cpi.dropna()  # stored without the missing month: a by-position shift would now be wrong
    oracle = cpi_pc1_oracle()
    assert date(2025, 10, 1) not in oracle

    below = hits(parse("macro", "pc1 below 2.8"), cpi, after=pd.Timestamp("2025-06-01"))
    # Sep 2025 3.02 % -> (Oct missing) -> Nov 2025 2.70 %: the crossing is on November, compared with September.
    assert dates_of(below)[0] == date(2025, 11, 1)
    assert below[0].value == pytest.approx(oracle[date(2025, 11, 1)], abs=1e-9)
    assert below[0].value == pytest.approx((325.063 / 316.528 - 1) * 100, abs=1e-9)
    assert below[0].detail == "2.70 (pc1) crossed below 2.80"

    above = hits(parse("macro", "pc1 above 3"), cpi, after=pd.Timestamp("2025-01-01"))
    assert dates_of(above) == [date(2025, 9, 1), date(2026, 3, 1)]
    # The missing month is neither a hit nor a crossing point: nothing is dated October 2025 for any level.
    for level in (2.5, 2.7, 2.9, 3.0, 3.1):
        for side in ("above", "below"):
            found = hits(parse("macro", f"pc1 {side} {level}"), cpi, after=pd.Timestamp("2024-12-01"))
            assert date(2025, 10, 1) not in dates_of(found)
            pairs = [(d, v, level) for d, v in sorted(oracle.items()) if d > date(2023, 12, 1)]
            assert dates_of(found) == [d for d in loop_crossings(pairs, side) if d > date(2024, 12, 1)]


def test_a_by_position_shift_would_have_fired_differently():
    # Documents why the transform goes by date: without the October row, shifting 12 rows compares Nov 2025
    # with Oct 2024 (2.99 %), which does not cross below 2.8; the by-date pc1 (2.70 %) does.
    cpi = fred_series("CPIAUCSL").dropna()
    naive = (cpi / cpi.shift(12) - 1) * 100
    assert naive[pd.Timestamp("2025-11-01")] == pytest.approx((325.063 / 315.631 - 1) * 100)
    assert naive[pd.Timestamp("2025-11-01")] > 2.8
    assert dates_of(hits(parse("macro", "pc1 below 2.8"), cpi, after=pd.Timestamp("2025-10-01")))[0] == date(
        2025, 11, 1
    )


def test_a_change_across_the_gap_is_missing_not_a_jump():
    cpi = fred_series("CPIAUCSL")
    found = hits(parse("macro", "chg above 0.5"), cpi, after=pd.Timestamp("2025-06-01"))
    # Nov 2025 has no one-month change (October is missing), so it cannot fire; 325.063 - 324.245 is not used.
    assert date(2025, 11, 1) not in dates_of(found)
    for h in found:
        prev = h.at - pd.DateOffset(months=1)
        assert h.value == pytest.approx(cpi[h.at] - cpi[prev], abs=1e-9)


def ten_two_spread() -> pd.Series:
    ten, two = fred_series("DGS10"), fred_series("DGS2")
    return (ten - two).dropna()  # both legs on the same date only


def sign_change_scan() -> tuple[list[date], list[date]]:
    """Brute force over the csv files: dates the 10Y-2Y spread turns negative / turns back to >= 0."""
    ten, two = fred("DGS10"), fred("DGS2")
    spread = []
    for d in sorted(ten):
        ten_value, two_value = ten[d], two.get(d)
        if ten_value is not None and two_value is not None:
            spread.append((d, ten_value - two_value))
    inverts, uninverts = [], []
    for (_, before), (d, now) in zip(spread, spread[1:], strict=False):
        if before >= 0 > now:
            inverts.append(d)
        if before < 0 <= now:
            uninverts.append(d)
    return inverts, uninverts


def test_ten_two_inversions_2022_2024_match_a_sign_change_scan():
    spread = ten_two_spread()
    inverts, uninverts = sign_change_scan()
    window = (date(2022, 1, 1), date(2024, 12, 31))
    after = pd.Timestamp("2021-12-31")
    got_in = [d for d in dates_of(hits(parse("macro", "inverts"), spread, after)) if d <= window[1]]
    got_out = [d for d in dates_of(hits(parse("macro", "uninverts"), spread, after)) if d <= window[1]]
    assert got_in == [d for d in inverts if window[0] <= d <= window[1]]
    assert got_out == [d for d in uninverts if window[0] <= d <= window[1]]
    # Textbook facts: the 2022 inversion began in spring 2022 and the long one ended in late summer 2024.
    assert got_in[0].year == 2022 and got_in[0].month in (3, 4)
    assert got_out[-1] >= date(2024, 8, 1)
    assert all(h.value < 0 for h in hits(parse("macro", "inverts"), spread, after))


def test_uninverts_needs_an_inversion_first_and_zero_is_not_inverted():
    s = series([0.1, 0.0, 0.1, -0.1, 0.0, -0.2, 0.3])
    assert dates_of(hits(parse("macro", "inverts"), s)) == [s.index[3].date(), s.index[5].date()]
    assert dates_of(hits(parse("macro", "uninverts"), s)) == [s.index[4].date(), s.index[6].date()]


# --------------------------------------------------------------------------- context_start


@pytest.mark.parametrize(
    "when", [w for k, w, _ in ROUND_TRIPS if k == "price"] + ["up 3% over 1", "crosses below sma 2"]
)
@pytest.mark.parametrize("after", [date(2020, 3, 20), date(2023, 12, 22), date(2024, 7, 3), date(2026, 1, 2)])
def test_reading_from_context_start_gives_the_same_price_hits(when, after):
    s = closes("SPY")
    c = parse("price", when)
    start = context_start(c, after)
    assert start < after
    cut = s[s.index >= pd.Timestamp(start)]
    assert hits(c, cut, pd.Timestamp(after)) == hits(c, s, pd.Timestamp(after))


@pytest.mark.parametrize(
    ("name", "when"),
    [
        ("CPIAUCSL", "pc1 below 2.8"),
        ("CPIAUCSL", "pc1 above 3"),
        ("CPIAUCSL", "chg below 0.3"),
        ("UNRATE", "above 4"),
        ("GDP", "pca above 5"),
        ("GDP", "pc1 below 5"),
        ("DGS10", "below 4"),
        ("DGS10", "chg above 0.1"),
    ],
)
@pytest.mark.parametrize("after", [date(2020, 4, 15), date(2022, 12, 31), date(2025, 10, 15)])
def test_reading_from_context_start_gives_the_same_macro_hits(name, when, after):
    s = fred_series(name)
    c = parse("macro", when)
    cut = s[s.index >= pd.Timestamp(context_start(c, after))]
    full = hits(c, s, pd.Timestamp(after))
    assert hits(c, cut, pd.Timestamp(after)) == full


def test_context_start_reads_little():
    after = date(2026, 6, 1)
    assert after - context_start(parse("price", "close above 100"), after) <= timedelta(days=14)
    assert after - context_start(parse("price", "new 52-week high"), after) <= timedelta(days=400)
    assert after - context_start(parse("price", "crosses above sma 50"), after) <= timedelta(days=90)
    assert context_start(parse("data", "older than 3 days"), after) == after


# --------------------------------------------------------------------------- stale data


def test_stale_hit_compares_the_age_in_days_with_the_limit():
    c = parse("data", "older than 3 days")
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    hit = stale_hit(c, now - timedelta(days=3, hours=12), now)
    assert hit is not None and hit.value == 3.5 and hit.threshold == 3.0 and hit.at == pd.Timestamp(now)
    assert hit.detail == "last observation 3.50 days old, older than the 3-day limit"
    assert stale_hit(c, now - timedelta(days=3), now) is None  # equal is not older
    assert stale_hit(c, now - timedelta(days=1), now) is None


def test_stale_hit_with_fractional_days_and_never_stored():
    c = parse("data", "older than 0.5 days")
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    hit = stale_hit(c, now - timedelta(hours=13), now)
    assert hit is not None and hit.value == pytest.approx(13 / 24)
    never = stale_hit(c, None, now)
    assert never is not None and math.isinf(never.value) and never.threshold == 0.5
    with pytest.raises(ValueError, match="older than"):
        stale_hit(parse("data", "job failed"), None, now)


def test_condition_is_a_frozen_value():
    c = parse("price", "close above 100")
    assert c == Condition("price", "cross-above", 100.0, None, None, "close above 100")
    with pytest.raises(AttributeError):
        c.level = 5.0  # type: ignore[misc]


@settings(max_examples=40, deadline=None)
@given(
    levels=st.lists(st.floats(min_value=-5, max_value=400, allow_nan=False), min_size=1, max_size=12),
    which=st.sampled_from(["close", "up", "down", "moves", "pc1", "lin"]),
    cut=st.integers(min_value=0, max_value=300),
)
def test_hits_many_is_hits_for_each_level(levels, which, cut):
    """The shared-work path the evaluation takes for many rules on one series gives exactly what `hits` gives."""
    if which in ("pc1", "lin"):
        series, kind = fred_series("CPIAUCSL"), "macro"
        texts = [f"{which} {'above' if i % 2 else 'below'} {abs(level) % 10:.3f}" for i, level in enumerate(levels)]
    else:
        series, kind = closes("AAPL").iloc[-600:], "price"
        if which.startswith("close"):
            texts = [f"close {'above' if i % 2 else 'below'} {abs(level):.2f}" for i, level in enumerate(levels)]
        else:
            texts = [f"{which} {abs(level) % 20 + 0.01:.2f}% over 5" for level in levels]
    conds = [parse(kind, t) for t in texts]
    after = series.index[min(cut, len(series) - 1)]
    groups: dict[tuple, list] = {}
    for c in conds:
        groups.setdefault((c.op, c.window, c.units), []).append(c)
    for group in groups.values():
        assert hits_many(group, series, after) == [hits(c, series, after) for c in group]


@settings(max_examples=30, deadline=None)
@given(
    picks=st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=15),
    levels=st.lists(st.floats(min_value=1, max_value=400, allow_nan=False), min_size=15, max_size=15),
    cuts=st.lists(st.integers(min_value=0, max_value=599), min_size=1, max_size=3),
)
def test_one_series_work_shared_by_every_shape_and_watermark(picks, levels, cuts):
    """The evaluation keeps one SeriesWork per series for all its rules (every shape, several watermarks): what
    it shares (sessions, SMAs, 52-week extremes, moves, positions after a watermark) never changes a result."""
    series = closes("AAPL").iloc[-600:]
    shapes = [
        "close above {:.2f}",
        "close below {:.2f}",
        "up {:.2f}% over 5",
        "down {:.2f}% over 20",
        "moves {:.2f}% over 1",
        "crosses above sma 50",
        "crosses below sma 20",
        "new 52-week high",
        "new 52-week low",
    ]
    # Close levels at a quantile of these closes (so they cross), move limits of 0.5% to 10%.
    scaled = [
        float(series.quantile(level % 100 / 100)) if p < 2 else level % 10 + 0.5
        for p, level in zip(picks, levels, strict=False)
    ]
    conds = [parse("price", shapes[p].format(scaled[i])) for i, p in enumerate(picks)]
    conds += [parse("price", "new 52-week high"), parse("price", "crosses above sma 50")]  # shapes that fire here
    assert all(hits(c, series) for c in conds[-2:])  # the test's data does exercise them
    work = SeriesWork(series)
    for cut in cuts:
        after = series.index[cut]
        groups: dict[tuple, list] = {}
        for c in conds:
            groups.setdefault((c.op, c.window, c.units), []).append(c)
        for group in groups.values():
            assert hits_many(group, series, after, work) == [hits(c, series, after) for c in group]
