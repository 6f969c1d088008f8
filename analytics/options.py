"""Options analytics: Black-Scholes-Merton prices and greeks, implied volatility, rates, delta-targeted series."""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.special import ndtr

__all__ = [
    "CHANGE_REASONS",
    "DAYS_PER_YEAR",
    "DELTA_MISMATCH",
    "IV_LOWER",
    "IV_UPPER",
    "SERIES_COLUMNS",
    "TREASURY_TENORS",
    "Greeks",
    "ImpliedVolatility",
    "IVReason",
    "SeriesReason",
    "black_scholes",
    "chain_greeks",
    "dividend_yield",
    "implied_volatility",
    "occ_symbol",
    "rate_for_expiry",
    "select_contract_series",
    "treasury_curve",
]

# Conventions (shared by every public function in this module)
# ------------------------------------------------------------
# * Model: generalised Black-Scholes-Merton, European exercise, continuous
#   dividend yield q, continuously-compounded rate r.  S = underlying price,
#   K = strike, T = time to expiry in years, sigma = annualised volatility
#   (decimal: 0.20 = 20%).
# * Greek units: delta per 1.00 of S; gamma per 1.00 of S; vega per 1.00 of
#   sigma (divide by 100 for "per vol point"); theta per YEAR of calendar time
#   (dV/dt = -dV/dT; divide by 365 for per calendar day); rho per 1.00 of r
#   (divide by 100 for per 1%).  These are Hull's units.
# * Time: T = calendar days from the session date to the expiration date / 365
#   (ACT/365).  Both are dates: we value at the session close and the option
#   expires at the close of its expiration day, so whole days are exact for
#   PM-settled contracts (the usual US equity/ETF case).
# * Rates: FRED's constant-maturity Treasury yields (DGS1MO, DGS3MO, ...) are in
#   PERCENT, on a bond-equivalent (semi-annual / investment-yield) basis.  We
#   divide by 100 and use the figure AS IF it were continuously compounded.
#   The error (e.g. 4.00% BEY = 3.96% continuous) moves a two-month option's
#   price by far less than its bid/ask spread, so no conversion is made.
#   Between tenors the rate is interpolated linearly in T; beyond the first and
#   last tenor it is held flat; a one-point curve is a flat curve.
# * Dividends: a continuous yield q = trailing-12-month cash dividends / price
#   (``dividend_yield``).  Fine for index ETFs; for single stocks with one
#   large discrete dividend before expiry it is an approximation.
# * Exercise style: US equity and ETF options are American, but every price,
#   greek and implied volatility here is European.  For the contracts this
#   module is built around (out-of-the-money calls and puts, about two months
#   out, with a small dividend yield) the early-exercise premium is tiny --
#   an OTM option is never optimally exercised early, and the premium only
#   becomes material deep in the money.  Caveats: deep ITM puts (early exercise
#   to earn interest on K when r > 0) and ITM calls just before an ex-dividend
#   date (exercise to capture the dividend) are worth more than the European
#   value, so their European IV is biased upwards (or undefined when the
#   American price sits below the European no-arbitrage bounds).  Use a tree or
#   QuantLib for those; nothing here depends on it.
# * Bad data never raises: missing or non-positive inputs, expired contracts,
#   prices outside the no-arbitrage bounds give NaN with a reason.  Bad
#   ARGUMENTS (unknown option kind, target delta outside (0, 1), ...) raise
#   ValueError.
# * No clock: every function takes the dates it needs.

IV_LOWER = 1e-6  # lowest volatility searched (0.0001%)
IV_UPPER = 10.0  # highest volatility searched (1000%)
# Options priced or solved at once (each one alone, so blocks give the same numbers): the IV solver keeps about 40
# arrays of its size, pricing about 25 (90,000 options at once: 35 and 20 MiB more while they run).
BLOCK = 16_384
DAYS_PER_YEAR = 365.0
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_MAX_ITER = 100
# Newton stops when the residual is this small (relative to the price, or in log units in the low-vol
# branch): a few ulps, so the round trip price -> IV -> price is exact to ~1e-13.
_F_TOL = 1e-14
_S_TOL = 4e-16

# Treasury constant-maturity series (FRED ids) -> tenor in years.
TREASURY_TENORS: dict[str, float] = {
    "DGS1MO": 1 / 12,
    "DGS3MO": 0.25,
    "DGS4MO": 4 / 12,
    "DGS6MO": 0.5,
    "DGS1": 1.0,
    "DGS2": 2.0,
    "DGS3": 3.0,
    "DGS5": 5.0,
    "DGS7": 7.0,
    "DGS10": 10.0,
    "DGS20": 20.0,
    "DGS30": 30.0,
}


class IVReason:
    """Why an implied volatility (or a whole row) is NaN; "" means it is valid."""

    OK = ""
    UNDERLYING = "underlying price missing or non-positive"
    STRIKE = "strike missing or non-positive"
    EXPIRED = "expired (T <= 0)"
    RATE = "rate or dividend yield missing"
    NO_PRICE = "option price missing or non-positive"
    BELOW_INTRINSIC = "price at or below intrinsic value"
    ABOVE_MAX = "price at or above the no-arbitrage upper bound"
    VOL_TOO_LOW = f"implied volatility below {IV_LOWER:g}"
    VOL_TOO_HIGH = f"implied volatility above {IV_UPPER:g} ({IV_UPPER:.0%})"
    NO_CONVERGENCE = "solver did not converge"
    BAD_TYPE = "option type not C/P"


# Why a series switched contracts (``select_contract_series``).
CHANGE_REASONS = ("initial", "dte", "delta band", "missing")


class Greeks(NamedTuple):
    """Black-Scholes-Merton price and greeks; arrays of the broadcast input shape (units: module conventions)."""

    price: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    rho: np.ndarray


class ImpliedVolatility(NamedTuple):
    """Implied volatilities (decimal, NaN where none) and per element the reason ("" where valid)."""

    iv: np.ndarray
    reason: np.ndarray


# --------------------------------------------------------------------------------------------------
# Pricing
# --------------------------------------------------------------------------------------------------

_KIND_WORDS = {"c": True, "call": True, "p": False, "put": False}


