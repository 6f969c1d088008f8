"""Portfolio risk: a fixed-weight portfolio's daily returns, metrics against a benchmark, volatility contributions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from analytics import risk

# The portfolio is rebalanced to its target weights at every close (a fixed-weight portfolio): its daily return is
# the weighted sum of the holdings' daily returns, r_p = sum_i w_i r_i. Buy-and-hold would let weights drift.
REBALANCING = "daily to the target weights (a fixed-weight portfolio)"
MAX_HOLDINGS = 30
PERIODS = 252
PORTFOLIO = "Portfolio"
_ZERO = 1e-12


class PortfolioError(ValueError):
    """Weights that do not make a portfolio; the message says why (plain text)."""


def equal_weights(symbols: Sequence[str]) -> pd.Series:
    """1/n for each of `symbols` (order kept)."""
    if not symbols:
        raise PortfolioError("a portfolio needs at least one holding")
    return pd.Series(1.0 / len(symbols), index=pd.Index(list(symbols), name="symbol"), name="weight")


def check_weights(weights: Mapping[str, float]) -> pd.Series:
    """Weights as fractions summing to 1: `weights` (symbol -> any non-negative number, e.g. percent) divided by their
    sum. Long only: a negative, missing or infinite weight, no holding or a zero total raise PortfolioError."""
    if not weights:
        raise PortfolioError("a portfolio needs at least one holding")
    if len(weights) > MAX_HOLDINGS:
        raise PortfolioError(f"a portfolio has at most {MAX_HOLDINGS} holdings")
    values = {}
    for symbol, weight in weights.items():
        try:
            number = float(weight)
        except (TypeError, ValueError):
            raise PortfolioError(f"the weight of {symbol} is not a number") from None
        if not np.isfinite(number) or number < 0:
            raise PortfolioError(f"the weight of {symbol} must be a number of 0 or more (long only)")
        values[str(symbol)] = number
    total = sum(values.values())
    if not np.isfinite(total):
        raise PortfolioError("the weights are too large to add up: type them in percent")
    if total <= _ZERO:
        raise PortfolioError("the weights add up to 0: give at least one holding a positive weight")
    return pd.Series(values, name="weight").rename_axis("symbol") / total


def aligned_closes(wide: pd.DataFrame, holdings: Iterable[str]) -> pd.DataFrame:
    """The holdings' closes on the days every one of them has a close (a portfolio needs each holding's return)."""
    return wide[list(holdings)].dropna(how="any")


def portfolio_returns(wide: pd.DataFrame, weights: pd.Series) -> pd.Series:
    """Daily returns of the portfolio rebalanced daily to `weights` (fractions summing to 1): sum_i w_i r_i.

    Each return spans two consecutive days on which every holding has a close; indexed by the later day.
    """
    closes = aligned_closes(wide, weights.index)
    daily = (closes / closes.shift(1) - 1.0).iloc[1:]
    return pd.Series(daily.to_numpy() @ weights.to_numpy(dtype="float64"), index=daily.index, name=PORTFOLIO)


def growth(returns: pd.Series, start: pd.Timestamp, base: float = 1.0) -> pd.Series:
    """The value of `base` invested on `start` and compounded by `returns` (a price-like series, `start` included)."""
    values = base * (1.0 + returns).cumprod()
    first = pd.Series([base], index=pd.DatetimeIndex([start]))
    return pd.concat([first, values]).rename(returns.name)


def portfolio_values(wide: pd.DataFrame, weights: pd.Series) -> pd.Series:
    """The portfolio's value, 1 on the first day every holding has a close, compounded by `portfolio_returns`."""
    closes = aligned_closes(wide, weights.index)
    if len(closes) < 2:
        raise PortfolioError("the holdings have fewer than 2 days with a close for each of them in this range")
    returns = portfolio_returns(wide, weights)
    return growth(returns, closes.index[0]).rename(PORTFOLIO)


def covariance(wide: pd.DataFrame, holdings: Sequence[str], periods: float = PERIODS) -> pd.DataFrame:
    """Annualised sample covariance (ddof=1) of the holdings' daily returns on the days all of them have a close."""
    closes = aligned_closes(wide, holdings)
    daily = (closes / closes.shift(1) - 1.0).iloc[1:]
    return daily.cov(ddof=1) * periods


