"""S&P 500 demo data and the index tracker: adjusted-close-only bars, raw closes, point-in-time shares, index
members, saved index definitions and their levels

- daily_bars: open/high/low/close/volume become nullable. A bar is either full (open, high, low, close and
  volume) or carries only its adjusted close (all four prices NULL; `close IS NULL` marks it): CHECK
  ck_daily_bars_ohlc_all_or_none. Existing rows are all full bars, so the check holds at once. adj_close stays
  NOT NULL. The S&P 500 demo bundle's bars are of the second kind, source "sample-sp500".
- raw_closes (new): closes as traded and volumes for market capitalisation and dollar volume, kept apart from
  daily_bars so that an adjusted-close-only bar is never completed with a close from another download (two
  adjustment vintages inside one row). The demo bundle stores its 2019-2024 closes and volumes here.
- shares_outstanding: `date` becomes `period_end` (the day the figure describes) and `filing_date` is added (the
  day it became public; existing rows, all Yahoo figures, get their own date); the key becomes (symbol, source,
  period_end, filing_date), so quarterly filings, Yahoo snapshots and restatements coexist.
- index_members (new): index code, symbol, current or former member, GICS sector and sub-industry, date added.
- index_definitions, index_levels (new): a user's saved index (JSON definition, unique name per owner) and its
  daily gross and net levels, which a worker stores.

Downgrade drops the new tables, deletes adjusted-close-only bars (the old schema cannot hold them) and keeps one
shares figure per (symbol, period_end): the latest filed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Written out rather than imported: a migration must keep meaning what it meant when it was written.
ADJ_ONLY = "open IS NULL AND high IS NULL AND low IS NULL AND close IS NULL"
FULL = "open IS NOT NULL AND high IS NOT NULL AND low IS NOT NULL AND close IS NOT NULL AND volume IS NOT NULL"
OHLC_COLUMNS = ("open", "high", "low", "close", "volume")


def upgrade() -> None:
    for column in OHLC_COLUMNS:
        op.alter_column("daily_bars", column, nullable=True)
    op.create_check_constraint(op.f("ck_daily_bars_ohlc_all_or_none"), "daily_bars", f"({ADJ_ONLY}) OR ({FULL})")

    op.alter_column("shares_outstanding", "date", new_column_name="period_end")
    op.add_column("shares_outstanding", sa.Column("filing_date", sa.Date(), nullable=True))
    op.execute("UPDATE shares_outstanding SET filing_date = period_end")
    op.alter_column("shares_outstanding", "filing_date", nullable=False)
    op.drop_constraint("pk_shares_outstanding", "shares_outstanding", type_="primary")
    op.create_primary_key(
        "pk_shares_outstanding", "shares_outstanding", ["symbol", "source", "period_end", "filing_date"]
    )

    op.create_table(
        "raw_closes",
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("close", sa.Float(precision=53), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "date", name=op.f("pk_raw_closes")),
    )
    op.create_table(
        "index_members",
        sa.Column("index_code", sa.String(length=16), nullable=False),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("sector", sa.Text(), nullable=True),
        sa.Column("sub_industry", sa.Text(), nullable=True),
        sa.Column("date_added", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["symbol"], ["instruments.symbol"], name=op.f("fk_index_members_symbol_instruments"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("index_code", "symbol", name=op.f("pk_index_members")),
    )
    op.create_table(
        "index_definitions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("levels_computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("levels_data_version", sa.BigInteger(), nullable=True),
        sa.Column("levels_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_definitions")),
        sa.UniqueConstraint("owner", "name", name="uq_index_definitions_owner_name"),
    )
    op.create_table(
        "index_levels",
        sa.Column("definition_id", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("level_gross", sa.Float(precision=53), nullable=False),
        sa.Column("level_net", sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["index_definitions.id"],
            name=op.f("fk_index_levels_definition_id_index_definitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("definition_id", "date", name=op.f("pk_index_levels")),
    )


def downgrade() -> None:
    op.drop_table("index_levels")
    op.drop_table("index_definitions")
    op.drop_table("index_members")
    op.drop_table("raw_closes")

    op.execute(
        "DELETE FROM shares_outstanding a USING shares_outstanding b WHERE a.symbol = b.symbol "
        "AND a.period_end = b.period_end AND (a.filing_date, a.source) < (b.filing_date, b.source)"
    )
    op.drop_constraint("pk_shares_outstanding", "shares_outstanding", type_="primary")
    op.drop_column("shares_outstanding", "filing_date")
    op.alter_column("shares_outstanding", "period_end", new_column_name="date")
    op.create_primary_key("pk_shares_outstanding", "shares_outstanding", ["symbol", "date"])

    op.drop_constraint(op.f("ck_daily_bars_ohlc_all_or_none"), "daily_bars", type_="check")
    op.execute(f"DELETE FROM daily_bars WHERE {ADJ_ONLY}")
    for column in OHLC_COLUMNS:
        op.alter_column("daily_bars", column, nullable=False)
