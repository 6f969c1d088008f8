"""Options analytics: prices and greeks (Hull, py_vollib), implied volatility, rates, chains, the contract series."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.options import (
    CHANGE_REASONS,
    IV_UPPER,
    TREASURY_TENORS,
    IVReason,
    SeriesReason,
    black_scholes,
    chain_greeks,
    dividend_yield,
    implied_volatility,
    occ_symbol,
    rate_for_expiry,
    select_contract_series,
    treasury_curve,
)

with warnings.catch_warnings():
    # py_vollib 1.0.12 is a shim over vollib that warns on import; it is only our oracle.
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton import black_scholes_merton as vollib_price
    from py_vollib.black_scholes_merton.greeks import analytical as vollib_greeks
    from py_vollib.black_scholes_merton.implied_volatility import implied_volatility as vollib_iv

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "data" / "options" / "option_chains_eod_SPY_AAPL_calls_dte120_2026-05-22_2026-08-21.parquet"
FIXTURES = ROOT / "tests" / "fixtures" / "options"
SPY_Q = 0.011  # SPY's trailing dividend yield in 2026 is about 1.1%; an approximation is all these tests need


# --------------------------------------------------------------------------------------------------
# Helpers: an independent scalar Black-Scholes-Merton (math.erfc only) to build chains with known answers
# --------------------------------------------------------------------------------------------------


def norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def ref_price_delta(S: float, K: float, T: float, r: float, q: float, sigma: float, call: bool) -> tuple[float, float]:
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    if call:
        price = S * math.exp(-q * T) * norm_cdf(d1) - K * math.exp(-r * T) * norm_cdf(d2)
        return price, math.exp(-q * T) * norm_cdf(d1)
    price = K * math.exp(-r * T) * norm_cdf(-d2) - S * math.exp(-q * T) * norm_cdf(-d1)
    return price, -math.exp(-q * T) * norm_cdf(-d1)


def make_session(
    session: str,
    close: float,
    expiries: list[str],
    strikes: np.ndarray,
    *,
    sigma=lambda K, S: 0.20,
    kind: str = "C",
    r: float = 0.0,
    q: float = 0.0,
    underlying: str = "XYZ",
) -> pd.DataFrame:
    """One session's chain priced with the reference formula (prices rounded to the cent like real quotes)."""
    rows = []
    day = pd.Timestamp(session)
    for exp in expiries:
        T = (pd.Timestamp(exp) - day).days / 365
        for K in strikes:
            price, delta = ref_price_delta(close, K, T, r, q, sigma(K, close), kind == "C")
            rows.append(
                {
                    "session_date": day,
                    "underlying": underlying,
                    "underlying_close": close,
                    "expiration": pd.Timestamp(exp),
                    "strike": float(K),
                    "type": kind,
                    "price": round(price, 6),
                    "delta": round(delta, 2),
                    "iv_pct": 20.0,
                    "volume": 10,
                    "open_interest": 100,
                }
            )
    return pd.DataFrame(rows)


def held(series: pd.DataFrame) -> list[str]:
    return series["contract"].tolist()


@pytest.fixture(scope="module")
def bundle() -> pd.DataFrame:
    return pd.read_parquet(BUNDLE)


@pytest.fixture(scope="module")
def fred_yields() -> pd.DataFrame:
    frame = pd.read_csv(FIXTURES / "fred_DGS3MO_DGS2_2026-05-01_2026-08-20.csv", parse_dates=["date"])
    return frame.set_index("date")


# --------------------------------------------------------------------------------------------------
# Prices and greeks
# --------------------------------------------------------------------------------------------------


def test_hull_bsm_call_and_put_prices() -> None:
    # Hull, Options, Futures, and Other Derivatives, chapter "The Black-Scholes-Merton Model", worked example
    # (Example 15.6 in the 9th/10th editions): S=42, K=40, r=10%, sigma=20%, T=0.5 -> c = 4.76, p = 0.81.
    call = black_scholes(42, 40, 0.5, 0.10, 0.20, kind="call")
    put = black_scholes(42, 40, 0.5, 0.10, 0.20, kind="put")
    assert float(call.price) == pytest.approx(4.76, abs=0.005)
    assert float(put.price) == pytest.approx(0.81, abs=0.005)


def test_hull_greek_letters_example() -> None:
    # Hull, OFOD, chapter "The Greek Letters" (Examples 19.1-19.7 in the 9th/10th editions): a call with S=49,
    # K=50, r=0.05, sigma=0.20, T=20 weeks=0.3846, q=0: delta 0.522, gamma 0.066, vega 12.1 (per 1.00 of vol),
    # theta -4.31 (per year), rho 8.91 (per 1.00 of rate).
    g = black_scholes(49, 50, 0.3846, 0.05, 0.20, q=0.0, kind="C")
    assert float(g.delta) == pytest.approx(0.522, abs=0.0005)
    assert float(g.gamma) == pytest.approx(0.066, abs=0.0005)
    assert float(g.vega) == pytest.approx(12.1, abs=0.05)
    assert float(g.theta) == pytest.approx(-4.31, abs=0.005)
    assert float(g.rho) == pytest.approx(8.91, abs=0.005)
    assert float(g.price) == pytest.approx(2.40, abs=0.005)  # Hull: "the Black-Scholes-Merton price ... is $240,000"


