"""one identifier rule: CHECK constraints on the universe tables' symbols and FRED ids

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:30:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Written out rather than imported: a migration must keep meaning what it meant when it was written.
SYMBOL_CHECK = "symbol ~ '^\\^?[A-Z0-9][A-Z0-9.=-]*$' AND char_length(symbol) <= 15"
SERIES_ID_CHECK = "series_id ~ '^[A-Z0-9][A-Z0-9_]*$' AND char_length(series_id) <= 30"


def upgrade() -> None:
    # Rows the new rule refuses (an over-long id added under the old 32-character limit) are switched off
    # first, so no ingestion run asks a provider for them; NOT VALID keeps them stored and checks new writes.
    op.execute(f"UPDATE instruments SET active = false WHERE active AND NOT ({SYMBOL_CHECK})")
    op.execute(f"UPDATE macro_series SET active = false WHERE active AND NOT ({SERIES_ID_CHECK})")
    op.execute(
        f"ALTER TABLE instruments ADD CONSTRAINT ck_instruments_symbol_syntax CHECK ({SYMBOL_CHECK}) NOT VALID"
    )
    op.execute(
        f"ALTER TABLE macro_series ADD CONSTRAINT ck_macro_series_series_id_syntax CHECK ({SERIES_ID_CHECK}) NOT VALID"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE macro_series DROP CONSTRAINT ck_macro_series_series_id_syntax")
    op.execute("ALTER TABLE instruments DROP CONSTRAINT ck_instruments_symbol_syntax")
