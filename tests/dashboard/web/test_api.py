"""The read API (/api/v1) against real PostgreSQL: the pages' numbers, JSON and CSV alike, date-cursor pages,
RFC 9457 problems, personal tokens (only their hash stored), the per-token rate limit, metrics and the document.

Every value is compared with what the page's own read and analytics return for the same parameters, called
directly (without the Streamlit cache). The database is the bundled sample plus a small slice of the S&P 500
demo bundle (for ranked indices), with users and tokens of its own.
"""

from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

import dashboard.web.api as api
from analytics import macro, risk
from analytics import market as market_rules
from dashboard.access import tokens, users
from dashboard.ui.currency import convert
from dashboard.web import metrics
from dashboard.web.api import framework
from dashboard.web.api import indices as index_api
from ingestion import indices as index_builder
from ingestion.sample import load_sample
from store import clock, indices
from store.db import create_db_engine, get_engine
from store.indices import IndexDefinition
from store.reads import core, market
from store.reads import index as index_reads
from store.reads import macro as macro_reads
from store.settings import get_settings
from tests.conftest import TEST_PASSWORD
from tests.support.sp500 import SP500

V1 = framework.PREFIX
SP500_SLICE = ["AAPL", "MSFT", "NVDA", "JPM", "XOM", "CVX", "NFLX", "DFS", "HES"]
TOP_FOUR = IndexDefinition(universe="top_n", top_n=4, weighting="cap", cap=0.4, rebalance="SPX", cost_bps=5.0)
ENERGY = IndexDefinition(universe="sector", sector="Energy", rebalance="Q")
FOUR_TICKERS = IndexDefinition(universe="tickers", tickers=("AAPL", "MSFT", "NVDA", "JPM"), rebalance="M", cost_bps=2)


@dataclass(frozen=True)
class World:
    url: str
    viewer: str  # tokens
    admin: str
    other: str


@pytest.fixture(scope="module")
def world(databases, sample_template) -> World:
    """A copy of the sample with an S&P 500 slice, three users and a token each, and saved indices:
    ana's "Top four" (levels stored) and "Energy" (not computed yet), other's "Four tickers" (levels stored)."""
    url = databases.create(sample_template)
    engine = create_db_engine(url)
    try:
        load_sample(engine, SP500, "sp500", symbols=SP500_SLICE)
        users.add_user(engine, "ana", "viewer", TEST_PASSWORD)
        users.add_user(engine, "boss", "admin", TEST_PASSWORD)
        users.add_user(engine, "other", "viewer", TEST_PASSWORD)
        top = indices.save(engine, "ana", "Top four", TOP_FOUR)
        indices.save(engine, "ana", "Energy", ENERGY)
        four = indices.save(engine, "other", "Four tickers", FOUR_TICKERS)
        assert index_builder.refresh_levels(engine, [top.id, four.id]).failed == {}
        made = {name: tokens.create(engine, name, "tests", actor=name)[1] for name in ("ana", "boss", "other")}
    finally:
        engine.dispose()
    return World(url, made["ana"], made["boss"], made["other"])


@pytest.fixture
def client(world, engine_for) -> Any:
    """A Starlette app of the API routes (and /metrics) on the world's database, with a limit that never bites."""
    framework.LIMITS.close()
    index_api._computed.cache_clear()
    engine_for(world.url, API_REQUESTS_PER_MINUTE="100000")
    app = Starlette(routes=[*api.routes, Route("/metrics", metrics.metrics_route)])
    yield TestClient(app)
    framework.LIMITS.close()
    index_api._computed.cache_clear()


@pytest.fixture
def engine(client) -> sa.Engine:
    return get_engine()


