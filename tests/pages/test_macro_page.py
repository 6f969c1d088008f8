"""AppTest of the Macro page on the real sample: transforms, recessions, yield curve, inversions, beta, adding ids."""

import base64
import json
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from analytics.macro import rolling_macro_beta, transform_series
from store import tables
from tests.conftest import ROOT
from tests.support.app import ROUTER, log_in, messages, open_page, page, shown

SAMPLE = ROOT / "data" / "sample"
VIEWER_PASSWORD = "viewer-password-5678"


def csv_series(series_id: str) -> pd.Series:
    frame = pd.read_csv(SAMPLE / "macro" / f"{series_id}.csv", parse_dates=["date"])
    return frame.set_index("date")["value"].astype("float64").rename(series_id)


def decode(values) -> np.ndarray:
    """Plotly 6+ ships numeric arrays as base64 typed arrays; lists stay lists."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
    return np.asarray(values)


def figure(at: AppTest, key: str) -> dict:
    for chart in at.get("plotly_chart"):
        if key in chart.proto.id:
            return json.loads(chart.proto.spec)
    raise AssertionError(f"no chart {key!r} on the page")


def open_macro(username: str = "admin", password: str | None = None) -> AppTest:
    at = AppTest.from_file(ROUTER, default_timeout=30).run()
    at = log_in(at) if password is None else log_in(at, username, password)
    at.switch_page(page("macro")).run()
    assert not at.exception, at.exception
    return at


def chart_of(at, series, units="lin", start="2016-01-01", end="2026-08-21", frequency=None, how="avg"):
    """Chart `series`, each with the transformation `units` (one code for all, or a dict by series id)."""
    at.multiselect(key="macro_series").set_value(series)
    at.selectbox(key="macro_frequency").set_value(frequency)
    at.date_input(key="macro_start").set_value(pd.Timestamp(start).date())
    at.date_input(key="macro_end").set_value(pd.Timestamp(end).date())
    at.run()  # each line's controls (and the aggregation, once a frequency is chosen) appear on this run
    codes = units if isinstance(units, dict) else dict.fromkeys(series, units)
    keys = {w.key for w in at.selectbox}
    for series_id, code in codes.items():
        if f"macro_u_{series_id}" in keys:
            at.selectbox(key=f"macro_u_{series_id}").set_value(code)
    if frequency is not None:
        at.selectbox(key="macro_how").set_value(how)
    at.run()
    assert not at.exception, at.exception
    return at


def test_chart_plots_the_fred_transform_of_the_stored_values_with_gaps(ready_app):
    at = chart_of(open_macro(), ["CPIAUCSL"], units="pc1", start="2019-01-01", end="2026-07-01")
    fig = figure(at, "macro_chart")
    (trace,) = fig["data"]
    x, y = pd.DatetimeIndex(trace["x"]), decode(trace["y"])
    expected = transform_series(csv_series("CPIAUCSL"), "pc1", "M").loc["2019-01-01":"2026-07-01"]
    assert list(x) == list(expected.index)
    np.testing.assert_allclose(y, expected.to_numpy(), rtol=1e-12, equal_nan=True)
    assert np.isnan(y[list(x).index(pd.Timestamp("2025-10-01"))])  # the shutdown month is a gap, not a zero
    assert trace["connectgaps"] is False
    assert fig["layout"]["yaxis"]["title"]["text"] == "Percent Change from Year Ago"
    text = "\n".join(shown(m.value) for m in at.markdown)
    for fact in ("Consumer Price Index", "Index 1982-1984=100", "Monthly", "Seasonally Adjusted", "Last updated"):
        assert fact in text
    assert "FRED (bundled sample)" in text


def test_recession_shading_covers_2020(ready_app):
    at = chart_of(open_macro(), ["UNRATE"], start="2019-01-01", end="2021-12-31")
    shapes = [s for s in figure(at, "macro_chart")["layout"].get("shapes", []) if s.get("name") == "recession"]
    assert [(pd.Timestamp(s["x0"]), pd.Timestamp(s["x1"])) for s in shapes] == [
        (pd.Timestamp("2020-03-01"), pd.Timestamp("2020-05-01"))
    ]
    at.toggle(key="macro_shade").set_value(False).run()
    assert not [s for s in figure(at, "macro_chart")["layout"].get("shapes", []) if s.get("name") == "recession"]


def test_two_units_get_two_axes_and_aggregation_applies(ready_app):
    at = chart_of(open_macro(), ["DGS10", "CPIAUCSL"], start="2023-01-01", end="2024-12-31", frequency="M", how="eop")
    fig = figure(at, "macro_chart")
    assert [t.get("yaxis") for t in fig["data"]] == ["y", "y2"]
    assert fig["layout"]["yaxis2"]["title"]["text"] == "Index 1982-1984=100"
    dgs10 = decode(fig["data"][0]["y"])
    months = pd.DatetimeIndex(fig["data"][0]["x"])
    daily = csv_series("DGS10")
    assert months[0] == pd.Timestamp("2023-01-01") and len(months) == 24
    assert dgs10[list(months).index(pd.Timestamp("2024-02-01"))] == daily.loc["2024-02"].dropna().iloc[-1]


def test_short_history_and_unknown_ids_say_so(ready_app):
    at = chart_of(open_macro(), ["GDPC1"], units="pc1", start="2000-01-01", end="2003-01-01")
    assert "needs a year of history" in messages(at)
    at = chart_of(at, ["NOPE123"])
    assert "Unknown series id 'NOPE123'" in messages(at)
    assert not at.get("plotly_chart") or all("macro_chart" not in c.proto.id for c in at.get("plotly_chart"))


def test_search_filters_the_catalog(ready_app):
    at = open_macro()
    at.text_input(key="macro_search").input("treasury").run()
    assert set(at.dataframe[0].value["series_id"]) == {"DGS10", "DGS2", "DGS3MO", "T10Y2Y"}
    at.text_input(key="macro_search").input("zzz nothing").run()
    assert "No stored series matches 'zzz nothing'" in messages(at)


def test_yield_curve_has_three_curves_and_inversions_of_2022_2024(ready_app):
    at = open_macro()
    curves = figure(at, "macro_curve")["data"]
    assert len(curves) == 3
    assert [c["name"].split(" ", 1)[1] for c in curves] == ["(latest)", "(6 months earlier)", "(12 months earlier)"]
    assert all(c["x"] == ["3M", "2Y", "10Y"] for c in curves)
    latest = decode(curves[0]["y"])
    assert list(latest) == [csv_series(s)[pd.Timestamp("2026-07-22")] for s in ("DGS3MO", "DGS2", "DGS10")]
    inversions = next(df.value for df in at.dataframe if "min_spread" in df.value.columns)
    long_ones = inversions[inversions["n_obs"] > 100]
    spans = {(r.spread, pd.Timestamp(r.start).year, pd.Timestamp(r.end).year) for r in long_ones.itertuples()}
    assert ("10Y-2Y", 2022, 2024) in spans
    assert any(s == "10Y-3M" and a == 2022 and b in (2024, 2025) for s, a, b in spans)
    assert {"10Y-2Y", "10Y-2Y inverted", "10Y-3M", "10Y-3M inverted"} == {
        t["name"] for t in figure(at, "macro_spreads")["data"]
    }


def test_stock_vs_macro_beta_follows_the_window(ready_app):
    at = open_macro()
    at.selectbox(key="beta_symbol").set_value("TLT")
    at.selectbox(key="beta_series").set_value("DGS10")
    at.number_input(key="beta_window").set_value(21).run()
    assert not at.exception
    prices = pd.read_csv(SAMPLE / "prices" / "TLT.csv", parse_dates=["Date"]).set_index("Date")["Close"]
    expected = rolling_macro_beta(prices, csv_series("DGS10"), 21).dropna().iloc[-1]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Correlation"] == f"{expected['correlation']:.2f}"
    assert metrics["Beta"] == f"{expected['beta']:.4f}"
    assert expected["beta"] < 0  # long bonds fall when the 10-year yield rises
    fig = figure(at, "macro_beta")
    np.testing.assert_allclose(
        decode(fig["data"][1]["y"])[-1], rolling_macro_beta(prices, csv_series("DGS10"), 21)["beta"].iloc[-1]
    )
    # The unit is said: DGS10 is in percent, so the beta is per percentage point.
    assert fig["layout"]["yaxis2"]["title"]["text"] == "return per 1 percentage point change in DGS10"
    assert any("per 1 percentage point change in DGS10" in c.value for c in at.caption)


# -- issue 16: dates bounded by the data, a line's own transform and axis, formulas, inversions, the link ------


def stored_dates(*series_ids: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last observation dates in the bundled files (what the sample database stores)."""
    dates = [csv_series(s).index for s in series_ids]
    return min(d.min() for d in dates), max(d.max() for d in dates)


