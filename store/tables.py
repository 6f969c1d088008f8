"""SQLAlchemy Core tables: the one contract between the ingestion writer and the dashboard reader."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

_now = sa.text("now()")

instruments = sa.Table(
    "instruments",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("asset_class", sa.String(16), nullable=False),  # stock | etf | index | fx ...
    sa.Column("sector", sa.Text),
    sa.Column("industry", sa.Text),
    sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

daily_bars = sa.Table(
    "daily_bars",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("open", sa.Float(53), nullable=False),
    sa.Column("high", sa.Float(53), nullable=False),
    sa.Column("low", sa.Float(53), nullable=False),
    sa.Column("close", sa.Float(53), nullable=False),
    sa.Column("adj_close", sa.Float(53), nullable=False),
    sa.Column("volume", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    # For "latest bar" (health, freshness) without scanning the whole table.
    sa.Index("ix_daily_bars_date", "date"),
)

macro_series = sa.Table(
    "macro_series",
    metadata,
    sa.Column("series_id", sa.String(32), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("units", sa.Text, nullable=False),
    sa.Column("frequency", sa.String(16), nullable=False),
    sa.Column("seasonal_adjustment", sa.Text),
    sa.Column("last_updated", sa.DateTime(timezone=True)),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

macro_observations = sa.Table(
    "macro_observations",
    metadata,
    sa.Column("series_id", sa.String(32), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    # NULL is FRED's "." (no value published); it is a gap, never a zero.
    sa.Column("value", sa.Float(53)),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

ingestion_runs = sa.Table(
    "ingestion_runs",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("job", sa.String(32), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(16), nullable=False),  # running | success | partial | failed
    sa.Column("rows_written", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("error_summary", sa.Text),
    sa.Column("details", JSONB),
    sa.CheckConstraint("status in ('running', 'success', 'partial', 'failed')", name="status"),
    sa.Index("ix_ingestion_runs_finished", "status", "finished_at"),
)

quarantined_rows = sa.Table(
    "quarantined_rows",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("run_id", sa.BigInteger, sa.ForeignKey("ingestion_runs.id", ondelete="CASCADE")),
    sa.Column("dataset", sa.String(32), nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False, server_default="viewer"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("last_login_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("role in ('viewer', 'admin')", name="role"),
)
