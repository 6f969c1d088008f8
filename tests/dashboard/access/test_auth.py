"""Login bootstrap and credential checks against the users table."""

import sqlalchemy as sa

from dashboard.access.auth import authenticate, ensure_login_credentials
from store import tables
from store.db import create_db_engine, migrate
from store.settings import Settings


def migrated(url):
    engine = create_db_engine(url)
    migrate(engine)
    return engine


def test_first_start_prints_a_random_password_once_and_stores_only_its_hash(empty_database_url, capsys):
    engine = migrated(empty_database_url)
    settings = Settings(_env_file=None, database_url=empty_database_url)
    ensure_login_credentials(engine, settings)
    printed = capsys.readouterr().out
    password = printed.split("password: ")[1].split()[0]
    assert "username: admin" in printed and len(password) >= 16

    with engine.connect() as conn:
        stored = conn.execute(sa.select(tables.users.c.password_hash, tables.users.c.role)).one()
    assert stored.role == "admin"
    assert stored.password_hash.startswith("$argon2") and password not in stored.password_hash
    assert authenticate(engine, "admin", password)["username"] == "admin"

    ensure_login_credentials(engine, settings)  # second start: nothing new, nothing printed
    assert "password:" not in capsys.readouterr().out
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.users)).scalar_one() == 1
    engine.dispose()


def test_terminal_password_creates_and_then_updates_the_admin(empty_database_url, capsys):
    engine = migrated(empty_database_url)
    ensure_login_credentials(engine, Settings(_env_file=None, terminal_user="desk", terminal_password="first-password"))
    assert authenticate(engine, "desk", "first-password") is not None
    ensure_login_credentials(
        engine, Settings(_env_file=None, terminal_user="desk", terminal_password="second-password")
    )
    assert authenticate(engine, "desk", "first-password") is None
    assert authenticate(engine, "desk", "second-password")["role"] == "admin"
    assert "password:" not in capsys.readouterr().out
    engine.dispose()


def test_wrong_password_unknown_user_and_inactive_user_are_refused(empty_database_url):
    engine = migrated(empty_database_url)
    ensure_login_credentials(engine, Settings(_env_file=None, terminal_password="right-password"))
    assert authenticate(engine, "admin", "wrong-password") is None
    assert authenticate(engine, "nobody", "right-password") is None
    with engine.begin() as conn:
        conn.execute(tables.users.update().values(active=False))
    assert authenticate(engine, "admin", "right-password") is None
    engine.dispose()