def test_dates_after_a_fixed_limit_can_be_chosen_and_the_charts_follow(ready_app):
    at = open_macro()
    every = [p.stem for p in (SAMPLE / "macro").glob("*.csv") if p.stem not in ("series", "VIX_CBOE_OHLC")]
    first, last = stored_dates(*every)
    for key in ("macro_start", "macro_end"):
        widget = at.date_input(key=key)
        assert (widget.min, widget.max) == (first.date(), last.date())
    at = chart_of(at, ["DGS10"], start="2026-03-01", end=last.strftime("%Y-%m-%d"))
    assert not at.error and not at.warning, messages(at)
    x = pd.DatetimeIndex(figure(at, "macro_chart")["data"][0]["x"])
    dgs10 = csv_series("DGS10")
    assert x[0] == dgs10.loc["2026-03-01":].index[0] and x[-1] == dgs10.index[-1]

    curve_first, curve_last = stored_dates("T10Y2Y", "DGS10", "DGS2", "DGS3MO")
    widget = at.date_input(key="macro_spread_start")
    assert (widget.min, widget.max) == (curve_first.date(), curve_last.date())
    widget.set_value(pd.Timestamp("2022-01-01").date()).run()
    assert not at.exception and not at.error, messages(at)
    spreads = {t["name"]: pd.DatetimeIndex(t["x"]) for t in figure(at, "macro_spreads")["data"]}
    assert spreads["10Y-2Y"][0] == csv_series("T10Y2Y").loc["2022-01-01":].dropna().index[0]
    assert spreads["10Y-3M"][0] >= pd.Timestamp("2022-01-01")
    inversions = next(df.value for df in at.dataframe if "min_spread" in df.value.columns)
    assert (pd.to_datetime(inversions["start"]) >= pd.Timestamp("2022-01-01")).all()
    # The 2022-24 inversion is isolated: 10Y-2Y's longest run starts in July 2022.
    longest = inversions[inversions["spread"] == "10Y-2Y"].sort_values("n_obs").iloc[-1]
    assert pd.Timestamp(longest["start"]) == pd.Timestamp("2022-07-06")


