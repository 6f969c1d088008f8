"""`python -m alerts`: channels and rules from the command line, with the page's checks and messages; evaluate and
deliver as a worker-less setup would."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from alerts.__main__ import main
from dashboard.access import users
from ingestion.config import IngestionConfig
from ingestion.jobs import JobRequest, run_job
from store import tables
from tests.conftest import ROOT
from tests.support.doubles import SyntheticPrices
from tests.support.receiver import Receiver
from tests.support.server import guarded_env

CONFIG = IngestionConfig(chunk_symbols=2, max_retries=1, backoff_seconds=0.0)


@pytest.fixture
def world(make_migrated_database, engine_for):
    url = make_migrated_database()
    engine = engine_for(url, ALERT_WEBHOOK_ALLOWED_HOSTS="127.0.0.1", LOAD_SAMPLE_ON_EMPTY="false")
    with engine.begin() as conn:
        conn.execute(
            tables.instruments.insert().values(symbol="AAA", name="Triple A", asset_class="stock", source="test")
        )
    users.add_user(engine, "ana", "viewer", "ana-password-123")
    run_job(engine, JobRequest("prices", ["AAA"], date(2024, 3, 1), date(2024, 4, 1)), [SyntheticPrices()], CONFIG)
    receiver = Receiver()
    yield url, engine, receiver
    receiver.close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_from_channel_to_delivered_alert(world, capsys):
    _, engine, receiver = world
    code, out, _ = run(capsys, "channel", "add", "--user", "ana", "--kind", "webhook", "--url", receiver.url)
    assert code == 0
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    channel, secret = lines["channel"], lines["secret"]
    assert secret.startswith("whsec_") and "shown this once" in out

    code, out, _ = run(capsys, "rule", "add", "--user", "ana", "--channel", channel, "--symbol", "aaa",
                       "--when", "up 0.05% over 1", "--mode", "every-time")  # fmt: skip
    assert code == 0 and out.startswith("rule: ")
    code, out, _ = run(capsys, "list", "--user", "ana")
    assert f"channel {channel}" in out and "'up 0.05% over 1'" in out and secret not in out

    run_job(engine, JobRequest("prices", ["AAA"], date(2024, 4, 2), date(2024, 4, 2)), [SyntheticPrices()], CONFIG)
    code, out, _ = run(capsys, "evaluate")
    assert code == 0 and "1 fired, 1 delivery(ies) queued" in out
    assert receiver.requests == []  # queued, not sent: `deliver` sends
    code, out, _ = run(capsys, "deliver")
    assert code == 0 and "1 delivered" in out
    [request] = receiver.requests
    assert Webhook(secret).verify(request.body, request.headers)["symbol"] == "AAA"
    code, out, _ = run(capsys, "history")
    assert "AAA" in out and "delivered 1" in out

    code, out, _ = run(capsys, "channel", "rotate", "--id", channel)
    assert code == 0 and out.startswith("secret: whsec_") and secret not in out
    code, out, _ = run(capsys, "channel", "test", "--id", channel)
    assert code == 0 and out.startswith("delivered: status 200")


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["rule", "add", "--user", "ana", "--symbol", "AAA", "--when", "close abve 100"], "close abve 100"),
        (["rule", "add", "--user", "ana", "--symbol", "NOPE", "--when", "close above 100"], "unknown ticker 'NOPE'"),
        (["rule", "add", "--user", "bob", "--symbol", "AAA", "--when", "close above 100"], "no user named 'bob'"),
        (
            ["rule", "add", "--user", "ana", "--channel", "77", "--symbol", "AAA", "--when", "close above 1"],
            "no channel 77",
        ),
        (["channel", "add", "--user", "ana", "--kind", "webhook", "--url", "ftp://x.example/h"], "http"),
        (["channel", "add", "--user", "ana", "--kind", "email", "--email", "not-an-address"], "not an email address"),
        (["channel", "add", "--user", "ana", "--kind", "webhook"], "--url is required"),
        (["rule", "remove", "--id", "999"], "no rule 999"),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_is_saved(world, capsys, argv, reason):
    _, engine, _ = world
    code, out, err = run(capsys, *argv)
    assert code == 2 and reason in err and "Traceback" not in err
    with engine.connect() as conn:
        for table in (tables.alert_rules, tables.alert_channels):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0


def test_rule_test_shows_what_it_would_have_fired_on(world, capsys):
    code, out, _ = run(capsys, "rule", "test", "--symbol", "AAA", "--when", "up 0.05% over 1")
    assert code == 0 and "observed" in out and "% over 1 session (" in out and "limit 0.05%" in out
    code, out, _ = run(capsys, "rule", "test", "--symbol", "AAA", "--when", "close above 1000000")
    assert code == 0 and "would not have fired" in out


def test_the_module_runs_as_a_command(world):
    url, _, _ = world
    env = guarded_env({"DATABASE_URL": url, "TERMINAL_PASSWORD": "x" * 20, "LOAD_SAMPLE_ON_EMPTY": "false"})
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "alerts", "list"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "no channels" in done.stdout and "no rules" in done.stdout
