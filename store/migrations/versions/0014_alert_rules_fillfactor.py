"""Alert rules keep free room in their pages: each evaluation rewrites every evaluated rule's watermark, and with
free room PostgreSQL updates the row in place (a HOT update: no new index entries), about half the cost

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 07:40:00
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Applies to pages written from now on; existing rows move into roomier pages as they are updated.
    op.execute("ALTER TABLE alert_rules SET (fillfactor = 70)")


def downgrade() -> None:
    op.execute("ALTER TABLE alert_rules RESET (fillfactor)")
