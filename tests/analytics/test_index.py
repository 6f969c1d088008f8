"""Tests for analytics.index: hand-computed levels, the S&P calendar, bt as an oracle, point-in-time ranking."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analytics.index as index_module
from analytics.index import (
    build_index,
    equal_weight_index,
    rebalance_schedule,
    simulate_weights,
    spx_rebalance_calendar,
)

BUNDLE = Path(__file__).resolve().parents[2] / "data" / "sp500"
NAN = float("nan")


def frame(dates: list[str], **columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame(columns, index=pd.DatetimeIndex(dates), dtype="float64")


@cache
def bundle_prices() -> pd.DataFrame:
    adj = pd.read_parquet(BUNDLE / "adj_close_daily_2019_2026.parquet")
    wide = adj.pivot(index="date", columns="symbol", values="adj_close").astype("float64")
    wide.index = pd.DatetimeIndex(wide.index)
    return wide


def complete_subset(n: int, end: str = "2024-12-31") -> pd.DataFrame:
    """The first ``n`` symbols (alphabetically) with a price on every session 2019-01-02 -> ``end``."""
    wide = bundle_prices().loc[:end]
    full = wide.columns[wide.notna().all()]
    return wide[full[:n]]


# ---------------------------------------------------------------------------------------------------
# Hand-computed levels

DAYS3 = ["2024-01-02", "2024-01-03", "2024-01-04"]
# Around a quarter end (Good Friday 2024-03-29 is not a session): the Q rebalance is at 2024-03-28.
QDAYS = ["2024-03-26", "2024-03-27", "2024-03-28", "2024-04-01", "2024-04-02"]


def test_daily_rebalance_by_hand() -> None:
    prices = frame(DAYS3, A=[100, 110, 121], B=[100, 100, 90])
    r = equal_weight_index(prices, rebalance="D")
    # Day 1: +10% / 0% -> +5%; reset to 50/50; day 2: +10% / -10% -> 0%.
    np.testing.assert_allclose(r.levels.to_numpy(), [1000.0, 1050.0, 1050.0], rtol=1e-14)
    assert list(r.rebalance_dates.strftime("%Y-%m-%d")) == DAYS3[:2]  # the last session is never a period end
    np.testing.assert_allclose(r.weights.iloc[1].to_numpy(), [0.5, 0.5])
    np.testing.assert_allclose(r.weights.iloc[2].to_numpy(), [0.55, 0.45])  # drifted after the last rebalance
    np.testing.assert_allclose(r.turnover.to_numpy(), [1.0, 1 / 42], rtol=1e-12)


def test_daily_rebalance_costs_by_hand() -> None:
    prices = frame(DAYS3, A=[100, 110, 121], B=[100, 100, 90])
    c = 10 / 1e4
    r = equal_weight_index(prices, rebalance="D", cost_bps=10)
    # Initial construction buys 100% (cost c), then day 1 trades |0.5 - 11/21| + |0.5 - 10/21| = 1/21.
    day1 = 1000 * (1 - c) * 1.05 * (1 - c / 21)
    np.testing.assert_allclose(r.levels.to_numpy(), [1000 * (1 - c), day1, day1], rtol=1e-14)
    np.testing.assert_allclose(r.gross_levels.to_numpy(), [1000.0, 1050.0, 1050.0], rtol=1e-14)
    np.testing.assert_allclose(r.costs.to_numpy(), [c, c / 21], rtol=1e-12)
    assert r.cost_drag == pytest.approx(1 - (1 - c) * (1 - c / 21), rel=1e-12)
    r0 = equal_weight_index(prices, rebalance="D", cost_bps=10, charge_initial=False)
    np.testing.assert_allclose(r0.levels.to_numpy(), [1000.0, 1050 * (1 - c / 21), 1050 * (1 - c / 21)])


def test_quarterly_rebalance_by_hand() -> None:
    prices = frame(QDAYS, A=[100, 110, 120, 120, 132], B=[100, 100, 80, 88, 88])
    r = equal_weight_index(prices)  # rebalance="Q"
    # 5 units each; at 03-28 the book is 600/400 and is reset to 500/500 (4.1667 A, 6.25 B).
    np.testing.assert_allclose(r.levels.to_numpy(), [1000, 1050, 1000, 1050, 1100], rtol=1e-14)
    assert list(r.rebalance_dates.strftime("%Y-%m-%d")) == ["2024-03-26", "2024-03-28"]
    np.testing.assert_allclose(r.weights.loc["2024-03-27"].to_numpy(), [550 / 1050, 500 / 1050])
    np.testing.assert_allclose(r.weights.loc["2024-03-28"].to_numpy(), [0.5, 0.5])
    np.testing.assert_allclose(r.turnover.to_numpy(), [1.0, 0.1], rtol=1e-12)


def test_quarterly_costs_reduce_levels_by_exactly_the_stated_amount() -> None:
    prices = frame(QDAYS, A=[100, 110, 120, 120, 132], B=[100, 100, 80, 88, 88])
    c = 25 / 1e4
    r = equal_weight_index(prices, cost_bps=25, base=100.0)
    gross = np.array([100, 105, 100, 105, 110.0])
    factor = np.array([1 - c, 1 - c, (1 - c) * (1 - 0.2 * c), (1 - c) * (1 - 0.2 * c), (1 - c) * (1 - 0.2 * c)])
    np.testing.assert_allclose(r.gross_levels.to_numpy(), gross, rtol=1e-14)
    np.testing.assert_allclose(r.levels.to_numpy(), gross * factor, rtol=1e-14)
    np.testing.assert_allclose(r.costs.to_numpy(), [c, 0.2 * c], rtol=1e-12)
    # The cost paid at a rebalance, in index points: cost rate x traded x pre-trade level.
    paid = r.gross_levels.loc["2024-03-28"] * (1 - c) * 0.2 * c
    assert r.levels.loc["2024-03-27"] * 100 / 105 - r.levels.loc["2024-03-28"] == pytest.approx(paid, rel=1e-12)
    assert r.cost_points.loc["2024-03-28"] == pytest.approx(paid, rel=1e-12)
    assert r.cost_points.iloc[0] == pytest.approx(100 * c, rel=1e-12)


def test_symbol_entering_and_leaving_daily() -> None:
    dates = ["2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12"]
    prices = frame(dates, A=[100] * 5, B=[100, 120, NAN, NAN, NAN], C=[NAN, NAN, 50, 60, 60])
    r = equal_weight_index(prices, rebalance="D")
    np.testing.assert_allclose(r.levels.to_numpy(), [1000, 1100, 1100, 1210, 1210], rtol=1e-14)
    np.testing.assert_allclose(r.weights.loc["2024-01-10"].to_numpy(), [0.5, 0.0, 0.5])
    changes = r.changes.set_index(["date", "symbol"])
    assert changes.loc[(pd.Timestamp("2024-01-10"), "B"), "change"] == "removed"
    assert changes.loc[(pd.Timestamp("2024-01-10"), "B"), "reason"] == "no price"
    assert changes.loc[(pd.Timestamp("2024-01-10"), "C"), "change"] == "added"
    assert set(r.changes.loc[r.changes["reason"] == "start", "symbol"]) == {"A", "B"}


def test_symbol_leaving_is_carried_flat_until_the_next_rebalance() -> None:
    prices = frame(QDAYS, A=[100, 110, 120, 120, 132], B=[100, 120, NAN, NAN, NAN])
    r = equal_weight_index(prices)
    # B keeps its return to its last day (+20%), then sits flat at 120 until it is dropped on 03-28.
    np.testing.assert_allclose(r.levels.to_numpy(), [1000, 1150, 1200, 1200, 1320], rtol=1e-14)
    np.testing.assert_allclose(r.weights.loc["2024-03-28"].to_numpy(), [1.0, 0.0])
    np.testing.assert_allclose(r.weights.loc["2024-03-27"].to_numpy(), [550 / 1150, 600 / 1150])


def test_missing_price_is_carried_forward() -> None:
    prices = frame(DAYS3, A=[100, NAN, 110], B=[100, 100, 100])
    r = equal_weight_index(prices)
    np.testing.assert_allclose(r.levels.to_numpy(), [1000, 1000, 1050], rtol=1e-14)
    np.testing.assert_allclose(r.weights.iloc[1].to_numpy(), [0.5, 0.5])


def test_missing_price_on_a_rebalance_date_drops_the_symbol_until_the_next() -> None:
    prices = frame(QDAYS, A=[100, 110, NAN, 120, 132], B=[100, 100, 80, 88, 88])
    r = equal_weight_index(prices)
    np.testing.assert_allclose(r.weights.loc["2024-03-28"].to_numpy(), [0.0, 1.0])
    # On 03-28 A is carried at 110: 5*110 + 5*80 = 950, all in B from then on.
    np.testing.assert_allclose(r.levels.to_numpy(), [1000, 1050, 950, 950 * 1.1, 950 * 1.1], rtol=1e-14)
    removed = r.changes[r.changes["change"] == "removed"]
    assert removed[["symbol", "reason"]].values.tolist() == [["A", "no price"]]


SHARES = pd.DataFrame(
    {"symbol": ["A", "B"], "published": pd.to_datetime(["2023-12-15", "2023-12-15"]), "shares": [3.0, 1.0]}
)


def test_equal_versus_cap_weight() -> None:
    prices = frame(DAYS3, A=[100, 110, 110], B=[100, 100, 120])
    equal = build_index(prices, shares=SHARES, weighting="equal")
    capw = build_index(prices, shares=SHARES, weighting="cap")
    np.testing.assert_allclose(equal.levels.to_numpy(), [1000, 1050, 1150], rtol=1e-14)
    np.testing.assert_allclose(capw.weights.iloc[0].to_numpy(), [0.75, 0.25])
    np.testing.assert_allclose(capw.levels.to_numpy(), [1000, 1075, 1125], rtol=1e-14)
    np.testing.assert_allclose(capw.ranks["market_cap"].to_numpy(), [300.0, 100.0])


def test_cap_weights_carry_the_reference_cap_to_the_effective_date() -> None:
    # SPX: reference 2024-03-08 (2nd Friday), effective 2024-03-15 (3rd Friday).
    dates = pd.bdate_range("2024-03-01", "2024-03-20")
    prices = pd.DataFrame({"A": 100.0, "B": 100.0}, index=dates)
    prices.loc["2024-03-11":, "A"] = 200.0  # A doubles after the reference date
    r = build_index(prices, shares=SHARES, weighting="cap", rebalance="SPX")
    assert list(r.rebalance_dates.strftime("%Y-%m-%d")) == ["2024-03-01", "2024-03-15"]
    # Cap on 03-08 is 300 / 100; carried to 03-15 by the prices: 600 / 100.
    np.testing.assert_allclose(r.weights.loc["2024-03-15"].to_numpy(), [6 / 7, 1 / 7])


def test_cap_per_name_redistributes_until_none_exceeds() -> None:
    prices = frame(DAYS3, A=[10, 10, 10], B=[10, 10, 10], C=[10, 10, 10])
    shares = pd.DataFrame({"symbol": ["A", "B", "C"], "published": pd.Timestamp("2023-01-02"), "shares": [6, 3, 1]})
    uncapped = build_index(prices, shares=shares, weighting="cap")
    np.testing.assert_allclose(uncapped.weights.iloc[0].to_numpy(), [0.6, 0.3, 0.1])
    # 0.6 -> 0.4 gives 0.2 to B and C pro rata (B 0.45 > 0.4); capping B too leaves C 0.2.
    capped = build_index(prices, shares=shares, weighting="cap", cap=0.4)
    np.testing.assert_allclose(capped.weights.iloc[0].to_numpy(), [0.4, 0.4, 0.2], rtol=1e-12)
    assert not any("cannot hold" in n for n in capped.notes)
    loose = build_index(prices, weighting="equal", cap=0.5)
    np.testing.assert_allclose(loose.weights.iloc[0].to_numpy(), [1 / 3] * 3)


def test_infeasible_cap_falls_back_to_equal_weights_and_says_so() -> None:
    prices = frame(DAYS3, A=[10, 10, 10], B=[10, 10, 10])
    r = build_index(prices, shares=SHARES, weighting="cap", cap=0.4)
    np.testing.assert_allclose(r.weights.iloc[0].to_numpy(), [0.5, 0.5])
    assert any("cannot hold" in note for note in r.notes)


def test_composition_helper() -> None:
    prices = frame(QDAYS, A=[100, 110, 120, 120, 132], B=[100, 100, 80, 88, 88])
    r = equal_weight_index(prices)
    comp = r.composition("2024-03-29")  # not a session: the close of 03-28
    assert comp["date"].iloc[0] == pd.Timestamp("2024-03-28")
    assert comp["weight"].to_dict() == pytest.approx({"A": 0.5, "B": 0.5})
    with pytest.raises(ValueError, match="outside the index"):
        r.composition("2025-01-01")


def test_simulate_weights_keeps_cash() -> None:
    prices = np.array([[100.0], [110.0], [121.0]])
    sim = simulate_weights(prices, [0], np.array([[0.5]]))
    np.testing.assert_allclose(sim.value, [1.0, 1.05, 1.105])


@pytest.mark.parametrize("block", [1, 7, 10_000])
def test_simulate_weights_in_row_blocks_gives_the_numbers_of_one_pass(monkeypatch, block) -> None:
    rng = np.random.default_rng(7)
    prices = np.cumprod(1 + rng.normal(0, 0.02, (300, 12)), axis=0) * 50
    prices[:40, 3] = 0.0  # not yet listed: never a target while at zero
    targets = rng.random((6, 12))
    targets[:, 3] = 0.0
    targets /= targets.sum(axis=1, keepdims=True) * 1.05  # 5% cash
    positions = [0, 50, 51, 120, 200, 299]
    monkeypatch.setattr(index_module, "BLOCK_ROWS", 10**9)
    whole = simulate_weights(prices, positions, targets, 0.001)
    monkeypatch.setattr(index_module, "BLOCK_ROWS", block)
    blocks = simulate_weights(prices, positions, targets, 0.001)
    for name in ("value", "gross", "weights", "traded", "turnover", "cost", "drifted"):
        np.testing.assert_array_equal(getattr(blocks, name), getattr(whole, name), err_msg=name)


# ---------------------------------------------------------------------------------------------------
# Top-N by point-in-time market cap

RANK_DAYS = pd.bdate_range("2024-01-02", "2024-03-29")


def ranking_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    prices = pd.DataFrame({"A": 10.0, "B": 10.0, "C": 10.0, "D": 10.0}, index=RANK_DAYS)
    shares = pd.DataFrame(
        {
            "symbol": ["A", "B", "B", "A"],
            "published": pd.to_datetime(["2023-12-15", "2023-12-15", "2024-02-15", "2024-03-05"]),
            "period_end": pd.to_datetime(["2023-09-30", "2023-09-30", "2023-12-31", "2023-12-31"]),
            "shares": [100.0, 50.0, 500.0, 1000.0],
        }
    )
    dollar_volume = pd.DataFrame({"A": 1000.0, "C": 600.0}, index=RANK_DAYS)  # C: ADV only; A: cap/ADV = 1
    return prices, shares, dollar_volume


def test_top_n_by_point_in_time_market_cap_with_dollar_volume_fallback() -> None:
    prices, shares, dv = ranking_inputs()
    r = build_index(prices, shares=shares, top_n=2, rebalance="M", dollar_volume=dv, min_adv_obs=1)
    assert list(r.rebalance_dates.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-31", "2024-02-29"]
    # Start and January: A cap 1000, C ~600 (ADV 600 x A's cap/ADV ratio 1.0), B 500; D unrankable.
    assert set(r.composition("2024-01-31").index) == {"A", "C"}
    # 2024-02-29: B's 500 shares were published 02-15 -> cap 5000; A's 1000 (published 03-05) not yet.
    feb = r.ranks[r.ranks["effective_date"] == "2024-02-29"].set_index("symbol")
    assert feb.loc["A", "shares"] == 100 and feb.loc["B", "shares"] == 500
    assert feb["rank"].to_dict() == pytest.approx({"A": 2.0, "B": 1.0, "C": 3.0, "D": NAN}, nan_ok=True)
    assert feb["basis"].to_dict() == {"A": "market_cap", "B": "market_cap", "C": "dollar_volume", "D": "unrankable"}
    assert set(r.composition("2024-02-29").index) == {"A", "B"}
    changes = r.changes[r.changes["date"] == "2024-02-29"].set_index("symbol")
    assert changes.loc["B", "change"] == "added" and changes.loc["B", "rank"] == 1
    assert changes.loc["C", "change"] == "removed" and changes.loc["C", "reason"] == "rank"
    assert changes.loc["C", "basis"] == "dollar_volume" and changes.loc["C", "value"] == pytest.approx(600.0)


def test_raw_close_is_preferred_for_market_cap() -> None:
    prices, shares, _ = ranking_inputs()
    raw = pd.DataFrame({"B": 30.0}, index=RANK_DAYS)  # B's raw close 30 (adjusted 10): cap 1500 > A's 1000
    r = build_index(prices, shares=shares, top_n=1, rebalance="M", raw_close=raw)
    start = r.ranks[r.ranks["effective_date"] == RANK_DAYS[0]].set_index("symbol")
    assert start.loc["B", "price_source"] == "raw" and start.loc["A", "price_source"] == "adjusted"
    assert list(r.composition(RANK_DAYS[0]).index) == ["B"]
    r_adj = build_index(prices, shares=shares, top_n=1, rebalance="M")
    assert list(r_adj.composition(RANK_DAYS[0]).index) == ["A"]
    assert any("adjusted close" in n for n in r_adj.notes)


def test_fewer_rankable_than_top_n_holds_all_and_says_so() -> None:
    prices, shares, _ = ranking_inputs()
    r = build_index(prices, shares=shares, top_n=3, rebalance="M")
    assert set(r.composition(RANK_DAYS[0]).index) == {"A", "B"}
    assert any("fewer than top_n=3" in n for n in r.notes)


@st.composite
def share_histories(draw: st.DrawFn) -> tuple[pd.DataFrame, int]:
    n_rows = draw(st.integers(4, 16))
    symbols = draw(st.lists(st.sampled_from("ABCDE"), min_size=n_rows, max_size=n_rows))
    days = draw(st.lists(st.integers(-30, 120), min_size=n_rows, max_size=n_rows))
    counts = draw(st.lists(st.floats(1.0, 1e4), min_size=n_rows, max_size=n_rows))
    shares = pd.DataFrame(
        {
            "symbol": symbols,
            "published": pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D"),
            "shares": counts,
        }
    )
    return shares, draw(st.integers(0, 3))


PIT_PRICES = pd.DataFrame(
    np.exp(np.cumsum(np.random.default_rng(7).normal(0, 0.02, (90, 5)), axis=0)) * 20,
    index=pd.bdate_range("2024-01-02", periods=90),
    columns=list("ABCDE"),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=share_histories(), later=st.lists(st.floats(1.0, 1e5), min_size=1, max_size=6), which=st.data())
def test_shares_published_after_the_reference_date_never_change_its_composition(
    history: tuple[pd.DataFrame, int], later: list[float], which: st.DataObject
) -> None:
    shares, k = history
    before = build_index(PIT_PRICES, shares=shares, top_n=2, rebalance="M", weighting="cap")
    k = min(k, len(before.schedule) - 1)
    ref = before.schedule["reference_date"].iloc[k]
    # Perturb every figure published after ref, and add new ones, some with old period ends.
    perturbed = shares.copy()
    after = perturbed["published"] > ref
    perturbed.loc[after, "shares"] = perturbed.loc[after, "shares"] * which.draw(st.floats(0.01, 100.0))
    extra = pd.DataFrame(
        {
            "symbol": [which.draw(st.sampled_from("ABCDE")) for _ in later],
            "published": [ref + pd.Timedelta(days=which.draw(st.integers(1, 60))) for _ in later],
            "period_end": ref - pd.Timedelta(days=30),
            "shares": later,
        }
    )
    after_run = build_index(
        PIT_PRICES, shares=pd.concat([perturbed, extra], ignore_index=True), top_n=2, rebalance="M", weighting="cap"
    )
    for j in range(k + 1):
        eff = before.schedule["effective_date"].iloc[j]
        a = before.ranks[before.ranks["effective_date"] == eff].reset_index(drop=True)
        b = after_run.ranks[after_run.ranks["effective_date"] == eff].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_series_equal(before.weights.loc[eff], after_run.weights.loc[eff])


# ---------------------------------------------------------------------------------------------------
# Calendars


def test_spx_calendar_against_the_nyse_calendar() -> None:
    xcals = pytest.importorskip("exchange_calendars")
    nyse = xcals.get_calendar("XNYS", start="2019-01-01", end="2026-12-31")
    sessions = nyse.sessions
    got = spx_rebalance_calendar(sessions)
    expected = []
    for year in range(2019, 2027):
        for month in (3, 6, 9, 12):
            fridays = pd.date_range(f"{year}-{month:02d}-01", periods=31, freq="D")
            fridays = fridays[(fridays.month == month) & (fridays.day_of_week == 4)]
            ref, eff = (nyse.date_to_session(d, direction="previous") for d in (fridays[1], fridays[2]))
            expected.append((ref.tz_localize(None), eff.tz_localize(None)))
    assert list(zip(got["reference_date"], got["effective_date"], strict=True)) == expected
    assert len(got) == 32
    shifted = got[got["effective_date"].dt.day_of_week != 4]
    # Juneteenth 2026 falls on the third Friday of June: weights change after the close of Thursday 18th.
    assert shifted["effective_date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-06-18"]
    assert got.loc[got["effective_date"] == "2026-06-18", "reference_date"].item() == pd.Timestamp("2026-06-12")


def test_spx_calendar_skips_quarters_outside_the_sessions() -> None:
    # Starts after March's 2nd Friday (03-08) and ends before June's 3rd (06-21): neither can be placed.
    assert spx_rebalance_calendar(pd.bdate_range("2024-03-11", "2024-06-20")).empty
    sessions = pd.bdate_range("2024-03-01", "2024-06-21")
    got = spx_rebalance_calendar(sessions)
    assert got["effective_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-15", "2024-06-21"]


def test_period_end_schedules() -> None:
    sessions = pd.DatetimeIndex(["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-29", "2024-03-01"])
    assert rebalance_schedule(sessions, "M")["effective_date"].dt.strftime("%m-%d").tolist() == ["01-31", "02-29"]
    assert rebalance_schedule(sessions, "Q")["effective_date"].tolist() == []
    with pytest.raises(ValueError, match="rebalance must be one of"):
        rebalance_schedule(sessions, "Y")


# ---------------------------------------------------------------------------------------------------
# bt as an oracle (zero costs; bt's commissions come out of quantities, so costs are checked by hand above)


@pytest.mark.parametrize("code", ["Q", "M", "W"])
def test_equal_weight_levels_and_weights_match_bt(code: str) -> None:
    bt = pytest.importorskip("bt")
    prices = complete_subset(25)
    runner = {
        "Q": bt.algos.RunQuarterly(run_on_end_of_period=True),
        "M": bt.algos.RunMonthly(run_on_end_of_period=True),
        "W": bt.algos.RunWeekly(run_on_end_of_period=True),
    }[code]
    strategy = bt.Strategy("ew", [runner, bt.algos.SelectAll(), bt.algos.WeighEqually(), bt.algos.Rebalance()])
    test = bt.Backtest(strategy, prices, integer_positions=False, initial_capital=1e6, progress_bar=False)
    theirs = bt.run(test).prices["ew"].loc[prices.index]
    mine = equal_weight_index(prices, rebalance=code)
    np.testing.assert_allclose(
        (mine.levels / mine.levels.iloc[0]).to_numpy(), (theirs / theirs.iloc[0]).to_numpy(), rtol=1e-9
    )
    np.testing.assert_allclose(
        mine.weights.to_numpy(), test.security_weights.loc[prices.index, prices.columns].to_numpy(), atol=1e-12
    )


def test_spx_top_n_cap_weighted_matches_bt_on_the_same_targets() -> None:
    bt = pytest.importorskip("bt")
    prices = complete_subset(60)
    shares = pd.read_parquet(BUNDLE / "shares_quarterly_fmp_2018_2025.parquet")
    mine = build_index(
        prices, shares=shares.rename(columns={"filing_date": "published"}), top_n=15, weighting="cap", rebalance="SPX"
    )
    targets = mine.weights.loc[mine.rebalance_dates]
    strategy = bt.Strategy(
        "spx",
        [bt.algos.RunOnDate(*mine.rebalance_dates), bt.algos.WeighTarget(targets), bt.algos.Rebalance()],
    )
    test = bt.Backtest(strategy, prices, integer_positions=False, initial_capital=1e6, progress_bar=False)
    theirs = bt.run(test).prices["spx"].loc[prices.index]
    np.testing.assert_allclose(
        (mine.levels / mine.levels.iloc[0]).to_numpy(), (theirs / theirs.iloc[0]).to_numpy(), rtol=1e-9
    )
    held = test.security_weights.reindex(index=prices.index, columns=prices.columns, fill_value=0.0)
    np.testing.assert_allclose(mine.weights.to_numpy(), held.to_numpy(), atol=1e-12)
    assert (mine.weights.loc[mine.rebalance_dates] > 0).sum(axis=1).eq(15).all()


# ---------------------------------------------------------------------------------------------------
# Real bundle smoke check


def test_top_100_on_the_bundle_is_sane() -> None:
    prices = bundle_prices()
    shares = pd.read_parquet(BUNDLE / "shares_quarterly_fmp_2018_2025.parquet")
    closes = pd.read_parquet(BUNDLE / "close_volume_daily_2019_2024.parquet")
    raw = closes.pivot(index="date", columns="symbol", values="close").astype("float64")
    volume = closes.pivot(index="date", columns="symbol", values="volume").astype("float64")
    r = build_index(
        prices,
        shares=shares.rename(columns={"filing_date": "published"}),
        top_n=100,
        rebalance="SPX",
        raw_close=raw,
        dollar_volume=raw * volume,
        cost_bps=5,
    )
    held = (r.weights.loc[r.rebalance_dates] > 0).sum(axis=1)
    assert held.eq(100).all()
    assert {"AAPL", "MSFT", "NVDA"} <= set(r.composition("2024-12-31").index)
    assert 0 < r.cost_drag < 0.01
    assert r.levels.notna().all() and (r.levels > 0).all()


# ---------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"universe": []}, "universe is empty"),
        ({"universe": ["A", "ZZZ"]}, "no price history for: ZZZ"),
        ({"universe": ["C"]}, "no prices between"),
        ({"top_n": 5, "shares": SHARES}, "larger than the universe"),
        ({"top_n": 2}, "needs shares outstanding or dollar volume"),
        ({"top_n": 0, "shares": SHARES}, "top_n must be an integer >= 1"),
        ({"start": "2023-01-01"}, "start 2023-01-01 is outside the data"),
        ({"end": "2025-01-01"}, "end 2025-01-01 is outside the data"),
        ({"start": "2024-01-04", "end": "2024-01-02"}, "is after end"),
        ({"start": "2024-01-04"}, "fewer than 2 sessions"),
        ({"cost_bps": -1}, "cost_bps must be in"),
        ({"cost_bps": 5000}, "cost_bps must be in"),
        ({"cap": 0}, "cap must be in"),
        ({"cap": 1.5}, "cap must be in"),
        ({"base": 0}, "base must be in"),
        ({"weighting": "price"}, "weighting must be 'equal' or 'cap'"),
        ({"rebalance": "Y"}, "rebalance must be one of"),
        ({"weighting": "cap"}, "needs shares outstanding"),
        ({"shares": pd.DataFrame({"symbol": ["A"]}), "top_n": 1}, "shares lacks column"),
    ],
)
def test_bad_input_messages(kwargs: dict, message: str) -> None:
    prices = frame(DAYS3, A=[10, 11, 12], B=[10, 10, 10], C=[NAN, NAN, NAN])
    with pytest.raises(ValueError, match=message):
        build_index(prices, **kwargs)


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        (pd.Series([1.0, 2.0]), "must be a wide DataFrame"),
        (pd.DataFrame(), "are empty"),
        (pd.DataFrame({"A": [1.0, 2.0]}), "DatetimeIndex"),
        (frame(["2024-01-03", "2024-01-02"], A=[1, 2]), "ascending"),
        (frame(["2024-01-02", "2024-01-02"], A=[1, 2]), "duplicate dates"),
        (frame(DAYS3, A=[1, -2, 3]), "strictly positive"),
        (frame(DAYS3, A=[1, np.inf, 3]), "infinite"),
        (frame(DAYS3, A=[NAN, NAN, NAN]), "no symbol has a price"),
    ],
)
def test_bad_prices_messages(prices: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        equal_weight_index(prices)


def test_time_zones_and_times_of_day_are_dropped_from_sessions() -> None:
    prices = frame(QDAYS, A=[100, 110, 120, 120, 132], B=[100, 100, 80, 88, 88])
    shifted = prices.copy()
    shifted.index = (prices.index + pd.Timedelta(hours=16)).tz_localize("America/New_York")
    r = equal_weight_index(shifted)
    assert list(r.levels.index) == list(prices.index)
    np.testing.assert_allclose(r.levels.to_numpy(), equal_weight_index(prices).levels.to_numpy())


def test_explicit_universe_and_window() -> None:
    prices = frame(QDAYS, A=[100, 110, 120, 120, 132], B=[100, 100, 80, 88, 88], C=[50, 50, 50, 50, 50])
    r = build_index(prices, universe=["B", "A"], start="2024-03-27", end="2024-04-01")
    assert list(r.weights.columns) == ["B", "A"]
    assert list(r.levels.index.strftime("%m-%d")) == ["03-27", "03-28", "04-01"]
    # Set at 50/50 on 03-27, reset on 03-28 (quarter end), then B +10% and A flat.
    day2 = 1000 * (0.5 * 120 / 110 + 0.5 * 0.8)
    np.testing.assert_allclose(r.levels.to_numpy(), [1000, day2, day2 * 1.05], rtol=1e-14)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 40),
    st.integers(1, 6),
    st.integers(1, 12),
    st.integers(1, 12),
    st.floats(0.0, 0.6),
    st.integers(0, 2**31 - 1),
)
def test_dollar_volume_windows_are_pandas_rolling_means_at_the_reference_rows(n, m, window, min_obs, gaps, seed):
    """The ranking's average dollar volume is computed at the reference rows only; the oracle is pandas'
    rolling(window, min_periods).mean() over every row, read at those rows."""
    from analytics.index import _window_means

    min_obs = min(min_obs, window)
    rng = np.random.default_rng(seed)
    values = rng.uniform(1e5, 1e9, (n, m))
    values[rng.random((n, m)) < gaps] = np.nan
    rows = np.unique(rng.integers(0, n, max(1, n // 3)))
    expected = pd.DataFrame(values).rolling(window, min_periods=min_obs).mean().to_numpy()[rows]
    np.testing.assert_allclose(_window_means(values, rows, window, min_obs), expected, rtol=1e-12)
