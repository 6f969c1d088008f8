"""Option chains through the data path: the demo bundle loaded (complete, exact, idempotent), reads, validation, the
`options` job, the chain and the delta-targeted series from the database against the same analytics fed straight
from the bundle file and FRED's CSV, the `options-series` command, and the demo load queued and run by a worker."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from analytics import options as opt
from ingestion import options, queue
from ingestion.__main__ import main
from ingestion.jobs import JobRequest, run_job
from ingestion.providers.base import Provider, finish, with_failures
from ingestion.providers.sample import OPTIONS_FILE, OptionsSampleProvider
from ingestion.sample import ensure_universe, load_sample
from ingestion.validate import validate_option_quotes
from store import tables
from store.db import create_db_engine
from store.reads import options as reads
from tests.support.workers import progress, start_worker, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = ROOT / "data" / "options"
SAMPLE = ROOT / "data" / "sample"
FRED_CSV = ROOT / "tests" / "fixtures" / "options" / "fred_DGS3MO_DGS2_2026-05-01_2026-08-20.csv"


@pytest.fixture(scope="module")
def bundle() -> pd.DataFrame:
    return pd.read_parquet(OPTIONS / OPTIONS_FILE)


@pytest.fixture(scope="module")
def fred_yields() -> pd.DataFrame:
    return pd.read_csv(FRED_CSV, parse_dates=["date"]).set_index("date")


@pytest.fixture(scope="module")
def loaded(databases, sample_template):
    """A copy of the sample database (with its Treasury yields) and the whole option demo loaded once (about 6 s)."""
    engine = create_db_engine(databases.create(sample_template))
    counts = load_sample(engine, OPTIONS, "options")
    yield engine, counts
    engine.dispose()


@pytest.fixture
def sample_db(make_sample_database):
    engine = create_db_engine(make_sample_database())
    yield engine
    engine.dispose()


def quote_rows(**overrides) -> dict:
    row = {
        "symbol": "SPY",
        "session_date": date(2026, 8, 14),
        "expiration": date(2026, 10, 16),
        "type": "C",
        "strike": 800.0,
        "bid": 2.0,
        "ask": 2.1,
        "last": 2.05,
        "volume": 10,
        "open_interest": 100,
        "provider_iv": 0.14,
        "provider_delta": np.nan,
        "delta_inconsistent": pd.NA,
        "underlying_price": 776.34,
        "snapshot_ts": pd.Timestamp("2026-08-14 19:45", tz="UTC"),
        "last_trade_ts": pd.Timestamp("2026-08-14 19:40", tz="UTC"),
    }
    return {**row, **overrides}


def quotes_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["volume"] = frame["volume"].astype("Int64")
    frame["open_interest"] = frame["open_interest"].astype("Int64")
    frame["delta_inconsistent"] = frame["delta_inconsistent"].astype("boolean")
    return frame


# -- the demo bundle -------------------------------------------------------------------------------------


def test_the_demo_loads_complete_and_exact(loaded, bundle):
    engine, counts = loaded
    assert counts == {"option_quotes": 313_644, "quarantined": 0}
    with engine.connect() as conn:
        listed = reads.underlyings(conn).set_index("symbol")
        assert listed["rows"].to_dict() == {"AAPL": 56_787, "SPY": 256_857}
        assert listed["sessions"].to_dict() == {"AAPL": 63, "SPY": 63}
        assert set(listed["sources"]) == {"sample-options"}
        stored_sessions = reads.sessions(conn, "SPY")
        chain = reads.chain(conn, "SPY", date(2026, 7, 15))
        run = conn.execute(sa.text("select job, source, status from ingestion_runs order by id desc limit 1")).one()
    assert stored_sessions == sorted(bundle["session_date"].dt.date.unique())
    assert tuple(run) == ("options-demo", "sample-options", "success")
    expected = bundle[(bundle["underlying"] == "SPY") & (bundle["session_date"] == "2026-07-15")]
    expected = expected.sort_values(["expiration", "strike"]).reset_index(drop=True)
    assert len(chain) == len(expected) > 3000
    np.testing.assert_array_equal(chain["strike"], expected["strike"])
    np.testing.assert_array_equal(chain["price"], expected["price"])
    np.testing.assert_array_equal(chain["delta"], expected["delta"])
    np.testing.assert_array_equal(chain["volume"], expected["volume"].astype(float))
    np.testing.assert_array_equal(chain["open_interest"], expected["open_interest"].astype(float))
    iv = expected["iv_pct"].to_numpy() / 100
    np.testing.assert_allclose(chain["provider_iv"], np.where(iv > 0, iv, np.nan), rtol=1e-15)
    assert chain["bid"].isna().all() and chain["ask"].isna().all()  # an end-of-day file: no quotes claimed
    assert (chain["underlying_close"] == 754.81).all()
    flagged = expected["qa_delta_inconsistent"].fillna(False).to_numpy(dtype=bool)
    np.testing.assert_array_equal(chain["delta_inconsistent"].fillna(False).to_numpy(dtype=bool), flagged)


def test_loading_again_changes_nothing_and_an_unknown_underlying_is_refused(sample_db):
    first = load_sample(sample_db, OPTIONS, "options", symbols=["aapl"])
    again = load_sample(sample_db, OPTIONS, "options", symbols=["AAPL"])
    assert first == {"option_quotes": 56_787, "quarantined": 0}
    assert again == {"option_quotes": 0, "quarantined": 0}  # the upsert writes only rows that changed
    with pytest.raises(ValueError, match="no bundled option chains for QQQ; the bundle has AAPL, SPY"):
        load_sample(sample_db, OPTIONS, "options", symbols=["QQQ"])
    with sample_db.connect() as conn:
        assert conn.execute(sa.text("select count(*) from option_quotes")).scalar_one() == 56_787
        statuses = conn.execute(sa.text("select status from ingestion_runs where job = 'options-demo'")).scalars()
        assert sorted(statuses) == ["failed", "success", "success"]


def test_the_sample_provider_speaks_the_contract():
    provider = OptionsSampleProvider(OPTIONS)
    assert provider.supports("option_chains") and provider.symbols() == ["AAPL", "SPY"]
    frame = provider.option_chains(["AAPL"])
    assert list(frame.columns) == queue_columns() and set(frame["symbol"]) == {"AAPL"}
    assert str(frame["snapshot_ts"].dtype) == "datetime64[ns, UTC]" and frame["snapshot_ts"].isna().all()
    from ingestion.providers.base import NotFound

    with pytest.raises(NotFound, match="QQQ"):
        provider.option_chains(["AAPL", "QQQ"])


def queue_columns() -> list[str]:
    from ingestion.datasets import OPTION_QUOTES

    return OPTION_QUOTES.columns


def test_reads_filter_by_type_and_days_to_expiry(loaded):
    engine, _ = loaded
    with engine.connect() as conn:
        rows = reads.chains(conn, "SPY", date(2026, 6, 1), date(2026, 6, 30), "C", max_days=78, min_days=21)
        with pytest.raises(ValueError, match="kind must be"):
            reads.chains(conn, "SPY", kind="X")
        with pytest.raises(ValueError):
            reads.chains(conn, "SPY", date(2026, 7, 1), date(2026, 6, 1))
    days = (rows["expiration"] - rows["session_date"]).dt.days
    assert len(rows) > 10_000 and days.between(22, 78).all() and (rows["type"] == "C").all()
    assert rows["session_date"].min() >= pd.Timestamp("2026-06-01") and rows["session_date"].max() <= pd.Timestamp(
        "2026-06-30"
    )


# -- validation ----------------------------------------------------------------------------------------------


def test_validation_quarantines_bad_rows_with_reasons_and_keeps_an_unquoted_contract():
    rows = [
        quote_rows(),
        quote_rows(strike=805.0, bid=0.0, ask=0.0),  # 0/0: not quoted, kept
        quote_rows(strike=810.0, bid=np.nan, ask=np.nan, last=np.nan),  # no price at all: kept (the chain lists it)
        quote_rows(strike=815.0, bid=-0.1),
        quote_rows(strike=820.0, bid=2.5, ask=2.0),
        quote_rows(strike=825.0, expiration=date(2026, 8, 13)),
        quote_rows(strike=830.0, type="X"),
        quote_rows(strike=0.0),
        quote_rows(strike=835.0, volume=-1),
        quote_rows(),  # the first contract again
    ]
    checked = validate_option_quotes(quotes_frame(rows))
    assert checked.valid["strike"].tolist() == [800.0, 805.0, 810.0]
    assert checked.rejected["reason"].tolist() == [
        "negative price",
        "ask below bid",
        "expired before the session",
        "type is not C or P",
        "non-positive strike",
        "negative volume or open interest",
        "duplicate contract",
    ]


# -- the live job, with a provider at the contract -------------------------------------------------------------


class Chains(Provider):
    """A provider at the contract: two contracts for SPY (one crossed), nothing for ZZZZ."""

    name = "chainsource"

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def option_chains(self, symbols):
        self.asked.append(list(symbols))
        frames = [quotes_frame([quote_rows(), quote_rows(strike=820.0, bid=2.5, ask=2.0)])] if "SPY" in symbols else []
        failures = {s: "chainsource: no listed options" for s in symbols if s != "SPY"}
        return with_failures(finish(self.name, frames, failures, symbols, queue_columns()), failures)


def test_the_options_job_writes_the_snapshot_quarantines_and_reports_each_underlying(
    engine_for, make_migrated_database
):
    db = engine_for(make_migrated_database(), OPTIONS_UNDERLYINGS="spy, zzzz")
    ensure_universe(db, SAMPLE)
    provider = Chains()
    result = run_job(db, JobRequest("options"), [provider])  # no items: the OPTIONS_UNDERLYINGS setting
    assert provider.asked == [["SPY", "ZZZZ"]]
    assert result.status == "partial" and set(result.failures) == {"ZZZZ"}
    assert "no listed options" in result.failures["ZZZZ"]
    assert (result.rows_written, result.quarantined) == (1, 1)
    with db.connect() as conn:
        stored = conn.execute(sa.select(tables.option_quotes)).mappings().one()
        reason = conn.execute(sa.text("select reason from quarantined_rows")).scalar_one()
    assert (stored["strike"], stored["bid"], stored["ask"], stored["source"]) == (800.0, 2.0, 2.1, "chainsource")
    assert stored["snapshot_ts"] == pd.Timestamp("2026-08-14 19:45", tz="UTC")
    assert reason == "ask below bid"
    again = run_job(db, JobRequest("options", ["SPY"]), [provider])  # the same snapshot again: nothing changes
    assert (again.status, again.rows_written) == ("success", 0)


# -- the chain and the series from the database, against the analytics fed from the files -------------------------


def test_the_session_chain_equals_the_analytics_on_the_bundle_file(loaded, bundle, fred_yields):
    engine, _ = loaded
    session = date(2026, 8, 14)
    view = options.session_chain(engine, "SPY", session)
    raw = bundle[(bundle["underlying"] == "SPY") & (bundle["session_date"] == "2026-08-14")]
    raw = raw.sort_values(["expiration", "strike"]).reset_index(drop=True)
    # FRED's file: DGS3MO last published 2026-07-22, so it is carried forward to this session; DGS2 is current.
    row = fred_yields[fred_yields.index <= "2026-08-14"].ffill().iloc[-1]
    expected = opt.chain_greeks(raw, raw["underlying_close"].iloc[0], opt.treasury_curve(row), 0.0, session)
    assert view.spot == 776.34
    np.testing.assert_allclose(view.chain["iv"], expected["iv"], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(view.chain["delta"], expected["delta"], rtol=1e-12, equal_nan=True)
    assert view.rates.as_of == {"DGS3MO": date(2026, 7, 22), "DGS2": date(2026, 8, 14)}
    assert view.rates.note(session) == "Treasury yields as of DGS3MO 2026-07-22 (carried forward), DGS2 2026-08-14"
    assert view.q.value == 0.0 and "OPTIONS_DEFAULT_DIVIDEND_YIELD" in view.q.basis
    assert view.basis_counts == {"last": len(raw)}
    assert view.chain["contract"].iloc[0].startswith("SPY2608")
    atm = options.atm_iv(view.chain, view.spot)
    one = view.chain[(view.chain["expiration"] == atm["expiration"].iloc[5]) & view.chain["iv"].notna()]
    below, above = one[one["strike"] <= 776.34].iloc[-1], one[one["strike"] >= 776.34].iloc[0]
    weight = (776.34 - below["strike"]) / (above["strike"] - below["strike"])
    assert atm["atm_iv"].iloc[5] == pytest.approx(below["iv"] + weight * (above["iv"] - below["iv"]), rel=1e-12)


def test_the_series_from_the_database_equals_the_series_from_the_files(loaded, bundle, fred_yields):
    engine, _ = loaded
    stored = options.contract_series(engine, options.SeriesParams(underlying="SPY"))
    spy = bundle[bundle["underlying"] == "SPY"]
    direct = opt.select_contract_series(spy, fred_yields, q=0.0)
    assert len(stored) == 63 and stored["contract"].notna().all()  # the underlying close is known on every session
    assert stored["contract"].tolist() == direct["contract"].tolist()
    np.testing.assert_allclose(stored["iv"], direct["iv"], rtol=1e-12)
    assert stored["change_reason"].tolist() == direct["change_reason"].tolist()
    aapl = options.contract_series(engine, options.SeriesParams(underlying="AAPL", target_delta=0.25))
    missing_close = aapl["underlying_close"].isna()
    assert (aapl.loc[missing_close, "reason"] == opt.SeriesReason.NO_CLOSE).all()
    assert missing_close.sum() == 5 and (aapl["contract"].isna() == (aapl["reason"] != "")).all()


def test_stored_dividends_give_the_dividend_yield(sample_db):
    with sample_db.begin() as conn:
        conn.execute(
            tables.corporate_actions.insert(),
            [
                {"symbol": "SPY", "date": day, "action": "dividend", "value": value, "source": "t"}
                for day, value in [
                    (date(2025, 6, 20), 1.76),  # more than a year before: not counted
                    (date(2025, 9, 19), 1.83),
                    (date(2025, 12, 19), 1.99),
                    (date(2026, 3, 20), 1.74),
                    (date(2026, 6, 19), 1.86),
                    (date(2026, 9, 18), 1.90),  # after the session: not counted
                ]
            ],
        )
    with sample_db.connect() as conn:
        q = options.dividend_yield(conn, "SPY", 740.0, date(2026, 8, 14))
    assert q.value == pytest.approx((1.83 + 1.99 + 1.74 + 1.86) / 740.0)
    assert q.basis.startswith("trailing 12-month stored dividends")


# -- the command and the queue ----------------------------------------------------------------------------------


def test_the_options_series_command_writes_csv_with_parameters_and_xlsx(loaded, engine_for, tmp_path, capsys):
    engine, _ = loaded
    engine_for(engine.url.render_as_string(hide_password=False))
    out = tmp_path / "series.csv"
    assert main(["options-series", "--underlying", "spy", "--target-delta", "0.2", "--out", str(out)]) == 0
    assert "63 session(s), a contract on 63" in capsys.readouterr().out
    written = pd.read_csv(out)
    expected = options.contract_series(engine, options.SeriesParams(underlying="SPY", target_delta=0.2))
    assert written["contract"].tolist() == expected["contract"].tolist()
    assert written["volume"].dtype == np.int64  # counts stay counts
    params = json.loads((tmp_path / "series.csv.params.json").read_text())
    assert params["target_delta"] == "0.2" and params["underlying"] == "SPY"
    xlsx = tmp_path / "series.xlsx"
    assert main(["options-series", "--underlying", "AAPL", "--out", str(xlsx)]) == 0
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert set(sheets) == {"series", "parameters"} and len(sheets["series"]) == 63
    assert "no contract (underlying close missing)" in capsys.readouterr().out
    assert main(["options-series", "--underlying", "QQQ", "--out", str(out)]) == 1
    assert "no option chains stored for QQQ" in capsys.readouterr().err
    assert main(["options-series", "--underlying", "SPY", "--band", "0.3,0.1", "--out", str(out)]) == 2
    assert "band must satisfy" in capsys.readouterr().err


def test_the_demo_load_is_queued_and_run_by_a_worker(engine_for, make_migrated_database, bundle, tmp_path):
    from dashboard.access import operations

    small = bundle[(bundle["underlying"] == "AAPL") & (bundle["session_date"] <= "2026-05-27")]
    root = tmp_path / "options"
    root.mkdir()
    small.to_parquet(root / OPTIONS_FILE)
    url = make_migrated_database()
    engine = engine_for(url, YFINANCE_ENABLED="false", FRED_GRAPH_ENABLED="false", OPTIONS_DATA_DIR=str(root))
    queue.close_sync()
    assert "options-demo" in operations.JOB_CHOICES and "options-demo" in operations.DEMO_LOADS
    worker = start_worker(url, tmp_path / "worker", OPTIONS_DATA_DIR=str(root))
    try:
        task = operations.request_run("options-demo", "", None, None, actor="ops", client_ip=None)
        done = wait_for(lambda: (row := progress(engine, task))["state"] in ("done", "failed") and row, timeout=120)
    finally:
        stop(worker)
        queue.close_sync()
    assert done["state"] == "done" and done["task"] == "ingest.options-demo", done["message"]
    assert f"option_quotes: {len(small)}" in done["message"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from option_quotes")).scalar_one() == len(small)