def test_each_series_has_its_own_transform_and_axis(ready_app):
    at = chart_of(open_macro(), ["FEDFUNDS", "CPIAUCSL"], units={"FEDFUNDS": "pc1", "CPIAUCSL": "pc1"})
    fig = figure(at, "macro_chart")
    assert [t.get("yaxis") for t in fig["data"]] == ["y", "y"]  # same units: one axis, so CPI is flattened
    at.selectbox(key="macro_ax_FEDFUNDS").set_value("right").run()
    at.selectbox(key="macro_u_CPIAUCSL").set_value("lin").run()
    fig = figure(at, "macro_chart")
    assert [(t["name"], t.get("yaxis")) for t in fig["data"]] == [("FEDFUNDS (right)", "y2"), ("CPIAUCSL", "y")]
    assert fig["layout"]["yaxis"]["title"]["text"] == "Index 1982-1984=100"
    assert fig["layout"]["yaxis2"]["title"]["text"] == "Percent Change from Year Ago"
    expected = {
        "FEDFUNDS": transform_series(csv_series("FEDFUNDS"), "pc1", "M").loc["2016-01-01":"2026-08-21"],
        "CPIAUCSL": csv_series("CPIAUCSL").loc["2016-01-01":"2026-08-21"],
    }
    for trace, series_id in zip(fig["data"], expected, strict=True):
        np.testing.assert_allclose(decode(trace["y"]), expected[series_id].to_numpy(), rtol=1e-12, equal_nan=True)


