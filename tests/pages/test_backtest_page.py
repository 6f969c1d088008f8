"""AppTest: the Backtest page on the sample data, checked against analytics.backtest run on the same stored prices."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics.backtest import backtest, parameter_sweep
from dashboard.ui import backtest_loaders as bt
from dashboard.ui import url_state
from store import tables
from store.reads import market as market_reads
from tests.support.app import figures, frame, messages, open_page, shown, texts, traces

VIEWER_PASSWORD = "viewer-password-5678"
SIX = "AAPL,MSFT,XOM,JPM,NVDA,JNJ"


def charts(at) -> dict[str, dict]:
    """The page's figures by title (the part before the first comma)."""
    return {f["layout"]["title"]["text"].split(",")[0]: f for f in figures(at)}


def ok(at) -> None:
    assert not at.exception, at.exception
    assert not at.error, messages(at)


def stored_closes(url: str, symbols: list[str], start: date, end: date) -> pd.DataFrame:
    """Adjusted closes read straight from the database (no page, no cache), columns in `symbols` order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return market_reads.adjusted_closes(conn, symbols, start, end)[symbols]
    finally:
        engine.dispose()


def stored_opens(url: str, symbols: list[str], start: date, end: date) -> pd.DataFrame:
    """Opens on the adjusted basis (open x adj_close / close), computed here from the stored bars."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            bars = market_reads.bars(conn, symbols, start, end)
    finally:
        engine.dispose()
    bars = bars.assign(adj_open=bars["open"] * bars["adj_close"] / bars["close"])
    return bars.pivot(index="date", columns="symbol", values="adj_open")[symbols]


@pytest.mark.parametrize("label", list(bt.STRATEGIES))
def test_every_strategy_runs_on_sample_tickers_and_shows_its_metrics(ready_app, label):
    at = open_page("backtest", {"bt_strategy": label, "bt_t": SIX})
    ok(at)
    table = frame(at, "sharpe").set_index("portfolio")
    assert list(table.index) == [label, "SPY (buy and hold, no costs)"]
    for column in ("total_return", "cagr", "sharpe", "max_drawdown", "hit_rate", "exposure", "turnover", "trades"):
        assert np.isfinite(table.loc[label, column]), column
    assert table.loc["SPY (buy and hold, no costs)", "beta"] == pytest.approx(1.0)
    assert {
        "Equity (starting capital 1.0)",
        "Drawdown from peak",
        "Monthly returns (the colour scale is set by the months)",
    } <= set(charts(at))
    assert [m.label for m in at.metric] == ["Total return", "CAGR", "Sharpe", "Max drawdown", "Exposure", "Trades"]
    assert len(frame(at, "side")) == int(table.loc[label, "trades"])  # the trades table lists every trade


@pytest.mark.parametrize("execution", ["Next close", "Next open"])
def test_the_equity_shown_is_the_analytics_backtest_of_the_stored_prices(ready_app, sample_database_url, execution):
    symbols, start, end = ["AAPL", "MSFT", "XOM"], date(2021, 1, 4), date(2024, 12, 31)
    at = open_page(
        "backtest",
        {
            "bt_strategy": "SMA crossover",
            "bt_t": ",".join(symbols),
            "bt_fast": "10",
            "bt_slow": "40",
            "bt_dates": [start.isoformat(), end.isoformat()],
            "bt_cost": "7",
            "bt_spread": "4",
            "bt_exec": execution,
        },
    )
    ok(at)
    closes = stored_closes(sample_database_url, symbols, start, end)
    spy = stored_closes(sample_database_url, ["SPY"], start, end)["SPY"]
    opens = stored_opens(sample_database_url, symbols, start, end) if execution == "Next open" else None
    expected = backtest(
        closes,
        "sma_crossover",
        fast=10,
        slow=40,
        cost_bps=7,
        spread_bps=4,
        execution="open" if opens is not None else "close",
        opens=opens,
        benchmark=spy,
    )
    equity = traces(charts(at)["Equity (starting capital 1.0)"])
    shown = equity["SMA crossover"]
    assert len(shown["x"]) > 500  # the whole run is drawn (downsampled beyond 1,000 points only)
    want = expected.equity.loc[pd.DatetimeIndex(shown["x"])].to_numpy()
    np.testing.assert_allclose(np.asarray(shown["y"], dtype=float), want, rtol=1e-12)
    bench = equity["SPY"]
    np.testing.assert_allclose(
        np.asarray(bench["y"], dtype=float),
        (spy / spy.iloc[0]).loc[pd.DatetimeIndex(bench["x"])].to_numpy(),
        rtol=1e-12,
    )
    row = frame(at, "sharpe").set_index("portfolio").loc["SMA crossover"]
    for key in (
        "total_return",
        "sharpe",
        "max_drawdown",
        "beta",
        "hit_rate",
        "profit_factor",
        "turnover",
        "total_cost",
    ):
        assert row[key] == pytest.approx(expected.metrics[key], rel=1e-12), key
    trades = frame(at, "side")
    assert len(trades) == len(expected.trades) > 10
    np.testing.assert_allclose(trades["cost"].to_numpy(), expected.trades["cost"].to_numpy(), rtol=1e-12)