def test_put_call_parity_with_dividend_yield_over_a_grid() -> None:
    S = 100.0
    K, T, r, q, sigma = np.meshgrid(
        [50.0, 80.0, 95.0, 100.0, 105.0, 130.0, 200.0],
        [1 / 365, 0.1, 0.5, 2.0],
        [-0.005, 0.0, 0.05],
        [0.0, 0.02, 0.07],
        [0.05, 0.25, 1.0],
        indexing="ij",
    )
    call = black_scholes(S, K, T, r, sigma, q, kind="C")
    put = black_scholes(S, K, T, r, sigma, q, kind="P")
    forward_value = S * np.exp(-q * T) - K * np.exp(-r * T)
    np.testing.assert_allclose(call.price - put.price, forward_value, rtol=0, atol=1e-10 * S)
    np.testing.assert_allclose(call.delta - put.delta, np.exp(-q * T), rtol=0, atol=1e-12)
    np.testing.assert_allclose(call.gamma, put.gamma, rtol=1e-12)
    np.testing.assert_allclose(call.vega, put.vega, rtol=1e-12)
    np.testing.assert_allclose(call.rho - put.rho, K * T * np.exp(-r * T), rtol=1e-12, atol=1e-12)
    # theta parity: d/dt of S e^{-qT} - K e^{-rT}
    np.testing.assert_allclose(
        call.theta - put.theta, q * S * np.exp(-q * T) - r * K * np.exp(-r * T), rtol=1e-9, atol=1e-9
    )


def oracle_grid() -> list[tuple[str, float, float, float, float, float, float]]:
    points = []
    S = 100.0
    for flag in ("c", "p"):
        for K in (40.0, 70.0, 90.0, 98.0, 100.0, 103.0, 115.0, 150.0, 250.0):
            for T in (3 / 365, 30 / 365, 0.25, 1.0, 3.0):
                for sigma in (0.08, 0.25, 0.6, 1.5):
                    points.append((flag, S, K, T, 0.045, sigma, 0.015))
    return points


def test_prices_and_greeks_match_py_vollib() -> None:
    grid = oracle_grid()
    flags, S, K, T, r, sigma, q = (np.array(col) for col in zip(*grid, strict=True))
    ours = black_scholes(S, K, T, r, sigma, q, kind=flags)
    for i, (flag, s, k, t, rr, sig, qq) in enumerate(grid):
        ref_price = vollib_price(flag, s, k, t, rr, sig, qq)
        assert ours.price[i] == pytest.approx(ref_price, rel=1e-9, abs=1e-12 * s), grid[i]
        assert ours.delta[i] == pytest.approx(vollib_greeks.delta(flag, s, k, t, rr, sig, qq), rel=1e-9, abs=1e-14)
        assert ours.gamma[i] == pytest.approx(vollib_greeks.gamma(flag, s, k, t, rr, sig, qq), rel=1e-9, abs=1e-14)
        # py_vollib units: vega per 1% of vol, theta per calendar day (/365), rho per 1% of rate.
        assert ours.vega[i] == pytest.approx(100 * vollib_greeks.vega(flag, s, k, t, rr, sig, qq), rel=1e-9, abs=1e-12)
        assert ours.theta[i] == pytest.approx(365 * vollib_greeks.theta(flag, s, k, t, rr, sig, qq), rel=1e-9, abs=1e-9)
        assert ours.rho[i] == pytest.approx(100 * vollib_greeks.rho(flag, s, k, t, rr, sig, qq), rel=1e-9, abs=1e-12)


def test_implied_volatility_matches_py_vollib_including_deep_otm() -> None:
    grid = oracle_grid()
    compared = deep_otm = 0
    for flag, s, k, t, rr, sig, qq in grid:
        price = vollib_price(flag, s, k, t, rr, sig, qq)
        fwd = s * math.exp((rr - qq) * t)
        otm = (flag == "c" and k > fwd) or (flag == "p" and k < fwd)
        intrinsic = max((1 if flag == "c" else -1) * (s * math.exp(-qq * t) - k * math.exp(-rr * t)), 0.0)
        # Only where a volatility is identifiable in double precision: some time value left, not underflowed.
        if price - intrinsic < 1e-9 * max(price, 1.0) or price < 1e-250:
            continue
        ours = implied_volatility(price, s, k, t, rr, qq, kind=flag)
        assert ours.reason == "", (flag, s, k, t, sig, price, ours.reason)
        ref = vollib_iv(price, s, k, t, rr, qq, flag)
        assert float(ours.iv) == pytest.approx(ref, abs=1e-8), (flag, k, t, sig, price)
        assert float(ours.iv) == pytest.approx(sig, abs=1e-8), (flag, k, t, sig, price)
        compared += 1
        deep_otm += otm and price < 1e-4 * s
    assert compared > 250
    assert deep_otm >= 20  # the grid really reaches far out of the money (prices below 0.01% of spot)


def test_black_scholes_broadcasts_and_keeps_shape() -> None:
    scalar = black_scholes(100, 100, 1.0, 0.01, 0.2)
    assert scalar.price.shape == ()
    strikes = np.array([[90.0, 100.0, 110.0], [95.0, 105.0, 115.0]])
    grid = black_scholes(100, strikes, np.array([[0.5], [1.0]]), 0.01, 0.2, 0.0, kind=[["C", "P", "call"]] * 2)
    for value in grid:
        assert value.shape == (2, 3)
    assert grid.delta[0, 1] < 0 < grid.delta[0, 0]  # "P" is a put, "C"/"call" are calls
    mixed = black_scholes(100, [90, 110], 0.5, 0.01, 0.2, kind=pd.Series(["P", "c"], dtype="category"))
    assert mixed.delta[0] < 0 < mixed.delta[1]


