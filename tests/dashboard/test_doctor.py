"""`python -m dashboard doctor`: one line per check, FAIL for what breaks the desk, WARN for what degrades it."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import pytest
from sqlalchemy.engine import make_url

from dashboard import doctor
from store import clock, tables
from tests.conftest import ROOT
from tests.support.server import guarded_env

STRONG_SECRET = "k3J9-wQz8_Lp2x!Vr7Tn4Yb6Hs1Mc5Dg0Fa"  # 36 characters, many distinct
STRONG_PASSWORD = "plum-orbit-cascade-41-violet"
DAY_AFTER_THE_LAST_BAR = datetime(2026, 6, 26, 12, 0, tzinfo=clock.NEW_YORK)


def lines(checks) -> dict[str, tuple[str, str]]:
    return {c.name: (c.level, c.detail) for c in checks}


def test_a_healthy_production_deployment_passes_every_check(engine_for, make_sample_database, monkeypatch, capsys):
    engine = engine_for(
        make_sample_database(),
        APP_ENV="production",
        AUTH_SECRET=STRONG_SECRET,
        TERMINAL_PASSWORD=STRONG_PASSWORD,
        ALPHAVANTAGE_API_KEY="av-key-for-tests",
        FRED_API_KEY="fred-key-for-tests",
    )
    monkeypatch.setattr(clock, "now", lambda: DAY_AFTER_THE_LAST_BAR)
    with engine.begin() as conn:
        conn.execute(tables.worker_heartbeats.insert().values(worker_id="w:1", hostname="w", pid=1, state="idle"))
    assert doctor.main(["--strict"]) == 0
    out = capsys.readouterr().out
    found = [line.split()[0] for line in out.splitlines()[:-1]]
    assert found and set(found) == {"ok"}, out
    assert "settings: valid (production; the production rules pass)" in out
    assert "migrations: at head" in out and "workers: 1 live" in out and "latest bar 2026-06-25" in out
    for secret in (STRONG_SECRET, STRONG_PASSWORD, "av-key-for-tests", "fred-key-for-tests"):
        assert secret not in out


def test_development_defaults_warn_and_strict_turns_warnings_into_a_failure(engine_for, make_sample_database, capsys):
    engine_for(make_sample_database())  # no keys, no worker, today's clock: the sample data is months old
    checks = lines(doctor.run_checks())
    assert checks["settings"][0] == "WARN" and "production would refuse" in checks["settings"][1]
    assert checks["provider alpha_vantage"] == ("WARN", "off: ALPHAVANTAGE_API_KEY is not set")
    assert checks["workers"] == ("WARN", "no live ingestion worker: scheduled and requested runs wait")
    assert checks["data"][0] == "WARN" and checks["data"][1].startswith(
        "data older than expected: latest bar 2026-06-25"
    )
    assert checks["database"][0] == checks["migrations"][0] == checks["queue"][0] == "ok"
    assert doctor.main([]) == 0
    assert doctor.main(["--strict"]) == 1
    assert "0 failure(s)" in capsys.readouterr().out


def test_a_schema_behind_head_fails(engine_for, make_database):
    engine_for(make_database())  # an empty database: never migrated
    checks = lines(doctor.run_checks())
    assert checks["migrations"][0] == "FAIL" and "python -m ingestion migrate" in checks["migrations"][1]
    assert doctor.main([]) == 1


def test_weak_production_settings_fail_without_showing_the_secret(engine_for, make_sample_database):
    engine_for(make_sample_database(), APP_ENV="production", AUTH_SECRET="short-secret", TERMINAL_PASSWORD="admin")
    [settings, *_] = doctor.run_checks()
    assert settings.level == "FAIL" and "AUTH_SECRET" in settings.detail and "TERMINAL_PASSWORD" in settings.detail
    assert "short-secret" not in settings.line()


def test_an_unreachable_database_fails_without_its_password(pg_server_url, tmp_path):
    url = make_url(pg_server_url).set(host="127.0.0.1", port=1, password="hunter2-db-password")
    env = guarded_env({"DATABASE_URL": url.render_as_string(hide_password=False), "DATA_DIR": str(tmp_path)})
    done = subprocess.run(  # noqa: S603 - the real CLI, as an operator runs it
        [sys.executable, "-m", "dashboard", "doctor"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "FAIL  database:" in done.stdout and "127.0.0.1:1" in done.stdout
    assert "hunter2-db-password" not in done.stdout + done.stderr


@pytest.mark.parametrize("argv", [[], ["nonsense"]])
def test_the_entry_point_names_its_commands(argv):
    from dashboard.__main__ import main

    assert main(argv) == 2
