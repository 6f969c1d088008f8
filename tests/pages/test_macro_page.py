"""AppTest of the Macro page on the real sample: transforms, recessions, yield curve, inversions, beta, adding ids."""

import base64
import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from analytics.macro import rolling_macro_beta, transform_series
from store import tables
from tests.conftest import ROOT
from tests.support.app import ROUTER, log_in, messages, page, shown

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
    at.multiselect(key="macro_series").set_value(series)
    at.selectbox(key="macro_units").set_value(units)
    at.selectbox(key="macro_frequency").set_value(frequency)
    if frequency is not None:
        at.run()  # the aggregation choice is enabled once a frequency is chosen
        at.selectbox(key="macro_how").set_value(how)
    at.date_input(key="macro_start").set_value(pd.Timestamp(start).date())
    at.date_input(key="macro_end").set_value(pd.Timestamp(end).date())
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
