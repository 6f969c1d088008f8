"""the job queue: Procrastinate's schema (3.10, vendored SQL) and the task progress table

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:00:00
"""

from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Procrastinate's schema as its 3.10 release ships it (copied, not imported: a migration must keep meaning what
# it meant; a later Procrastinate upgrade adds a migration with the library's own migration scripts).
SCHEMA = Path(__file__).resolve().parent.parent / "procrastinate_3_10_schema.sql"


def upgrade() -> None:
    op.execute(SCHEMA.read_text())
    op.create_table(
        "task_progress",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("queue_job_id", sa.BigInteger(), nullable=True),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("step", sa.Text(), nullable=True),
        sa.Column("done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_written", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "state in ('queued', 'running', 'done', 'failed', 'cancelled')", name=op.f("ck_task_progress_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_progress")),
    )
    op.create_index("ix_task_progress_created_at", "task_progress", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_task_progress_created_at", table_name="task_progress")
    op.drop_table("task_progress")
    op.execute(
        "DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, "
        "procrastinate_workers CASCADE"
    )
    op.execute(
        """
        DO $$
        DECLARE r record;
        BEGIN
            FOR r IN SELECT oid::regprocedure AS signature FROM pg_proc WHERE proname LIKE 'procrastinate\\_%' LOOP
                EXECUTE 'DROP FUNCTION IF EXISTS ' || r.signature || ' CASCADE';
            END LOOP;
        END $$;
        """
    )
    op.execute(
        "DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type, procrastinate_job_status"
    )
