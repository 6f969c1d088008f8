"""The app-wide middleware: security headers on every response, /media only with a live session, no public metrics."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard.access import auth, sessions
from dashboard.web.security import SecurityMiddleware
from tests.conftest import TEST_PASSWORD


def ok(request):
    return PlainTextResponse("ok")


@pytest.fixture
def client(ready_app):
    app = Starlette(
        routes=[Route("/", ok), Route("/media/{file_id}", ok), Route("/_stcore/metrics", ok)],
        middleware=[Middleware(SecurityMiddleware)],
    )
    return TestClient(app, base_url="http://127.0.0.1")


def test_every_response_carries_the_security_headers(client):
    for path in ("/", "/media/abc", "/nope"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "SAMEORIGIN"
        assert headers["content-security-policy"] == "frame-ancestors 'self'"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_a_browser_gets_a_binding_cookie_once(client):
    first = client.get("/")
    cookie = first.cookies.get(sessions.BINDING_COOKIE_NAME)
    header = [v for k, v in first.headers.multi_items() if k == "set-cookie" and v.startswith("md_bind=")][0]
    assert cookie and len(cookie) >= 32 and "HttpOnly" in header and "SameSite=Lax" in header
    client.cookies.set(sessions.BINDING_COOKIE_NAME, cookie)
    assert "md_bind=" not in client.get("/").headers.get("set-cookie", "")  # kept, not replaced


def test_media_needs_a_live_session(client):
    from store.db import get_engine

    assert client.get("/media/0123abcd").status_code == 403
    client.cookies.set(sessions.COOKIE_NAME, "forged")
    assert client.get("/media/0123abcd").status_code == 403
    user = auth.authenticate(get_engine(), "admin", TEST_PASSWORD)
    token = sessions.create_session(get_engine(), user["id"], None)
    client.cookies.set(sessions.COOKIE_NAME, sessions.sign_cookie(token))
    assert client.get("/media/0123abcd").text == "ok"
    sessions.delete_session(get_engine(), token)  # signed out: the same cookie no longer opens files
    assert client.get("/media/0123abcd").status_code == 403


def test_streamlit_metrics_are_not_public_in_production(client, monkeypatch):
    from store.settings import get_settings

    assert client.get("/_stcore/metrics").status_code == 200  # development: Streamlit's own, as shipped
    monkeypatch.setenv("APP_ENV", "production")
    get_settings.cache_clear()
    try:
        assert client.get("/_stcore/metrics").status_code == 404
    finally:
        get_settings.cache_clear()
