"""Peer comparison: each stock rebased to 100 against the average of the other stocks (never itself), best and worst."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MAX_PEERS = 12
DEFAULT_PEERS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL")  # five mega caps, as Streamlit's stock-peers demo


class PeersError(ValueError):
    """Closes that cannot be compared; the message says why (plain text)."""


@dataclass(frozen=True)
class Peers:
    """Every stock's line, its peer average and the gap between them, on the days every stock has a close."""

    normalised: pd.DataFrame  # each stock rebased to 100 on the first common day
    peer_average: pd.DataFrame  # column s: the mean of the other stocks' normalised lines
    difference: pd.DataFrame  # column s: normalised[s] - peer_average[s], in index points (= percentage points)
    returns: pd.DataFrame  # per stock: its return, its peers' average return and the difference over the range

    @property
    def best(self) -> str:
        return str(self.returns["return"].idxmax())

    @property
    def worst(self) -> str:
        return str(self.returns["return"].idxmin())


def compare(closes: pd.DataFrame) -> Peers:
    """Compare the stocks in `closes` (a column each, date-indexed) over the days every one of them has a close.

    Each stock is rebased to 100 on the first such day; its peer average is the equally weighted mean of the OTHER
    stocks' rebased lines (so the peers' average return is the mean of their returns). Needs 2 stocks or more and
    2 common days, else PeersError.
    """
    if closes.shape[1] < 2:
        raise PeersError("pick 2 or more stocks to compare each with the others")
    common = closes.dropna(how="any")
    if len(common) < 2:
        raise PeersError("these stocks have fewer than 2 days with a close for each of them in this range")
    normalised = common / common.iloc[0] * 100.0
    total = normalised.sum(axis=1)
    count = normalised.shape[1]
    # The mean of the others = (the sum of all - this one) / (n - 1): one pass instead of n drops.
    peer_average = normalised.rsub(total, axis=0) / (count - 1)
    difference = normalised - peer_average
    last = normalised.iloc[-1] / 100.0 - 1.0
    peers_last = peer_average.iloc[-1] / 100.0 - 1.0
    returns = pd.DataFrame({"return": last, "peer_average": peers_last, "difference": last - peers_last})
    return Peers(normalised, peer_average, difference, returns.rename_axis("symbol"))
