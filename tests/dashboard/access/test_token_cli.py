"""`python -m dashboard.users token add|list|revoke`: personal API tokens from the operator's command line."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.access import tokens, users
from store import clock, tables
from tests.conftest import ROOT


@pytest.fixture
def app_db(app_on, empty_database_url):
    """A fresh, migrated database with the TERMINAL_PASSWORD admin and one viewer."""
    engine = app_on(empty_database_url, LOAD_SAMPLE_ON_EMPTY="false")
    users.add_user(engine, "carol", "viewer", "carol-password-1")
    return engine


def printed(out: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def audit_rows(engine, action: str) -> list[tuple]:
    a = tables.audit_log
    with engine.connect() as conn:
        rows = conn.execute(sa.select(a.c.username, a.c.details).where(a.c.action == action).order_by(a.c.id))
        return [tuple(r) for r in rows]


def test_add_prints_a_token_once_that_authenticates(app_db, capsys):
    assert users.main(["token", "add", "carol", "--label", "nightly export"]) == 0
    out, err = capsys.readouterr()
    shown = printed(out)
    token = shown["token"]
    assert token.startswith(tokens.TOKEN_PREFIX) and "shown this once" in err
    assert shown["user"] == "carol" and shown["label"] == "nightly export" and shown["expires"] == "never"
    user = tokens.authenticate(app_db, token)
    assert user is not None and user.username == "carol" and user.token_id == int(shown["id"])
    [(actor, details)] = audit_rows(app_db, "api_token_created")
    assert actor.startswith("cli") and details["user"] == "carol" and details["token_id"] == int(shown["id"])
    assert token not in str(details)


def test_add_with_an_expiry(app_db, capsys):
    until = clock.now().date() + timedelta(days=90)
    assert users.main(["token", "add", "carol", "--label", "quarter", "--expires", until.isoformat()]) == 0
    shown = printed(capsys.readouterr().out)
    assert shown["expires"] == f"{until:%Y-%m-%d} (end of day, UTC)"
    [expires_at] = tokens.list_tokens(app_db, "carol")["expires_at"]
    assert expires_at.date() == until


def test_list_shows_labels_and_prefixes_but_never_a_token(app_db, capsys):
    users.main(["token", "add", "carol", "--label", "carol's notebook"])
    carol_token = printed(capsys.readouterr().out)["token"]
    users.main(["token", "add", "admin", "--label", "ops"])
    admin_token = printed(capsys.readouterr().out)["token"]

    assert users.main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "carol's notebook" in listing and "ops" in listing
    assert carol_token[: tokens.PREFIX_SHOWN] in listing and admin_token[: tokens.PREFIX_SHOWN] in listing
    assert carol_token not in listing and admin_token not in listing
    assert tokens.token_hash(carol_token) not in listing and "hash" not in listing

    assert users.main(["token", "list", "carol"]) == 0
    listing = capsys.readouterr().out
    assert "carol's notebook" in listing and "ops" not in listing
    assert users.main(["token", "list", "nobody"]) == 0
    assert capsys.readouterr().out.strip() == "no tokens for nobody"


def test_revoke_stops_the_token_and_is_audited(app_db, capsys):
    users.main(["token", "add", "carol", "--label", "laptop"])
    shown = printed(capsys.readouterr().out)
    token, token_id = shown["token"], shown["id"]
    assert users.main(["token", "revoke", token_id]) == 0  # anyone's token: the CLI acts as an admin
    assert capsys.readouterr().out.strip() == f"token {token_id}: revoked"
    assert tokens.authenticate(app_db, token) is None
    assert users.main(["token", "revoke", token_id]) == 0
    assert capsys.readouterr().out.strip() == f"token {token_id}: already revoked"
    users.main(["token", "list", "carol"])
    assert "revoked" in capsys.readouterr().out
    [(actor, details)] = audit_rows(app_db, "api_token_revoked")
    assert actor.startswith("cli") and details == {"user": "carol", "token_id": int(token_id)}
    assert tokens.list_tokens(app_db, "carol")["revoked_by"].tolist() == [actor]


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["token", "add", "nobody", "--label", "x"], 1, "There is no user named 'nobody'."),
        (["token", "add", "carol", "--label", "x", "--expires", "2027-13-01"], 2, "--expires takes a date"),
        (["token", "add", "carol", "--label", "x", "--expires", "2020-01-01"], 1, "must be in the future"),
        (["token", "add", "carol", "--label", "   "], 1, "A token label is 1 to 64 printable characters."),
        (["token", "revoke", "999"], 1, "There is no token 999"),
    ],
)
def test_bad_input_is_a_message_and_a_non_zero_status(app_db, capsys, argv, status, message):
    assert users.main(argv) == status
    out, err = capsys.readouterr()
    assert message in err and "Traceback" not in err and tokens.TOKEN_PREFIX not in out
    assert tokens.list_tokens(app_db).empty
    assert audit_rows(app_db, "api_token_created") == []


def test_a_token_id_that_is_not_a_number_is_refused_by_the_parser(app_db, capsys):
    with pytest.raises(SystemExit) as stopped:
        users.main(["token", "revoke", "abc"])
    assert stopped.value.code == 2 and "invalid int value" in capsys.readouterr().err


def test_disabled_user_gets_no_token(app_db, capsys):
    users.set_active(app_db, "carol", False, actor="admin")
    assert users.main(["token", "add", "carol", "--label", "x"]) == 1
    assert "disabled" in capsys.readouterr().err


def test_python_m_dashboard_users_token_runs_as_a_module(app_db, empty_database_url):
    """Both entry points dispatch to the same CLI (a separate process: the real `python -m` path)."""
    env = {"DATABASE_URL": empty_database_url, "PATH": "/usr/bin:/bin"}
    for entry in (["dashboard.users"], ["dashboard", "users"]):
        done = subprocess.run(
            [sys.executable, "-m", *entry, "token", "add", "carol", "--label", "via " + entry[-1]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert tokens.authenticate(app_db, printed(done.stdout)["token"]).username == "carol"
