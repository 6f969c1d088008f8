"""HTTP routes that set and clear the session cookie (a Streamlit script cannot): /auth/session, /auth/logout."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dashboard.access import sessions
from store import clock
from store.db import get_engine
from store.settings import get_settings

log = logging.getLogger(__name__)


def safe_next(value: str | None) -> str:
    """Only a path on this site: no scheme, no host, no `//evil.example` or `/\\evil.example` tricks."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ch in value for ch in "\r\n\\"):
        return "/"
    return value


def _redirect(location: str) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the code in this URL must not travel onwards
    return response


def _set_cookie(response: Response, value: str, max_age: int) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().is_production,
    )


async def session_route(request: Request) -> Response:
    """GET /auth/session?code=…&next=/page: exchange a fresh login's one-time code for the session cookie."""
    target = safe_next(request.query_params.get("next"))
    # Single use, bound to the browser that signed in: the code names an opaque one-time id, never the token.
    rotated = await run_in_threadpool(
        sessions.redeem_handoff,
        get_engine(),
        request.query_params.get("code"),
        request.cookies.get(sessions.BINDING_COOKIE_NAME),
    )
    response = _redirect(target)
    if rotated is None:
        return response
    new_token, expires_at = rotated
    max_age = max(0, int((expires_at - clock.now()).total_seconds()))
    _set_cookie(response, sessions.sign_cookie(new_token), max_age)
    return response


async def logout_route(request: Request) -> Response:
    """GET /auth/logout?code=…: drop the cookie after a sign-out (the session row is already deleted)."""
    target = safe_next(request.query_params.get("next"))
    digest = sessions.read_logout_code(request.query_params.get("code"))
    response = _redirect(target)
    if digest is None:
        return response  # no valid code: a link from elsewhere cannot sign anyone out
    if digest:
        await run_in_threadpool(sessions.delete_session, get_engine(), digest=digest)
    response.delete_cookie(
        sessions.COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=get_settings().is_production
    )
    return response


routes = [Route("/auth/session", session_route, methods=["GET"]), Route("/auth/logout", logout_route, methods=["GET"])]