def test_black_scholes_invalid_inputs_are_nan_not_errors() -> None:
    g = black_scholes([100, np.nan, 100, 100, -1], [100, 100, 0, 100, 100], [1, 1, 1, 0, 1], 0.01, 0.2)
    assert np.isfinite(g.price[0])
    assert np.isnan(g.price[1:]).all() and np.isnan(g.delta[1:]).all()


@pytest.mark.parametrize("kind", ["X", "", "calls", ["C", "Z"], [None, "C"]])
def test_unknown_kind_raises(kind: object) -> None:
    with pytest.raises(ValueError, match="kind must be"):
        black_scholes(100, 100, 1, 0.0, 0.2, kind=kind)
    with pytest.raises(ValueError, match="kind must be"):
        implied_volatility(5.0, 100, 100, 1, 0.0, kind=kind)


# --------------------------------------------------------------------------------------------------
# Implied volatility
# --------------------------------------------------------------------------------------------------


def test_iv_round_trip_over_a_wide_grid() -> None:
    rng = np.random.default_rng(20260821)
    n = 20_000
    S = 100.0
    K = S * np.exp(rng.uniform(-1.5, 1.5, n))
    T = np.exp(rng.uniform(np.log(1 / 365), np.log(4.0), n))
    r = rng.uniform(-0.01, 0.08, n)
    q = rng.uniform(0.0, 0.06, n)
    sigma = np.exp(rng.uniform(np.log(0.01), np.log(5.0), n))
    kind = np.where(rng.random(n) < 0.5, "C", "P")
    price = black_scholes(S, K, T, r, sigma, q, kind).price
    res = implied_volatility(price, S, K, T, r, q, kind)
    has_iv = res.reason == ""
    assert has_iv.mean() > 0.6
    # Where there is none it is because the time value vanished in double precision, never "no convergence".
    assert set(res.reason[~has_iv]) <= {IVReason.BELOW_INTRINSIC, IVReason.NO_PRICE}
    back = black_scholes(S, K, T, r, res.iv, q, kind).price
    realistic = has_iv & (price > 1e-200)
    np.testing.assert_allclose(back[realistic], price[realistic], rtol=1e-8)


def test_iv_is_never_clipped_nor_defaulted() -> None:
    # The old puller clipped at 200% and fell back to 30%: 350% must come back as 350%, 1500% must be NaN.
    price = black_scholes(100, 100, 0.25, 0.04, np.array([0.3, 2.0, 3.5, 9.0, 15.0]), 0.0).price
    res = implied_volatility(price, 100, 100, 0.25, 0.04)
    np.testing.assert_allclose(res.iv[:4], [0.3, 2.0, 3.5, 9.0], rtol=1e-10)
    assert np.isnan(res.iv[4]) and res.reason[4] == IVReason.VOL_TOO_HIGH
    assert IV_UPPER == 10.0


def test_iv_reasons_for_impossible_prices() -> None:
    S, K, T, r, q = 100.0, 90.0, 0.5, 0.05, 0.02
    intrinsic_call = S * math.exp(-q * T) - K * math.exp(-r * T)
    cases = [
        # (price, S, K, T, r, kind, reason)
        (intrinsic_call - 0.01, S, K, T, r, "C", IVReason.BELOW_INTRINSIC),
        (intrinsic_call, S, K, T, r, "C", IVReason.BELOW_INTRINSIC),
        (S * math.exp(-q * T), S, K, T, r, "C", IVReason.ABOVE_MAX),
        (S * math.exp(-q * T) + 1, S, K, T, r, "C", IVReason.ABOVE_MAX),
        (K * math.exp(-r * T), S, K, T, r, "P", IVReason.ABOVE_MAX),
        (5.0, S, K, 0.0, r, "C", IVReason.EXPIRED),
        (5.0, S, K, -0.1, r, "C", IVReason.EXPIRED),
        (0.0, S, K, T, r, "C", IVReason.NO_PRICE),
        (-1.0, S, K, T, r, "C", IVReason.NO_PRICE),
        (np.nan, S, K, T, r, "C", IVReason.NO_PRICE),
        (5.0, np.nan, K, T, r, "C", IVReason.UNDERLYING),
        (5.0, 0.0, K, T, r, "C", IVReason.UNDERLYING),
        (5.0, S, -5.0, T, r, "C", IVReason.STRIKE),
        (5.0, S, K, T, np.nan, "C", IVReason.RATE),
        (1e-9, S, S, 1.0, q, "C", IVReason.VOL_TOO_LOW),  # r = q: at the money; needs sigma ~ 2.5e-9
    ]
    price, spot, strike, t, rate, kind, expected = (list(col) for col in zip(*cases, strict=True))
    res = implied_volatility(price, spot, strike, t, rate, q, kind)
    assert list(res.reason) == expected
    assert np.isnan(res.iv).all()
    # A deep ITM put priced from its own volatility still inverts (put-call parity moves it out of the money).
    put = black_scholes(S, 140.0, T, r, 0.3, q, "P").price
    assert float(implied_volatility(put, S, 140.0, T, r, q, "P").iv) == pytest.approx(0.3, abs=1e-9)


