"""What providers' guards remember across the worker's task processes: provider_state (circuit, daily-limit window,
the day's requests against the local daily budget)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_state",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("circuit", sa.String(16), nullable=False, server_default="closed"),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_until", sa.DateTime(timezone=True)),
        sa.Column("day", sa.Date),
        sa.Column("day_requests", sa.Integer),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("provider", name="pk_provider_state"),
        sa.CheckConstraint("circuit in ('closed', 'open', 'half-open')", name="ck_provider_state_circuit"),
    )


def downgrade() -> None:
    op.drop_table("provider_state")
