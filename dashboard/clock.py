"""The one clock access control reads (sessions, lockout, audit); tests monkeypatch `now` to move time."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
