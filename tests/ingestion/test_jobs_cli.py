"""`python -m ingestion run | backfill | status`, and configuration precedence: flags, environment, TOML, defaults."""

from __future__ import annotations

import json
from datetime import date, time

import pytest
import sqlalchemy as sa

from ingestion.__main__ import main
from ingestion.config import ConfigFileError, load_config
from store import tables
from tests.support.doubles import bar_counts, runs, sessions


@pytest.fixture
def cli_db(engine_for, empty_database_url):
    """The CLI pointed at an empty database (it migrates it itself), yfinance off: no network anywhere."""
    return engine_for(empty_database_url, YFINANCE_ENABLED="false")


def test_run_prices_for_symbols_and_a_range(cli_db, capsys):
    code = main(
        [
            "run",
            "--job",
            "prices",
            "--symbols",
            "aapl, MSFT",
            "--start",
            "2024-01-01",
            "--end",
            "2024-06-30",
            "--provider",
            "sample",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    days = len(sessions("2024-01-01", "2024-06-30"))
    assert bar_counts(cli_db) == {"AAPL": days, "MSFT": days}
    assert f"prices success: 2 ok, 0 failed, {2 * days} valid rows" in out
    assert "batch 1/1" in out  # not a terminal: plain progress lines

    assert main(["status", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["job"] == "prices" and listed[0]["status"] == "success"
    assert listed[0]["details"]["items"]["AAPL"]["rows"] == days


def test_dry_run_writes_nothing(cli_db, capsys):
    code = main(
        [
            "run",
            "--job",
            "prices",
            "--symbols",
            "AAPL",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-31",
            "--provider",
            "sample",
            "--dry-run",
        ]
    )
    assert code == 0
    assert "dry run, nothing written" in capsys.readouterr().out
    assert bar_counts(cli_db) == {} and runs(cli_db) == []


def test_backfill_macro_and_an_unknown_symbol_exits_non_zero(cli_db, capsys):
    assert (
        main(["backfill", "--job", "macro", "--series", "UNRATE", "--start", "2020-01-01", "--provider", "sample"]) == 0
    )
    with cli_db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.macro_observations)).scalar_one() > 60
    capsys.readouterr()
    code = main(
        [
            "run",
            "--job",
            "prices",
            "--symbols",
            "AAPL,ZZZZ",
            "--start",
            "2024-01-02",
            "--end",
            "2024-01-05",
            "--provider",
            "sample",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1 and "prices partial" in out and "failed ZZZZ:" in out and "no bundled prices for ZZZZ" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--job", "prices", "--symbols", "AAPL; DROP TABLE daily_bars"], "invalid symbol"),
        (["run", "--job", "prices", "--symbols", "A" * 200], "200 characters"),
        (["run", "--job", "prices", "--symbols", "BRK B"], "'BRK B'"),
        (["run", "--job", "macro", "--series", "DGS10'--"], "invalid FRED series id"),
        (["run", "--job", "macro", "--symbols", "AAPL"], "takes FRED ids with --series"),
        (["run", "--job", "prices", "--provider", "alpha_vantage"], "ALPHAVANTAGE_API_KEY is not set"),
        (["run", "--job", "prices"], "no live provider for the prices job"),
        (["run", "--job", "prices", "--config", "/nonexistent/ingestion.toml"], "does not exist"),
    ],
)
def test_bad_input_is_refused_before_any_request(cli_db, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert runs(cli_db) == []


def test_bad_dates_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--job", "prices", "--start", "2024-13-01"])
    assert exit_info.value.code == 2 and "is not a date" in capsys.readouterr().err


def test_configuration_precedence_flags_then_environment_then_toml_then_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("INGESTION_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_config().chunk_symbols == 25  # defaults, no file

    (tmp_path / "ingestion.toml").write_text(
        'chunk_symbols = 40\nquotes_every_minutes = 10\nprices_at = "17:45"\nhistory_start = 2015-01-02\n'
    )
    config = load_config()
    assert (config.chunk_symbols, config.quotes_every_minutes, config.prices_at) == (40, 10, time(17, 45))
    assert config.history_start == date(2015, 1, 2)

    monkeypatch.setenv("INGEST_CHUNK_SYMBOLS", "30")
    config = load_config()
    assert config.chunk_symbols == 30 and config.quotes_every_minutes == 10  # env beats the file, per key

    assert load_config(chunk_symbols=7).chunk_symbols == 7  # a flag beats everything

    other = tmp_path / "other.toml"
    other.write_text("quotes_every_minutes = 15\n")
    monkeypatch.setenv("INGESTION_CONFIG", str(other))
    assert load_config().quotes_every_minutes == 15  # the named file replaces ./ingestion.toml

    other.write_text("quotes_every_minutes = 0\n")
    with pytest.raises(ConfigFileError, match="quotes_every_minutes"):
        load_config()
    other.write_text("quotes_every_minutes = \n")
    with pytest.raises(ConfigFileError, match="other.toml"):
        load_config()


def test_an_upstream_that_echoes_the_api_key_leaks_it_nowhere(engine_for, empty_database_url, capsys, httpserver):
    """The key the upstream echoes back (in its error text and in a URL) is masked where the provider error is
    created: not in the run record, the per-item reasons, the CLI's lines or the status listing."""
    from werkzeug import Request, Response

    key = "AVKEY-Secret-7f3a9c21"

    def echo(request: Request) -> Response:
        body = {"Error Message": f"Invalid API call for {request.url} (key {request.args['apikey']})"}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/query").respond_with_handler(echo)
    engine_for(
        empty_database_url,
        YFINANCE_ENABLED="false",
        ALPHAVANTAGE_API_KEY=key,
        ALPHAVANTAGE_BASE_URL=httpserver.url_for("/").rstrip("/"),
    )
    code = main(["run", "--job", "prices", "--symbols", "IBM", "--provider", "alpha_vantage", "--start", "2024-01-02"])
    printed = capsys.readouterr()
    assert code == 1 and "failed IBM" in printed.out
    assert main(["status", "--json"]) == 0
    listed = capsys.readouterr().out
    everything = printed.out + printed.err + listed
    assert key not in everything and "apikey=***" in printed.out
    with engine_for(empty_database_url).connect() as conn:
        stored = json.dumps([list(r) for r in conn.execute(sa.select(tables.ingestion_runs)).all()], default=str)
    assert key not in stored and "Invalid API call" in stored


def test_run_with_queue_queues_it_for_a_worker_and_runs_nothing_here(cli_db, capsys):
    from ingestion import queue, queue_reads

    code = main(["backfill", "--job", "prices", "--symbols", "aapl", "--start", "2024-01-02", "--queue"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("queued prices as task "), out
    assert runs(cli_db) == [] and bar_counts(cli_db) == {}  # nothing ran in this process
    with cli_db.connect() as conn:
        [task] = queue_reads.recent_tasks(conn)
    assert task["params"]["items"] == ["AAPL"] and task["queue_status"] == "todo" and task["requested_by"] is None
    assert main(["run", "--job", "quotes", "--queue", "--dry-run"]) == 2
    assert "--dry-run runs here" in capsys.readouterr().err
    queue.close_sync()
