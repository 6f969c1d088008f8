"""One middleware in front of the whole app: security headers, the browser-binding cookie, private media, metrics.

- Every HTTP response carries `X-Frame-Options: SAMEORIGIN` and CSP `frame-ancestors 'self'` (no clickjacking;
  Streamlit's own component iframes are same-origin), `X-Content-Type-Options: nosniff` and a Referrer-Policy.
- `/media/...` (download buttons, charts' files) is served only to a browser with a live session cookie: a
  file's 32-hex URL is a capability that could otherwise be fetched by anyone who saw it, for minutes after
  the page closed.
- Streamlit's `/_stcore/metrics` is not served in production (our own `/metrics` is token-protected).
- A browser without the `md_bind` cookie gets one (random, HttpOnly, SameSite=Lax) on its first response, i.e.
  with the HTML, before any script or websocket: a sign-in code is bound to it (login-CSRF protection).
"""

from __future__ import annotations

import logging
import secrets
from http.cookies import SimpleCookie

from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.access import sessions
from store.db import get_engine
from store.settings import get_settings

log = logging.getLogger(__name__)

HEADERS = [
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]
MEDIA_PREFIX = "/media/"
STREAMLIT_METRICS = "/_stcore/metrics"


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed Cookie header is no session
                return None
            if name in jar:
                return jar[name].value
    return None


def _binding_cookie() -> tuple[bytes, bytes]:
    secure = "; Secure" if get_settings().is_production else ""
    value = f"{sessions.BINDING_COOKIE_NAME}={secrets.token_urlsafe(24)}; Path=/; HttpOnly; SameSite=Lax{secure}"
    return b"set-cookie", value.encode()


def _signed_in(scope: Scope) -> bool:
    token = sessions.read_cookie(_cookie(scope, sessions.COOKIE_NAME))
    if token is None:
        return False
    try:
        return sessions.lookup(get_engine(), token) is not None
    except Exception:  # noqa: BLE001 - the database is down: no session can be checked, so none is granted
        log.warning("media request refused: the session could not be checked")
        return False


class SecurityMiddleware:
    """Pure ASGI (websockets pass straight through; responses are not buffered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        refusal = None
        if path.startswith(MEDIA_PREFIX) and not await run_in_threadpool(_signed_in, scope):
            refusal = PlainTextResponse("Sign in to download this file.", status_code=403)
        elif path.startswith(STREAMLIT_METRICS) and get_settings().is_production:
            refusal = PlainTextResponse("Not found", status_code=404)

        binding = [] if _cookie(scope, sessions.BINDING_COOKIE_NAME) else [_binding_cookie()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {key.lower() for key, _ in message.get("headers", [])}
                extra = [h for h in HEADERS if h[0] not in present] + binding
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
