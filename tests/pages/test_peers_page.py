"""AppTest: the Peers page on the sample data: each stock against the average of the others, by hand; the link."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.support.app import ROUTER, figures, frame, log_in, messages, open_page, page, shown, traces

PRICES = ROOT / "data" / "sample" / "prices"
MEGA_CAPS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"]


def closes(symbols: list[str], start: str, end: str) -> pd.DataFrame:
    read = {s: pd.read_csv(PRICES / f"{s}.csv", parse_dates=["Date"]).set_index("Date")["Close"] for s in symbols}
    return pd.DataFrame(read).loc[start:end]


def by_title(at: AppTest) -> dict[str, dict]:
    return {f["layout"]["title"]["text"]: f for f in figures(at)}


def test_the_default_view_compares_five_mega_caps_with_their_peers_by_hand(ready_app):
    at = open_page("peers")
    assert not at.exception and not messages(at)
    wide = closes(MEGA_CAPS, "2025-06-25", "2026-06-25")  # 1Y back from the last stored close
    returns = {s: wide[s].iloc[-1] / wide[s].iloc[0] - 1 for s in MEGA_CAPS}
    table = frame(at, "peer_average").set_index("symbol")
    assert list(table.index) == MEGA_CAPS
    for s in MEGA_CAPS:
        peers = [returns[o] for o in MEGA_CAPS if o != s]
        assert table.loc[s, "return"] == pytest.approx(returns[s], rel=1e-12)
        assert table.loc[s, "peer_average"] == pytest.approx(sum(peers) / 4, rel=1e-12)
        assert table.loc[s, "difference"] == pytest.approx(returns[s] - sum(peers) / 4, rel=1e-9)
    best, worst = max(returns, key=returns.get), min(returns, key=returns.get)
    cards = {m.label: m for m in at.metric}
    assert cards["Best performer"].value == best and cards["Worst performer"].value == worst
    assert cards["Best performer"].delta == f"{returns[best] * 100:+,.2f}%"
    assert cards["Worst performer"].delta == f"{returns[worst] * 100:+,.2f}%"

    charts = by_title(at)
    assert set(charts) == {
        "Rebased to 100 on 2025-06-25",
        *(f"{s} vs peer average" for s in MEGA_CAPS),
        *(f"{s} minus peer average" for s in MEGA_CAPS),
    }
    # NVDA's chart: its own line and the mean of the other four, each rebased to 100 on the first day.
    rebased = wide / wide.iloc[0] * 100
    lines = traces(charts["NVDA vs peer average"])
    expected = rebased[["AAPL", "MSFT", "AMZN", "GOOGL"]].mean(axis=1)
    assert np.asarray(lines["Peer average"]["y"]) == pytest.approx(expected.to_numpy(), rel=1e-12)
    assert np.asarray(lines["NVDA"]["y"]) == pytest.approx(rebased["NVDA"].to_numpy(), rel=1e-12)
    gap = traces(charts["NVDA minus peer average"])["NVDA − peers"]
    assert np.asarray(gap["y"]) == pytest.approx((rebased["NVDA"] - expected).to_numpy(), rel=1e-9, abs=1e-9)
    assert at.code[0].value == "?pe_t=AAPL%2CMSFT%2CNVDA%2CAMZN%2CGOOGL&pe_range=1Y"


WIDGETS = ("text_input", "segmented_control", "date_input", "selectbox")


def widget_values(at: AppTest) -> dict[str, object]:
    return {w.key: w.value for kind in WIDGETS for w in at.get(kind) if getattr(w, "key", None)}


def reopen(shared: str) -> AppTest:
    """The page's link opened in a fresh session (whose first request carries it, as a browser's does)."""
    params = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(shared.split("?", 1)[1]).items()}
    at = AppTest.from_file(ROUTER, default_timeout=30)
    at.query_params.update(params)
    at = log_in(at.run())
    at.switch_page(page("peers"))
    at.query_params.update(params)
    return at.run()


def test_the_link_reproduces_the_view(ready_app):
    at = open_page("peers", {"pe_t": "XOM,CVX,COP,SLB", "pe_range": "Custom"})
    at.date_input(key="pe_dates").set_value((date(2022, 1, 3), date(2022, 12, 30))).run()
    at.selectbox(key="display_currency").select("GBP").run()
    assert not at.exception
    shared = at.code[0].value
    assert parse_qs(shared[1:]) == {
        "pe_t": ["XOM,CVX,COP,SLB"],
        "pe_range": ["Custom"],
        "pe_dates": ["2022-01-03", "2022-12-30"],
        "ccy": ["GBP"],
    }
    again = reopen(shared)
    assert not again.exception
    assert widget_values(again) == widget_values(at)
    assert again.code[0].value == shared and figures(again) == figures(at)
    assert frame(again, "peer_average").equals(frame(at, "peer_average"))
    wide = closes(["XOM", "CVX", "COP", "SLB"], "2022-01-03", "2022-12-30")
    assert frame(at, "peer_average").set_index("symbol").loc["SLB", "return"] == pytest.approx(
        wide["SLB"].iloc[-1] / wide["SLB"].iloc[0] - 1, rel=1e-12
    )


def test_bad_input_gets_a_message(ready_app):
    at = open_page("peers", {"pe_t": "AAPL,MSFTT"})
    assert not at.exception
    assert "Unknown ticker “MSFTT”. Did you mean MSFT?" in messages(at)
    assert "Pick two or more stocks" in messages(at) and not at.dataframe
    at = open_page("peers", {"pe_t": "NOPE"})
    assert not at.exception and [shown(e.value) for e in at.error] == [
        "Unknown ticker “NOPE”. No similar symbol is stored."
    ]
    at = open_page("peers", {"pe_t": ""})
    assert not at.exception and [shown(i.value) for i in at.info] == ["Enter two or more stocks to compare."]
    at = open_page("peers", {"pe_t": ",".join(["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "JPM", "V",
                                               "MA", "UNH", "JNJ", "XOM", "CVX"])})  # fmt: skip
    assert not at.exception and "At most 12 stocks; using the first 12." in messages(at)
    assert len(frame(at, "peer_average")) == 12
