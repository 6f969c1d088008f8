"""Tests for analytics.freshness: hand-worked release schedules, and hypothesis against day-by-day oracles."""

from __future__ import annotations

import calendar as months
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import freshness
from analytics.freshness import (
    FRESH,
    NO_DATA,
    PENDING,
    STALE,
    UNKNOWN,
    bar_freshness,
    publication_lag,
    series_freshness,
    stale_first,
)
from store import calendar

SESSIONS = calendar.sessions_between(date(2018, 1, 1), date(2026, 12, 31))


# --------------------------------------------------------------------------- independent helpers


def count_sessions_after(last: date, expected: date) -> int:
    """Sessions in (last, expected], one by one."""
    return sum(1 for s in SESSIONS if last < s.date() <= expected)


# The lags the module documents, restated as plain day counts for the oracle below.
ORACLE_LAG = {"D": 3, "W": 7, "M": 45, "Q": 45, "A": 180}
WORDS = {
    "D": "Daily",
    "W": "Weekly, Ending Friday",
    "M": "Monthly",
    "Q": "Quarterly",
    "A": "Annual",
}


def is_label(code: str, day: date, week_end: int = 4) -> bool:
    """Whether FRED dates an observation of this frequency on `day`."""
    if code == "D":
        return day.weekday() < 5
    if code == "W":
        return day.weekday() == week_end
    if code == "M":
        return day.day == 1
    if code == "Q":
        return day.day == 1 and day.month in (1, 4, 7, 10)
    return day.day == 1 and day.month == 1


def oracle_due(code: str, label: date, lag: int) -> date:
    """End of the labelled period plus the lag: business days (numpy's calendar) for daily, else calendar days."""
    if code == "D":
        return np.busday_offset(label, lag, roll="forward").astype(object)
    if code == "W":
        end = label
    elif code == "M":
        end = label.replace(day=months.monthrange(label.year, label.month)[1])
    elif code == "Q":
        last_month = label.month + 2
        end = date(label.year, last_month, months.monthrange(label.year, last_month)[1])
    else:
        end = date(label.year, 12, 31)
    return end + timedelta(days=lag)


def oracle_expected(code: str, today: date, lag: int) -> date:
    """Walk back day by day to the latest label that is due by today."""
    day = today + timedelta(days=7)  # a weekly period may end after today
    while not (is_label(code, day) and oracle_due(code, day, lag) <= today):
        day -= timedelta(days=1)
    return day


def oracle_period(code: str, day: date) -> date:
    """The label of the period holding `day`: forward to the period's end for D/W, back to its start otherwise."""
    step = 1 if code in ("D", "W") else -1
    while not is_label(code, day):
        day += timedelta(days=step)
    return day


def next_label(code: str, label: date) -> date:
    day = label + timedelta(days=1)
    while not is_label(code, day):
        day += timedelta(days=1)
    return day


def one_series(code_or_words: str, last: date | None, today: date, series_id: str = "TEST") -> dict:
    frame = pd.DataFrame({"series_id": [series_id], "frequency": [code_or_words], "last_date": [last]})
    return series_freshness(frame, today).iloc[0].to_dict()


# --------------------------------------------------------------------------- daily bars


def coverage(**last: date | None) -> pd.DataFrame:
    return pd.DataFrame({"symbol": list(last), "last_date": list(last.values())})


def test_bars_count_sessions_behind_and_skip_the_holiday():
    # 4 July 2024 was a Thursday holiday: after a last bar on the 3rd, the 5th and the 8th are missing.
    out = bar_freshness(coverage(AAPL=date(2024, 7, 3), MSFT=date(2024, 7, 8)), date(2024, 7, 8), SESSIONS)
    assert list(out.columns) == ["symbol", "last_date", "expected_date", "sessions_behind", "status"]
    rows = out.set_index("symbol")
    assert rows.loc["AAPL", "sessions_behind"] == 2 and rows.loc["AAPL", "status"] == STALE
    assert rows.loc["MSFT", "sessions_behind"] == 0 and rows.loc["MSFT", "status"] == FRESH
    assert (out["expected_date"] == pd.Timestamp("2024-07-08")).all()


