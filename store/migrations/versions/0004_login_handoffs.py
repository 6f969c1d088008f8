"""one-time login hand-offs bound to the browser that signed in

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_handoffs",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_hash"],
            ["user_sessions.token_hash"],
            name=op.f("fk_login_handoffs_session_hash_user_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_login_handoffs")),
    )


def downgrade() -> None:
    op.drop_table("login_handoffs")
