"""Shared downloads: export files any web instance can serve (Streamlit keeps /media files per process)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 05:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shared_downloads",
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("mime", sa.String(length=128), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("file_id", "owner", name=op.f("pk_shared_downloads")),
    )
    op.create_index("ix_shared_downloads_expires_at", "shared_downloads", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_shared_downloads_expires_at", table_name="shared_downloads")
    op.drop_table("shared_downloads")
