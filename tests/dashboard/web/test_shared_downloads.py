"""Shared downloads: the copy kept in PostgreSQL, the id it is kept under, and the middleware that serves it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from dashboard.access import sessions
from dashboard.ui import exports
from dashboard.web.shared_downloads import SharedDownloadsMiddleware
from store import clock, downloads

CSV = b"symbol,close\nSPY,512.5\n"


@pytest.fixture
def engine(make_migrated_database, engine_for):
    return engine_for(make_migrated_database())


def test_the_ui_names_the_session_cookie_as_access_does():
    assert exports.SESSION_COOKIE == sessions.COOKIE_NAME


def test_media_file_id_is_the_id_streamlit_serves_a_deferred_download_under():
    manager = MediaFileManager(MemoryMediaFileStorage("/media"))
    placeholder = manager.add_deferred(lambda: CSV, exports.CSV_MIME, "coordinates", "prices.csv")
    url = manager.execute_deferred(placeholder)
    assert url == f"/media/{exports.media_file_id(CSV, exports.CSV_MIME, 'prices.csv')}.csv"
    assert exports.media_file_id(CSV, exports.CSV_MIME, "other.csv") not in url  # the name is part of the id


def test_a_copy_is_for_its_owner_only_and_for_minutes(engine, monkeypatch):
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start)
    owner, stranger = downloads.owner_key("cookie-a"), downloads.owner_key("cookie-b")
    assert len(owner) == 64 and "cookie-a" not in owner
    with engine.begin() as conn:
        downloads.save(conn, "f1", owner, "prices.csv", exports.CSV_MIME, CSV)
        downloads.save(conn, "f1", owner, "prices.csv", exports.CSV_MIME, CSV)  # built twice: one copy
    with engine.connect() as conn:
        assert downloads.fetch(conn, "f1", owner) == downloads.SharedFile("prices.csv", exports.CSV_MIME, CSV)
        assert downloads.fetch(conn, "f1", stranger) is None
        assert downloads.fetch(conn, "f2", owner) is None
    monkeypatch.setattr(clock, "now", lambda: start + downloads.KEEP + timedelta(seconds=1))
    with engine.begin() as conn:
        assert downloads.fetch(conn, "f1", owner) is None  # expired
        downloads.save(conn, "f2", owner, "other.csv", exports.CSV_MIME, CSV)  # and purged by the next save
        count = conn.exec_driver_sql("select count(*) from shared_downloads").scalar_one()
    assert count == 1


def app_with_middleware() -> TestClient:
    """A stand-in for Streamlit's /media route: it has `local` in memory and answers 404 for anything else."""

    async def media(request):  # noqa: ANN001, ANN202
        if request.path_params["name"] == "local.csv":
            return PlainTextResponse("in memory", media_type="text/csv")
        return PlainTextResponse("File not found", status_code=404)

    async def other(request):  # noqa: ANN001, ANN202
        return PlainTextResponse("Not found here", status_code=404)

    app = Starlette(
        routes=[Route("/media/{name}", media), Route("/elsewhere", other)],
        middleware=[Middleware(SharedDownloadsMiddleware)],
    )
    return TestClient(app)


def test_middleware_serves_the_owners_shared_copy_when_this_process_has_none(engine):
    file_id = exports.media_file_id(CSV, exports.CSV_MIME, "prix été.csv")
    with engine.begin() as conn:
        downloads.save(conn, file_id, downloads.owner_key("owner-cookie"), "prix été.csv", exports.CSV_MIME, CSV)
    client = app_with_middleware()

    client.cookies.set(sessions.COOKIE_NAME, "owner-cookie")
    served = client.get(f"/media/{file_id}.csv")
    assert served.status_code == 200 and served.content == CSV
    assert served.headers["content-type"].startswith("text/csv")
    assert served.headers["content-disposition"] == "attachment; filename*=utf-8''prix%20%C3%A9t%C3%A9.csv"
    assert client.get("/media/local.csv").text == "in memory"  # the process's own file first
    missing = client.get("/media/0123abcd.csv")
    assert (missing.status_code, missing.text) == (404, "File not found")  # the app's own 404, untouched
    assert client.get("/elsewhere").status_code == 404

    client.cookies.set(sessions.COOKIE_NAME, "someone-else")
    assert client.get(f"/media/{file_id}.csv").status_code == 404
    client.cookies.clear()
    assert client.get(f"/media/{file_id}.csv").status_code == 404