def risk_contributions(wide: pd.DataFrame, weights: pd.Series, periods: float = PERIODS) -> pd.DataFrame:
    """Each holding's contribution to the portfolio's annualised volatility (Euler allocation).

    sigma_p = sqrt(w' S w) with S the annualised sample covariance; holding i contributes w_i (S w)_i / sigma_p, so
    the contributions add up to sigma_p and their shares (contribution / sigma_p) to 1. Columns: symbol, weight,
    volatility (the holding's own), contribution, share. NaN contributions when sigma_p is 0.
    """
    cov = covariance(wide, list(weights.index), periods)
    w = weights.to_numpy(dtype="float64")
    s = cov.to_numpy(dtype="float64")
    marginal = s @ w
    sigma = float(np.sqrt(max(float(w @ marginal), 0.0)))
    contribution = w * marginal / sigma if sigma > _ZERO else np.full(len(w), np.nan)
    return pd.DataFrame(
        {
            "symbol": list(weights.index),
            "weight": w,
            "volatility": np.sqrt(np.clip(np.diag(s), 0.0, None)),
            "contribution": contribution,
            "share": contribution / sigma if sigma > _ZERO else contribution,
        }
    )


def portfolio_volatility(wide: pd.DataFrame, weights: pd.Series, periods: float = PERIODS) -> float:
    """sqrt(w' S w): the annualised volatility of the fixed-weight portfolio from the holdings' covariance."""
    w = weights.to_numpy(dtype="float64")
    s = covariance(wide, list(weights.index), periods).to_numpy(dtype="float64")
    return float(np.sqrt(max(float(w @ s @ w), 0.0)))


def portfolio_report(
    wide: pd.DataFrame, weights: pd.Series, benchmark: str, risk_free: float = 0.0
) -> dict[str, pd.DataFrame | pd.Series]:
    """The Risk page's portfolio numbers from adjusted closes (`wide`: a column per holding and the benchmark).

    `values`: the portfolio's value (1 at its first day) beside the benchmark's rebased to 1 on the same day;
    `metrics`: analytics.risk.risk_metrics of the portfolio and of the benchmark over the portfolio's days, one row
    each (symbol "Portfolio", then the benchmark); `contributions`: risk_contributions; `drawdown`: the portfolio's.
    PortfolioError when the holdings share fewer than 2 days with a close.
    """
    values = portfolio_values(wide, weights)
    bench = wide[benchmark].reindex(values.index)
    if bench.notna().sum() < 2:
        raise PortfolioError(f"{benchmark} has fewer than 2 closes on the days the holdings all have one")
    rows = [
        {"symbol": PORTFOLIO, **risk.risk_metrics(values, bench, risk_free=risk_free)},
        {"symbol": benchmark, **risk.risk_metrics(bench, bench, risk_free=risk_free)},
    ]
    first = bench.dropna()
    rebased = bench / first.iloc[0] if not first.empty else bench
    return {
        "values": pd.DataFrame({PORTFOLIO: values, benchmark: rebased}),
        "metrics": pd.DataFrame(rows),
        "contributions": risk_contributions(wide, weights),
        "drawdown": risk.drawdown_series(values).to_frame(PORTFOLIO),
    }


def definition(weights: pd.Series) -> dict[str, list[dict[str, object]]]:
    """A saved portfolio's JSON definition: its holdings in order, each with its weight (a fraction)."""
    return {"holdings": [{"symbol": str(s), "weight": float(w)} for s, w in weights.items()]}


def weights_from_definition(saved: Mapping[str, object] | None) -> pd.Series:
    """The weights of a saved definition (see `definition`), checked again; PortfolioError when it is malformed."""
    holdings = (saved or {}).get("holdings")
    if not isinstance(holdings, list) or not all(isinstance(h, dict) and "symbol" in h for h in holdings):
        raise PortfolioError("this saved portfolio has no holdings")
    return check_weights({str(h["symbol"]): h.get("weight", 0) for h in holdings})