def test_formula_lines_chart_hand_computed_values_and_bad_formulas_say_why(ready_app):
    at = chart_of(open_macro(), [], start="2023-01-01", end="2024-12-31")
    at.text_input(key="macro_f1").input("DGS10 - DGS2").run()
    at.text_input(key="macro_f2").input("CPIAUCSL / CPIAUCSL[-12] - 1").run()
    assert not at.exception and not at.error, messages(at)
    fig = figure(at, "macro_chart")
    traces = {t["name"]: t for t in fig["data"]}
    spread = traces["DGS10 - DGS2"]
    x, y = list(pd.DatetimeIndex(spread["x"])), decode(spread["y"])
    # 2023-07-03: DGS10 3.86, DGS2 4.94 in the bundled FRED data.
    assert y[x.index(pd.Timestamp("2023-07-03"))] == pytest.approx(3.86 - 4.94)
    assert fig["layout"]["yaxis"]["title"]["text"] == "Percent"  # a difference of two percents is in percent
    ratio = traces["CPIAUCSL / CPIAUCSL[-12] - 1 (right)"]
    x, y = list(pd.DatetimeIndex(ratio["x"])), decode(ratio["y"])
    cpi = csv_series("CPIAUCSL")
    assert y[x.index(pd.Timestamp("2024-06-01"))] == pytest.approx(cpi["2024-06-01"] / cpi["2023-06-01"] - 1)
    # FRED's transforms apply per line: the change of the spread from the previous day.
    at.selectbox(key="macro_u_f1").set_value("chg").run()
    spread = next(t for t in figure(at, "macro_chart")["data"] if t["name"].startswith("DGS10 - DGS2"))
    x, y = list(pd.DatetimeIndex(spread["x"])), decode(spread["y"])
    ten, two = csv_series("DGS10"), csv_series("DGS2")
    day, before = pd.Timestamp("2023-07-06"), pd.Timestamp("2023-07-05")
    assert y[x.index(day)] == pytest.approx((ten[day] - two[day]) - (ten[before] - two[before]))
    assert np.isnan(y[x.index(before)])  # the day after Independence Day has no one-day change (FRED's rule)

    at.text_input(key="macro_f1").input("DGS10 - NOPE").run()
    assert "Formula 1: unknown series NOPE (at position 9)" in messages(at)
    at.text_input(key="macro_f1").input("DGS10 -").run()
    assert "Formula 1: syntax error at position 8" in messages(at)
    assert not at.exception


def test_inversions_shorter_than_the_minimum_are_not_listed(ready_app):
    at = open_macro()
    assert at.number_input(key="macro_inv_min").value == 5  # the INVERSION_MIN_SESSIONS default

    def listed() -> pd.DataFrame:
        return next(df.value for df in at.dataframe if "min_spread" in df.value.columns)

    five = listed()
    assert (five["n_obs"] >= 5).all()
    at.number_input(key="macro_inv_min").set_value(1).run()
    every = listed()
    assert len(every) > len(five) and (every["n_obs"] < 5).any()
    assert len(every[every["n_obs"] >= 5]) == len(five)
    assert "at least 1 sessions" in "\n".join(shown(m.value) for m in at.markdown)


def view_of(at: AppTest) -> dict:
    """Every bound widget's value and the data of every chart: what a link must reproduce."""
    widgets = {}
    for kind in ("multiselect", "selectbox", "date_input", "text_input", "number_input", "toggle"):
        for widget in at.get(kind):
            if widget.key and widget.key.startswith(("macro_", "beta_")) and widget.key != "macro_add_id":
                widgets[widget.key] = widget.value
    charts = {key: figure(at, key)["data"] for key in ("macro_chart", "macro_spreads", "macro_beta", "macro_curve")}
    return {"widgets": widgets, "charts": charts}