def test_fast_not_below_slow_is_a_message_not_a_traceback(ready_app):
    at = open_page("backtest", {"bt_strategy": "SMA crossover", "bt_t": "AAPL", "bt_fast": "50", "bt_slow": "20"})
    assert not at.exception
    assert [e.value for e in at.error] and "fast (50) must be shorter than slow (20)" in messages(at)
    assert not at.dataframe and not figures(at)
    # Typed into the widgets, the same.
    at = open_page("backtest", {"bt_t": "AAPL"})
    ok(at)
    at.number_input(key="bt_fast").set_value(200).run()
    assert not at.exception
    assert "fast (200) must be shorter than slow (50)" in messages(at)
    assert not figures(at)


@pytest.mark.parametrize(
    ("params", "message", "kind"),
    [
        ({"bt_t": ""}, "Enter at least one ticker to backtest", "warning"),
        ({"bt_t": "MSFTT"}, "Unknown ticker “MSFTT”. Did you mean MSFT?", "error"),
        ({"bt_t": "AAPL,A$B"}, "'A$B' is not a symbol: it may contain only letters", "warning"),
        (
            {"bt_t": "AAPL", "bt_dates": ["2031-01-02", "2031-06-30"]},
            "The link's dates 2031-01-02 → 2031-06-30 are not a range inside the stored data (2019-01-02 → 2026-06-25)",
            "warning",
        ),
        (
            {"bt_strategy": "Cross-sectional momentum", "bt_t": "AAPL,MSFT", "bt_top_k": "3"},
            "top_k=3 is larger",
            "error",
        ),
        (
            {"bt_strategy": "RSI mean reversion", "bt_t": "AAPL", "bt_lower": "70", "bt_upper": "30"},
            "must be below upper",
            "error",
        ),
        ({"bt_t": "AAPL", "bt_bench": "SPYY"}, "Benchmark: Unknown ticker “SPYY”. Did you mean SPY?", "warning"),
        ({"bt_t": "AAPL", "bt_fast": "0"}, "The link's value 0 for bt_fast is not allowed here", "warning"),
        (
            {"bt_t": "AAPL", "bt_exec": "Next lunch"},
            "The link's value Next lunch for bt_exec is not allowed",
            "warning",
        ),
        ({"bt_t": "AAPL", "bt_dates": ["2024-01-06", "2024-01-07"]}, "No trading session between 2024-01-06", "error"),
        (
            {"bt_t": "AAPL", "bt_dates": ["2024-01-02", "2024-01-05"], "bt_sweep": "true"},
            "fewer than 3 sessions",
            "error",
        ),
    ],
)
def test_bad_input_gets_a_clear_message(ready_app, params, message, kind):
    at = open_page("backtest", params)
    assert not at.exception, at.exception
    assert message in "\n".join(texts_of(getattr(at, kind)))


def texts_of(elements) -> list[str]:
    return [shown(e.value) for e in elements]