def get(client: TestClient, path: str, token: str | None, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(V1 + path, params={k: v for k, v in params.items() if v is not None}, headers=headers)


def ok(client: TestClient, path: str, token: str, **params: Any) -> dict[str, Any]:
    answer = get(client, path, token, **params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    return answer.json()


def table(body: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(body["data"])


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == status and body["type"].startswith(framework.PROBLEM_TYPES)
    assert body["title"] and body["detail"] and body["instance"].startswith(V1)
    return body


def read(engine: sa.Engine, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with engine.connect() as conn:
        return fn(conn, *args, **kwargs)


def close(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype="float64"), np.asarray(expected, dtype="float64"), rtol=1e-12, equal_nan=True
    )


def plain(values: Any) -> list[Any]:
    """Values with every kind of missing as None."""
    return [None if pd.isna(v) else v for v in values]


def days(values: Any) -> list[date]:
    return [pd.Timestamp(v).date() for v in values]


# -- the pages' numbers ------------------------------------------------------------------------------------------


def test_instruments_are_the_stored_universe_with_its_spans(client, world, engine):
    body = ok(client, "/instruments", world.viewer)
    got = table(body).set_index("symbol")
    listed = read(engine, core.instruments).set_index("symbol")
    spans = read(engine, core.symbol_spans).set_index("symbol")
    assert list(got.index) == list(listed.index)
    for column in ("name", "asset_class", "sector", "currency"):
        assert plain(got[column]) == plain(listed[column]), column
    stored = got.index.intersection(spans.index)
    assert len(stored) >= 35
    assert days(got.loc[stored, "first_date"]) == days(spans.loc[stored, "first"])
    assert days(got.loc[stored, "last_date"]) == days(spans.loc[stored, "last"])
    assert got.loc[stored, "bars"].tolist() == spans.loc[stored, "bars"].tolist()
    assert plain(got["source"]) == [", ".join(read(engine, market.sources, [s])) or None for s in got.index]
    assert got.loc["AAPL", "source"] == "sample"
    assert body["meta"]["as_of"] == str(spans["last"].max()) and body["meta"]["rows"] == len(listed)


@pytest.mark.parametrize("adjusted", [True, False])
def test_prices_are_the_ticker_pages(client, world, engine, adjusted):
    symbols, start, end = ["AAPL", "MSFT", "NFLX"], date(2024, 5, 1), date(2024, 8, 30)
    body = ok(client, "/prices", world.viewer, symbols=",".join(symbols), start=start, end=end, adjusted=adjusted)
    got = table(body)
    assert list(got.columns[:3]) == ["date", "symbol", "currency"] and set(got["currency"]) == {"USD"}
    # loaders.ticker_frames: analytics.market.ticker_frames on the whole stored history, sliced to the range.
    history = read(engine, market.bars, symbols)
    frames, notes = market_rules.ticker_frames(history, symbols, adjusted, start, end)
    ranged = read(engine, market.bars, symbols, start, end)
    for symbol in symbols:
        mine = got[got["symbol"] == symbol].set_index("date")
        page = frames[symbol]
        assert days(mine.index) == days(page.index) and len(page) > 60
        for column in ("open", "high", "low", "close", "volume"):
            close(mine[column], page[column])
        # ... which is analytics.market.display_prices of the bars in the range.
        shown = market_rules.display_prices(ranged[ranged["symbol"] == symbol], adjusted or symbol in notes)
        close(mine["close"], shown["close"])
    # The S&P 500 slice stores adjusted closes only: the page shows those, unadjusted or not, and says so.
    assert (
        got.loc[got["symbol"] == "NFLX", "open"].isna().all()
        and got.loc[got["symbol"] == "NFLX", "close"].notna().all()
    )
    assert set(notes) == (set() if adjusted else {"AAPL", "MSFT", "NFLX"})  # the sample stores adjusted prices
    said = body["meta"].get("notes", [])
    assert [n.split(":")[0] for n in said] == sorted(notes) and all("adjusted prices given" in n for n in said)
    aapl = ranged[ranged["symbol"] == "AAPL"].sort_values("date")
    close(got.loc[got["symbol"] == "AAPL", "close"], aapl["adj_close" if adjusted else "close"])
    assert body["meta"]["parameters"] == {
        "symbols": symbols,
        "start": "2024-05-01",
        "end": "2024-08-30",
        "adjusted": adjusted,
        "currency": "USD",
        "limit": framework.DEFAULT_LIMIT,
    }
    assert body["meta"]["as_of"] == "2024-08-30" and body["meta"]["source"] == "sample, sample-sp500"


def test_prices_in_pounds_are_the_pages_conversion_and_csv_says_the_same(client, world, engine):
    symbols, start, end = ["AAPL", "SPY"], date(2023, 1, 1), date(2023, 12, 31)
    body = ok(client, "/prices", world.viewer, symbols="AAPL,SPY", start=start, end=end, currency="GBP")
    got = table(body)
    assert set(got["currency"]) == {"GBP"}
    bars = read(engine, market.bars, symbols, start, end)
    rates = read(engine, macro_reads.observations, "DEXUSUK")
    for symbol in symbols:
        page = market_rules.display_prices(bars[bars["symbol"] == symbol], True)
        page = convert(page, ["open", "high", "low", "close"], "GBP", rates=rates)
        mine = got[got["symbol"] == symbol]
        for column in ("open", "high", "low", "close"):
            close(mine[column], page[column])
    usd = table(ok(client, "/prices", world.viewer, symbols="AAPL,SPY", start=start, end=end))
    assert (got["close"] < usd["close"]).all()  # more dollars than pounds to the pound

    answer = get(
        client, "/prices", world.viewer, symbols="AAPL,SPY", start=start, end=end, currency="GBP", format="csv"
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["x-as-of"] == body["meta"]["as_of"] and answer.headers["x-source"] == body["meta"]["source"]
    assert pd.read_json(io.StringIO(answer.headers["x-parameters"]), typ="series")["currency"] == "GBP"
    assert_csv_is_json(answer.text, got)
    by_accept = client.get(
        V1 + "/prices",
        params={"symbols": "AAPL,SPY", "start": start, "end": end, "currency": "GBP"},
        headers={"Authorization": f"Bearer {world.viewer}", "Accept": "text/csv"},
    )
    assert by_accept.text == answer.text


def assert_csv_is_json(text: str, records: pd.DataFrame) -> None:
    """The CSV, parsed by pandas, holds the JSON records: numbers equal, texts equal, times the same instants."""
    parsed = pd.read_csv(io.StringIO(text))
    assert list(parsed.columns) == list(records.columns)
    assert len(parsed) == len(records)
    for column in records.columns:
        left, right = parsed[column], records[column]
        if pd.api.types.is_numeric_dtype(right) and not pd.api.types.is_bool_dtype(right):
            np.testing.assert_allclose(left.to_numpy(dtype="float64"), right.to_numpy(dtype="float64"), rtol=1e-15)
        elif right.astype(str).str.match(r"^\d{4}-\d{2}-\d{2}[T ]\d").any():  # a time: the same instants
            assert plain(pd.to_datetime(left, utc=True)) == plain(pd.to_datetime(right, utc=True, format="ISO8601"))
        else:
            assert plain(left.astype(object)) == plain(right.astype(object)), column


def test_instruments_csv_is_the_json(client, world):
    body = ok(client, "/instruments", world.viewer)
    answer = get(client, "/instruments", world.viewer, format="csv")
    assert answer.status_code == 200
    assert_csv_is_json(answer.text, table(body))


def test_risk_is_the_risk_pages_metrics(client, world, engine):
    symbols, benchmark, start, end, rf = ["AAPL", "XOM", "NFLX"], "SPY", date(2021, 1, 1), date(2025, 12, 31), 0.03
    body = ok(
        client, "/risk", world.viewer, symbols=",".join(symbols), benchmark=benchmark, start=start, end=end, rf=rf
    )
    got = table(body).set_index("symbol")
    wide = read(engine, market.adjusted_closes, [*symbols, benchmark], start, end)  # as the Risk page reads them
    page = risk.risk_report(wide, symbols, benchmark, rf)["metrics"].set_index("symbol")
    assert list(got.index) == list(page.index) == [*symbols, benchmark]
    assert list(got.columns) == list(page.columns)
    for column in page.columns:
        close(got[column], page[column])
    assert body["meta"]["as_of"] == str(wide.index.max().date())


@pytest.mark.parametrize(
    ("ids", "units", "frequency", "aggregation"),
    [("CPIAUCSL", "pc1", None, "avg"), ("DGS10,DGS2", "lin", "m", "eop"), ("UNRATE", "chg", "q", "avg")],
)
def test_macro_observations_are_the_macro_pages_series(client, world, engine, ids, units, frequency, aggregation):
    start, end = date(2021, 1, 1), date(2025, 6, 30)
    body = ok(
        client,
        "/macro/observations",
        world.viewer,
        ids=ids,
        start=start,
        end=end,
        units=units,
        frequency=frequency,
        aggregation=aggregation,
    )
    got = table(body)
    catalog = read(engine, macro_reads.series_catalog).set_index("series_id")
    for series_id in ids.split(","):
        # loaders.chart_series: the stored values from CHART_LOOKBACK before the start, then analytics.macro.
        raw = read(
            engine, macro_reads.observations, series_id, (pd.Timestamp(start) - macro.CHART_LOOKBACK).date(), end
        )
        page, _ = macro.chart_series(
            raw,
            series_id,
            units,
            start,
            end,
            frequency.upper() if frequency else None,
            aggregation,
            catalog.loc[series_id, "frequency"],
        )
        mine = got[got["series_id"] == series_id]
        assert days(mine["date"]) == days(page.index) and len(page) > 5
        close(mine["value"], page)
    assert set(got["units"]) == {units}


def test_a_series_without_observations_is_an_empty_table_with_a_note(client, world, engine):
    """Its range defaults to (the earliest, today): the handler once called a clock.today() that does not exist."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into macro_series (series_id, title, units, frequency, source) "
                "values ('EMPTYX', 'Nothing yet', 'Percent', 'Monthly', 'fred')"
            )
        )
    try:
        body = ok(client, "/macro/observations", world.viewer, ids="EMPTYX")
        assert body["data"] == [] and body["meta"]["as_of"] is None and "no observations" in body["meta"]["notes"][0]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("delete from macro_series where series_id = 'EMPTYX'"))


def test_macro_series_is_the_catalog(client, world, engine):
    got = table(ok(client, "/macro/series", world.viewer))
    catalog = read(engine, macro_reads.series_catalog)
    assert got["series_id"].tolist() == catalog["series_id"].tolist()
    assert got["title"].tolist() == catalog["title"].tolist()


def test_freshness_is_the_stored_freshness(client, world, engine):
    body = ok(client, "/freshness", world.viewer)
    fresh = read(engine, core.freshness)
    coverage = read(engine, core.coverage)
    data = body["data"]
    assert data["latest_bar"] == fresh.as_of.isoformat() and data["latest_bar_sources"] == fresh.sources
    assert pd.Timestamp(data["last_successful_run"]) == pd.Timestamp(fresh.last_success)
    assert [(d["dataset"], d["source"], d["rows"]) for d in data["datasets"]] == [
        (r.dataset, r.source, int(r.rows)) for r in coverage.itertuples()
    ]
    assert body["meta"]["as_of"] == fresh.as_of.isoformat() and body["meta"]["source"] == ", ".join(fresh.sources)
    assert get(client, "/freshness", world.viewer, format="csv").status_code == 400  # not a table: no CSV


def test_admin_runs_are_the_ledger(client, world, engine):
    got = table(ok(client, "/admin/runs", world.admin, last=5))
    ledger = read(engine, core.ingestion_runs, limit=5)
    assert got["id"].tolist() == ledger["id"].tolist() and got["job"].tolist() == ledger["job"].tolist()


# -- indices -------------------------------------------------------------------------------------------------------


def test_a_users_saved_indices_and_an_admins_view_of_everyones(client, world):
    mine = table(ok(client, "/indices", world.viewer))
    assert mine["name"].tolist() == ["Energy", "Top four"] and set(mine["owner"]) == {"ana"}
    top = mine.set_index("name").loc["Top four"]
    assert (top["universe"], top["top_n"], top["weighting"], top["cap"], top["rebalance"]) == (
        "top_n",
        4,
        "cap",
        0.4,
        "SPX",
    )
    assert top["cost_bps"] == 5.0 and top["benchmark"] == "SPY" and top["levels_computed_at"] is not None
    energy = mine.set_index("name").loc["Energy"]
    assert energy["sector"] == "Energy" and pd.isna(energy["levels_computed_at"]) and pd.isna(energy["top_n"])

    everyone = table(ok(client, "/indices", world.admin))
    assert list(zip(everyone["owner"], everyone["name"], strict=True)) == [
        ("ana", "Energy"),
        ("ana", "Top four"),
        ("other", "Four tickers"),
    ]
    assert everyone.set_index("name").loc["Four tickers", "tickers"] == "AAPL,MSFT,NVDA,JPM"
    assert table(ok(client, "/indices", world.admin, owner="other"))["name"].tolist() == ["Four tickers"]
    assert ok(client, "/indices", world.admin, owner="boss")["data"] == []
    problem(get(client, "/indices", world.viewer, owner="other"), 403)
    answer = get(client, "/indices", world.viewer, format="csv")
    assert_csv_is_json(answer.text, mine)


def test_stored_levels_are_the_stored_levels_read(client, world, engine):
    saved = indices.get(engine, "ana", "Top four")
    stored = read(engine, index_reads.index_levels, saved.id)
    body = ok(client, "/indices/Top four/levels", world.viewer)
    got = table(body)
    assert days(got["date"]) == days(stored.index) and len(got) > 1500
    close(got["level_gross"], stored["level_gross"])
    close(got["level_net"], stored["level_net"])
    assert (got["level_net"] <= got["level_gross"] + 1e-9).all()  # 5 bps a side
    assert body["meta"]["as_of"] == str(stored.index[-1].date()) and "stored by the worker" in body["meta"]["source"]

    # The levels the page draws for a saved index: those the worker computed with the page's own function.
    with engine.connect() as conn:
        page = index_builder.compute(conn, TOP_FOUR)
    close(got["level_net"], page.levels)

    ranged = table(ok(client, "/indices/Top four/levels", world.viewer, start="2022-01-01", end="2022-12-31"))
    expected = read(engine, index_reads.index_levels, saved.id, date(2022, 1, 1), date(2022, 12, 31))
    assert days(ranged["date"]) == days(expected.index)
    close(ranged["level_net"], expected["level_net"])

    # An admin reads anyone's with owner=; the owner reads their own without it.
    theirs = table(ok(client, "/indices/Four tickers/levels", world.admin, owner="other"))
    own = table(ok(client, "/indices/Four tickers/levels", world.other))
    assert theirs.equals(own) and len(own) > 1500
    problem(get(client, "/indices/Four tickers/levels", world.viewer, owner="other"), 403)


def test_levels_of_an_unknown_name_or_not_computed_yet(client, world, engine):
    unknown = problem(get(client, "/indices/top fuor/levels", world.viewer), 404)
    assert "top fuor" in unknown["detail"] and unknown["suggestions"] == ["Top four"]
    theirs = problem(get(client, "/indices/Four tickers/levels", world.viewer), 404)  # someone else's: not yours
    assert theirs["suggestions"] == []
    waiting = problem(get(client, "/indices/Energy/levels", world.viewer), 404)
    assert waiting["type"].endswith("levels-not-computed") and "not computed yet" in waiting["detail"]

    failed = indices.save(engine, "ana", "No data", IndexDefinition(universe="tickers", tickers=("ZZZZ",)))
    try:
        index_builder.refresh_levels(engine, [failed.id])
        reason = problem(get(client, "/indices/No data/levels", world.viewer), 404)
        assert "could not be computed" in reason["detail"] and "ZZZZ" in reason["detail"]
        listed = table(ok(client, "/indices", world.viewer)).set_index("name")
        assert "ZZZZ" in listed.loc["No data", "levels_error"]
    finally:
        indices.delete(engine, "ana", "No data")

    # A later computation that failed leaves the levels stored before: served, with a note saying so.
    four = indices.get(engine, "other", "Four tickers")
    before = table(ok(client, "/indices/Four tickers/levels", world.other))
    indices.record_levels_error(engine, four.id, "prices were being reloaded")
    try:
        body = ok(client, "/indices/Four tickers/levels", world.other)
        assert table(body).equals(before)
        assert body["meta"]["notes"] == [
            "the last computation failed (prices were being reloaded); these levels were stored before it"
        ]
    finally:
        index_builder.refresh_levels(engine, [four.id])
    assert indices.get(engine, "other", "Four tickers").levels_error is None


def test_levels_are_paged_by_date(client, world):
    whole = table(ok(client, "/indices/Top four/levels", world.viewer))
    pages = walk(client, "/indices/Top four/levels", world.viewer, limit=500)
    assert [len(p) for p in pages[:-1]] == [500] * (len(pages) - 1) and len(pages) == -(-len(whole) // 500)
    assert pd.concat(pages, ignore_index=True).equals(whole)


def test_composition_is_the_pages_on_a_date(client, world, engine):
    with engine.connect() as conn:
        page = index_builder.compute(conn, TOP_FOUR)  # what the page's index_result loader caches
    for on in ("2020-05-01", "2024-03-15", None):
        body = ok(client, "/indices/Top four/composition", world.viewer, date=on)
        got = table(body).set_index("symbol")
        expected = page.composition(on or page.levels.index[-1])
        assert list(got.index) == list(expected.index) and len(got) == 4
        close(got["weight"], expected["weight"])
        close(got["rank"], expected["rank"])
        close(got["value"], expected["value"])  # the market cap that decided the rank
        assert set(got["basis"]) == {"market_cap"}
        assert days(got["rebalanced"]) == days(expected["rebalanced"])
        assert days(got["date"]) == days(expected["date"]) and body["meta"]["as_of"] == str(
            expected["date"].iloc[0].date()
        )
        assert body["meta"]["source"] == ", ".join(read(engine, market.sources, list(expected.index)))
        assert body["meta"].get("notes", []) == list(page.notes)
    # 2020-05-02 is a Saturday: the close of the Friday before.
    saturday = table(ok(client, "/indices/Top four/composition", world.viewer, date="2020-05-02"))
    assert set(saturday["date"]) == {"2020-05-01"}
    outside = problem(get(client, "/indices/Top four/composition", world.viewer, date="2010-01-04"), 400)
    assert "outside the index" in outside["detail"]
    answer = get(client, "/indices/Top four/composition", world.viewer, date="2020-05-01", format="csv")
    assert_csv_is_json(answer.text, table(ok(client, "/indices/Top four/composition", world.viewer, date="2020-05-01")))
    # An unranked sector index: weights only.
    sector = table(ok(client, "/indices/Energy/composition", world.viewer))
    assert set(sector["symbol"]) == {"CVX", "XOM"} and sector["weight"].sum() == pytest.approx(1.0)


def test_changes_are_the_pages_changes_table(client, world, engine):
    with engine.connect() as conn:
        page = index_builder.compute(conn, TOP_FOUR)
    body = ok(client, "/indices/Top four/changes", world.viewer)
    got = table(body)
    expected = page.changes
    assert list(got.columns) == list(expected.columns) and len(got) == len(expected) > 4
    assert days(got["date"]) == days(expected["date"])
    assert days(got["reference_date"]) == days(expected["reference_date"])
    for column in ("symbol", "change", "reason", "basis"):
        assert got[column].tolist() == expected[column].tolist()
    close(got["rank"], expected["rank"])
    close(got["value"], expected["value"])
    assert set(got.loc[got["date"] == got["date"].min(), "reason"]) == {"start"}
    pages = walk(client, "/indices/Top four/changes", world.viewer, limit=3)
    assert pd.concat(pages, ignore_index=True).equals(got)
    answer = get(client, "/indices/Top four/changes", world.viewer, format="csv")
    assert_csv_is_json(answer.text, got)


def test_an_index_that_cannot_be_built_is_a_problem(client, world, engine):
    indices.save(engine, "ana", "Nothing", IndexDefinition(universe="tickers", tickers=("ZZZZ",)))
    try:
        body = problem(get(client, "/indices/Nothing/composition", world.viewer), 400)
        assert "cannot be built" in body["detail"] and "ZZZZ" in body["detail"]
    finally:
        indices.delete(engine, "ana", "Nothing")


# -- pages of a long table -----------------------------------------------------------------------------------------


def walk(client: TestClient, path: str, token: str, **params: Any) -> list[pd.DataFrame]:
    """Every page of a paged table: follow the Link header, checking it against meta.next_cursor."""
    pages = []
    answer = get(client, path, token, **params)
    while True:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(table(body))
        cursor = body["meta"]["next_cursor"]
        if cursor is None:
            assert "link" not in answer.headers
            return pages
        link = answer.headers["link"]
        assert link.endswith('>; rel="next"') and f"cursor={cursor}" in link
        assert pages[-1]["date"].max() == cursor
        answer = client.get(link[1 : link.index(">")], headers={"Authorization": f"Bearer {token}"})


def test_paging_returns_whole_dates_and_the_pages_make_the_whole(client, world):
    params = {"symbols": "AAPL,MSFT,SPY", "start": "2024-01-01", "end": "2024-12-31"}
    whole = table(ok(client, "/prices", world.viewer, **params))
    first = ok(client, "/prices", world.viewer, limit=100, **params)
    page = table(first)
    assert first["meta"]["rows"] == len(page) <= 100 and len(page) == 99  # 33 whole dates of three symbols
    assert page.groupby("date").size().eq(3).all()
    assert first["meta"]["next_cursor"] == page["date"].max()
    pages = walk(client, "/prices", world.viewer, limit=100, **params)
    assert all(len(p) <= 100 for p in pages) and len(pages) == -(-len(whole) // 99)
    assert not set(pages[0]["date"]) & set(pages[1]["date"])
    assert pd.concat(pages, ignore_index=True).equals(whole)
    # CSV pages say where the next one starts in a header.
    answer = get(client, "/prices", world.viewer, limit=100, format="csv", **params)
    assert answer.headers["x-next-cursor"] == first["meta"]["next_cursor"]
    assert_csv_is_json(answer.text, page)


def test_one_date_larger_than_the_limit_stays_whole(client, world):
    params = {"symbols": "AAPL,MSFT,SPY", "start": "2024-01-02", "end": "2024-01-10"}
    page = table(ok(client, "/prices", world.viewer, limit=2, **params))
    assert len(page) == 3 and page["date"].nunique() == 1


# -- problems --------------------------------------------------------------------------------------------------------


def test_problems_name_what_is_wrong(client, world):
    unknown = problem(get(client, "/prices", world.viewer, symbols="AAPL,APPL,MSFTT"), 404)
    assert unknown["suggestions"]["APPL"][0] == "AAPL" and "MSFT" in unknown["suggestions"]["MSFTT"]
    assert "APPL" in unknown["detail"] and "AAPL," not in unknown["detail"]

    bad_date = problem(get(client, "/prices", world.viewer, symbols="AAPL", start="2024-13-01"), 400)
    assert bad_date["invalid_params"] == [{"name": "start", "reason": "start: '2024-13-01' is not a date (YYYY-MM-DD)"}]

    backwards = problem(get(client, "/prices", world.viewer, symbols="AAPL", start="2024-06-01", end="2024-01-01"), 400)
    assert "after end" in backwards["detail"]

    undeclared = problem(get(client, "/prices", world.viewer, symbols="AAPL", colour="blue"), 400)
    assert undeclared["invalid_params"] == [{"name": "colour", "reason": "not a parameter of this endpoint"}]

    missing = problem(get(client, "/prices", world.viewer), 400)
    assert missing["invalid_params"][0]["name"] == "symbols"

    twice = problem(
        client.get(V1 + "/prices?symbols=AAPL&symbols=MSFT", headers={"Authorization": f"Bearer {world.viewer}"}), 400
    )
    assert twice["invalid_params"] == [{"name": "symbols", "reason": "given more than once"}]

    series = problem(get(client, "/macro/observations", world.viewer, ids="CPIAUCSX"), 404)
    assert series["suggestions"] == {"CPIAUCSX": ["CPIAUCSL"]}

    limit = problem(get(client, "/prices", world.viewer, symbols="AAPL", limit=0), 400)
    assert limit["invalid_params"][0]["name"] == "limit"


def test_unauthenticated_requests(client, world, engine, monkeypatch):
    none = get(client, "/instruments", None)
    body = problem(none, 401)
    assert none.headers["www-authenticate"].startswith("Bearer") and "Authorization" in body["detail"]
    basic = client.get(V1 + "/instruments", headers={"Authorization": f"Basic {world.viewer}"})
    assert problem(basic, 401) and basic.headers["www-authenticate"].startswith("Bearer")
    for garbage in ("nonsense", "mdk_" + "x" * 43, world.viewer + "x", world.viewer[:-1]):
        answer = get(client, "/instruments", garbage)
        assert problem(answer, 401)["detail"] == "the token is unknown, revoked or expired"
        assert answer.headers["www-authenticate"].startswith("Bearer")

    token_id, token = tokens.create(engine, "ana", "to revoke", actor="ana")
    assert get(client, "/instruments", token).status_code == 200
    assert tokens.revoke(engine, token_id, actor="ana", actor_role="viewer")
    problem(get(client, "/instruments", token), 401)

    _, expiring = tokens.create(engine, "ana", "an hour", clock.now() + timedelta(hours=1), actor="ana")
    assert get(client, "/instruments", expiring).status_code == 200
    later = clock.now() + timedelta(hours=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    problem(get(client, "/instruments", expiring), 401)
    assert get(client, "/instruments", world.viewer).status_code == 200  # a token without expiry goes on


def test_roles_and_disabled_users(client, world, engine):
    forbidden = problem(get(client, "/admin/runs", world.viewer), 403)
    assert "admin" in forbidden["detail"]
    assert get(client, "/admin/runs", world.admin).status_code == 200

    users.add_user(engine, "leaver", "admin", TEST_PASSWORD)
    _, token = tokens.create(engine, "leaver", "script", actor="leaver")
    assert get(client, "/admin/runs", token).status_code == 200
    users.set_role(engine, "leaver", "viewer", actor="boss")  # a token acts with its user's current role
    problem(get(client, "/admin/runs", token), 403)
    users.set_active(engine, "leaver", False, actor="boss")
    problem(get(client, "/instruments", token), 401)
    users.set_active(engine, "leaver", True, actor="boss")
    assert get(client, "/instruments", token).status_code == 200


def test_only_the_tokens_hash_is_stored(client, world, engine):
    token_id, token = tokens.create(engine, "ana", "secret check", actor="ana")
    assert get(client, "/instruments", token).status_code == 200
    columns = [c["name"] for c in sa.inspect(engine).get_columns("api_tokens")]
    cast = ", ".join(f"coalesce(cast({c} as text), '')" for c in columns)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"select {cast} from api_tokens")).all()
        audit = conn.execute(sa.text("select coalesce(cast(details as text), '') from audit_log")).scalars().all()
    cells = [cell for row in rows for cell in row]
    assert rows and not any(token in cell or world.viewer in cell for cell in cells)
    assert not any(token in text for text in audit)
    assert tokens.token_hash(token) in cells and token[: tokens.PREFIX_SHOWN] in cells
    assert len(token) > 40 and token.startswith(tokens.TOKEN_PREFIX)
    assert token_id in {r.id for r in tokens.list_tokens(engine, "ana").itertuples()}


# -- the rate limit --------------------------------------------------------------------------------------------------


@pytest.fixture
def three_a_minute(client, world, monkeypatch):
    """The limit at 3 requests a minute (buckets rebuilt for it)."""
    framework.LIMITS.close()
    monkeypatch.setenv("API_REQUESTS_PER_MINUTE", "3")
    get_settings.cache_clear()
    yield
    framework.LIMITS.close()
    get_settings.cache_clear()


def test_the_fourth_request_in_a_minute_waits(client, world, engine, three_a_minute, monkeypatch):
    _, first = tokens.create(engine, "ana", "limited one", actor="ana")
    _, second = tokens.create(engine, "ana", "limited two", actor="ana")
    for _ in range(3):
        assert get(client, "/instruments", first).status_code == 200
    refused = get(client, "/instruments", first)
    body = problem(refused, 429)
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60 and body["retry_after"] == wait and "3 requests a minute" in body["detail"]
    assert get(client, "/instruments", second).status_code == 200  # a token of its own, a limit of its own
    assert get(client, "/instruments", second).status_code == 200

    now = clock.epoch_seconds()
    monkeypatch.setattr(clock, "epoch_seconds", lambda: now + 61)
    for _ in range(3):
        assert get(client, "/instruments", first).status_code == 200
    assert get(client, "/instruments", first).status_code == 429


def test_refused_requests_do_not_use_up_the_limit(client, world, engine, three_a_minute):
    _, token = tokens.create(engine, "ana", "limited three", actor="ana")
    for _ in range(5):
        assert get(client, "/admin/runs", token).status_code == 403  # refused before the limit counts
    for _ in range(3):
        assert get(client, "/instruments", token).status_code == 200
    assert get(client, "/instruments", token).status_code == 429


# -- metrics and the document ----------------------------------------------------------------------------------------


def api_requests(client: TestClient, endpoint: str, status: str) -> float:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == "market_desk_api_requests_total" and sample.labels == {
                "endpoint": endpoint,
                "status": status,
            }:
                return sample.value
    return 0.0


@pytest.fixture
def scrapes():
    """/metrics reads the database through a collector that keeps its engine: reset around the test."""
    metrics.COLLECTOR.reset()
    yield
    metrics.COLLECTOR.reset()


def test_requests_are_counted_by_endpoint_and_status(client, world, scrapes):
    before_ok = api_requests(client, V1 + "/prices", "200")
    before_missing = api_requests(client, V1 + "/prices", "404")
    before_index = api_requests(client, V1 + "/indices/{name}/levels", "200")
    for _ in range(3):
        ok(client, "/prices", world.viewer, symbols="AAPL", start="2024-01-02", end="2024-01-31")
    get(client, "/prices", world.viewer, symbols="NOPE")
    ok(client, "/indices/Top four/levels", world.viewer, start="2024-01-02")
    assert api_requests(client, V1 + "/prices", "200") == before_ok + 3
    assert api_requests(client, V1 + "/prices", "404") == before_missing + 1
    assert api_requests(client, V1 + "/indices/{name}/levels", "200") == before_index + 1  # the route, not the name


def openapi_31_meta_schema() -> dict[str, Any] | None:
    """The OpenAPI 3.1 meta-schema, when an installed package ships it (schemathesis does); else None."""
    try:
        from schemathesis.specs.openapi.definitions import OPENAPI_31
    except ImportError:
        return None
    return OPENAPI_31


def test_the_document_is_openapi_31_and_lists_every_route_and_parameter(client):
    answer = client.get(V1 + "/openapi.json")  # public: no token
    assert answer.status_code == 200
    doc = answer.json()
    assert doc == api.DOCUMENT and doc["openapi"] == "3.1.0"
    meta_schema = openapi_31_meta_schema()
    if meta_schema is not None:
        validator = jsonschema.Draft202012Validator(meta_schema)
        validator.validate(doc)
        assert not validator.is_valid({**doc, "openapi": "3.0.3"}) and not validator.is_valid({"openapi": "3.1.0"})
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)

    served = {r.path for r in api.routes} - {V1 + "/openapi.json", V1 + "/docs"}
    assert served == set(doc["paths"]) and len(served) == len(api.ENDPOINTS)
    assert {V1 + "/prices", V1 + "/admin/runs", V1 + "/indices", V1 + "/indices/{name}/changes"} <= served
    ids = [item["get"]["operationId"] for item in doc["paths"].values()]
    assert len(ids) == len(set(ids))
    for endpoint in api.ENDPOINTS:
        op = doc["paths"][V1 + endpoint.path]["get"]
        listed = {(p["name"], p["in"]) for p in op["parameters"]}
        declared = {(p.name, "query") for p in endpoint.all_params} | {(p.name, "path") for p in endpoint.path_params}
        assert listed == declared, endpoint.path
        for p in op["parameters"]:
            jsonschema.Draft202012Validator.check_schema(p["schema"])
            if p["in"] == "path":
                assert p["required"] is True and "{" + p["name"] + "}" in endpoint.path
        assert "401" in op["responses"] and ("403" in op["responses"]) == endpoint.admin
        assert ("text/csv" in op["responses"]["200"]["content"]) == endpoint.table
        assert op["tags"] and op["summary"] and op["description"]
    assert {e.tag for e in api.ENDPOINTS if e.path.startswith("/indices")} == {"index"}


def test_every_declared_answer_validates_against_the_envelope(client, world):
    envelope = api.DOCUMENT["components"]["schemas"]["Envelope"]
    checker = jsonschema.Draft202012Validator(envelope)
    for path, params in [
        ("/instruments", {}),
        ("/freshness", {}),
        ("/indices", {}),
        ("/indices/Top four/changes", {"limit": 5}),
        ("/macro/series", {}),
    ]:
        checker.validate(ok(client, path, world.viewer, **params))


class Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_reference_page_escapes_its_text(client):
    answer = client.get(V1 + "/docs")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = Texts()
    page.feed(answer.text)
    text = "".join(page.text)
    assert "Authorization: Bearer <token>" in text  # written &lt;token&gt;, read back as text
    assert "script" not in page.tags
    for endpoint in api.ENDPOINTS:
        assert f"GET {V1}{endpoint.path}" in text and endpoint.summary in text
        assert html.escape(endpoint.description) in answer.text

    hostile = {
        "info": {"title": "<b>t</b>", "description": "</p><script>alert(1)</script>"},
        "paths": {
            "/x/<img src=x onerror=alert(1)>": {
                "get": {
                    "summary": "<i>s</i>",
                    "description": "a & b",
                    "parameters": [
                        {
                            "name": '"><script>',
                            "required": True,
                            "description": "<svg onload=alert(1)>",
                            "schema": {"type": "string", "enum": ["<a>", "b"], "default": "<a>"},
                        }
                    ],
                }
            }
        },
    }
    rendered = api._reference_html(hostile)
    parsed = Texts()
    parsed.feed(rendered)
    assert not {"script", "img", "svg", "i"} & set(parsed.tags)
    for fragment in ("</p><script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "a & b"):
        assert fragment in "".join(parsed.text)


def test_a_large_answer_is_audited_as_an_export_and_a_small_one_is_not(client, world, engine):
    def exports() -> list[dict]:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("select username, details from audit_log where action = 'api_export' order by id")
            ).all()
        return [{"user": r.username, **r.details} for r in rows]

    before = len(exports())
    ok(client, "/prices", world.viewer, symbols="AAPL", start="2024-01-02", end="2024-01-31")  # 20 rows
    assert len(exports()) == before
    answer = get(client, "/prices", world.viewer, symbols="AAPL,MSFT,NVDA", format="csv", limit="50000")
    assert answer.status_code == 200
    rows = len(answer.text.strip().splitlines()) - 1
    assert rows >= get_settings().api_audit_rows
    logged = exports()[before:]
    assert len(logged) == 1
    entry = logged[0]
    assert (entry["user"], entry["endpoint"], entry["rows"], entry["format"]) == ("ana", V1 + "/prices", rows, "csv")
    assert entry["parameters"]["symbols"] == ["AAPL", "MSFT", "NVDA"] and world.viewer not in json.dumps(entry)
