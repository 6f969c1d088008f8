"""Shared downloads: export files kept minutes in PostgreSQL so that any web instance can serve a browser's GET.

The instance that built a file (its script run holds the browser's websocket) saves a copy under Streamlit's media
file id and the browser's session (`owner_key` of its session cookie); another instance that receives the GET finds
it here (dashboard/web/shared_downloads.py). Expired copies are deleted whenever a new one is saved.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from store import clock, tables

# The browser asks for the file as soon as it was built; minutes leave room for a slow link, not for sharing.
KEEP = timedelta(minutes=10)


@dataclass(frozen=True)
class SharedFile:
    file_name: str
    mime: str
    content: bytes


def owner_key(session_cookie: str) -> str:
    """Who may fetch a copy: the sha256 of the browser's session cookie (the cookie itself is never stored)."""
    return hashlib.sha256(session_cookie.encode()).hexdigest()


def save(conn: sa.Connection, file_id: str, owner: str, file_name: str, mime: str, content: bytes) -> None:
    """Keep `content` for KEEP (again if the same file is built twice), and drop every expired copy."""
    t = tables.shared_downloads
    now = clock.now()
    conn.execute(t.delete().where(t.c.expires_at <= now))
    row = {"file_id": file_id, "owner": owner, "file_name": file_name, "mime": mime, "content": content}
    statement = insert(t).values(**row, created_at=now, expires_at=now + KEEP)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[t.c.file_id, t.c.owner],
            set_={"content": statement.excluded.content, "expires_at": statement.excluded.expires_at},
        )
    )


def fetch(conn: sa.Connection, file_id: str, owner: str) -> SharedFile | None:
    """The unexpired copy of `file_id` saved for `owner`, else None."""
    t = tables.shared_downloads
    row = conn.execute(
        sa.select(t.c.file_name, t.c.mime, t.c.content).where(
            t.c.file_id == file_id, t.c.owner == owner, t.c.expires_at > clock.now()
        )
    ).first()
    return SharedFile(row.file_name, row.mime, bytes(row.content)) if row else None