def test_the_url_round_trips(ready_app):
    view = url_state.BacktestView(
        strategy="RSI mean reversion",
        tickers=("AAPL", "XOM"),
        start=date(2020, 3, 2),
        end=date(2025, 5, 30),
        params=(("period", 10), ("lower", 25.0), ("upper", 72.5)),
        benchmark="QQQ",
        cost_bps=3.0,
        spread_bps=2.5,
        risk_free_pct=1.5,
        execution="Next open",
        sweep=(("period", "7,14"), ("lower", "20,30"), ("upper", "")),
        split_pct=60,
    )
    params = url_state.backtest_params(view)
    at = open_page("backtest", params)
    ok(at)
    assert at.selectbox(key="bt_strategy").value == "RSI mean reversion"
    assert at.text_input(key="bt_t").value == "AAPL,XOM" and at.text_input(key="bt_bench").value == "QQQ"
    assert at.date_input(key="bt_dates").value == (date(2020, 3, 2), date(2025, 5, 30))
    assert at.number_input(key="bt_period").value == 10
    assert (at.number_input(key="bt_lower").value, at.number_input(key="bt_upper").value) == (25.0, 72.5)
    assert (at.number_input(key="bt_cost").value, at.number_input(key="bt_spread").value) == (3.0, 2.5)
    assert at.number_input(key="bt_rf").value == 1.5 and at.radio(key="bt_exec").value == "Next open"
    assert at.toggle(key="bt_sweep").value is True and at.slider(key="bt_split").value == 60
    assert [at.text_input(key=f"bt_sw_{p}").value for p in ("period", "lower", "upper")] == ["7,14", "20,30", ""]
    assert at.subheader[0].value == "RSI mean reversion on 2 ticker(s), 2020-03-02 → 2025-05-30"
    assert not at.warning, messages(at)
    # The link the page offers is the same state again.
    [link] = [c.value for c in at.caption if c.value.startswith("Link to this run:")]
    offered = parse_qs(link.split("`")[1].lstrip("?"), keep_blank_values=True)
    assert offered == {k: v if isinstance(v, list) else [v] for k, v in params.items()}


def test_a_choice_parameter_round_trips_by_its_shown_name(ready_app):
    at = open_page(
        "backtest", {"bt_strategy": "Time-series momentum (12-1)", "bt_t": "AAPL,MSFT", "bt_rebalance": "Daily"}
    )
    ok(at)
    assert at.selectbox(key="bt_rebalance").value == "D"
    [link] = [c.value for c in at.caption if c.value.startswith("Link to this run:")]
    assert "bt_rebalance=Daily" in link and not at.warning


def test_the_sweep_shows_in_and_out_of_sample_heat_maps(ready_app, sample_database_url):
    at = open_page(
        "backtest",
        {"bt_t": "AAPL", "bt_sweep": "true", "bt_sw_fast": "5,10,20", "bt_sw_slow": "50,100", "bt_cost": "0"},
    )
    ok(at)
    maps = charts(at)
    inside, outside = maps["In-sample Sharpe"], maps["Out-of-sample Sharpe"]
    assert inside["data"][0]["type"] == outside["data"][0]["type"] == "heatmap"
    assert inside["data"][0]["x"] == ["5", "10", "20"] and inside["data"][0]["y"] == ["50", "100"]
    closes = stored_closes(sample_database_url, ["AAPL"], date(2019, 1, 2), date(2026, 6, 25))
    expected = parameter_sweep(closes, "sma_crossover", {"fast": [5, 10, 20], "slow": [50, 100]}, 0.7)
    split = expected.attrs["split_date"]
    assert f"Out-of-sample Sharpe, {split:%Y-%m-%d} → 2026-06-25" == outside["layout"]["title"]["text"]
    assert f"Split at {split:%Y-%m-%d}" in texts(at)
    for column, figure in (("sharpe_is", inside), ("sharpe_oos", outside)):
        want = expected.pivot(index="slow", columns="fast", values=column).to_numpy()
        np.testing.assert_allclose(np.asarray(figure["data"][0]["z"], dtype=float), want, rtol=1e-12)
    # Both maps share one colour scale, centred at zero.
    assert inside["data"][0]["zmin"] == outside["data"][0]["zmin"] == -inside["data"][0]["zmax"]