def test_the_link_reproduces_the_view_in_a_fresh_session(ready_app):
    at = chart_of(
        open_macro(),
        ["CPIAUCSL", "UNRATE"],
        units={"CPIAUCSL": "pc1", "UNRATE": "chg"},
        start="2012-05-01",
        end="2025-03-31",
        frequency="Q",
        how="eop",
    )
    at.selectbox(key="macro_ax_UNRATE").set_value("left")
    at.toggle(key="macro_shade").set_value(False)
    at.text_input(key="macro_search").input("treasury")
    at.selectbox(key="macro_sort").set_value("Last observation").run()
    at.text_input(key="macro_f1").input("DGS10 - DGS2").run()
    at.selectbox(key="macro_u_f1").set_value("pch")
    at.selectbox(key="macro_ax_f1").set_value("left")
    at.date_input(key="macro_spread_start").set_value(pd.Timestamp("2019-06-03").date())
    at.number_input(key="macro_inv_min").set_value(3)
    at.selectbox(key="beta_symbol").set_value("TLT")
    at.number_input(key="beta_window").set_value(21).run()
    assert not at.exception and not at.error, messages(at)
    before = view_of(at)
    [code] = [c.value for c in at.code if "macro_series=" in c.value]
    params = parse_qs(code.split("?", 1)[1], keep_blank_values=True)
    assert params["macro_series"] == ["CPIAUCSL", "UNRATE"] and params["macro_u_f1"] == ["Percent Change"]

    fresh = open_page("macro", params)
    assert not fresh.exception and not fresh.warning, messages(fresh)
    after = view_of(fresh)
    assert after["widgets"] == before["widgets"]
    assert after["charts"] == before["charts"]
    assert list(fresh.dataframe[0].value["series_id"]) == list(at.dataframe[0].value["series_id"])
    [again] = [c.value for c in fresh.code if "macro_series=" in c.value]
    assert again == code


def test_a_link_value_the_page_refuses_is_said(ready_app):
    fresh = open_page("macro", {"macro_start": "1700-01-01", "macro_u_NOPE": "Levels", "macro_inv_min": "5"})
    assert not fresh.exception
    assert "The link's value 1700-01-01 for macro_start is not allowed here" in messages(fresh)
    # The tab is part of the view too: a link to the yield curve opens there and links there again.
    fresh = open_page("macro", {"macro_tab": "Yield curve"})
    assert fresh.session_state["macro_tab"] == "Yield curve" and not fresh.warning, messages(fresh)
    assert any("macro_tab=Yield+curve&" in c.value for c in fresh.code)
    # No series at all is a view too: the link says so with an empty parameter, and opens as it was.
    fresh = open_page("macro", {"macro_series": "", "macro_f1": "DGS10 - DGS2"})
    assert fresh.multiselect(key="macro_series").value == [] and not fresh.warning, messages(fresh)
    [code] = [c.value for c in fresh.code if "macro_series=" in c.value]
    assert "macro_series=&" in code
    again = open_page("macro", parse_qs(code.split("?", 1)[1], keep_blank_values=True))
    assert again.multiselect(key="macro_series").value == [] and not again.warning, messages(again)
    assert [t["name"] for t in figure(again, "macro_chart")["data"]] == ["DGS10 - DGS2"]
    # A link with only the second formula box filled still charts it (the boxes up to it are shown).
    fresh = open_page("macro", {"macro_series": "DGS10", "macro_f2": "DGS10 - DGS2"})
    assert [t["name"] for t in figure(fresh, "macro_chart")["data"]] == ["DGS10", "DGS10 - DGS2"]
    assert [t.key for t in fresh.text_input if t.key.startswith("macro_f")] == ["macro_f1", "macro_f2", "macro_f3"]


# -- writes: a database of our own, so the shared sample stays read-only --------------------------------


@pytest.fixture(scope="module")
def writable_url(make_sample_database):
    return make_sample_database()


@pytest.fixture
def writable_app(app_on, writable_url):
    from dashboard.access.auth import hash_password
    from store import tables

    engine = app_on(writable_url)
    with engine.begin() as conn:
        users = tables.users
        if conn.execute(sa.select(users.c.id).where(users.c.username == "reader")).first() is None:
            conn.execute(
                users.insert().values(username="reader", password_hash=hash_password(VIEWER_PASSWORD), role="viewer")
            )
    return engine


def stored_ids(engine) -> set[str]:
    from store import tables

    with engine.connect() as conn:
        return set(conn.execute(sa.select(tables.macro_series.c.series_id)).scalars())


def test_viewer_cannot_add_a_series(writable_app):
    at = open_macro("reader", VIEWER_PASSWORD)
    assert "Only an admin can add a series" in messages(at)
    assert not [t for t in at.text_input if t.key == "macro_add_id"]
    assert "DGS30" not in stored_ids(writable_app)


def runs_recorded(engine) -> int:
    from store import tables

    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(tables.ingestion_runs)).scalar_one()


