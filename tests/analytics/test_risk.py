"""Tests for analytics.risk against plain-Python reference loops."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from analytics.risk import (
    correlation_matrix,
    drawdown_series,
    returns,
    risk_metrics,
    rolling_beta,
    rolling_sharpe,
    rolling_volatility,
)

PRICES_DIR = Path(__file__).resolve().parents[2] / "data" / "sample" / "prices"
NAN = float("nan")
KEYS = [
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "var_95",
    "cvar_95",
    "beta",
    "alpha",
    "correlation",
]


# --------------------------------------------------------------------------
# Independent reference implementation (plain Python: lists, dicts, math)
# --------------------------------------------------------------------------


def loop_returns(dates: list, prices: list[float]) -> dict:
    """{date: simple return} over non-NaN prices (a gap is spanned)."""
    obs = [(d, p) for d, p in zip(dates, prices, strict=True) if not math.isnan(p)]
    return {obs[i][0]: obs[i][1] / obs[i - 1][1] - 1 for i in range(1, len(obs))}


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def sample_std(xs: list[float]) -> float:
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def quantile_linear(xs: list[float], q: float) -> float:
    s = sorted(xs)
    h = (len(s) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])


def loop_metrics(
    dates: list,
    prices: list[float],
    bench: tuple[list, list[float]] | None = None,
    rf_annual: float = 0.0,
    periods: int = 252,
) -> dict[str, float]:
    rf = (1 + rf_annual) ** (1 / periods) - 1
    obs = [p for p in prices if not math.isnan(p)]
    rd = loop_returns(dates, prices)
    r = list(rd.values())
    n = len(r)
    x = [ri - rf for ri in r]

    total = obs[-1] / obs[0] - 1
    cagr = (1 + total) ** (periods / n) - 1
    vol = sample_std(r) * math.sqrt(periods)
    sharpe = mean(x) / sample_std(x) * math.sqrt(periods)
    dd = math.sqrt(mean([min(xi, 0.0) ** 2 for xi in x]))
    sortino = mean(x) * periods / (dd * math.sqrt(periods))

    peak, mdd = obs[0], 0.0
    for p in obs:
        peak = max(peak, p)
        mdd = min(mdd, p / peak - 1)
    calmar = cagr / abs(mdd)

    var = quantile_linear(r, 0.05)
    tail = [ri for ri in r if ri <= var]
    cvar = mean(tail)

    beta = alpha = corr = NAN
    if bench is not None:
        bd = loop_returns(*bench)
        common = sorted(set(rd) & set(bd))
        a = [rd[d] - rf for d in common]
        b = [bd[d] - rf for d in common]
        ma, mb = mean(a), mean(b)
        cov = sum((ai - ma) * (bi - mb) for ai, bi in zip(a, b, strict=True))
        var_a = sum((ai - ma) ** 2 for ai in a)
        var_b = sum((bi - mb) ** 2 for bi in b)
        beta = cov / var_b
        alpha = (1 + mean([ai - beta * bi for ai, bi in zip(a, b, strict=True)])) ** periods - 1
        corr = cov / math.sqrt(var_a * var_b)

    return {
        "total_return": total,
        "cagr": cagr,
        "volatility": vol,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": mdd,
        "calmar": calmar,
        "var_95": var,
        "cvar_95": cvar,
        "beta": beta,
        "alpha": alpha,
        "correlation": corr,
    }


def assert_metrics_close(actual: dict, expected: dict, tol: float = 1e-10) -> None:
    assert set(KEYS) <= set(actual)
    for k in KEYS:
        a, e = actual[k], expected[k]
        assert isinstance(a, float), k
        if math.isnan(e):
            assert math.isnan(a), f"{k}: expected NaN, got {a}"
        else:
            assert a == pytest.approx(e, rel=tol, abs=tol), k


def assert_series_close(actual: pd.Series, expected: dict, tol: float = 1e-10) -> None:
    """Compare a Series with a {date: value} dict (NaNs must coincide)."""
    assert list(actual.index) == list(expected)
    a = actual.to_numpy(dtype=float)
    e = np.array(list(expected.values()), dtype=float)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e))
    m = ~np.isnan(e)
    np.testing.assert_allclose(a[m], e[m], rtol=tol, atol=tol)


# --------------------------------------------------------------------------
# Fixtures / helpers
# --------------------------------------------------------------------------


def load_close(ticker: str) -> pd.Series:
    df = pd.read_csv(PRICES_DIR / f"{ticker}.csv", index_col="Date", parse_dates=True)
    return df["Close"].rename(ticker)


@pytest.fixture(scope="module")
def spy() -> pd.Series:
    return load_close("SPY")


@pytest.fixture(scope="module")
def aapl() -> pd.Series:
    return load_close("AAPL")


def series(values: list[float], start: str = "2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), dtype=float)


def as_lists(s: pd.Series) -> tuple[list, list[float]]:
    return list(s.index), [float(v) for v in s]


# --------------------------------------------------------------------------
# risk_metrics: real data vs loop
# --------------------------------------------------------------------------


@pytest.mark.parametrize("rf", [0.0, 0.03])
def test_risk_metrics_aapl_vs_spy_matches_loop(aapl, spy, rf: float) -> None:
    actual = risk_metrics(aapl, spy, risk_free=rf)
    expected = loop_metrics(*as_lists(aapl), bench=as_lists(spy), rf_annual=rf)
    assert_metrics_close(actual, expected)


@pytest.mark.parametrize("ticker", ["TSLA", "TLT", "GLD", "JPM", "XOM"])
def test_risk_metrics_other_tickers_match_loop(ticker: str, spy) -> None:
    p = load_close(ticker)
    actual = risk_metrics(p, spy, risk_free=0.02, periods=252)
    expected = loop_metrics(*as_lists(p), bench=as_lists(spy), rf_annual=0.02)
    assert_metrics_close(actual, expected)


def test_risk_metrics_without_benchmark(aapl) -> None:
    m = risk_metrics(aapl)
    expected = loop_metrics(*as_lists(aapl))
    assert_metrics_close(m, expected)
    assert math.isnan(m["beta"]) and math.isnan(m["alpha"])
    assert math.isnan(m["correlation"])


def test_risk_metrics_other_periods(aapl, spy) -> None:
    weekly = aapl.iloc[::5]
    weekly_b = spy.iloc[::5]
    actual = risk_metrics(weekly, weekly_b, risk_free=0.01, periods=52)
    expected = loop_metrics(*as_lists(weekly), bench=as_lists(weekly_b), rf_annual=0.01, periods=52)
    assert_metrics_close(actual, expected)


def test_benchmark_against_itself(spy) -> None:
    m = risk_metrics(spy, spy, risk_free=0.04)
    assert m["beta"] == pytest.approx(1.0, abs=1e-12)
    assert m["correlation"] == pytest.approx(1.0, abs=1e-12)
    assert m["alpha"] == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------
# risk_metrics: hand-computed example
# --------------------------------------------------------------------------


def test_risk_metrics_hand_example() -> None:
    # returns: +10%, -10%, +10%, 0%
    p = series([100.0, 110.0, 99.0, 108.9, 108.9])
    m = risk_metrics(p, periods=4)
    r = [0.1, -0.1, 0.1, 0.0]
    mu = 0.025
    sd = math.sqrt(sum((x - mu) ** 2 for x in r) / 3)  # = 0.0957427...
    assert m["total_return"] == pytest.approx(0.089)
    assert m["cagr"] == pytest.approx(0.089)  # 4 returns at periods=4 = 1 year
    assert m["volatility"] == pytest.approx(sd * 2)
    assert m["sharpe"] == pytest.approx(mu / sd * 2)
    # downside deviation: sqrt((0.1^2)/4) = 0.05
    assert m["sortino"] == pytest.approx(mu * 4 / (0.05 * 2))
    assert m["max_drawdown"] == pytest.approx(-0.1)
    assert m["calmar"] == pytest.approx(0.89)
    # 5% quantile, linear: sorted [-0.1, 0, 0.1, 0.1], h=0.15 -> -0.1 + 0.15*0.1
    assert m["var_95"] == pytest.approx(-0.085)
    assert m["cvar_95"] == pytest.approx(-0.1)


def test_risk_free_is_annual_and_compounded(aapl) -> None:
    rf = 0.05
    base = risk_metrics(aapl)
    with_rf = risk_metrics(aapl, risk_free=rf)
    daily_rf = 1.05 ** (1 / 252) - 1
    r = returns(aapl)
    assert with_rf["sharpe"] == pytest.approx((r.mean() - daily_rf) / r.std(ddof=1) * math.sqrt(252), rel=1e-12)
    assert with_rf["sharpe"] < base["sharpe"]
    # risk-free does not affect return/vol/drawdown/VaR
    for k in ("total_return", "cagr", "volatility", "max_drawdown", "var_95"):
        assert with_rf[k] == base[k]


# --------------------------------------------------------------------------
# risk_metrics: edge cases
# --------------------------------------------------------------------------


@pytest.mark.parametrize("values", [[], [100.0], [NAN], [NAN, NAN, NAN], [NAN, 100.0, NAN]])
def test_fewer_than_two_prices_raises(values: list[float]) -> None:
    with pytest.raises(ValueError, match=r"non-NaN|at least 2"):
        risk_metrics(series(values))


def test_two_prices_is_enough() -> None:
    m = risk_metrics(series([100.0, 102.0]))
    assert m["total_return"] == pytest.approx(0.02)
    assert m["var_95"] == pytest.approx(0.02)
    assert math.isnan(m["volatility"]) and math.isnan(m["sharpe"])


def test_constant_prices_give_nan_ratios_not_inf() -> None:
    m = risk_metrics(series([50.0] * 30), series([10.0 + i for i in range(30)]))
    assert m["total_return"] == 0.0
    assert m["volatility"] == 0.0
    assert m["max_drawdown"] == 0.0
    assert m["var_95"] == 0.0 and m["cvar_95"] == 0.0
    for k in ("sharpe", "sortino", "calmar", "correlation"):
        assert math.isnan(m[k]), k
    assert m["beta"] == 0.0 and m["alpha"] == 0.0
    assert not any(math.isinf(v) for v in m.values())


def test_steady_growth_has_no_infinite_ratio() -> None:
    # returns are all 0.1% up to float noise: zero volatility, no downside
    p = series([100.0 * 1.001**i for i in range(300)])
    m = risk_metrics(p)
    assert math.isnan(m["sharpe"])
    assert math.isnan(m["sortino"])
    assert math.isnan(m["calmar"])
    assert m["cagr"] == pytest.approx(1.001**252 - 1)


def test_constant_benchmark_gives_nan_beta(aapl) -> None:
    flat = pd.Series(100.0, index=aapl.index)
    m = risk_metrics(aapl, flat)
    assert math.isnan(m["beta"]) and math.isnan(m["alpha"])
    assert math.isnan(m["correlation"])


def test_misaligned_benchmark_is_inner_joined_on_return_dates(aapl, spy) -> None:
    p = aapl.iloc[100:900]
    # benchmark: starts earlier, ends later, and has holes
    b = spy.iloc[50:1000].drop(spy.index[[200, 201, 202, 450, 700]])
    actual = risk_metrics(p, b, risk_free=0.01)
    expected = loop_metrics(*as_lists(p), bench=as_lists(b), rf_annual=0.01)
    assert_metrics_close(actual, expected)
    # own metrics are not restricted to the overlap
    assert actual["total_return"] == pytest.approx(p.iloc[-1] / p.iloc[0] - 1)


def test_benchmark_without_overlap_gives_nan(aapl, spy) -> None:
    m = risk_metrics(aapl.iloc[:100], spy.iloc[200:300])
    assert math.isnan(m["beta"]) and math.isnan(m["correlation"])
    assert not math.isnan(m["sharpe"])


def test_nan_gaps_are_dropped(aapl, spy) -> None:
    p = aapl.copy()
    p.iloc[[0, 5, 6, 7, 400, 1000, len(p) - 1]] = np.nan
    b = spy.copy()
    b.iloc[[10, 11, 1200]] = np.nan
    actual = risk_metrics(p, b)
    expected = loop_metrics(*as_lists(p), bench=as_lists(b))
    assert_metrics_close(actual, expected)
    assert_metrics_close(actual, risk_metrics(p.dropna(), b.dropna()), tol=0)


def test_unsorted_input_is_sorted(aapl, spy) -> None:
    shuffled = aapl.sample(frac=1.0, random_state=0)
    assert_metrics_close(risk_metrics(shuffled, spy), risk_metrics(aapl, spy), tol=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"periods": 0}, "periods"),
        ({"periods": -252}, "periods"),
        ({"risk_free": -1.0}, "risk_free"),
        ({"risk_free": float("nan")}, "risk_free"),
    ],
)
def test_invalid_arguments(aapl, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        risk_metrics(aapl, **kwargs)


def test_invalid_prices() -> None:
    with pytest.raises(ValueError, match="positive"):
        risk_metrics(series([100.0, 0.0, 50.0]))
    with pytest.raises(ValueError, match="positive"):
        risk_metrics(series([100.0, -5.0, 50.0]))
    with pytest.raises(ValueError, match="infinite"):
        risk_metrics(series([100.0, float("inf"), 50.0]))
    dup = pd.Series([1.0, 2.0], index=pd.to_datetime(["2024-01-01", "2024-01-01"]))
    with pytest.raises(ValueError, match="duplicate"):
        risk_metrics(dup)
    with pytest.raises(TypeError, match="Series"):
        risk_metrics([100.0, 101.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Series"):
        risk_metrics(series([100.0, 101.0]), benchmark=[1.0, 2.0])  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# returns / drawdown_series
# --------------------------------------------------------------------------


def test_returns_matches_loop_with_gaps(aapl) -> None:
    p = aapl.iloc[:200].copy()
    p.iloc[[0, 17, 18, 150]] = np.nan
    assert_series_close(returns(p), loop_returns(*as_lists(p)), tol=1e-14)
    assert returns(p).name == "AAPL"


def test_returns_short_series() -> None:
    assert returns(series([1.0])).empty
    assert returns(series([])).empty
    assert returns(series([2.0, 3.0])).tolist() == [0.5]


def test_drawdown_series_matches_loop(aapl) -> None:
    out = drawdown_series(aapl)
    peak, expected = -math.inf, {}
    for d, p in zip(aapl.index, aapl, strict=True):
        peak = max(peak, p)
        expected[d] = p / peak - 1
    assert_series_close(out, expected, tol=1e-14)
    assert (out <= 0).all()
    assert out.min() == pytest.approx(risk_metrics(aapl)["max_drawdown"], abs=1e-15)


def test_drawdown_series_hand_example() -> None:
    out = drawdown_series(series([100.0, 120.0, 90.0, NAN, 130.0, 117.0]))
    np.testing.assert_allclose(out.to_numpy(), [0.0, 0.0, -0.25, 0.0, -0.1])


# --------------------------------------------------------------------------
# Rolling statistics vs loops
# --------------------------------------------------------------------------


def loop_rolling(rd: dict, window: int, fn) -> dict:
    dates, vals = list(rd), list(rd.values())
    return {d: (NAN if i < window - 1 else fn(vals[i - window + 1 : i + 1])) for i, d in enumerate(dates)}


@pytest.mark.parametrize("window", [2, 21, 63])
def test_rolling_volatility_matches_loop(aapl, window: int) -> None:
    rd = loop_returns(*as_lists(aapl))
    expected = loop_rolling(rd, window, lambda w: sample_std(w) * math.sqrt(252))
    assert_series_close(rolling_volatility(aapl, window), expected)


@pytest.mark.parametrize("rf", [0.0, 0.04])
def test_rolling_sharpe_matches_loop(aapl, rf: float) -> None:
    d_rf = (1 + rf) ** (1 / 252) - 1
    rd = loop_returns(*as_lists(aapl))

    def sharpe(w: list[float]) -> float:
        x = [v - d_rf for v in w]
        return mean(x) / sample_std(x) * math.sqrt(252)

    expected = loop_rolling(rd, 63, sharpe)
    assert_series_close(rolling_sharpe(aapl, 63, risk_free=rf), expected, tol=1e-9)


def test_rolling_sharpe_last_window_equals_risk_metrics(aapl) -> None:
    out = rolling_sharpe(aapl, 63, risk_free=0.03)
    m = risk_metrics(aapl.iloc[-64:], risk_free=0.03)
    assert out.iloc[-1] == pytest.approx(m["sharpe"], rel=1e-10)


def test_rolling_beta_matches_loop(aapl, spy) -> None:
    b_in = spy.drop(spy.index[[300, 301, 900]])
    rd = loop_returns(*as_lists(aapl))
    bd = loop_returns(*as_lists(b_in))
    common = sorted(set(rd) & set(bd))
    pairs = {d: (rd[d], bd[d]) for d in common}

    def beta(w: list[tuple[float, float]]) -> float:
        a = [x for x, _ in w]
        b = [y for _, y in w]
        ma, mb = mean(a), mean(b)
        cov = sum((x - ma) * (y - mb) for x, y in w)
        return cov / sum((y - mb) ** 2 for y in b)

    expected = loop_rolling(pairs, 63, beta)
    out = rolling_beta(aapl, b_in, 63)
    assert_series_close(out, expected, tol=1e-9)
    last = risk_metrics(aapl.loc[common[-64] :], b_in.loc[common[-64] :])["beta"]
    assert out.iloc[-1] == pytest.approx(last, rel=1e-9)


def test_rolling_zero_volatility_is_nan_not_inf() -> None:
    p = series([100.0] * 40 + [100.0 + i for i in range(1, 41)])
    s = rolling_sharpe(p, 10)
    assert s.iloc[9:30].isna().all()
    assert np.isfinite(s.iloc[45:]).all()
    beta = rolling_beta(series([float(i) for i in range(1, 81)]), p, 10)
    assert beta.iloc[9:30].isna().all()
    assert not np.isinf(beta).any()


@pytest.mark.parametrize("bad", [0, 1, -3, 2.0, "63", None])
def test_rolling_invalid_window(aapl, spy, bad) -> None:
    for call in (
        lambda: rolling_volatility(aapl, bad),
        lambda: rolling_sharpe(aapl, bad),
        lambda: rolling_beta(aapl, spy, bad),
    ):
        with pytest.raises(ValueError, match="window"):
            call()


# --------------------------------------------------------------------------
# correlation_matrix
# --------------------------------------------------------------------------


def pearson(a: list[float], b: list[float]) -> float:
    ma, mb = mean(a), mean(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    return cov / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def test_correlation_matrix_matches_loop() -> None:
    tickers = ["AAPL", "SPY", "TLT", "GLD"]
    wide = pd.concat([load_close(t) for t in tickers], axis=1)
    wide.iloc[[3, 4, 500], 2] = np.nan  # gaps in TLT
    wide = wide.iloc[1:]  # and drop a row for everybody
    out = correlation_matrix(wide)
    assert list(out.index) == tickers and list(out.columns) == tickers
    rets = {t: loop_returns(*as_lists(wide[t])) for t in tickers}
    for t1 in tickers:
        for t2 in tickers:
            common = sorted(set(rets[t1]) & set(rets[t2]))
            e = pearson([rets[t1][d] for d in common], [rets[t2][d] for d in common])
            assert out.loc[t1, t2] == pytest.approx(e, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(np.diag(out), 1.0)
    np.testing.assert_allclose(out.to_numpy(), out.to_numpy().T)


def test_correlation_matrix_is_the_pairwise_correlation_of_each_columns_own_returns() -> None:
    """All columns at once give, to the last bit, what correlating each column's `returns` (its own observed
    closes, gaps spanned) gives: gaps, a late start, an early end, a column with one close, rows out of order."""
    tickers = ["AAPL", "SPY", "TLT", "GLD", "MSFT"]
    wide = pd.concat([load_close(t) for t in tickers], axis=1).iloc[:400]
    wide.iloc[[3, 4, 200, 201, 202], 2] = np.nan
    wide.iloc[:50, 3] = np.nan
    wide.iloc[300:, 4] = np.nan
    wide["ONE"] = np.nan
    wide.iloc[10, -1] = 5.0
    shuffled = wide.sample(frac=1.0, random_state=7)
    by_column = pd.DataFrame({c: returns(wide[c]) for c in wide.columns}, columns=wide.columns)
    expected = by_column.corr(method="pearson", min_periods=2)
    pd.testing.assert_frame_equal(correlation_matrix(shuffled), expected, check_exact=True)
    pd.testing.assert_frame_equal(correlation_matrix(wide), expected, check_exact=True)


def test_correlation_matrix_refuses_what_returns_refuses() -> None:
    days = pd.bdate_range("2024-01-01", periods=3)
    for bad, message in [
        (pd.DataFrame({"a": [1.0, -2.0, 3.0]}, index=days), "strictly positive"),
        (pd.DataFrame({"a": [1.0, np.inf, 3.0]}, index=days), "infinite"),
        (pd.DataFrame({"a": ["x", "y", "z"]}, index=days), "numeric"),
        (pd.DataFrame({"a": [1.0, 2.0, 3.0]}, index=[days[0], days[0], days[1]]), "duplicate"),
    ]:
        with pytest.raises(ValueError, match=message):
            correlation_matrix(bad)
        with pytest.raises(ValueError, match=message):
            returns(bad["a"])


def test_correlation_matrix_constant_column_and_errors() -> None:
    wide = pd.DataFrame(
        {"a": [1.0, 2.0, 1.5, 3.0], "flat": [5.0] * 4},
        index=pd.bdate_range("2024-01-01", periods=4),
    )
    out = correlation_matrix(wide)
    assert out.loc["a", "a"] == pytest.approx(1.0)
    assert math.isnan(out.loc["a", "flat"])
    with pytest.raises(TypeError, match="DataFrame"):
        correlation_matrix(wide["a"])  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Property-based tests
# --------------------------------------------------------------------------

daily_returns = st.lists(
    st.floats(min_value=-0.5, max_value=0.5, allow_nan=False, allow_infinity=False),
    min_size=2,
    max_size=120,
)


def prices_from(rets: list[float]) -> pd.Series:
    p = [100.0]
    for r in rets:
        p.append(p[-1] * (1 + r))
    return series(p)


@settings(max_examples=100, deadline=None)
@given(daily_returns, st.floats(min_value=0.0, max_value=0.1))
def test_prop_metrics_match_loop_and_bounds(rets: list[float], rf: float) -> None:
    p = prices_from(rets)
    m = risk_metrics(p, risk_free=rf)
    assert -1.0 <= m["max_drawdown"] <= 0.0
    assert m["cvar_95"] <= m["var_95"] + 1e-15
    assert min(rets) - 1e-12 <= m["cvar_95"]
    assert not any(math.isinf(v) for v in m.values())
    assume(len(set(rets)) > 1 and min(rets) < -1e-6 and max(rets) > 1e-6)
    expected = loop_metrics(*as_lists(p), rf_annual=rf)
    assert_metrics_close(m, expected, tol=1e-8)


@settings(max_examples=100, deadline=None)
@given(daily_returns, st.sampled_from([0.5, 2.0, 1024.0]))
def test_prop_scale_invariance(rets: list[float], k: float) -> None:
    p = prices_from(rets)
    assert_metrics_close(risk_metrics(p * k, p), risk_metrics(p, p), tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(daily_returns)
def test_prop_drawdown_non_positive(rets: list[float]) -> None:
    dd = drawdown_series(prices_from(rets))
    assert (dd <= 0).all() and (dd >= -1).all()
    assert dd.iloc[0] == 0.0


def test_page_tables_on_an_empty_or_too_short_range_are_empty_not_key_errors():
    """The API calls these with any range: no data, or too little, is an empty table, never a KeyError."""
    import pandas as pd

    from analytics.risk import risk_report, rolling_table

    empty = pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    report = risk_report(empty, ["AAPL"], "SPY", 0.0)
    assert all(frame.empty for name, frame in report.items() if name != "prices")
    two_days = pd.DataFrame({"AAPL": [1.0, 1.1], "SPY": [1.0, 1.01]}, index=pd.date_range("2024-01-02", periods=2))
    assert risk_report(two_days, ["AAPL"], "SPY")["metrics"].empty
    for kind in ("volatility", "beta", "sharpe"):
        assert rolling_table(kind, empty, ["AAPL"], "SPY", 21).empty
    with pytest.raises(ValueError, match="unknown rolling statistic"):
        rolling_table("alpha", empty, ["AAPL"], "SPY", 21)