def test_a_one_parameter_sweep_and_a_grid_too_wide(ready_app):
    at = open_page(
        "backtest",
        {
            "bt_strategy": "Time-series momentum (12-1)",
            "bt_t": "AAPL,MSFT",
            "bt_sweep": "true",
            "bt_sw_lookback": "3,6,12",
        },
    )
    ok(at)
    maps = charts(at)
    assert len(maps["In-sample Sharpe"]["data"][0]["z"]) == 1 == len(maps["Out-of-sample Sharpe"]["data"][0]["z"])
    at = open_page("backtest", {"bt_t": "AAPL", "bt_sweep": "true", "bt_sw_fast": "x,2"})
    assert not at.exception and "Fast SMA (sessions): “x” is not a number" in messages(at)
    wide = {"bt_sw_fast": ",".join(map(str, range(1, 30))), "bt_sw_slow": ",".join(map(str, range(50, 80)))}
    at = open_page("backtest", {"bt_t": "AAPL", "bt_sweep": "true", **wide})
    assert not at.exception and "The grid has 870 combinations; at most 400 are run at once." in messages(at)


# -- a writable copy: a viewer, and a symbol with no stored history ---------------------------------------------------


@pytest.fixture(scope="module")
def writable_url(make_sample_database):
    return make_sample_database()


@pytest.fixture
def writable_app(app_on, writable_url):
    from dashboard.access.auth import hash_password
    from store import universe

    engine = app_on(writable_url)
    with engine.begin() as conn:
        users = tables.users
        if conn.execute(sa.select(users.c.id).where(users.c.username == "reader")).first() is None:
            conn.execute(
                users.insert().values(username="reader", password_hash=hash_password(VIEWER_PASSWORD), role="viewer")
            )
    universe.add(engine, "symbol", "NOHIST")
    return engine


def test_a_viewer_can_run_a_backtest_and_a_sweep(writable_app):
    at = open_page("backtest", {"bt_t": "AAPL,MSFT", "bt_sweep": "true"}, username="reader", password=VIEWER_PASSWORD)
    ok(at)
    assert "Signed in as **reader** (viewer)" in [c.value for c in at.sidebar.caption]
    assert "SMA crossover" in set(frame(at, "sharpe")["portfolio"])
    assert {"In-sample Sharpe", "Out-of-sample Sharpe"} <= set(charts(at))


def test_a_ticker_without_history_is_named(writable_app):
    at = open_page("backtest", {"bt_t": "AAPL,NOHIST"})
    assert not at.exception
    assert "NOHIST has no stored price history." in messages(at)
    assert list(frame(at, "weight_change")["symbol"].unique()) == ["AAPL"]
    at = open_page("backtest", {"bt_t": "NOHIST"})
    assert not at.exception and "NOHIST has no stored price history." in texts_of(at.error)[0]
    assert not figures(at)


def test_next_open_is_offered_only_when_every_ticker_has_opens(writable_app):
    if not tables.daily_bars.c.open.nullable:
        pytest.skip("the schema does not store adjusted-close-only bars yet")
    with writable_app.begin() as conn:
        conn.execute(
            tables.daily_bars.insert(),
            [
                {"symbol": "NOHIST", "date": d.date(), "adj_close": 10.0 + i, "source": "test"}
                for i, d in enumerate(pd.bdate_range("2024-01-02", periods=30))
            ],
        )
    import streamlit as st

    st.cache_data.clear()
    at = open_page(
        "backtest", {"bt_t": "AAPL,NOHIST", "bt_exec": "Next open", "bt_dates": ["2024-01-02", "2024-02-12"]}
    )
    assert not at.exception, at.exception
    assert at.radio(key="bt_exec").options == ["Next close"]
    assert "NOHIST store closes only. Trading at the next close." in messages(at)
    at = open_page("backtest", {"bt_t": "AAPL", "bt_exec": "Next open", "bt_dates": ["2024-01-02", "2024-02-12"]})
    assert (
        at.radio(key="bt_exec").options == ["Next close", "Next open"] and at.radio(key="bt_exec").value == "Next open"
    )