def test_a_bar_after_the_expected_session_is_fresh():
    out = bar_freshness(coverage(SPY=date(2024, 7, 9)), date(2024, 7, 8), SESSIONS)
    assert out.loc[0, "status"] == FRESH and out.loc[0, "sessions_behind"] == 0


def test_the_universe_decides_which_symbols_are_judged():
    frame = coverage(AAPL=date(2024, 7, 8), OLD=date(2020, 1, 2)).assign(bars=[10, 20])
    out = bar_freshness(frame, date(2024, 7, 8), SESSIONS, symbols=["NEW", "AAPL", "AAPL"])
    assert list(out["symbol"]) == ["AAPL", "NEW"]  # OLD is not in the universe, AAPL once
    new = out.set_index("symbol").loc["NEW"]
    assert new["status"] == NO_DATA and pd.isna(new["sessions_behind"]) and pd.isna(new["last_date"])
    assert str(out["bars"].dtype) == "Int64" and out["bars"].tolist()[0] == 10


def test_rows_without_a_last_date_are_no_data():
    out = bar_freshness(coverage(AAPL=None), date(2024, 7, 8), SESSIONS)
    assert out.loc[0, "status"] == NO_DATA and pd.isna(out.loc[0, "sessions_behind"])


def test_bad_calls_say_what_is_wrong():
    with pytest.raises(ValueError, match="not among the sessions"):
        bar_freshness(coverage(AAPL=date(2024, 7, 3)), date(2024, 7, 4), SESSIONS)
    with pytest.raises(ValueError, match="sessions start on 2024-07-01"):
        bar_freshness(coverage(AAPL=date(2024, 6, 3)), date(2024, 7, 8), SESSIONS[SESSIONS >= "2024-07-01"])
    with pytest.raises(ValueError, match="single string"):
        bar_freshness(coverage(AAPL=date(2024, 7, 3)), date(2024, 7, 8), SESSIONS, symbols="AAPL")
    with pytest.raises(ValueError, match="last_date"):
        bar_freshness(pd.DataFrame({"symbol": ["AAPL"]}), date(2024, 7, 8), SESSIONS)


@settings(max_examples=150, deadline=None)
@given(
    picks=st.lists(st.integers(0, len(SESSIONS) - 1) | st.none(), min_size=1, max_size=8),
    expected_at=st.integers(0, len(SESSIONS) - 1),
)
def test_bars_agree_with_counting_sessions_one_by_one(picks, expected_at):
    expected = SESSIONS[expected_at].date()
    lasts = {f"S{i}": (None if p is None else SESSIONS[p].date()) for i, p in enumerate(picks)}
    out = bar_freshness(coverage(**lasts), expected, SESSIONS).set_index("symbol")
    for symbol, last in lasts.items():
        row = out.loc[symbol]
        if last is None:
            assert row["status"] == NO_DATA and pd.isna(row["sessions_behind"])
        else:
            behind = count_sessions_after(last, expected)
            assert row["sessions_behind"] == behind
            assert row["status"] == (STALE if last < expected else FRESH)
            assert (behind > 0) == (row["status"] == STALE)


# --------------------------------------------------------------------------- FRED series


def test_a_monthly_series_that_stopped_is_stale_with_its_days_late():
    # UNRATE last published for January 2026; on 21 August June's figure is due (30 June + 45 days = 14 Aug).
    row = one_series("Monthly", date(2026, 1, 1), date(2026, 8, 21), "UNRATE")
    assert row["status"] == STALE and row["expected_date"] == pd.Timestamp("2026-06-01")
    # February's figure was the first missing one: due 28 Feb + 45 days = 14 April, 129 days before 21 August.
    assert row["days_late"] == 129


