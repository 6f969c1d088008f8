"""Alembic environment: runs on the connection the caller hands over, or on DATABASE_URL."""

from __future__ import annotations

from alembic import context

from store.db import include_name
from store.tables import metadata

config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from store.db import get_engine

        with get_engine().begin() as conn:
            context.configure(connection=conn, target_metadata=metadata, compare_type=True, include_name=include_name)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=metadata, compare_type=True, include_name=include_name)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
