"""Index tracker reads on real PostgreSQL: the stored S&P 500 list and sectors, point-in-time shares (never a figure
published after the as-of date), raw closes and dollar volume, inputs that feed build_index as they are, levels."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from analytics.index import build_index
from ingestion.sample import load_sample
from store import indices
from store.db import create_db_engine
from store.indices import IndexDefinition
from store.reads import index as reads
from store.reads import market
from tests.support.sp500 import SP500, bundle_frame

# Two sectors in full, a few others, former members and two sample symbols (whose bars stay the sample's).
ENERGY_AND_UTILITIES = ("Energy", "Utilities")
FORMER = ("AAL", "DFS", "HES", "JNPR", "WBA")


def chosen_symbols() -> list[str]:
    cons = bundle_frame("constituents")
    sectors = cons[cons["gics_sector"].isin(ENERGY_AND_UTILITIES)]["symbol"].tolist()
    return sorted({*sectors, "AAPL", "MSFT", "NFLX", "NVDA", "BRK.B", *FORMER})


@pytest.fixture(scope="module")
def db(databases, sample_template):
    engine = create_db_engine(databases.create(sample_template))
    load_sample(engine, SP500, "sp500", symbols=chosen_symbols())
    yield engine
    engine.dispose()


@pytest.fixture
def empty_sample(make_sample_database):
    engine = create_db_engine(make_sample_database())
    yield engine
    engine.dispose()


def test_the_list_and_its_sectors(db, empty_sample):
    with empty_sample.connect() as conn:
        assert reads.sp500_loaded(conn) is False and reads.sectors(conn) == []
        assert reads.sp500_members(conn).empty
    with db.connect() as conn:
        assert reads.sp500_loaded(conn) is True
        members = reads.sp500_members(conn)
        everyone = reads.sp500_members(conn, include_former=True)
        sectors = reads.sectors(conn)
    cons = bundle_frame("constituents").set_index("symbol")
    current = [s for s in chosen_symbols() if s in cons.index]
    assert members["symbol"].tolist() == current and members["is_current"].all()
    assert len(everyone) == len(current) + 5 and not everyone["is_current"].iloc[[0]].empty
    assert set(sectors) == {*ENERGY_AND_UTILITIES, "Information Technology", "Communication Services", "Financials"}
    row = members.set_index("symbol").loc["NFLX"]
    assert (row["name"], row["sector"]) == (cons.loc["NFLX", "name"], "Communication Services")
    assert row["date_added"] == pd.Timestamp(cons.loc["NFLX", "date_added"])
    former = everyone[~everyone["is_current"]]
    assert former["sector"].isna().all() and (former["name"] == former["symbol"]).all()


def test_a_definitions_universe(db, empty_sample):
    with db.connect() as conn:
        energy = reads.universe_symbols(conn, IndexDefinition(universe="sector", sector="Energy"))
        listed = reads.universe_symbols(conn, IndexDefinition(universe="sp500"))
        ranked = reads.universe_symbols(conn, IndexDefinition(universe="top_n", top_n=10))
        tickers = reads.universe_symbols(conn, IndexDefinition(universe="tickers", tickers=("msft", "AAPL")))
        with pytest.raises(ValueError, match="no S&P 500 member in the sector 'Nothing'"):
            reads.universe_symbols(conn, IndexDefinition(universe="sector", sector="Nothing"))
    with empty_sample.connect() as conn, pytest.raises(ValueError, match="load-sample --dataset sp500"):
        reads.universe_symbols(conn, IndexDefinition(universe="sp500"))
    cons = bundle_frame("constituents")
    assert energy == sorted(cons[cons["gics_sector"] == "Energy"]["symbol"])
    assert set(energy) < set(listed) < set(ranked) and len(ranked) == len(listed) + 5
    assert tickers == ["MSFT", "AAPL"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(as_of=hs.dates(date(2017, 6, 1), date(2026, 9, 1)))
def test_shares_as_published_never_come_from_after_the_as_of_date(db, as_of):
    symbols = ["AAPL", "XOM", "NFLX", "DFS"]
    with db.connect() as conn:
        shares = reads.shares_published(conn, symbols, as_of, sources=["sample-sp500-fmp", "sample-sp500-yahoo"])
    assert (shares["published"] <= pd.Timestamp(as_of)).all()
    fmp, snaps = bundle_frame("shares"), bundle_frame("snapshots")
    expected = int((fmp["symbol"].isin(symbols) & (fmp["filing_date"] <= pd.Timestamp(as_of))).sum()) + int(
        (snaps["symbol"].isin(symbols) & (snaps["date"] <= pd.Timestamp(as_of))).sum()
    )
    assert len(shares) == expected


def test_a_quarter_known_only_later_is_not_known_before_its_filing(db):
    with db.connect() as conn:
        shares = reads.shares_published(conn, ["AAPL"], date(2019, 7, 1), sources=["sample-sp500-fmp"])
    last = shares.iloc[-1]
    # The quarter ended on 2019-06-29 (before the as-of date) but was filed on 2019-07-31: not known yet.
    assert last["period_end"] == pd.Timestamp("2019-03-30") and last["published"] == pd.Timestamp("2019-05-01")
    assert list(shares.columns) == reads.SHARES_COLUMNS and shares["shares"].dtype == "float64"
    assert set(shares["source"]) == {"sample-sp500-fmp"}


def test_raw_closes_and_dollar_volume(db):
    with db.connect() as conn:
        raw = reads.raw_closes(conn, ["AAPL", "XOM", "NVDA", "ZZZZ"], date(2024, 1, 2), date(2024, 9, 10))
        none = reads.raw_closes(conn, ["ZZZZ"])
    source = bundle_frame("raw").query("symbol == 'XOM' and date >= '2024-01-02'").set_index("date")
    assert list(raw.close.columns) == ["AAPL", "NVDA", "XOM", "ZZZZ"] and raw.close["ZZZZ"].isna().all()
    assert raw.close.index[0] == pd.Timestamp("2024-01-02") and raw.close.index[-1] == pd.Timestamp("2024-09-10")
    np.testing.assert_allclose(raw.close["XOM"].to_numpy(), source["close"].to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(
        raw.dollar_volume["XOM"].to_numpy(), (raw.close["XOM"] * source["volume"].to_numpy()).to_numpy()
    )
    assert none.close.empty and list(none.dollar_volume.columns) == ["ZZZZ"]


def test_the_inputs_feed_build_index_as_they_are(db):
    with db.connect() as conn:
        symbols = reads.universe_symbols(conn, IndexDefinition(universe="top_n", top_n=5))
        inputs = reads.index_inputs(conn, symbols, date(2019, 1, 2), date(2025, 12, 31))
    result = build_index(inputs.prices, top_n=5, rebalance="Q", **inputs.ranking(), start=date(2019, 7, 1))
    assert result.levels.iloc[0] == 1000.0 and result.levels.index[-1] == pd.Timestamp("2025-12-31")
    held = result.composition(date(2024, 1, 2)).index
    assert len(held) == 5 and {"AAPL", "MSFT", "NVDA"} <= set(held)
    assert inputs.prices.shape[1] == len(symbols) and inputs.raw_close.shape[1] == len(symbols)


def test_adjusted_closes_through_copy_match_the_table(db):
    symbols = ["AAPL", "NFLX", "BRK.B", "DFS"]
    with db.connect() as conn:
        wide = market.adjusted_closes(conn, symbols, date(2024, 9, 1), date(2024, 9, 30))
        table = pd.read_sql(
            sa.text(
                "select date, symbol, adj_close from daily_bars where symbol = any(:s) "
                "and date between '2024-09-01' and '2024-09-30'"
            ),
            conn,
            params={"s": symbols},
        )
        empty = market.adjusted_closes(conn, ["ZZZZ"])
    expected = table.pivot(index="date", columns="symbol", values="adj_close")
    assert list(wide.columns) == sorted(symbols) and wide.index.name == "date" and wide.columns.name == "symbol"
    np.testing.assert_array_equal(wide.to_numpy(), expected[sorted(symbols)].to_numpy())  # exact, NaN included
    assert wide["DFS"].notna().sum() == 6  # a former member's data stops on 2024-09-10
    assert empty.empty and isinstance(empty.index, pd.DatetimeIndex)


def test_stored_levels_are_read_back(db):
    saved = indices.save(db, "reader", "levels", IndexDefinition(universe="tickers", tickers=("AAPL", "MSFT")))
    days = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], name="date")
    indices.write_levels(db, saved.id, pd.DataFrame({"level_gross": [1000, 1010, 1020.5], "level_net": 1000.0}, days))
    with db.connect() as conn:
        levels = reads.index_levels(conn, saved.id)
        later = reads.index_levels(conn, saved.id, start=date(2024, 1, 3))
        none = reads.index_levels(conn, saved.id + 1000)
    assert levels.index.equals(days) and levels["level_gross"].tolist() == [1000.0, 1010.0, 1020.5]
    assert later.index[0] == pd.Timestamp("2024-01-03") and none.empty


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_wide_reads_are_the_same_whatever_symbols_go_in_one_copy(db, monkeypatch, chunk):
    """adjusted_closes and raw_closes read a hundred symbols per COPY (bulk.copy_wide); the oracle is one query
    of the table pivoted by pandas, whatever the chunk (a symbol without rows sits alone in a chunk of 1)."""
    from store.reads import bulk

    monkeypatch.setattr(bulk, "CHUNK", chunk)
    symbols = ["AAPL", "NFLX", "BRK.B", "DFS", "XOM", "ZZZZ"]
    with db.connect() as conn:
        prices = market.adjusted_closes(conn, symbols, date(2024, 8, 1), date(2024, 10, 31))
        raw = reads.raw_closes(conn, symbols, date(2024, 8, 1), date(2024, 10, 31))
        table = pd.read_sql(
            sa.text(
                "select b.date, b.symbol, b.adj_close, r.close, r.volume from daily_bars b "
                "left join raw_closes r using (symbol, date) where b.symbol = any(:s) "
                "and b.date between '2024-08-01' and '2024-10-31'"
            ),
            conn,
            params={"s": symbols},
            parse_dates=["date"],
        )
    expected = table.pivot(index="date", columns="symbol", values="adj_close")
    assert list(prices.columns) == sorted(set(table["symbol"])) and "ZZZZ" not in prices
    assert prices.index.is_monotonic_increasing and prices.index.name == "date" and prices.columns.name == "symbol"
    np.testing.assert_array_equal(prices.to_numpy(), expected[list(prices.columns)].to_numpy())
    np.testing.assert_array_equal(prices.index.to_numpy(), expected.index.to_numpy())
    assert list(raw.close.columns) == sorted(symbols) and raw.close["ZZZZ"].isna().all()
    stored = table.dropna(subset=["close"])
    close = stored.pivot(index="date", columns="symbol", values="close").reindex(columns=sorted(symbols))
    volume = stored.pivot(index="date", columns="symbol", values="volume").reindex(columns=sorted(symbols))
    np.testing.assert_array_equal(raw.close.reindex(close.index).to_numpy(), close.to_numpy())
    np.testing.assert_array_equal(raw.dollar_volume.reindex(close.index).to_numpy(), (close * volume).to_numpy())