def test_a_monthly_series_turns_stale_the_day_the_next_figure_is_due():
    assert one_series("Monthly", date(2026, 5, 1), date(2026, 8, 13))["status"] == FRESH
    row = one_series("Monthly", date(2026, 5, 1), date(2026, 8, 14))
    assert row["status"] == STALE and row["days_late"] == 0
    assert one_series("Monthly", date(2026, 7, 1), date(2026, 8, 21))["days_late"] == 0


def test_daily_yields_allow_three_business_days():
    # Friday 14 Aug 2026 is due by Wednesday 19 Aug; Monday 17 Aug by Thursday 20 Aug.
    assert one_series("Daily", date(2026, 8, 14), date(2026, 8, 19), "DGS10")["status"] == FRESH
    row = one_series("Daily", date(2026, 8, 14), date(2026, 8, 20), "DGS10")
    assert row["status"] == STALE and row["days_late"] == 0 and row["expected_date"] == pd.Timestamp("2026-08-17")
    # On a Saturday the latest due observation is Tuesday's (Tuesday + 3 business days = Friday).
    assert one_series("Daily", None, date(2026, 8, 22))["expected_date"] == pd.Timestamp("2026-08-18")


def test_h10_exchange_rates_follow_the_weekly_release():
    assert publication_lag("DEXUSEU", "Daily") == pd.offsets.BDay(7)
    assert publication_lag("DTWEXBGS", "D") == pd.offsets.BDay(7)
    assert publication_lag("DGS10", "Daily") == pd.offsets.BDay(3)
    # Friday 7 Aug's rate is fresh on Monday 17 Aug (the release that day covers 10-14 Aug), a yield is not.
    assert one_series("Daily", date(2026, 8, 7), date(2026, 8, 17), "DEXUSEU")["status"] == FRESH
    assert one_series("Daily", date(2026, 8, 7), date(2026, 8, 17), "DGS10")["status"] == STALE


def test_per_series_lags_override_the_defaults():
    frame = pd.DataFrame({"series_id": ["CPIAUCSL"], "frequency": ["Monthly"], "last_date": [date(2026, 6, 1)]})
    assert series_freshness(frame, date(2026, 8, 21)).loc[0, "status"] == FRESH
    tight = series_freshness(frame, date(2026, 8, 21), {"CPIAUCSL": pd.DateOffset(days=20)})
    assert tight.loc[0, "status"] == STALE and tight.loc[0, "expected_date"] == pd.Timestamp("2026-07-01")


def test_weekly_weeks_end_on_the_day_fred_names():
    # Initial claims: weeks ending Saturday, due 7 days later.
    words = "Weekly, Ending Saturday"
    assert one_series(words, date(2026, 8, 8), date(2026, 8, 21))["status"] == FRESH
    row = one_series(words, date(2026, 8, 8), date(2026, 8, 22))
    assert row["status"] == STALE and row["expected_date"] == pd.Timestamp("2026-08-15") and row["days_late"] == 0
    # A Thursday-dated value (a holiday week) counts for the week ending that Friday.
    assert one_series("Weekly, Ending Friday", date(2026, 8, 13), date(2026, 8, 21))["status"] == FRESH


def test_quarterly_gdp_and_annual_series():
    row = one_series("Quarterly", date(2025, 7, 1), date(2026, 8, 24), "GDP")
    # Q2 2026 is due 30 Jun + 45 days = 14 Aug; Q4 2025, the first missing, was due 14 Feb 2026.
    assert row["status"] == STALE and row["expected_date"] == pd.Timestamp("2026-04-01") and row["days_late"] == 191
    assert one_series("Quarterly", date(2026, 4, 1), date(2026, 8, 24))["status"] == FRESH
    assert one_series("Annual", date(2025, 1, 1), date(2026, 6, 29))["status"] == FRESH  # due 29 June 2026
    assert one_series("Annual", date(2024, 1, 1), date(2026, 6, 29))["days_late"] == 0


