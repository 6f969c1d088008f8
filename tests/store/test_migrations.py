"""Migrations: up from an empty database, idempotent, down and up again."""

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from store.db import alembic_config, create_db_engine, current_revision, include_name, migrate
from store.tables import metadata

# Every table of the schema, written out: a table added to store/tables.py without a migration (or the other
# way round) fails here as well as in the drift check below.
EXPECTED_TABLES = {
    "instruments",
    "daily_bars",
    "macro_series",
    "macro_observations",
    "ingestion_runs",
    "quarantined_rows",
    "users",
    "intraday_quotes",
    "corporate_actions",
    "shares_outstanding",
    "worker_heartbeats",
    "watchlists",
    "user_sessions",
    "login_attempts",
    "audit_log",
    "login_handoffs",
    "task_progress",
}


def test_expected_tables_are_exactly_the_declared_ones():
    assert set(metadata.tables) == EXPECTED_TABLES


def test_upgrade_from_empty_creates_the_schema(empty_database_url):
    engine = create_db_engine(empty_database_url)
    assert current_revision(engine) is None
    migrate(engine)
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"several migration heads {heads}: add a merge revision"
    assert current_revision(engine) == heads[0]
    tables = set(sa.inspect(engine).get_table_names())
    assert {t for t in tables if not t.startswith("procrastinate_")} - {"alembic_version"} == EXPECTED_TABLES
    assert {"procrastinate_jobs", "procrastinate_workers", "procrastinate_events"} <= tables  # the job queue
    pk = sa.inspect(engine).get_pk_constraint("daily_bars")
    assert pk["constrained_columns"] == ["symbol", "date"]
    engine.dispose()


def test_migrations_match_the_table_definitions(empty_database_url):
    """The Alembic history produces exactly what store/tables.py declares (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_db_engine(empty_database_url)
    migrate(engine)
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_name": include_name}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    assert diff == []
    engine.dispose()


def test_upgrade_twice_then_down_and_up(empty_database_url):
    from alembic import command

    engine = create_db_engine(empty_database_url)
    migrate(engine)
    migrate(engine)  # a second start changes nothing
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert not ({"daily_bars", "users"} & set(sa.inspect(engine).get_table_names()))
    migrate(engine)
    assert set(sa.inspect(engine).get_table_names()) >= EXPECTED_TABLES
    engine.dispose()
