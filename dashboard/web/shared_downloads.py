"""Downloads on any instance: a `/media/...` file this process does not have is served from its shared copy.

Streamlit keeps a download button's file in the memory of the process that built it; behind a balancer without
sticky sessions (Render with several instances) the browser's GET for it may reach another process, whose answer
is 404. This middleware catches that 404 and serves the copy dashboard.ui.exports.shared saved in PostgreSQL for
the same browser session (store.downloads). SecurityMiddleware, outside it, has already refused a browser with no
live session; the copy's owner is checked here, so a URL seen by someone else serves them nothing.
"""

from __future__ import annotations

import logging
import posixpath
from urllib.parse import quote

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.access import sessions
from store import downloads
from store.db import get_engine

log = logging.getLogger(__name__)

MEDIA_PREFIX = "/media/"
_PLAIN_NAME_UNSAFE = frozenset('"\\') | {chr(c) for c in range(32)} | {chr(127)}


def _disposition(file_name: str) -> str:
    """`attachment` with the name quoted when that is safe, else RFC 5987's percent-encoded form (as Streamlit)."""
    if file_name.isascii() and not _PLAIN_NAME_UNSAFE.intersection(file_name):
        return f'attachment; filename="{file_name}"'
    return f"attachment; filename*=utf-8''{quote(file_name, safe='')}"


def shared_copy(scope: Scope) -> downloads.SharedFile | None:
    """The copy of the requested media file saved for this browser's session, if any (blocking: a thread)."""
    cookie = Request(scope).cookies.get(sessions.COOKIE_NAME)
    file_id = posixpath.splitext(scope["path"][len(MEDIA_PREFIX) :])[0]
    if not cookie or not file_id:
        return None
    try:
        with get_engine().connect() as conn:
            return downloads.fetch(conn, file_id, downloads.owner_key(cookie))
    except sa.exc.SQLAlchemyError as exc:
        log.warning("shared download unavailable: %s", type(exc).__name__)
        return None


def file_response(found: downloads.SharedFile) -> Response:
    headers = {"Content-Disposition": _disposition(found.file_name), "Cache-Control": "no-store"}
    return Response(found.content, media_type=found.mime, headers=headers)


class SharedDownloadsMiddleware:
    """Pure ASGI: only a `/media/` GET or HEAD that the app answers 404 is looked up; everything else passes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = scope["type"] == "http" and scope.get("method") in ("GET", "HEAD")
        if not wanted or not scope.get("path", "").startswith(MEDIA_PREFIX):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []  # the app's 404, kept back until the shared copy is known to be missing

        async def hold_not_found(message: Message) -> None:
            if held or (message["type"] == "http.response.start" and message["status"] == 404):
                held.append(message)
                return
            await send(message)

        await self.app(scope, receive, hold_not_found)
        if not held:
            return
        found = await run_in_threadpool(shared_copy, scope)
        if found is None:
            for message in held:
                await send(message)
            return
        log.info("served %s from its shared copy (built by another instance)", found.file_name)
        await file_response(found)(scope, receive, send)