def test_pending_unknown_and_empty_series():
    frame = pd.DataFrame(
        {
            "series_id": ["NEW", "BIWK", "SEMI", "NONE", "EMPTY"],
            "frequency": ["pending", "Biweekly, Ending Wednesday", "Semiannual", None, "Monthly"],
            "last_date": [None, date(2026, 8, 5), date(2026, 1, 1), None, None],
            "title": ["t1", "t2", "t3", "t4", "t5"],
        }
    )
    out = series_freshness(frame, date(2026, 8, 21)).set_index("series_id")
    assert out["status"].to_dict() == {
        "BIWK": UNKNOWN,
        "EMPTY": NO_DATA,
        "NEW": PENDING,
        "NONE": UNKNOWN,
        "SEMI": UNKNOWN,
    }
    assert out.loc["EMPTY", "expected_date"] == pd.Timestamp("2026-06-01")
    assert out[["expected_date", "days_late"]].drop(index="EMPTY").isna().all().all()
    assert out.loc["SEMI", "title"] == "t3"  # other columns are kept


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from(list(WORDS)),
    today=st.dates(date(2001, 1, 1), date(2035, 12, 31)),
    back=st.integers(-30, 900) | st.none(),
)
def test_series_agree_with_a_day_by_day_oracle(code, today, back):
    last = None if back is None else today - timedelta(days=back)
    row = one_series(WORDS[code], last, today)
    lag = ORACLE_LAG[code]
    expected = oracle_expected(code, today, lag)
    assert row["expected_date"] == pd.Timestamp(expected)
    if last is None:
        assert row["status"] == NO_DATA
        return
    period = oracle_period(code, last)
    if period >= expected:
        assert row["status"] == FRESH and row["days_late"] == 0
    else:
        assert row["status"] == STALE
        assert row["days_late"] == (today - oracle_due(code, next_label(code, period), lag)).days >= 0


@settings(max_examples=100, deadline=None)
@given(code=st.sampled_from(list(WORDS)), today=st.dates(date(2001, 1, 1), date(2035, 12, 31)))
def test_the_expected_observation_is_fresh_until_the_next_one_is_due(code, today):
    lag = publication_lag("TEST", code)
    expected = freshness.expected_observation(code, today, lag).date()
    nxt = next_label(code, expected)
    due = freshness.due_date(code, nxt, lag).date()
    assert due > today
    assert one_series(code, expected, due - timedelta(days=1))["status"] == FRESH
    stale = one_series(code, expected, due)
    assert stale["status"] == STALE and stale["days_late"] == 0


def test_unknown_frequency_codes_are_refused():
    with pytest.raises(ValueError, match="frequency must be"):
        publication_lag("X", "Fortnightly")
    with pytest.raises(ValueError, match="frequency"):
        series_freshness(pd.DataFrame({"series_id": ["X"], "last_date": [None]}), date(2026, 1, 1))


# --------------------------------------------------------------------------- ordering


def test_stale_ones_come_first_most_behind_first():
    bars = pd.DataFrame(
        {
            "symbol": ["A", "B", "C", "D", "E"],
            "status": [FRESH, STALE, NO_DATA, STALE, FRESH],
            "sessions_behind": pd.array([0, 2, None, 5, 0], dtype="Int64"),
        }
    )
    assert list(stale_first(bars)["symbol"]) == ["D", "B", "C", "A", "E"]
    series = pd.DataFrame(
        {
            "series_id": ["X", "Y", "Z", "W"],
            "status": [PENDING, STALE, UNKNOWN, STALE],
            "days_late": pd.array([None, 3, None, 40], dtype="Int64"),
        }
    )
    assert list(stale_first(series)["series_id"]) == ["W", "Y", "Z", "X"]
    assert stale_first(series.iloc[0:0]).empty
