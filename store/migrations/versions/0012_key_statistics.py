"""Key statistics: a provider's P/E, EPS, dividend yield, beta and next earnings date per symbol and day seen

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 05:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_statistics",
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("trailing_pe", sa.Float(precision=53), nullable=True),
        sa.Column("trailing_eps", sa.Float(precision=53), nullable=True),
        sa.Column("dividend_yield", sa.Float(precision=53), nullable=True),
        sa.Column("beta", sa.Float(precision=53), nullable=True),
        sa.Column("next_earnings", sa.Date(), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "source", "as_of", name=op.f("pk_key_statistics")),
    )


def downgrade() -> None:
    op.drop_table("key_statistics")