def test_iv_round_trip_on_the_real_spy_chain(bundle: pd.DataFrame) -> None:
    session = bundle[(bundle["underlying"] == "SPY") & (bundle["session_date"] == "2026-07-15")]
    spot = float(session["underlying_close"].iloc[0])
    T = (session["expiration"] - session["session_date"]).dt.days.to_numpy() / 365
    r = rate_for_expiry({0.25: 0.0386, 2.0: 0.0385}, T)
    price = session["price"].to_numpy()
    res = implied_volatility(price, spot, session["strike"], T, r, SPY_Q, session["type"])
    ok = res.reason == ""
    assert 0.5 < ok.mean() < 1.0  # most contracts, but the chain really has unusable rows
    back = black_scholes(spot, session["strike"], T, r, res.iv, SPY_Q, session["type"]).price
    np.testing.assert_allclose(back[ok], price[ok], rtol=1e-6)
    assert (res.iv[ok] > 0.01).all() and (res.iv[ok] < IV_UPPER).all()
    # rows without a volatility always say why: stale deep-ITM last prices under intrinsic, contracts expiring today
    assert set(res.reason[~ok]) == {IVReason.BELOW_INTRINSIC, IVReason.EXPIRED}
    assert (T[res.reason == IVReason.EXPIRED] <= 0).all()


# --------------------------------------------------------------------------------------------------
# Rates and dividends
# --------------------------------------------------------------------------------------------------


def test_rate_for_expiry_interpolates_and_extrapolates_flat() -> None:
    curve = pd.Series({1 / 12: 0.040, 0.25: 0.042, 0.5: 0.044, 1.0: 0.040})
    got = rate_for_expiry(curve, [0.01, 1 / 12, 1 / 6, 0.25, 0.375, 0.75, 1.0, 5.0, np.nan])
    expected = [0.040, 0.040, 0.041, 0.042, 0.043, 0.042, 0.040, 0.040, np.nan]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert rate_for_expiry({0.25: 0.0386}, np.array([0.01, 0.25, 3.0])).tolist() == [0.0386] * 3
    assert rate_for_expiry(0.05, 0.3).item() == 0.05
    assert rate_for_expiry({0.5: 0.04, 0.25: np.nan}, 0.1).item() == 0.04  # missing points are skipped


