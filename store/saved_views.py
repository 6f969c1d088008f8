"""Saved views: a user's named screens and portfolios, stored as JSON definitions (one table, `saved_views`).

The page that owns a kind validates its definition before saving (a screen's filters, a portfolio's holdings and
weights); this module only keeps them: list, get, save (insert or replace by name), delete, per owner.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from store import tables

MAX_NAME = 64
MAX_PER_OWNER = 100  # per kind


class SavedViewError(ValueError):
    """A view that cannot be saved; the message says why (plain text)."""


def _check(kind: str, name: str) -> str:
    if kind not in tables.SAVED_VIEW_KINDS:
        raise SavedViewError(f"unknown kind {kind!r}; expected one of {', '.join(tables.SAVED_VIEW_KINDS)}")
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > MAX_NAME or any(ord(ch) < 32 for ch in cleaned):
        raise SavedViewError(f"a name is 1 to {MAX_NAME} printable characters")
    return cleaned


def names(conn: sa.Connection, owner: str, kind: str) -> list[str]:
    t = tables.saved_views
    query = sa.select(t.c.name).where(t.c.owner == owner, t.c.kind == kind).order_by(t.c.name)
    return list(conn.execute(query).scalars())


def get(conn: sa.Connection, owner: str, kind: str, name: str) -> dict[str, Any] | None:
    t = tables.saved_views
    query = sa.select(t.c.definition).where(t.c.owner == owner, t.c.kind == kind, t.c.name == name)
    return conn.execute(query).scalar_one_or_none()


def save(conn: sa.Connection, owner: str, kind: str, name: str, definition: dict[str, Any]) -> str:
    """Insert or replace the view `name`; returns the cleaned name. SavedViewError when it cannot be saved."""
    cleaned = _check(kind, name)
    t = tables.saved_views
    if cleaned not in names(conn, owner, kind) and len(names(conn, owner, kind)) >= MAX_PER_OWNER:
        raise SavedViewError(f"you have {MAX_PER_OWNER} saved {kind}s already; delete one first")
    statement = insert(t).values(owner=owner, kind=kind, name=cleaned, definition=definition)
    conn.execute(
        statement.on_conflict_do_update(
            constraint="uq_saved_views_owner_kind_name",
            set_={"definition": statement.excluded.definition, "updated_at": sa.func.now()},
        )
    )
    return cleaned


def delete(conn: sa.Connection, owner: str, kind: str, name: str) -> bool:
    t = tables.saved_views
    result = conn.execute(t.delete().where(t.c.owner == owner, t.c.kind == kind, t.c.name == name))
    return result.rowcount > 0