def audited(engine) -> list[tuple]:
    from store import tables

    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(tables.audit_log.c.action, tables.audit_log.c.details))]


def test_admin_adds_a_fred_id_for_the_next_ingestion_run(writable_app):
    before = runs_recorded(writable_app)
    at = open_macro()
    at.text_input(key="macro_add_id").input("dgs30")
    at.button(key="macro_add_submit").click().run()
    assert not at.exception
    assert "DGS30 was added; the next macro run fetches it." in messages(at)
    assert "DGS30" in stored_ids(writable_app)
    assert runs_recorded(writable_app) == before  # the page runs no ingestion job in the web process
    assert ("universe_added", {"series": "DGS30"}) in audited(writable_app)
    # "Fetch it now" queued the series for the worker (the web process only queues), and the page watches it.
    with writable_app.connect() as conn:
        [task] = conn.execute(sa.select(tables.task_progress)).mappings().all()
    assert task["task"] == "ingest.macro" and task["params"]["items"] == ["DGS30"] and task["state"] == "queued"
    assert "ingest.macro · **Queued**" in "\n".join(shown(m.value) for m in at.markdown)
    # It is in the catalog at once (pending), and charting it says there is nothing yet.
    at.text_input(key="macro_search").input("DGS30").run()
    assert list(at.dataframe[0].value["series_id"]) == ["DGS30"]
    at = chart_of(at, ["DGS30"])
    assert "DGS30 has no observations in this range yet" in messages(at)

    at.text_input(key="macro_add_id").input("DGS10")
    at.button(key="macro_add_submit").click().run()
    assert "DGS10 is already in the universe." in messages(at)
    at.text_input(key="macro_add_id").input("not an id!")
    at.button(key="macro_add_submit").click().run()
    assert "'not an id!' is not a FRED series id" in messages(at)
    at.text_input(key="macro_add_id").input("X" * 31)  # one character over the shared rule: refused here too
    at.button(key="macro_add_submit").click().run()
    assert "is 31 characters long (at most 30)" in messages(at)
    assert not at.exception


@pytest.mark.fuzz
def test_any_query_string_renders_without_an_exception(ready_app):
    """Property: whatever a link carries, the Macro page answers with charts or a message, never a traceback."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as hs

    junk = hs.text(max_size=30)
    number = hs.one_of(junk, hs.sampled_from(["", "0", "1", "5", "260", "261", "-3", "1e9", "nan", "2.5"]))
    day = hs.one_of(junk, hs.dates().map(str), hs.sampled_from(["2026-03-01", "2022-01-01", "1700-01-01"]))
    params = hs.fixed_dictionaries(
        {},
        optional={
            "macro_tab": hs.one_of(junk, hs.sampled_from(["Series", "Yield curve", "Stock vs macro"])),
            "macro_series": hs.lists(
                hs.one_of(junk, hs.sampled_from(["DGS10", "CPIAUCSL", "GDP", "dgs2"])), max_size=7
            ),
            "macro_u_DGS10": hs.one_of(junk, hs.sampled_from(["Levels", "Percent Change", "pc1"])),
            "macro_ax_DGS10": hs.one_of(junk, hs.sampled_from(["Left axis", "Right axis", "left"])),
            "macro_f1": hs.one_of(junk, hs.sampled_from(["DGS10 - DGS2", "GDP / GDP[-4] - 1", "DGS10 / 0", "(("])),
            "macro_f2": hs.one_of(junk, hs.sampled_from(["UNRATE - FEDFUNDS", "DGS10 - GDP", "1 + 2"])),
            "macro_frequency": hs.one_of(junk, hs.sampled_from(["Monthly", "Annual", "As stored"])),
            "macro_how": hs.one_of(junk, hs.sampled_from(["Sum", "End of period"])),
            "macro_start": day,
            "macro_end": day,
            "macro_spread_start": day,
            "macro_inv_min": number,
            "macro_sort": hs.one_of(junk, hs.sampled_from(["Title", "Values"])),
            "beta_window": number,
        },
    )

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(params=params)
    def check(params):
        at = open_page("macro", params)
        assert not at.exception, (params, at.exception)
        assert at.get("plotly_chart") or at.warning or at.error or at.info

    check()
