"""Option chains: option_quotes, one row per contract per session (a snapshot as the source published it)

Key (symbol, session_date, expiration, type, strike): "one underlying, one session" is an index range read, and so
is the selection series over many sessions. No partitioning: at about 5,000 contracts per underlying per session the
table grows by about 1.3 million rows per underlying per year, which a b-tree range read handles.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Written out rather than imported: a migration must keep meaning what it meant when it was written.
CHECKS = {
    "type": "type IN ('C', 'P')",
    "strike_positive": "strike > 0",
    "prices_not_negative": "(bid IS NULL OR bid >= 0) AND (ask IS NULL OR ask >= 0) AND (last IS NULL OR last >= 0)",
    "ask_not_below_bid": "bid IS NULL OR ask IS NULL OR bid = 0 OR ask = 0 OR ask >= bid",
    "not_expired": "expiration >= session_date",
}


def upgrade() -> None:
    op.create_table(
        "option_quotes",
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("session_date", sa.Date, nullable=False),
        sa.Column("expiration", sa.Date, nullable=False),
        sa.Column("type", sa.String(1), nullable=False),
        sa.Column("strike", sa.Float(53), nullable=False),
        sa.Column("bid", sa.Float(53)),
        sa.Column("ask", sa.Float(53)),
        sa.Column("last", sa.Float(53)),
        sa.Column("volume", sa.BigInteger),
        sa.Column("open_interest", sa.BigInteger),
        sa.Column("provider_iv", sa.Float(53)),
        sa.Column("provider_delta", sa.Float(53)),
        sa.Column("delta_inconsistent", sa.Boolean),
        sa.Column("underlying_price", sa.Float(53)),
        sa.Column("snapshot_ts", sa.DateTime(timezone=True)),
        sa.Column("last_trade_ts", sa.DateTime(timezone=True)),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("symbol", "session_date", "expiration", "type", "strike", name="pk_option_quotes"),
        *(sa.CheckConstraint(check, name=f"ck_option_quotes_{name}") for name, check in CHECKS.items()),
    )


def downgrade() -> None:
    op.drop_table("option_quotes")