@pytest.mark.parametrize(
    ("curve", "message"),
    [
        ({}, "no usable point"),
        ({0.25: np.nan}, "no usable point"),
        ({-1.0: 0.04}, "positive"),
        (pd.Series([0.04], index=pd.DatetimeIndex(["2026-01-02"])), "indexed by dates"),
        ("4%", "must be a number"),
    ],
)
def test_rate_for_expiry_rejects_bad_curves(curve: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rate_for_expiry(curve, 0.25)


def test_treasury_curve_from_a_row_of_fred_percent_yields(fred_yields: pd.DataFrame) -> None:
    assert TREASURY_TENORS["DGS1MO"] == pytest.approx(1 / 12) and TREASURY_TENORS["DGS1"] == 1.0
    row = {"date": "2026-07-22", "DGS1MO": 4.1, "DGS3MO": "3.89", "DGS6MO": None, "DGS1": 3.7, "VIXCLS": 15}
    curve = treasury_curve(row)
    assert curve.index.tolist() == pytest.approx([1 / 12, 0.25, 1.0])
    assert curve.tolist() == pytest.approx([0.041, 0.0389, 0.037])
    stored = treasury_curve(fred_yields.loc["2026-07-22"])
    assert stored.to_dict() == pytest.approx({0.25: 0.0389, 2.0: 0.0431})
    assert rate_for_expiry(stored, 1.125).item() == pytest.approx(0.0410)
    assert treasury_curve({"date": "2026-07-22"}).empty


def test_dividend_yield_trailing_twelve_months() -> None:
    dividends = pd.Series(
        [1.80, 1.75, 1.83, 1.74, 1.90, np.nan],
        index=pd.to_datetime(["2025-06-20", "2025-09-19", "2025-12-19", "2026-03-20", "2026-06-19", "2026-06-20"]),
    )
    # window (2025-06-20, 2026-06-20]: the 2025-06-20 payment is exactly one year old and drops out
    assert dividend_yield(dividends, 700.0, "2026-06-20") == pytest.approx((1.75 + 1.83 + 1.74 + 1.90) / 700)
    # the ex-date itself counts, and on 2026-06-19 the window starts after 2025-06-19: five payments
    assert dividend_yield(dividends, 700.0, "2026-06-19") == pytest.approx((1.80 + 1.75 + 1.83 + 1.74 + 1.90) / 700)
    assert dividend_yield(dividends, 700.0, "2026-06-18") == pytest.approx((1.80 + 1.75 + 1.83 + 1.74) / 700)
    assert dividend_yield(dividends, 700.0, "2020-01-01") == 0.0
    assert dividend_yield(pd.Series(dtype="float64"), 700.0, "2026-06-20") == 0.0
    for bad in (0.0, -5.0, np.nan, None):
        with pytest.raises(ValueError, match="price must be a positive number"):
            dividend_yield(dividends, bad, "2026-06-20")


# --------------------------------------------------------------------------------------------------
# Chains
# --------------------------------------------------------------------------------------------------


def test_chain_greeks_uses_the_mid_of_two_sided_quotes() -> None:
    chain = pd.read_csv(FIXTURES / "yahoo_b2_SPY_2026-08-14_exp_2026-08-21.csv").rename(columns={"last": "price"})
    out = chain_greeks(chain, 776.34, {0.25: 0.0386, 2.0: 0.0417}, SPY_Q, "2026-08-14")
    assert len(out) == len(chain) and (out.index == chain.index).all()
    assert (out["price_basis"] == "mid").all()
    np.testing.assert_allclose(out["price_used"], (chain["bid"] + chain["ask"]) / 2)
    assert out["t_years"].unique().tolist() == [7 / 365]
    ok = out["reason"] == ""
    assert ok.mean() > 0.85
    # the IV of the mid lies between the IVs of the bid and of the ask (the price is monotonic in volatility)
    T, r, kind = out["t_years"], out["rate"], out["type"]
    iv_bid = implied_volatility(chain["bid"], 776.34, chain["strike"], T, r, SPY_Q, kind).iv
    iv_ask = implied_volatility(chain["ask"], 776.34, chain["strike"], T, r, SPY_Q, kind).iv
    both = ok & np.isfinite(iv_bid) & np.isfinite(iv_ask)
    assert both.sum() > 80
    assert ((iv_bid[both] <= out["iv"][both] + 1e-12) & (out["iv"][both] <= iv_ask[both] + 1e-12)).all()
    # an independent cross-check: Yahoo's own IVs of out-of-the-money contracts agree within about a vol point
    otm = ok & (((kind == "C") & (chain["strike"] > 776.34)) | ((kind == "P") & (chain["strike"] < 776.34)))
    assert (out["iv"][otm] - chain["implied_vol"][otm]).abs().median() < 0.01
    calls, puts = out[ok & (kind == "C")], out[ok & (kind == "P")]
    assert ((calls["delta"] > 0) & (calls["delta"] < 1)).all() and ((puts["delta"] < 0) & (puts["delta"] > -1)).all()
    assert (out.loc[ok, "gamma"] > 0).all() and (out.loc[ok, "vega"] > 0).all()
    # the model price at our IV gives the price used back; the input's last trade keeps its own column
    np.testing.assert_allclose(out.loc[ok, "model_price"], out.loc[ok, "price_used"], rtol=1e-6)
    assert list(out.columns).count("price") == 1 and (out["price"] == chain["price"]).all()


def test_chain_greeks_treats_a_zero_quote_as_not_quoted() -> None:
    # Recorded Yahoo v7 body captured pre-market: bid = ask = 0 on 101 of 102 contracts, one real two-sided quote.
    chain = pd.read_csv(FIXTURES / "yahoo_v7_AAPL_2025-02-28_chain.csv").rename(columns={"lastPrice": "price"})
    out = chain_greeks(chain, 245.55, 0.043, 0.004, pd.Timestamp("2025-02-21"))
    quoted = (chain["bid"] > 0) & (chain["ask"] > 0)
    assert quoted.sum() == 1
    assert (out.loc[quoted, "price_basis"] == "mid").all()
    assert out.loc[quoted, "price_used"].item() == pytest.approx((135.9 + 136.65) / 2)
    assert (out.loc[~quoted, "price_basis"] == "last").all()
    assert (out.loc[~quoted, "price_used"] == chain.loc[~quoted, "price"]).all()
    # Yahoo's 1e-05 placeholder IVs do not matter: ours are computed, or NaN with a reason
    assert (out["reason"].eq("") == out["iv"].notna()).all()
    assert (out["iv"].dropna() > 0.1).all()
    # our OCC symbols are Yahoo's contract symbols
    assert (occ_symbol("AAPL", chain["expiration"], chain["type"], chain["strike"]) == chain["contractSymbol"]).all()


def test_chain_greeks_bad_rows_are_flagged_not_raised() -> None:
    chain = pd.DataFrame(
        {
            "expiration": pd.to_datetime(
                ["2026-09-18", "2026-09-18", "2026-09-18", "2026-08-21", "2026-08-14", "2026-09-18", "2026-09-18"]
            ),
            "strike": [110.0, 110.0, 110.0, 110.0, 110.0, np.nan, 110.0],
            "type": ["C", "C", "C", "C", "C", "C", "X"],
            "price": [1.5, 0.0, np.nan, 1.5, 1.5, 1.5, 1.5],
            "bid": [0.0, 0.0, np.nan, 0.0, 0.0, 0.0, 0.0],
            "ask": [0.0, 0.0, np.nan, 0.0, 0.0, 0.0, 0.0],
            "delta": [0.2] * 7,  # the source's delta
            "iv_pct": [0.0, np.nan, 0.0, 0.0, 0.0, 0.0, 0.0],  # "missing" source IVs play no part
        }
    )
    out = chain_greeks(chain, 100.0, 0.04, 0.0, "2026-08-21")
    assert out["reason"].tolist() == [
        "",
        IVReason.NO_PRICE,
        IVReason.NO_PRICE,
        IVReason.EXPIRED,  # expires on the session date
        IVReason.EXPIRED,  # expired a week ago
        IVReason.STRIKE,
        IVReason.BAD_TYPE,
    ]
    assert out["price_basis"].iloc[0] == "last" and out["price_basis"].iloc[1:3].isna().all()
    assert out["iv"].notna().tolist() == [True] + [False] * 6
    assert out["delta"].notna().tolist() == [True] + [False] * 6
    assert out["source_delta"].tolist() == [0.2] * 7  # kept, renamed
    no_spot = chain_greeks(chain, np.nan, 0.04, 0.0, "2026-08-21")
    assert (no_spot["reason"].iloc[:6] == IVReason.UNDERLYING).all() and no_spot["delta"].isna().all()
    with pytest.raises(ValueError, match="missing columns: price"):
        chain_greeks(chain.drop(columns="price"), 100.0, 0.04, 0.0, "2026-08-21")


def test_occ_symbol() -> None:
    assert occ_symbol("SPY", "2026-08-21", "C", 700).item() == "SPY260821C00700000"
    assert occ_symbol("BRK.B", pd.Timestamp("2026-09-18"), "put", 507.5).item() == "BRKB260918P00507500"
    got = occ_symbol(["AAPL", "AAPL"], np.array(["2025-02-28", "2025-02-28"], dtype="datetime64[ns]"), "P", [207.5, 5])
    assert got.tolist() == ["AAPL250228P00207500", "AAPL250228P00005000"]
    assert occ_symbol("SPY", "2026-08-21", "C", np.nan).item() is None


# --------------------------------------------------------------------------------------------------
# Contract selection and rolling
# --------------------------------------------------------------------------------------------------


def test_selection_on_real_spy_data_picks_every_session(bundle: pd.DataFrame, fred_yields: pd.DataFrame) -> None:
    series = select_contract_series(bundle, fred_yields, {"SPY": SPY_Q, "AAPL": 0.004})
    spy = series[series["underlying"] == "SPY"]
    assert len(spy) == 63 and spy["contract"].notna().all() and (spy["reason"] == "").all()
    assert spy["contract"].str.fullmatch(r"SPY\d{6}C\d{8}").all()
    picks = spy[spy["changed"]]
    assert picks["change_reason"].iloc[0] == "initial"
    assert set(picks["change_reason"]) <= set(CHANGE_REASONS)
    # new picks sit near the target (the source's own deltas on those days: 0.13-0.16), about two months out
    assert picks["delta"].between(0.13, 0.17).all()
    target = picks["session_date"] + pd.DateOffset(months=2)
    assert ((picks["expiration"] - target).dt.days.abs() <= 15).all()
    moneyness = picks["strike"] / picks["underlying_close"] - 1
    assert moneyness.between(0.03, 0.09).all()
    # while held, |delta| stays inside the band and dte above the roll threshold
    assert spy["delta"].between(0.05, 0.30).all() and (spy["dte"] > 21).all()
    # a held contract keeps its symbol until a change
    for before, after in zip(spy.itertuples(), spy.iloc[1:].itertuples(), strict=False):
        if not after.changed:
            assert after.contract == before.contract
    # the known bad source deltas (e.g. 0.37 on a 0.15-delta call) are caught
    assert spy["delta_mismatch"].any()
    assert (spy.loc[spy["delta_mismatch"], "source_delta"] - spy.loc[spy["delta_mismatch"], "delta"]).abs().min() > 0.05
    assert spy["rate"].between(0.035, 0.045).all()
    aapl = series[series["underlying"] == "AAPL"]
    assert aapl["contract"].notna().sum() == 58
    assert (aapl.loc[aapl["underlying_close"].isna(), "reason"] == SeriesReason.NO_CLOSE).all()
    assert aapl["underlying_close"].isna().sum() == 5


def test_selection_picks_the_hand_computed_contract_and_the_smile_counts() -> None:
    # Session 2026-01-05, target = +2 months = 2026-03-05, window 15 days. Expiries: 02-20 (13 days off),
    # 03-06 (1 day off -> chosen), 03-20 (15 days off, inside), 04-17 (43 days off, outside).
    # Prices carry a skew sigma(K) = 0.20 - 0.6 ln(K/100). For 03-06 (T = 60/365, S=100, r=4%, q=1%):
    #   K=107: sigma 0.1594, delta 0.1738 (|miss| 0.0238);  K=108: sigma 0.1538, delta 0.1303 (|miss| 0.0197)
    # so the pick is K=108. With one flat 20% vol the deltas would be K=110: 0.1412 and K=109: 0.1679 -> K=110.
    def smile(K: float, S: float) -> float:
        return 0.20 - 0.6 * math.log(K / 100)

    chain = make_session(
        "2026-01-05",
        100.0,
        ["2026-02-20", "2026-03-06", "2026-03-20", "2026-04-17"],
        np.arange(95, 126),
        sigma=smile,
        r=0.04,
        q=0.01,
    )
    series = select_contract_series(chain, 0.04, 0.01)
    row = series.iloc[0]
    assert row["contract"] == "XYZ260306C00108000"
    assert row["delta"] == pytest.approx(0.1303, abs=5e-4)
    assert row["iv"] == pytest.approx(smile(108, 100), abs=1e-4)
    assert row["changed"] and row["change_reason"] == "initial" and row["dte"] == 60
    flat = make_session("2026-01-05", 100.0, ["2026-03-06"], np.arange(95, 126), r=0.04, q=0.01)
    assert select_contract_series(flat, 0.04, 0.01)["contract"].item() == "XYZ260306C00110000"


def roll_chain(sessions: list[tuple[str, float]], expiries: list[str], kind: str = "C") -> pd.DataFrame:
    frames = [make_session(day, close, expiries, np.arange(80, 131), kind=kind) for day, close in sessions]
    return pd.concat(frames, ignore_index=True)


def test_roll_on_days_to_expiry() -> None:
    # months=1: on 03-02 the target is 04-02 -> expiry 04-01 (dte 30); 04-15 is 44 days out, beyond the 10-day
    # window. On 03-11 the held contract has dte 21 <= roll_dte -> roll to 04-15 (target 04-11).
    chain = roll_chain(
        [("2026-03-02", 100.0), ("2026-03-06", 100.0), ("2026-03-11", 100.0)], ["2026-04-01", "2026-04-15"]
    )
    series = select_contract_series(chain, 0.0, 0.0, months=1, window_days=10, roll_dte=21)
    assert series["changed"].tolist() == [True, False, True]
    assert series["change_reason"].tolist() == ["initial", "", "dte"]
    assert series["expiration"].dt.strftime("%m-%d").tolist() == ["04-01", "04-01", "04-15"]
    assert series["dte"].tolist() == [30, 26, 35]


def test_roll_on_delta_band_and_on_missing_contract() -> None:
    sessions = [("2026-03-02", 100.0), ("2026-03-03", 101.0), ("2026-03-04", 106.0), ("2026-03-05", 106.0)]
    chain = roll_chain(sessions, ["2026-04-30"])
    series = select_contract_series(chain, 0.0, 0.0)
    first = series["contract"].iloc[0]
    assert series["change_reason"].tolist() == ["initial", "", "delta band", ""]
    assert series["contract"].iloc[1] == first != series["contract"].iloc[2]
    held_on_day_3 = chain[(chain["session_date"] == "2026-03-04") & (chain["strike"] == float(first[-8:]) / 1000)]
    _, delta_then = ref_price_delta(106.0, held_on_day_3["strike"].item(), 57 / 365, 0.0, 0.0, 0.2, True)
    assert delta_then > 0.30  # why it left the band
    # the held strike disappears from the chain on the second session -> "missing"
    dropped = chain[~((chain["session_date"] == "2026-03-03") & (chain["strike"] == float(first[-8:]) / 1000))]
    series = select_contract_series(dropped, 0.0, 0.0)
    assert series["change_reason"].tolist()[:2] == ["initial", "missing"]
    assert series["contract"].iloc[1] != first


def test_roll_on_band_exit_downwards_and_the_band_parameter() -> None:
    sessions = [("2026-03-02", 100.0), ("2026-03-03", 94.0)]
    chain = roll_chain(sessions, ["2026-04-30"])
    series = select_contract_series(chain, 0.0, 0.0)
    assert series["change_reason"].tolist() == ["initial", "delta band"]
    assert series["delta"].iloc[1] == pytest.approx(0.15, abs=0.03)
    wide = select_contract_series(chain, 0.0, 0.0, band=(0.01, 0.5))
    assert wide["change_reason"].tolist() == ["initial", ""]
    assert wide["delta"].iloc[1] < 0.05  # kept: still inside the wider band


def test_puts_target_absolute_delta() -> None:
    chain = roll_chain([("2026-03-02", 100.0), ("2026-03-03", 100.5)], ["2026-04-30"], kind="P")
    series = select_contract_series(chain, 0.0, 0.0, target_delta=0.25, kind="P")
    assert series["type"].tolist() == ["P", "P"]
    assert series["delta"].iloc[0] == pytest.approx(-0.25, abs=0.03)
    assert series["contract"].str.fullmatch(r"XYZ260430P\d{8}").all()
    # the call rows are simply ignored when puts are asked for, and vice versa
    calls = roll_chain([("2026-03-02", 100.0)], ["2026-04-30"])
    mixed = select_contract_series(pd.concat([chain, calls]), 0.0, 0.0, target_delta=0.25, kind="P")
    assert mixed["contract"].tolist() == series["contract"].tolist()
    assert select_contract_series(calls, 0.0, 0.0, kind="P")["reason"].item() == SeriesReason.NO_CANDIDATE


def test_bad_sessions_and_rows_are_flagged_not_raised() -> None:
    sessions = [("2026-03-02", 100.0), ("2026-03-03", np.nan), ("2026-03-04", 100.0), ("2026-03-05", 100.0)]
    chain = roll_chain(sessions, ["2026-04-30"])
    first = select_contract_series(chain, 0.0, 0.0)["contract"].iloc[0]
    strike = float(first[-8:]) / 1000
    on = chain["strike"] == strike
    chain.loc[on & (chain["session_date"] == "2026-03-04"), ["price", "volume"]] = [0.0, 0]
    chain.loc[on & (chain["session_date"] == "2026-03-05"), ["delta", "volume"]] = [0.40, 0]
    # expired and zero-priced rows elsewhere in the chain are skipped with their reason, nothing raises
    junk = chain.iloc[:3].assign(expiration=pd.Timestamp("2026-02-27"), price=[0.0, np.nan, 1.0])
    series = select_contract_series(pd.concat([chain, junk], ignore_index=True), 0.0, 0.0)
    assert series["reason"].tolist() == ["", SeriesReason.NO_CLOSE, "", ""]
    assert series["contract"].isna().tolist() == [False, True, False, False]
    assert set(series["contract"].dropna()) == {first}
    assert series["changed"].tolist() == [True, False, False, False]  # a missing close does not roll
    # a held contract without a price that day is kept and flagged, not rolled
    day3 = series.iloc[2]
    assert day3["no_price"] and np.isnan(day3["delta"]) and day3["iv_reason"] == IVReason.NO_PRICE
    assert day3["zero_volume"]
    day4 = series.iloc[3]
    assert day4["delta_mismatch"] and day4["zero_volume"] and not day4["no_price"]
    assert not series.iloc[0][["zero_volume", "no_price", "delta_mismatch"]].any()


def test_no_candidate_and_no_rate_sessions(fred_yields: pd.DataFrame) -> None:
    chain = roll_chain([("2026-03-02", 100.0), ("2026-03-03", 100.0)], ["2026-06-30"])  # 4 months out
    series = select_contract_series(chain, 0.0, 0.0)
    assert (series["reason"] == SeriesReason.NO_CANDIDATE).all() and series["contract"].isna().all()
    # FRED yields start on 2026-05-01: a session before that has no rate (no look-ahead, no default)
    late = roll_chain([("2026-04-30", 100.0), ("2026-05-01", 100.0)], ["2026-06-30"])
    series = select_contract_series(late, fred_yields, 0.0)
    assert series["reason"].tolist() == [SeriesReason.NO_RATE, ""]
    assert series["rate"].iloc[1] == pytest.approx(rate_for_expiry(treasury_curve(fred_yields.iloc[0]), 60 / 365))


def test_dividend_series_as_q() -> None:
    chain = roll_chain([("2026-03-02", 100.0)], ["2026-04-30"])
    dividends = pd.Series([0.5, 0.5], index=pd.to_datetime(["2025-09-15", "2026-02-15"]))
    series = select_contract_series(chain, 0.0, {"XYZ": dividends})
    assert series["q"].item() == pytest.approx(0.01)
    with pytest.raises(ValueError, match="no entry for underlying 'XYZ'"):
        select_contract_series(chain, 0.0, {"ABC": 0.01})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_delta": 0.0}, r"target_delta must be in \(0, 1\)"),
        ({"target_delta": 1.0}, r"target_delta must be in \(0, 1\)"),
        ({"target_delta": -0.15}, r"target_delta must be in \(0, 1\)"),
        ({"target_delta": "0.15"}, "target_delta must be a finite number"),
        ({"months": 0}, "months must be an integer >= 1"),
        ({"months": -2}, "months must be an integer >= 1"),
        ({"months": 1.5}, "months must be an integer >= 1"),
        ({"window_days": -1}, "window_days must be an integer >= 0"),
        ({"roll_dte": -1}, "roll_dte must be an integer >= 0"),
        ({"band": (0.2, 0.3)}, "does not contain target_delta"),
        ({"band": (0.3, 0.05)}, "0 <= low < high <= 1"),
        ({"band": (-0.1, 0.3)}, "0 <= low < high <= 1"),
        ({"band": 0.3}, "band must be a pair"),
        ({"kind": "X"}, "kind must be 'C'/'P'"),
    ],
)
def test_bad_parameters_raise(kwargs: dict, message: str) -> None:
    chain = roll_chain([("2026-03-02", 100.0)], ["2026-04-30"])
    with pytest.raises(ValueError, match=message):
        select_contract_series(chain, 0.0, 0.0, **kwargs)