def _parse_kind(kind: object, strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(is_call, known) boolean arrays shaped like ``kind`` ("call"/"put"/"C"/"P", any case, scalar or array)."""
    if isinstance(kind, str):
        word = kind.strip().lower()
        if word not in _KIND_WORDS:
            raise ValueError(f"kind must be 'call'/'put' or 'C'/'P', got {kind!r}")
        return np.array(_KIND_WORDS[word]), np.array(True)
    shape = np.shape(kind)  # type: ignore[call-overload]
    # a Series (categorical or string) factorizes without first becoming Python objects
    codes = kind if isinstance(kind, pd.Series) else pd.Series(np.asarray(kind, dtype=object).ravel())
    # factorize first: a chain has two distinct values, so the string work is done twice, not 14,000 times
    labels, uniques = pd.factorize(codes, use_na_sentinel=True)
    words = [str(u).strip().lower() for u in uniques]
    unknown = [u for u, w in zip(uniques, words, strict=True) if w not in _KIND_WORDS]
    if strict and (unknown or (labels < 0).any()):
        bad = unknown[0] if unknown else None
        raise ValueError(f"kind must be 'call'/'put' or 'C'/'P', got {bad!r}")
    # the extra last entry serves label -1 (missing)
    is_call_u = np.array([_KIND_WORDS.get(w, False) for w in words] + [False])
    known_u = np.array([w in _KIND_WORDS for w in words] + [False])
    return is_call_u[labels].reshape(shape), known_u[labels].reshape(shape)


def _broadcast(is_call: np.ndarray, *values: object) -> list[np.ndarray]:
    """Float arrays of the inputs and the is-call flags, all broadcast to one shape (flags last)."""
    arrays = [np.asarray(v, dtype="float64") for v in values]
    return list(np.broadcast_arrays(*arrays, is_call))


def _in_blocks(compute: Callable[..., Any], arrays: tuple[np.ndarray, ...]) -> Any:
    """`compute` (returning a NamedTuple of arrays) over BLOCK elements of the broadcast `arrays` at a time, its
    fields put back together in the arrays' shape: every option is computed alone, so the numbers are the same."""
    flat = [a.ravel() for a in arrays]
    parts = [compute(*(a[first : first + BLOCK] for a in flat)) for first in range(0, flat[0].size, BLOCK)]
    kind = type(parts[0])
    return kind(*(np.concatenate([getattr(p, f) for p in parts]).reshape(arrays[0].shape) for f in kind._fields))


def _otm_time_value(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Normalised Black time value b(x, s) for x = -|ln(F/K)| <= 0 and s = sigma*sqrt(T) > 0.

    b = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2) is the price of the out-of-the-money option (undiscounted,
    divided by sqrt(F*K)); every option's time value is this number (put-call parity), so pricing and the
    IV search share one well-conditioned formula: no cancellation against a large intrinsic value.
    """
    d1 = x / s + 0.5 * s
    return np.exp(0.5 * x) * ndtr(d1) - np.exp(-0.5 * x) * ndtr(d1 - s)


def black_scholes(
    S: Any,
    K: Any,
    T: Any,
    r: Any,
    sigma: Any,
    q: Any = 0.0,
    kind: Any = "call",
) -> Greeks:
    """Generalised Black-Scholes-Merton price and greeks (European, continuous dividend yield ``q``).

    Every argument is a scalar or an array; they broadcast, and each output has the broadcast shape (a 0-d
    array for scalar inputs), so a whole chain prices in one call.  ``kind`` is "call"/"put" or "C"/"P"
    (any case), or an array of those for mixed chains; anything else raises ValueError.

    Units: vega per 1.00 of volatility, theta per year (dV/dt), rho per 1.00 of rate (Hull's units).
    Elements with S, K, T or sigma missing or <= 0, or r/q missing, are NaN in every output (the T -> 0 and
    sigma -> 0 limits are not taken: a contract at expiry has no greeks worth reporting).
    """
    is_call, _ = _parse_kind(kind)
    return _black_scholes(S, K, T, r, sigma, q, is_call)


def _black_scholes(S: Any, K: Any, T: Any, r: Any, sigma: Any, q: Any, is_call: np.ndarray) -> Greeks:
    S, K, T, r, sigma, q, is_call = _broadcast(is_call, S, K, T, r, sigma, q)
    shape = S.shape
    if S.size > BLOCK:
        return _in_blocks(_black_scholes, (S, K, T, r, sigma, q, is_call))
    valid = (S > 0) & (K > 0) & (T > 0) & (sigma > 0) & np.isfinite(r) & np.isfinite(q)
    valid &= np.isfinite(S) & np.isfinite(K) & np.isfinite(T) & np.isfinite(sigma)
    idx = np.flatnonzero(valid)
    out = {name: np.full(valid.size, np.nan) for name in Greeks._fields}
    if idx.size:
        S, K, T, r, sigma, q, call = (a.ravel()[idx] for a in (S, K, T, r, sigma, q, is_call))
        sqrt_t = np.sqrt(T)
        s = sigma * sqrt_t
        disc_q = np.exp(-q * T)
        disc_r = np.exp(-r * T)
        fwd = S * np.exp((r - q) * T)
        log_fk = np.log(fwd / K)
        d1 = log_fk / s + 0.5 * s
        d2 = d1 - s
        sign = np.where(call, 1.0, -1.0)
        intrinsic = np.maximum(sign * (fwd - K), 0.0)
        with np.errstate(under="ignore"):
            time_value = np.sqrt(fwd * K) * _otm_time_value(-np.abs(log_fk), s)
            pdf_d1 = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
            n_d1 = ndtr(sign * d1)  # N(d1) for calls, N(-d1) for puts: ndtr(-x) keeps full precision in the tail
            n_d2 = ndtr(sign * d2)
        values = {
            "price": disc_r * (intrinsic + time_value),
            "delta": sign * disc_q * n_d1,
            "gamma": disc_q * pdf_d1 / (S * s),
            "vega": S * disc_q * pdf_d1 * sqrt_t,
            "theta": -S * disc_q * pdf_d1 * sigma / (2.0 * sqrt_t)
            + sign * (q * S * disc_q * n_d1 - r * K * disc_r * n_d2),
            "rho": sign * K * T * disc_r * n_d2,
        }
        for name, value in values.items():
            out[name][idx] = value
    return Greeks(**{name: value.reshape(shape) for name, value in out.items()})


# --------------------------------------------------------------------------------------------------
# Implied volatility
# --------------------------------------------------------------------------------------------------


def _solve_normalised(x: np.ndarray, beta: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve b(x, s) = beta for s inside (lo, hi), where b(lo) < beta < b(hi); returns (s, converged).

    Bracketed Newton.  b is convex in s below its inflection point s_c = sqrt(2|x|) and concave above it.
    Below (small time values, deep OTM) Newton runs on ln b, which is close to -x^2/(2 s^2) and converges in
    a few steps where Newton on b itself would crawl; above it, on b.  The bracket shrinks on every
    evaluation, and any step that leaves it is replaced by a bisection (geometric mean), so every element
    converges; none is clipped or defaulted.
    """
    s_c = np.sqrt(-2.0 * x)
    with np.errstate(divide="ignore", invalid="ignore"):
        b_c = np.where(s_c > 0, _otm_time_value(x, np.where(s_c > 0, s_c, 1.0)), 0.0)
    low_branch = beta < b_c
    lo = np.where(low_branch, lo, np.maximum(lo, s_c))
    hi = np.where(low_branch, np.minimum(hi, s_c), hi)
    log_beta = np.log(beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Low branch: ln b ~ -x^2 / (2 s^2); upper branch: the inflection point, from which Newton on a
        # concave function climbs monotonically.
        guess = np.where(low_branch, -x / np.sqrt(-2.0 * log_beta), s_c)
    inside = (guess >= lo) & (guess <= hi)
    s = np.where(inside, guess, np.sqrt(lo * hi))
    result = np.full(x.shape, np.nan)
    converged = np.zeros(x.shape, dtype=bool)
    active = np.arange(x.size)
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        xa, sa, la, ha, low = x[active], s[active], lo[active], hi[active], low_branch[active]
        d1 = xa / sa + 0.5 * sa
        eh = np.exp(0.5 * xa)
        b = eh * ndtr(d1) - ndtr(d1 - sa) / eh
        db = eh * _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(low, np.log(np.where(b > 0, b, np.nan)) - log_beta[active], b - beta[active])
            f = np.where(low & ~(b > 0), -np.inf, f)  # b underflowed: far below the root
            fprime = np.where(low, db / b, db)
            step = f / fprime
        below = f < 0
        la = np.where(below, sa, la)
        ha = np.where(below, ha, sa)
        new = sa - step
        ok_step = np.isfinite(new) & (new > la) & (new < ha)
        new = np.where(ok_step, new, np.sqrt(la * ha))
        scale = np.where(low, 1.0, beta[active])
        done = (np.abs(f) <= _F_TOL * scale) | (np.abs(new - sa) <= _S_TOL * sa) | (ha - la <= _S_TOL * sa)
        # When done, the Newton step from a converged point is the most accurate estimate we have.
        final = np.where(ok_step, new, sa)
        result[active[done]] = final[done]
        converged[active[done]] = True
        keep = ~done
        lo[active], hi[active], s[active] = la, ha, new
        active = active[keep]
    return result, converged


def implied_volatility(
    price: Any,
    S: Any,
    K: Any,
    T: Any,
    r: Any,
    q: Any = 0.0,
    kind: Any = "call",
) -> ImpliedVolatility:
    """Black-Scholes-Merton implied volatility, vectorised, with the reason wherever there is none.

    Arguments broadcast like ``black_scholes`` (``kind`` may be an array of "C"/"P").  Returns
    ``ImpliedVolatility(iv, reason)``: ``iv`` a float array (decimal, 0.2 = 20%), ``reason`` an object array
    of ``IVReason`` strings, "" where the volatility is valid.  An IV is NaN -- never clipped, never
    defaulted -- when: S, K or the price is missing or <= 0; T <= 0 (expired); r or q is missing; the price
    is at or below the discounted intrinsic value max(S e^{-qT} - K e^{-rT}, 0) (call) / max(K e^{-rT} -
    S e^{-qT}, 0) (put); at or above the upper bound S e^{-qT} (call) / K e^{-rT} (put); or the volatility
    that reproduces it lies outside [IV_LOWER, IV_UPPER] = [1e-6, 10].

    Method: the time value (price minus intrinsic, i.e. the out-of-the-money option by put-call parity) is
    inverted in normalised Black coordinates with a bracketed Newton (see ``_solve_normalised``).  Where a
    volatility exists the round trip price -> IV -> ``black_scholes`` price agrees to ~1e-13 relative.
    """
    is_call, _ = _parse_kind(kind)
    return _implied_volatility(price, S, K, T, r, q, is_call)


def _implied_volatility(price: Any, S: Any, K: Any, T: Any, r: Any, q: Any, is_call: np.ndarray) -> ImpliedVolatility:
    price, S, K, T, r, q, is_call = _broadcast(is_call, price, S, K, T, r, q)
    shape = price.shape
    if price.size > BLOCK:
        return _in_blocks(_implied_volatility, (price, S, K, T, r, q, is_call))
    reason = np.full(shape, IVReason.OK, dtype=object)
    # Later assignments win, so the list runs from least to most fundamental.
    reason[~(price > 0) | ~np.isfinite(price)] = IVReason.NO_PRICE
    reason[~np.isfinite(r) | ~np.isfinite(q)] = IVReason.RATE
    reason[~(T > 0) | ~np.isfinite(T)] = IVReason.EXPIRED
    reason[~(K > 0) | ~np.isfinite(K)] = IVReason.STRIKE
    reason[~(S > 0) | ~np.isfinite(S)] = IVReason.UNDERLYING
    iv = np.full(shape, np.nan)
    idx = np.flatnonzero(reason.ravel() == IVReason.OK)
    if idx.size == 0:
        return ImpliedVolatility(iv, reason)
    p, s0, k, t, rr, qq, call = (a.ravel()[idx] for a in (price, S, K, T, r, q, is_call))
    disc_r = np.exp(-rr * t)
    fwd = s0 * np.exp((rr - qq) * t)
    fwd_price = p / disc_r
    sign = np.where(call, 1.0, -1.0)
    intrinsic = np.maximum(sign * (fwd - k), 0.0)
    time_value = fwd_price - intrinsic
    # In the money, the time value is a difference of large numbers: a few ulps of (F + K) are rounding noise,
    # and a "volatility" solved from noise would be fiction, so that counts as no time value.
    time_value = np.where((intrinsic > 0) & (time_value <= 32 * np.finfo(float).eps * (fwd + k)), 0.0, time_value)
    upper = np.where(call, fwd, k)
    root_fk = np.sqrt(fwd * k)
    x = -np.abs(np.log(fwd / k))
    beta = time_value / root_fk
    sqrt_t = np.sqrt(t)
    s_lo, s_hi = IV_LOWER * sqrt_t, IV_UPPER * sqrt_t
    sub_reason = np.full(idx.size, IVReason.OK, dtype=object)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        b_lo = _otm_time_value(x, s_lo)
        b_hi = _otm_time_value(x, s_hi)
    sub_reason[beta >= b_hi] = IVReason.VOL_TOO_HIGH
    sub_reason[(beta <= b_lo) & (time_value > 0)] = IVReason.VOL_TOO_LOW
    sub_reason[fwd_price >= upper] = IVReason.ABOVE_MAX
    sub_reason[time_value <= 0] = IVReason.BELOW_INTRINSIC
    todo = sub_reason == IVReason.OK
    sol = np.full(idx.size, np.nan)
    if todo.any():
        with np.errstate(under="ignore"):
            s, converged = _solve_normalised(x[todo], beta[todo], s_lo[todo], s_hi[todo])
        sol[todo] = s / sqrt_t[todo]
        failed = np.flatnonzero(todo)[~converged]
        sub_reason[failed] = IVReason.NO_CONVERGENCE
        sol[failed] = np.nan
    flat_iv, flat_reason = iv.ravel(), reason.ravel()
    flat_iv[idx] = sol
    flat_reason[idx] = sub_reason
    return ImpliedVolatility(flat_iv.reshape(shape), flat_reason.reshape(shape))


# --------------------------------------------------------------------------------------------------
# Rates and dividends
# --------------------------------------------------------------------------------------------------


def treasury_curve(yields_pct: Mapping[str, Any] | pd.Series) -> pd.Series:
    """Turn one row of stored FRED Treasury yields (percent, keyed by series id) into a rate curve.

    Returns a float Series indexed by tenor in years (ascending) with decimal rates (4.25 -> 0.0425), for
    ``rate_for_expiry``.  Keys that are not Treasury series (see TREASURY_TENORS; e.g. a ``date`` column)
    and missing values are left out, so the result may be empty.  The percent figures are bond-equivalent
    yields used as continuously-compounded rates (module conventions).
    """
    items = yields_pct.items() if isinstance(yields_pct, pd.Series | Mapping) else None
    if items is None:
        raise ValueError(f"yields_pct must be a Series or a mapping of FRED ids to percent, got {yields_pct!r}")
    curve: dict[float, float] = {}
    for key, value in items:
        tenor = TREASURY_TENORS.get(str(key).strip().upper())
        if tenor is None:
            continue
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        if pd.notna(number) and np.isfinite(number):
            curve[tenor] = float(number) / 100.0
    out = pd.Series(curve, dtype="float64").sort_index()
    out.index = out.index.astype("float64")
    out.index.name = "tenor_years"
    return out.rename("rate")


def _clean_curve(curve: pd.Series | Mapping[float, float] | float) -> tuple[np.ndarray, np.ndarray]:
    """(tenors, rates) as sorted float arrays; a plain number is a flat curve."""
    if isinstance(curve, numbers.Real) and not isinstance(curve, bool):
        if not np.isfinite(float(curve)):
            raise ValueError(f"rate must be finite, got {curve!r}")
        return np.array([1.0]), np.array([float(curve)])
    if isinstance(curve, pd.Series):
        series = curve
    elif isinstance(curve, Mapping):
        series = pd.Series(dict(curve), dtype="float64")
    else:
        raise ValueError(f"rate curve must be a number, a Series or a mapping of years -> rate, got {curve!r}")
    if isinstance(series.index, pd.DatetimeIndex):
        raise ValueError("rate curve is indexed by dates; pass tenor-in-years -> rate (see treasury_curve)")
    try:
        tenors = np.asarray(series.index, dtype="float64")
        rates = np.asarray(series.to_numpy(), dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rate curve must map numeric tenors (years) to numeric rates: {exc}") from exc
    keep = np.isfinite(rates) & np.isfinite(tenors)
    tenors, rates = tenors[keep], rates[keep]
    if tenors.size == 0:
        raise ValueError("rate curve has no usable point")
    if (tenors <= 0).any():
        raise ValueError("rate curve tenors must be positive years")
    order = np.argsort(tenors, kind="stable")
    tenors, rates = tenors[order], rates[order]
    if (np.diff(tenors) == 0).any():
        raise ValueError("rate curve has two rates for the same tenor")
    return tenors, rates


def rate_for_expiry(curve: pd.Series | Mapping[float, float] | float, T: Any) -> np.ndarray:
    """Rate (decimal, used as continuously compounded) for each time to expiry ``T`` (years).

    ``curve`` maps tenor in years -> decimal rate (see ``treasury_curve``); missing points are ignored.
    Linear interpolation in T between tenors, flat beyond the shortest and longest; one point (e.g. only
    DGS3MO) is that rate for every T; a plain number is a flat curve.  An empty curve raises ValueError.
    Returns a float array of T's shape (NaN where T is NaN).
    """
    tenors, rates = _clean_curve(curve)
    t = np.asarray(T, dtype="float64")
    out = np.interp(t, tenors, rates)  # np.interp holds the end values flat outside the tenors
    return np.where(np.isnan(t), np.nan, out)


def _timestamp(value: object, name: str) -> pd.Timestamp:
    try:
        when = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not a date: {value!r}") from exc
    if pd.isna(when):
        raise ValueError(f"{name} is missing")
    if when.tzinfo is not None:
        when = when.tz_localize(None)
    return when.normalize()


def dividend_yield(dividends: pd.Series, price: float, as_of: object) -> float:
    """Trailing-12-month dividend yield: cash dividends with ex-date in (as_of - 1 year, as_of] / ``price``.

    ``dividends`` is a Series indexed by ex-dividend date with cash per share (Yahoo's dividend events);
    missing amounts are ignored and no dividend in the window gives 0.0.  ``price`` must be a positive
    number (the underlying close on ``as_of``), otherwise ValueError.
    """
    if isinstance(price, bool) or not isinstance(price, numbers.Real) or not np.isfinite(price) or price <= 0:
        raise ValueError(f"price must be a positive number, got {price!r}")
    end = _timestamp(as_of, "as_of")
    if not isinstance(dividends, pd.Series):
        raise ValueError(f"dividends must be a pandas Series (ex-date -> cash), got {type(dividends).__name__}")
    if dividends.empty:
        return 0.0
    dates = pd.to_datetime(dividends.index)
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    dates = dates.normalize()
    cash = pd.to_numeric(pd.Series(dividends.to_numpy()), errors="coerce").to_numpy(dtype="float64")
    start = end - pd.DateOffset(years=1)
    window = (dates > start) & (dates <= end) & np.isfinite(cash)
    return float(cash[window].sum() / price)


# --------------------------------------------------------------------------------------------------
# Chains
# --------------------------------------------------------------------------------------------------

_GREEK_COLUMNS = [
    "t_years",
    "rate",
    "q",
    "price_used",
    "price_basis",
    "iv",
    "model_price",
    "delta",
    "gamma",
    "vega",
    "theta",
    "rho",
]


def _price_used(price: np.ndarray, bid: np.ndarray | None, ask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(price, basis): the mid of a two-sided quote, else the last price; basis "mid"/"last"/None."""
    last_ok = np.isfinite(price) & (price > 0)
    used = np.where(last_ok, price, np.nan)
    basis = np.full(price.shape, None, dtype=object)
    basis[last_ok] = "last"
    if bid is not None and ask is not None:
        # 0/0 is "not quoted" (Yahoo's pre-market and illiquid rows); a crossed quote is not a market either.
        quoted = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask > 0) & (ask >= bid)
        used = np.where(quoted, 0.5 * (bid + ask), used)
        basis[quoted] = "mid"
    return used, basis


def _required_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = _column(frame, name)
    if values is None:
        raise ValueError(f"the chain needs a {name!r} column")
    return values


def _column(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    if name not in frame.columns:
        return None
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _dates(values: pd.Series | pd.Index) -> pd.DatetimeIndex:
    dates = pd.DatetimeIndex(pd.to_datetime(values))
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    return dates.normalize()


def _chain_arrays(
    chain: pd.DataFrame,
    spot: np.ndarray,
    as_of: pd.DatetimeIndex | pd.Timestamp,
    rate_of: Any,
    q: np.ndarray,
) -> dict[str, np.ndarray]:
    """The greek columns for ``chain`` given per-row spot, session date, rate lookup and q."""
    days = (_dates(chain["expiration"]) - as_of).days
    t_years = np.asarray(days, dtype="float64") / DAYS_PER_YEAR
    strike = _column(chain, "strike")
    price, basis = _price_used(_required_column(chain, "price"), _column(chain, "bid"), _column(chain, "ask"))
    is_call, known = _parse_kind(chain["type"].to_numpy(dtype=object), strict=False)
    rate = rate_of(t_years)
    ivs = _implied_volatility(price, spot, strike, t_years, rate, q, is_call)
    reason = ivs.reason.copy()
    reason[~known] = IVReason.BAD_TYPE
    iv = np.where(known, ivs.iv, np.nan)
    greeks = _black_scholes(spot, strike, t_years, rate, iv, q, is_call)._asdict()
    return {
        "t_years": t_years,
        "rate": rate,
        "q": np.broadcast_to(q, t_years.shape).astype("float64"),
        "price_used": price,
        "price_basis": basis,
        "iv": iv,
        "model_price": greeks.pop("price"),  # the input's `price` (the last trade) stays as it is
        **greeks,
        "reason": reason,
    }


def _source_renames(columns: pd.Index, ours: list[str]) -> dict[str, str]:
    return {c: f"source_{c}" for c in columns if c in ours}


def chain_greeks(
    chain: pd.DataFrame,
    spot: float,
    rate_curve: pd.Series | Mapping[float, float] | float,
    q: float,
    as_of: object,
) -> pd.DataFrame:
    """Our implied volatility and greeks for every contract of one session's chain.

    ``chain`` has at least ``expiration, strike, type ('C'/'P'), price`` (last trade) and optionally
    ``bid, ask``; ``spot`` is the underlying close, ``rate_curve`` tenor-years -> rate (or a flat rate),
    ``q`` the dividend yield, ``as_of`` the session date.  Returns a copy with every input row, in order,
    plus: ``t_years`` (calendar days to expiry / 365), ``rate``, ``q``, ``price_used`` (mid when bid and
    ask are both > 0 and ask >= bid, else the last price when > 0, else NaN: a 0/0 quote is "not quoted"),
    ``price_basis`` ("mid", "last", or None), ``iv``, ``model_price`` (Black-Scholes at that IV: the price used
    again where an IV exists), ``delta``, ``gamma``, ``vega``, ``theta``, ``rho`` (module units) and ``reason``
    ("" when the row has an IV, else an ``IVReason``: no price, expired,
    missing underlying, below intrinsic, ...).  Input columns whose names collide with ours (e.g. the
    source's ``delta``) are kept as ``source_<name>``.  Bad rows never raise; missing required columns do.
    """
    if not isinstance(chain, pd.DataFrame):
        raise ValueError(f"chain must be a DataFrame, got {type(chain).__name__}")
    missing = [c for c in ("expiration", "strike", "type", "price") if c not in chain.columns]
    if missing:
        raise ValueError(f"chain is missing columns: {', '.join(missing)}")
    when = _timestamp(as_of, "as_of")
    if isinstance(q, bool) or not isinstance(q, numbers.Real):
        raise ValueError(f"q must be a number, got {q!r}")
    tenors, rates = _clean_curve(rate_curve)
    spot_value = float(spot) if spot is not None and not pd.isna(spot) else np.nan
    arrays = _chain_arrays(
        chain,
        np.full(len(chain), spot_value),
        when,
        lambda t: np.interp(t, tenors, rates),
        np.full(len(chain), float(q)),
    )
    out = chain.rename(columns=_source_renames(chain.columns, [*_GREEK_COLUMNS, "reason"]))
    # one concat instead of a dozen column insertions: a third of the run time on a full chain
    return pd.concat([out, pd.DataFrame(arrays, index=out.index)], axis=1)


# --------------------------------------------------------------------------------------------------
# Delta-targeted contract series (the "options puller")
# --------------------------------------------------------------------------------------------------

_OCC_ROOT = re.compile(r"[^A-Z0-9]")


def occ_symbol(underlying: Any, expiration: Any, kind: Any, strike: Any) -> np.ndarray:
    """OCC-style option symbols, e.g. ("SPY", 2026-08-21, "C", 700) -> "SPY260821C00700000".

    Root = the underlying upper-cased without punctuation (BRK.B -> BRKB) and unpadded (Yahoo's form; the
    OSI standard pads it to 6), then YYMMDD, C/P, and the strike x 1000 as 8 digits.  Arguments broadcast;
    returns an object array (None where an input is missing).
    """
    und = np.asarray(underlying, dtype=object)
    # not dtype=object: that turns datetime64[ns] into bare integers
    exp = np.asarray(expiration)
    kinds = np.asarray(kind, dtype=object)
    strikes = np.asarray(strike, dtype="float64")
    und, exp, kinds, strikes = np.broadcast_arrays(und, exp, kinds, strikes)
    out = np.empty(und.shape, dtype=object)
    for i in np.ndindex(und.shape):
        u, e, k, s = und[i], exp[i], kinds[i], strikes[i]
        if u is None or pd.isna(e) or k is None or not np.isfinite(s) or s <= 0:
            out[i] = None
            continue
        word = str(k).strip().lower()
        if word not in _KIND_WORDS:
            raise ValueError(f"kind must be 'call'/'put' or 'C'/'P', got {k!r}")
        root = _OCC_ROOT.sub("", str(u).upper())
        out[i] = f"{root}{pd.Timestamp(e):%y%m%d}{'C' if _KIND_WORDS[word] else 'P'}{round(float(s) * 1000):08d}"
    return out


def _check_params(
    target_delta: object, months: object, window_days: object, roll_dte: object, band: object, kind: object
) -> tuple[float, int, int, int, tuple[float, float], bool]:
    def real(name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        return float(value)

    def integer(name: str, value: object, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
        return int(value)

    target = real("target_delta", target_delta)
    if not 0.0 < target < 1.0:
        raise ValueError(f"target_delta must be in (0, 1) (use |delta| for puts), got {target_delta!r}")
    n_months = integer("months", months, 1)
    window = integer("window_days", window_days, 0)
    roll = integer("roll_dte", roll_dte, 0)
    if not isinstance(band, tuple | list) or len(band) != 2:
        raise ValueError(f"band must be a pair (low, high) of |delta|, got {band!r}")
    low, high = real("band low", band[0]), real("band high", band[1])
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"band must satisfy 0 <= low < high <= 1, got {band!r}")
    if not low <= target <= high:
        raise ValueError(f"band {band!r} does not contain target_delta {target}")
    if not isinstance(kind, str) or kind.strip().lower() not in _KIND_WORDS:
        raise ValueError(f"kind must be 'C'/'P' (or 'call'/'put'), got {kind!r}")
    return target, n_months, window, roll, (low, high), _KIND_WORDS[kind.strip().lower()]


def _session_rates(rates: object, sessions: pd.DatetimeIndex) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per session (tenors, rates) arrays, or None where no rate is known on or before the session."""
    if isinstance(rates, pd.DataFrame):
        if not isinstance(rates.index, pd.DatetimeIndex):
            raise ValueError("rates DataFrame must have a DatetimeIndex of observation dates")
        columns = [c for c in rates.columns if str(c).strip().upper() in TREASURY_TENORS]
        if not columns:
            raise ValueError(f"rates DataFrame has no Treasury column (expected some of {', '.join(TREASURY_TENORS)})")
        frame = rates[columns].apply(pd.to_numeric, errors="coerce").sort_index()
        frame.index = _dates(frame.index)
        # As of each session: the last published value per tenor on or before that date (FRED's holiday
        # blanks skipped), never a later one.
        frame = frame.ffill()
        positions = frame.index.searchsorted(sessions, side="right") - 1
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        for pos in positions:
            curve = treasury_curve(frame.iloc[pos]) if pos >= 0 else pd.Series(dtype="float64")
            out.append((curve.index.to_numpy(), curve.to_numpy()) if len(curve) else None)
        return out
    curve = _clean_curve(rates)
    return [curve] * len(sessions)


def _session_q(q: object, underlying: str, closes: np.ndarray, sessions: pd.DatetimeIndex) -> np.ndarray:
    """Per-session dividend yield for one underlying: a number, or trailing yield from a dividend Series."""
    value = q
    if isinstance(q, Mapping):
        if underlying not in q:
            raise ValueError(f"q has no entry for underlying {underlying!r}")
        value = q[underlying]
    if isinstance(value, pd.Series):
        return np.array(
            [
                dividend_yield(value, float(c), d) if np.isfinite(c) and c > 0 else np.nan
                for c, d in zip(closes, sessions, strict=True)
            ]
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise ValueError(f"q must be a number, a dividend Series, or a mapping of those, got {value!r}")
    return np.full(len(sessions), float(value))


SERIES_COLUMNS = [
    "underlying",
    "session_date",
    "underlying_close",
    "contract",
    "expiration",
    "strike",
    "type",
    "dte",
    "price_used",
    "price_basis",
    "iv",
    "delta",
    "source_delta",
    "volume",
    "open_interest",
    "rate",
    "q",
    "changed",
    "change_reason",
    "zero_volume",
    "no_price",
    "delta_mismatch",
    "iv_reason",
    "reason",
]


class SeriesReason:
    """Why a session of ``select_contract_series`` has no contract; "" when it has one."""

    OK = ""
    NO_CLOSE = "underlying close missing"
    NO_RATE = "no rate on or before the session"
    NO_CANDIDATE = "no contract in the expiry window and delta band"


DELTA_MISMATCH = 0.05  # |source delta - our delta| above this is flagged


def select_contract_series(
    chains: pd.DataFrame,
    rates: pd.DataFrame | pd.Series | Mapping[float, float] | float,
    q: float | Mapping[str, float | pd.Series] | pd.Series = 0.0,
    target_delta: float = 0.15,
    months: int = 2,
    window_days: int = 15,
    roll_dte: int = 21,
    band: tuple[float, float] = (0.05, 0.30),
    kind: str = "C",
) -> pd.DataFrame:
    """Follow one delta-targeted contract per underlying through many sessions (the options puller's job).

    ``chains``: long frame, one row per session and contract, with ``session_date, underlying,
    underlying_close, expiration, strike, type, price`` (last trade) and optionally ``delta`` (the source's,
    reported beside ours), ``volume, open_interest, bid, ask``; other columns (e.g. the source's ``iv_pct``)
    are ignored.  ``rates``: a flat rate, a curve (tenor-years -> decimal rate), or a DataFrame of stored
    FRED yields in percent (DatetimeIndex x DGS* columns) read as of each session (last value on or before
    it, never a later one).  ``q``: a dividend yield, a dividend Series (ex-date -> cash; trailing-12-month
    yield per session), or a mapping underlying -> either.

    Pick rule, per session: among contracts of ``kind`` with a valid IV, dte > ``roll_dte`` and |delta| in
    ``band``, whose expiration lies within ``window_days`` of the target date (session + ``months`` calendar
    months), take the expiration nearest the target (ties: the earlier), then the contract whose |delta|
    -- from OUR implied volatility of that strike, so the smile counts -- is nearest ``target_delta`` (ties:
    the further OTM).  Roll: the contract is kept on later sessions until its dte <= ``roll_dte`` ("dte"),
    it is absent from the session ("missing"), or its |delta| leaves ``band`` ("delta band"); then a new
    one is picked.  A kept contract that has no usable price that day stays (flagged ``no_price``, NaN
    IV/delta): a one-day data gap does not roll the series.

    Returns one row per (underlying, session_date) present in ``chains``, sorted, with SERIES_COLUMNS:
    ``contract`` (OCC symbol), ``expiration, strike, type, dte`` (calendar days), ``price_used`` and
    ``price_basis`` (as in ``chain_greeks``), ``iv`` (decimal), ``delta`` (ours, signed: negative for
    puts), ``source_delta``, ``volume, open_interest``, ``rate`` and ``q`` used; ``changed`` is True when a
    new contract was picked, with ``change_reason`` in CHANGE_REASONS ("initial" when nothing was held: the
    first session, or after a session without a pick), "" otherwise; flags ``zero_volume``, ``no_price``,
    ``delta_mismatch`` (source delta differs from ours by more than DELTA_MISMATCH = 0.05); ``iv_reason``
    (an IVReason, "" when the IV exists); ``reason`` says why a session has no contract (SeriesReason:
    missing close, no rate, no candidate), "" otherwise.  A session without an underlying close (or rate)
    keeps the held contract for the next one.  Bad parameters raise ValueError; bad rows never do.
    """
    target, n_months, window, roll, (low, high), want_call = _check_params(
        target_delta, months, window_days, roll_dte, band, kind
    )
    if not isinstance(chains, pd.DataFrame):
        raise ValueError(f"chains must be a DataFrame, got {type(chains).__name__}")
    required = ["session_date", "underlying", "underlying_close", "expiration", "strike", "type", "price"]
    missing = [c for c in required if c not in chains.columns]
    if missing:
        raise ValueError(f"chains is missing columns: {', '.join(missing)}")
    if isinstance(rates, pd.Series) and isinstance(rates.index, pd.DatetimeIndex):
        raise ValueError("rates is a dated Series; pass a DataFrame with FRED columns, e.g. series.to_frame('DGS3MO')")

    # Work on the few rows and columns that matter: a chain history is ~900k rows per underlying, and
    # string conversions of all of them would cost more than the whole IV computation.
    session_day = _dates(chains["session_date"])
    expiration = _dates(chains["expiration"])
    close = pd.to_numeric(chains["underlying_close"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    # One row per (underlying, session), including sessions that have no usable contract.
    sessions = (
        pd.DataFrame({"underlying": chains["underlying"].array, "session_date": session_day, "underlying_close": close})
        .groupby(["underlying", "session_date"], sort=True, observed=True)["underlying_close"]
        .first()  # the first non-missing close of the session
        .reset_index()
    )
    sessions["underlying"] = sessions["underlying"].astype(str)
    session_dates = pd.DatetimeIndex(sessions["session_date"])
    curves = _session_rates(rates, session_dates)
    q_values = np.full(len(sessions), np.nan)
    for und, idx in sessions.groupby("underlying", sort=False).indices.items():
        q_values[idx] = _session_q(q, str(und), sessions["underlying_close"].to_numpy()[idx], session_dates[idx])
    sessions["q"] = q_values

    # Only contracts that could ever be picked or held: roll_dte < dte <= the farthest expiry a window reaches
    # (a held contract at dte <= roll_dte is rolled whether or not its row is there).
    is_call, known = _parse_kind(chains["type"], strict=False)
    dte_all = np.asarray((expiration - session_day).days)
    max_dte = 31 * n_months + window + 1
    keep = np.flatnonzero(known & (is_call == want_call) & (dte_all > roll) & (dte_all <= max_dte))
    columns = [*required, *(c for c in ("delta", "volume", "open_interest", "bid", "ask") if c in chains.columns)]
    cand = chains.iloc[keep][columns].reset_index(drop=True)
    cand["session_date"] = session_day[keep]
    cand["expiration"] = expiration[keep]
    cand["underlying"] = cand["underlying"].astype(str)
    if cand.duplicated(subset=["underlying", "session_date", "expiration", "strike"]).any():
        raise ValueError("chains has duplicate contracts (same underlying, session, expiration, strike, type)")
    cand = cand.merge(sessions.reset_index(names="sid")[["underlying", "session_date", "sid"]], how="left")
    cand = cand.sort_values(["sid", "expiration", "strike"], kind="stable").reset_index(drop=True)
    sid = cand["sid"].to_numpy()
    spot = sessions["underlying_close"].to_numpy(dtype="float64")[sid]
    qs = q_values[sid]
    days = (cand["expiration"] - cand["session_date"]).dt.days.to_numpy()
    t_years = days / DAYS_PER_YEAR
    rate = np.full(len(cand), np.nan)
    for s_id in np.unique(sid):
        rows = sid == s_id
        curve = curves[s_id]
        if curve is not None:
            rate[rows] = np.interp(t_years[rows], *curve)
    price, basis = _price_used(_required_column(cand, "price"), _column(cand, "bid"), _column(cand, "ask"))
    code = "C" if want_call else "P"
    ivs = implied_volatility(price, spot, _column(cand, "strike"), t_years, rate, qs, code)
    delta = black_scholes(spot, _column(cand, "strike"), t_years, rate, ivs.iv, qs, code).delta
    abs_delta = np.abs(delta)
    eligible = (ivs.reason == IVReason.OK) & (abs_delta >= low) & (abs_delta <= high)

    exp_ns = cand["expiration"].to_numpy(dtype="datetime64[ns]")
    strikes = _required_column(cand, "strike")
    optional = {name: _column(cand, name) for name in ("delta", "volume", "open_interest")}
    bounds = np.searchsorted(sid, np.arange(len(sessions) + 1))

    records: list[dict[str, Any]] = []
    held: dict[str, tuple[np.datetime64, float]] = {}
    for s_id, row in enumerate(sessions.itertuples(index=False)):
        und = str(row.underlying)
        record: dict[str, Any] = dict.fromkeys(SERIES_COLUMNS, np.nan)
        record.update(
            {
                "underlying": und,
                "session_date": row.session_date,
                "underlying_close": row.underlying_close,
                "contract": None,
                "expiration": pd.NaT,
                "type": None,
                "price_basis": None,
                "q": row.q,
                "changed": False,
                "change_reason": "",
                "zero_volume": False,
                "no_price": False,
                "delta_mismatch": False,
                "iv_reason": "",
                "reason": "",
            }
        )
        records.append(record)
        if not (np.isfinite(row.underlying_close) and row.underlying_close > 0):
            record["reason"] = SeriesReason.NO_CLOSE
            continue  # the held contract, if any, is judged again on the next session with a close
        if curves[s_id] is None:
            record["reason"] = SeriesReason.NO_RATE
            continue
        lo_i, hi_i = bounds[s_id], bounds[s_id + 1]
        chosen: int | None = None
        change = ""
        if und in held:
            h_exp, h_strike = held[und]
            h_dte = (h_exp - np.datetime64(row.session_date, "ns")) // np.timedelta64(1, "D")
            match = np.flatnonzero((exp_ns[lo_i:hi_i] == h_exp) & (strikes[lo_i:hi_i] == h_strike))
            if h_dte <= roll:
                change = "dte"
            elif match.size == 0:
                change = "missing"
            else:
                i = lo_i + match[0]
                if np.isfinite(abs_delta[i]) and not low <= abs_delta[i] <= high:
                    change = "delta band"
                else:
                    chosen = i
        else:
            change = "initial"
        if chosen is None:
            chosen = _pick(
                row.session_date, n_months, window, target, want_call, exp_ns, strikes, abs_delta, eligible, lo_i, hi_i
            )
            if chosen is None:
                held.pop(und, None)
                record["reason"] = SeriesReason.NO_CANDIDATE
                continue
            held[und] = (exp_ns[chosen], strikes[chosen])
            record["changed"] = True
            record["change_reason"] = change
        i = chosen
        source_delta = optional["delta"][i] if optional["delta"] is not None else np.nan
        volume = optional["volume"][i] if optional["volume"] is not None else np.nan
        record.update(
            {
                "contract": occ_symbol(und, pd.Timestamp(exp_ns[i]), code, strikes[i]).item(),
                "expiration": pd.Timestamp(exp_ns[i]),
                "strike": strikes[i],
                "type": code,
                "dte": int(days[i]),
                "price_used": price[i],
                "price_basis": basis[i],
                "iv": ivs.iv[i],
                "delta": delta[i],
                "source_delta": source_delta,
                "volume": volume,
                "open_interest": optional["open_interest"][i] if optional["open_interest"] is not None else np.nan,
                "rate": rate[i],
                "zero_volume": bool(volume == 0),
                "no_price": bool(basis[i] is None),
                "delta_mismatch": bool(abs(source_delta - delta[i]) > DELTA_MISMATCH),
                "iv_reason": ivs.reason[i],
            }
        )
    out = pd.DataFrame.from_records(records, columns=SERIES_COLUMNS)
    out["dte"] = out["dte"].astype("Int64")
    out["expiration"] = pd.to_datetime(out["expiration"])
    return out


def _pick(
    session: pd.Timestamp,
    n_months: int,
    window: int,
    target: float,
    want_call: bool,
    exp_ns: np.ndarray,
    strikes: np.ndarray,
    abs_delta: np.ndarray,
    eligible: np.ndarray,
    lo_i: int,
    hi_i: int,
) -> int | None:
    """Index of the new contract for one session (rows lo_i:hi_i), or None when nothing qualifies."""
    target_date = np.datetime64(session + pd.DateOffset(months=n_months), "ns")
    gap = np.abs((exp_ns[lo_i:hi_i] - target_date) // np.timedelta64(1, "D"))
    ok = eligible[lo_i:hi_i] & (gap <= window)
    if not ok.any():
        return None
    exps = exp_ns[lo_i:hi_i]
    # nearest expiration to the target; on a tie the earlier one
    best_gap = gap[ok].min()
    best_exp = exps[ok & (gap == best_gap)].min()
    rows = np.flatnonzero(ok & (exps == best_exp))
    miss = np.abs(abs_delta[lo_i:hi_i][rows] - target)
    # nearest |delta|; on a tie the further out-of-the-money strike (higher for calls, lower for puts)
    otm = -strikes[lo_i:hi_i][rows] if want_call else strikes[lo_i:hi_i][rows]
    best = rows[np.lexsort((otm, miss))[0]]
    return lo_i + int(best)
