"""Migrations: up from an empty database, idempotent, down and up again."""

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from store.db import (
    SCHEMA_HEAD,
    alembic_config,
    create_db_engine,
    current_revision,
    include_name,
    migrate,
    schema_revision,
)
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
    "key_statistics",
    "worker_heartbeats",
    "watchlists",
    "user_sessions",
    "login_attempts",
    "audit_log",
    "login_handoffs",
    "task_progress",
    "raw_closes",
    "index_members",
    "index_definitions",
    "index_levels",
    "option_quotes",
    "api_tokens",
    "provider_state",
    "alert_channels",
    "alert_rules",
    "alert_rule_channels",
    "alert_events",
    "alert_deliveries",
    "alert_attempts",
    "saved_views",
    "shared_downloads",
}


def test_expected_tables_are_exactly_the_declared_ones():
    assert set(metadata.tables) == EXPECTED_TABLES


def test_upgrade_from_empty_creates_the_schema(empty_database_url):
    engine = create_db_engine(empty_database_url)
    assert current_revision(engine) is None
    with engine.connect() as conn:
        assert schema_revision(conn) is None
    migrate(engine)
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"several migration heads {heads}: add a merge revision"
    assert current_revision(engine) == heads[0] == SCHEMA_HEAD  # the constant the app checks without Alembic
    with engine.connect() as conn:
        assert schema_revision(conn) == SCHEMA_HEAD
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


def test_0006_keeps_existing_bars_and_shares_and_holds_the_bar_rule(empty_database_url):
    """From 0005 with data: shares get their filing date, full bars stay; then adjusted-close-only bars fit, a bar with
    part of its OHLC does not, and a downgrade drops what the old schema cannot hold."""
    from alembic import command

    engine = create_db_engine(empty_database_url)
    migrate(engine, "0005")
    bar = "('AAA', '2024-01-02', 10, 11, 9, 10.5, 10.5, 100, 'test')"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"insert into daily_bars (symbol, date, open, high, low, close, adj_close, volume, source) values {bar}"
            )
        )
        conn.execute(
            sa.text(
                "insert into shares_outstanding (symbol, date, shares, source) "
                "values ('AAA', '2024-10-10', 5, 'yfinance')"
            )
        )
    migrate(engine)
    with engine.begin() as conn:
        shares = conn.execute(sa.text("select period_end, filing_date, shares, source from shares_outstanding")).one()
        assert str(shares.period_end) == str(shares.filing_date) == "2024-10-10" and shares.shares == 5
        conn.execute(
            sa.text("insert into daily_bars (symbol, date, adj_close, source) values ('BBB', '2024-01-02', 7.5, 's')")
        )
        # The same figure from another source, and a restatement: the key keeps them apart.
        conn.execute(
            sa.text(
                "insert into shares_outstanding (symbol, period_end, filing_date, shares, source) values "
                "('AAA', '2024-10-10', '2024-10-10', 6, 'other'), ('AAA', '2024-10-10', '2024-11-01', 7, 'yfinance')"
            )
        )
    for partial in ("open", "close"):
        with pytest.raises(sa.exc.IntegrityError, match="ck_daily_bars_ohlc_all_or_none"), engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"insert into daily_bars (symbol, date, {partial}, adj_close, source) "
                    "values ('CCC', '2024-01-02', 1.0, 1.0, 's')"
                )
            )
    with pytest.raises(sa.exc.IntegrityError, match="ck_daily_bars_ohlc_all_or_none"), engine.begin() as conn:
        conn.execute(  # a full bar needs its volume
            sa.text(
                "insert into daily_bars (symbol, date, open, high, low, close, adj_close, source) values "
                "('DDD', '2024-01-02', 1, 1, 1, 1, 1, 's')"
            )
        )
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0005")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select symbol from daily_bars")).scalars().all() == ["AAA"]
        assert conn.execute(sa.text("select date, shares from shares_outstanding")).one().shares == 7  # latest filed
    engine.dispose()