def test_bad_inputs_raise() -> None:
    chain = roll_chain([("2026-03-02", 100.0)], ["2026-04-30"])
    with pytest.raises(ValueError, match="missing columns: underlying_close"):
        select_contract_series(chain.drop(columns="underlying_close"), 0.0)
    with pytest.raises(ValueError, match="duplicate contracts"):
        select_contract_series(pd.concat([chain, chain.iloc[:1]]), 0.0)
    with pytest.raises(ValueError, match="dated Series"):
        select_contract_series(chain, pd.Series([4.0], index=pd.DatetimeIndex(["2026-03-02"])))
    with pytest.raises(ValueError, match="no Treasury column"):
        select_contract_series(chain, pd.DataFrame({"X": [4.0]}, index=pd.DatetimeIndex(["2026-03-02"])))


def test_pricing_and_solving_in_blocks_gives_the_same_numbers(monkeypatch):
    """Chains larger than analytics.options.BLOCK are priced and solved a block at a time (less memory at once);
    every option is computed alone, so any block size gives the same numbers, bit for bit, and the same reasons."""
    import analytics.options as options_module

    rng = np.random.default_rng(7)
    n = 1_001
    spot = rng.uniform(50, 150, n)
    strike = rng.uniform(40, 160, n)
    years = rng.choice([-0.1, 0.0, 0.02, 0.25, 1.5], n)
    rate, q = rng.uniform(0.0, 0.06, n), rng.uniform(0.0, 0.03, n)
    kind = rng.choice(np.array(["C", "P"], dtype=object), n)
    true_vol = rng.uniform(0.05, 1.2, n)
    price = black_scholes(spot, strike, np.abs(years), rate, true_vol, q, kind).price * rng.choice([1.0, 0.0, 3.0], n)
    whole_greeks = black_scholes(spot, strike, years, rate, true_vol, q, kind)
    whole_iv = implied_volatility(price, spot, strike, years, rate, q, kind)
    monkeypatch.setattr(options_module, "BLOCK", 64)
    blocked_greeks = black_scholes(spot, strike, years, rate, true_vol, q, kind)
    blocked_iv = implied_volatility(price, spot, strike, years, rate, q, kind)
    for name in whole_greeks._fields:
        np.testing.assert_array_equal(getattr(blocked_greeks, name), getattr(whole_greeks, name))
    np.testing.assert_array_equal(blocked_iv.iv, whole_iv.iv)
    assert list(blocked_iv.reason) == list(whole_iv.reason)
    assert np.isfinite(whole_iv.iv).sum() > n // 5 and len(set(whole_iv.reason)) > 2  # solved and refused alike
