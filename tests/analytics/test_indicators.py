"""Tests for analytics.indicators against plain-Python reference loops."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.indicators import bollinger, ema, macd, rsi, sma

PRICES_DIR = Path(__file__).resolve().parents[2] / "data" / "sample" / "prices"
NAN = float("nan")


# --------------------------------------------------------------------------
# Independent reference implementations (plain Python, no pandas/numpy)
# --------------------------------------------------------------------------


def loop_sma(p: list[float], w: int) -> list[float]:
    out = []
    for i in range(len(p)):
        out.append(NAN if i < w - 1 else sum(p[i - w + 1 : i + 1]) / w)
    return out


def loop_ema_full(p: list[float], span: int) -> list[float]:
    a = 2.0 / (span + 1.0)
    out: list[float] = []
    for i, x in enumerate(p):
        out.append(x if i == 0 else a * x + (1 - a) * out[-1])
    return out


def loop_ema(p: list[float], span: int) -> list[float]:
    full = loop_ema_full(p, span)
    return [NAN if i < span - 1 else v for i, v in enumerate(full)]


def loop_bollinger(p: list[float], w: int, k: float) -> tuple[list[float], list[float], list[float]]:
    mid, up, lo = [], [], []
    for i in range(len(p)):
        if i < w - 1:
            mid.append(NAN)
            up.append(NAN)
            lo.append(NAN)
            continue
        win = p[i - w + 1 : i + 1]
        m = sum(win) / w
        sd = math.sqrt(sum((x - m) ** 2 for x in win) / w)  # population std
        mid.append(m)
        up.append(m + k * sd)
        lo.append(m - k * sd)
    return mid, up, lo


def loop_rsi(p: list[float], n: int) -> list[float]:
    out = [NAN] * len(p)
    if len(p) <= n:
        return out
    gains = [max(p[i] - p[i - 1], 0.0) for i in range(1, len(p))]
    losses = [max(p[i - 1] - p[i], 0.0) for i in range(1, len(p))]
    ag = sum(gains[:n]) / n
    al = sum(losses[:n]) / n
    for i in range(n, len(p)):
        if i > n:
            ag = (ag * (n - 1) + gains[i - 1]) / n
            al = (al * (n - 1) + losses[i - 1]) / n
        if al == 0 and ag == 0:
            out[i] = 50.0
        elif al == 0:
            out[i] = 100.0
        else:
            out[i] = 100 - 100 / (1 + ag / al)
    return out


def loop_macd(p: list[float], fast: int, slow: int, sig: int) -> tuple[list[float], list[float], list[float]]:
    ef, es = loop_ema_full(p, fast), loop_ema_full(p, slow)
    line = [f - s for f, s in zip(ef, es, strict=True)]
    signal = loop_ema_full(line, sig)
    hist = [m - s for m, s in zip(line, signal, strict=True)]
    wl, ws = slow - 1, slow + sig - 2
    return (
        [NAN if i < wl else v for i, v in enumerate(line)],
        [NAN if i < ws else v for i, v in enumerate(signal)],
        [NAN if i < ws else v for i, v in enumerate(hist)],
    )


def assert_same(actual, expected: list[float], tol: float = 1e-10) -> None:
    a = np.asarray(actual, dtype=float)
    e = np.asarray(expected, dtype=float)
    assert a.shape == e.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(e))
    mask = ~np.isnan(e)
    np.testing.assert_allclose(a[mask], e[mask], rtol=tol, atol=tol)


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


def load_close(ticker: str) -> pd.Series:
    df = pd.read_csv(PRICES_DIR / f"{ticker}.csv", index_col="Date", parse_dates=True)
    return df["Close"].rename(ticker)


@pytest.fixture(scope="module")
def aapl() -> pd.Series:
    return load_close("AAPL")


def series(values: list[float], start: str = "2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), dtype=float)


# StockCharts' classic 14-day RSI worked example (Wilder smoothing).
STOCKCHARTS_PRICES = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245,
    45.8433, 46.0826, 45.8931, 46.0328, 45.6140, 46.2820, 46.2820, 46.0028,
    46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521, 45.7137, 46.4515,
    45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628,
    43.1314,
]  # fmt: skip
STOCKCHARTS_RSI = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38,
    54.71, 50.42, 39.99, 41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip


# --------------------------------------------------------------------------
# Hand-computed small examples
# --------------------------------------------------------------------------


def test_sma_hand_example() -> None:
    assert_same(sma(series([1, 2, 3, 4, 5]), 3), [NAN, NAN, 2, 3, 4])


def test_ema_hand_example() -> None:
    # span=3 -> alpha=0.5: 1, 1.5, 2.25, 3.125 ; first span-1 values masked
    assert_same(ema(series([1, 2, 3, 4]), 3), [NAN, NAN, 2.25, 3.125])


def test_bollinger_uses_population_std() -> None:
    out = bollinger(series([1, 2, 3]), window=3, num_std=1.0)
    sd = math.sqrt(2 / 3)  # ddof=0; ddof=1 would give 1.0
    assert list(out.columns) == ["middle", "upper", "lower"]
    assert out["middle"].iloc[-1] == pytest.approx(2.0)
    assert out["upper"].iloc[-1] == pytest.approx(2.0 + sd)
    assert out["lower"].iloc[-1] == pytest.approx(2.0 - sd)
    assert out.iloc[:2].isna().all().all()


def test_rsi_matches_stockcharts_worked_example() -> None:
    out = rsi(series(STOCKCHARTS_PRICES), 14)
    assert out.iloc[:14].isna().all()
    np.testing.assert_allclose(out.iloc[14:].round(2), STOCKCHARTS_RSI, atol=1e-9)


def test_rsi_hand_example_period_2() -> None:
    # changes: +2, -1, +3 ; seed avg_gain=(2+0)/2=1, avg_loss=(0+1)/2=0.5 -> RS=2
    # next: avg_gain=(1*1+3)/2=2, avg_loss=(0.5*1+0)/2=0.25 -> RS=8
    out = rsi(series([10, 12, 11, 14]), 2)
    assert_same(out, [NAN, NAN, 100 - 100 / 3, 100 - 100 / 9])


def test_rsi_flat_up_down() -> None:
    assert_same(rsi(series([5.0] * 6), 3), [NAN] * 3 + [50.0] * 3)
    assert_same(rsi(series([1, 2, 3, 4, 5, 6]), 3), [NAN] * 3 + [100.0] * 3)
    assert_same(rsi(series([6, 5, 4, 3, 2, 1]), 3), [NAN] * 3 + [0.0] * 3)


def test_macd_of_constant_is_zero() -> None:
    out = macd(series([7.0] * 40))
    assert list(out.columns) == ["macd", "signal", "histogram"]
    assert out["macd"].iloc[:25].isna().all()
    assert out["signal"].iloc[:33].isna().all()
    np.testing.assert_allclose(out.iloc[33:].to_numpy(), 0.0, atol=1e-12)


# --------------------------------------------------------------------------
# Real data vs reference loops
# --------------------------------------------------------------------------


@pytest.mark.parametrize("window", [1, 5, 20, 200])
def test_sma_matches_loop(aapl: pd.Series, window: int) -> None:
    assert_same(sma(aapl, window), loop_sma(aapl.tolist(), window))


@pytest.mark.parametrize("span", [1, 12, 26, 100])
def test_ema_matches_loop(aapl: pd.Series, span: int) -> None:
    assert_same(ema(aapl, span), loop_ema(aapl.tolist(), span))


@pytest.mark.parametrize(("window", "k"), [(20, 2.0), (10, 1.5), (50, 0.0)])
def test_bollinger_matches_loop(aapl: pd.Series, window: int, k: float) -> None:
    out = bollinger(aapl, window, k)
    mid, up, lo = loop_bollinger(aapl.tolist(), window, k)
    assert_same(out["middle"], mid)
    assert_same(out["upper"], up)
    assert_same(out["lower"], lo)


@pytest.mark.parametrize("ticker", ["AAPL", "TLT", "TSLA"])
@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_matches_loop(ticker: str, period: int) -> None:
    p = load_close(ticker)
    assert_same(rsi(p, period), loop_rsi(p.tolist(), period))


@pytest.mark.parametrize(("fast", "slow", "sig"), [(12, 26, 9), (5, 35, 5)])
def test_macd_matches_loop(aapl: pd.Series, fast: int, slow: int, sig: int) -> None:
    out = macd(aapl, fast, slow, sig)
    line, signal, hist = loop_macd(aapl.tolist(), fast, slow, sig)
    assert_same(out["macd"], line)
    assert_same(out["signal"], signal)
    assert_same(out["histogram"], hist)
    # MACD line is exactly EMA(fast) - EMA(slow) once both are warm
    diff = (ema(aapl, fast) - ema(aapl, slow)).iloc[slow - 1 :]
    assert_same(out["macd"].iloc[slow - 1 :], diff.tolist())


# --------------------------------------------------------------------------
# Alignment, NaN gaps, short series
# --------------------------------------------------------------------------


ALL_INDICATORS = [
    lambda s: sma(s, 10),
    lambda s: ema(s, 10),
    lambda s: bollinger(s, 10),
    lambda s: rsi(s, 10),
    lambda s: macd(s, 5, 10, 4),
]


@pytest.mark.parametrize("fn", ALL_INDICATORS)
def test_output_aligned_to_input_index(aapl: pd.Series, fn) -> None:
    out = fn(aapl)
    assert out.index.equals(aapl.index)
    if isinstance(out, pd.Series):
        assert out.name == aapl.name


@pytest.mark.parametrize("fn", ALL_INDICATORS)
def test_nan_gaps_are_skipped(aapl: pd.Series, fn) -> None:
    p = aapl.iloc[:300].copy()
    gaps = [0, 3, 50, 51, 52, 120, 299]
    p.iloc[gaps] = np.nan
    out = fn(p)
    expected = fn(p.dropna()).reindex(p.index)
    pd.testing.assert_frame_equal(pd.DataFrame(out), pd.DataFrame(expected))
    assert pd.DataFrame(out).iloc[gaps].isna().all().all()


@pytest.mark.parametrize("fn", ALL_INDICATORS)
def test_short_and_empty_series_are_all_nan(fn) -> None:
    for values in ([], [1.0], [1.0, 2.0, 3.0]):
        s = series(values)
        out = pd.DataFrame(fn(s))
        assert len(out) == len(values)
        assert out.isna().all().all()
    out = pd.DataFrame(fn(series([NAN] * 30)))
    assert len(out) == 30
    assert out.isna().all().all()


# --------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3", None, True])
def test_invalid_windows_raise_value_error(bad) -> None:
    s = series([1.0, 2.0, 3.0])
    for call in (
        lambda: sma(s, bad),
        lambda: ema(s, bad),
        lambda: bollinger(s, bad),
        lambda: rsi(s, bad),
        lambda: macd(s, bad, 26, 9),
        lambda: macd(s, 12, bad, 9),
        lambda: macd(s, 12, 26, bad),
    ):
        with pytest.raises(ValueError, match="must be an integer"):
            call()


def test_numpy_integer_window_accepted() -> None:
    s = series([1, 2, 3, 4])
    assert_same(sma(s, np.int64(2)), [NAN, 1.5, 2.5, 3.5])


def test_macd_fast_must_be_below_slow() -> None:
    with pytest.raises(ValueError, match="fast"):
        macd(series([1.0] * 50), 26, 12, 9)
    with pytest.raises(ValueError, match="fast"):
        macd(series([1.0] * 50), 12, 12, 9)


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), "2"])
def test_bollinger_invalid_num_std(bad) -> None:
    with pytest.raises(ValueError, match="num_std"):
        bollinger(series([1.0, 2.0, 3.0]), 2, bad)


def test_non_series_input_raises_type_error() -> None:
    with pytest.raises(TypeError, match="Series"):
        sma([1.0, 2.0, 3.0], 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Series"):
        rsi(pd.DataFrame({"a": [1.0, 2.0]}), 2)  # type: ignore[arg-type]


def test_duplicate_index_and_infinite_values_raise() -> None:
    s = pd.Series([1.0, 2.0, 3.0], index=pd.to_datetime(["2024-01-01"] * 3))
    with pytest.raises(ValueError, match="duplicate"):
        sma(s, 2)
    with pytest.raises(ValueError, match="infinite"):
        ema(series([1.0, float("inf"), 3.0]), 2)


# --------------------------------------------------------------------------
# Property-based tests
# --------------------------------------------------------------------------

price_lists = st.lists(
    st.floats(min_value=1.0, max_value=1e4, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=80,
)
windows = st.integers(min_value=1, max_value=30)


@settings(max_examples=75, deadline=None)
@given(price_lists, windows)
def test_prop_sma_and_bands_bracket_prices(values: list[float], w: int) -> None:
    s = series(values)
    out = bollinger(s, w, 2.0)
    lo_p = s.rolling(w).min()
    hi_p = s.rolling(w).max()
    ok = out["middle"].notna()
    tol = 1e-9 * s.abs().max()
    assert (out["middle"][ok] >= lo_p[ok] - tol).all()
    assert (out["middle"][ok] <= hi_p[ok] + tol).all()
    assert (out["upper"][ok] >= out["middle"][ok] - tol).all()
    assert (out["lower"][ok] <= out["middle"][ok] + tol).all()
    assert_same(sma(s, w), loop_sma(values, w), tol=1e-9)


@settings(max_examples=75, deadline=None)
@given(price_lists, windows)
def test_prop_rsi_bounded_and_matches_loop(values: list[float], n: int) -> None:
    out = rsi(series(values), n)
    valid = out.dropna()
    assert ((valid >= 0) & (valid <= 100)).all()
    assert_same(out, loop_rsi(values, n), tol=1e-8)


@settings(max_examples=75, deadline=None)
@given(price_lists, windows, st.sampled_from([0.25, 0.5, 2.0, 8.0, 1024.0]))
def test_prop_indicators_scale_equivariant(values: list[float], n: int, k: float) -> None:
    s = series(values)  # power-of-two factors scale exactly in binary floating point
    assert_same(ema(s * k, n), (ema(s, n) * k).tolist(), tol=1e-9)
    assert_same(rsi(s * k, n), rsi(s, n).tolist(), tol=1e-7)