@pytest.mark.fuzz
def test_any_query_string_renders_without_an_exception(ready_app):
    """Property: whatever a link carries, the Backtest page answers with a run or a message, never a traceback."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as hs

    junk = hs.text(max_size=30)
    number = hs.one_of(junk, hs.sampled_from(["", "0", "1", "5", "20", "50", "250", "-3", "1e9", "nan", "2.5"]))
    params = hs.fixed_dictionaries(
        {},
        optional={
            "bt_strategy": hs.one_of(junk, hs.sampled_from(list(bt.STRATEGIES))),
            "bt_t": hs.one_of(junk, hs.sampled_from(["", "AAPL", "aapl,msft,xom", "APPL", "SPY,QQQ,TLT,GLD"])),
            "bt_bench": hs.one_of(junk, hs.sampled_from(["", "SPY", "QQQ", "SPYY"])),
            "bt_dates": hs.lists(hs.one_of(junk, hs.dates().map(str)), max_size=3),
            "bt_fast": number,
            "bt_slow": number,
            "bt_lookback": number,
            "bt_skip": number,
            "bt_top_k": number,
            "bt_period": number,
            "bt_lower": number,
            "bt_upper": number,
            "bt_rebalance": hs.one_of(junk, hs.sampled_from(["Monthly", "Daily", "M"])),
            "bt_cost": number,
            "bt_exec": hs.one_of(junk, hs.sampled_from(["Next close", "Next open"])),
            "bt_sweep": hs.sampled_from(["true", "false", "", "x"]),
            "bt_sw_fast": hs.one_of(junk, hs.sampled_from(["5,10", "1,2,3", ""])),
            "bt_sw_lookback": hs.one_of(junk, hs.sampled_from(["3,6", "0,200"])),
            "bt_split": number,
        },
    )

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(params=params)
    def check(params):
        at = open_page("backtest", params)
        assert not at.exception, (params, at.exception)
        assert at.dataframe or at.warning or at.error or at.info

    check()


def test_a_saved_index_runs_as_a_strategy_on_the_same_chart(writable_app):
    """The saved index's stored levels, held from the first close with the page's costs: its equity is exactly
    (1 - cost - spread/2) x level / first level (a hand formula), drawn beside the strategy and in the table."""
    from ingestion import indices as builder
    from store import indices
    from store.indices import IndexDefinition

    saved = indices.save(
        writable_app, "admin", "Big four", IndexDefinition(universe="tickers", tickers=("AAPL", "MSFT", "NVDA", "JPM"))
    )
    builder.refresh_levels(writable_app, [saved.id])
    at = open_page(
        "backtest",
        {
            "bt_t": "AAPL,MSFT",
            "bt_index": "Big four",
            "bt_cost": "10",
            "bt_spread": "4",
            "bt_dates": ["2020-01-02", "2026-06-25"],
        },
    )
    ok(at)
    assert "Equity (starting capital 1.0)" in charts(at), (list(charts(at)), texts(at)[-600:])
    equity = traces(charts(at)["Equity (starting capital 1.0)"])["Index: Big four"]
    with writable_app.connect() as conn:
        levels = sa.text("select date, level_net from index_levels where definition_id = :d order by date")
        stored = pd.read_sql(levels, conn, params={"d": saved.id}).set_index("date")["level_net"]
    shown_from = pd.Timestamp(equity["x"][0]).date()
    stored = stored.loc[shown_from:]
    expected = (1 - (10 + 4 / 2) / 1e4) * stored.iloc[-1] / stored.iloc[0]
    assert float(equity["y"][-1]) == pytest.approx(expected, rel=1e-9)
    table = frame(at, "sharpe").set_index("portfolio")
    assert table.loc["Index: Big four", "total_return"] == pytest.approx(expected - 1, rel=1e-9)
    indices.delete(writable_app, "admin", "Big four")


def test_an_infinite_strategy_parameter_in_a_link_is_refused_not_a_traceback(ready_app):
    """Found by the fuzz test above: ?bt_skip=Infinity made Streamlit's integer input raise (OverflowError)."""
    at = open_page("backtest", {"bt_strategy": "Time-series momentum (12-1)", "bt_skip": "Infinity"})
    assert not at.exception, at.exception
    assert "bt_skip" not in at.query_params
    assert at.dataframe or at.warning or at.info
