"""The scaled-out shape (deploy/render.scaled.yaml) on loopback: two app processes on one database behind a
round-robin proxy with no stickiness, as Render balances several instances, driven in headless Chromium.

A sign-in, a reload and a page's controls work whichever process holds the websocket, and an export downloads
whichever process answers the browser's GET for its file (dashboard/web/shared_downloads.py).
"""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import openpyxl
import pandas as pd
import pytest

from dashboard.access import sessions
from dashboard.ui import exports
from tests.e2e.test_server import browser  # noqa: F401 - the shared Chromium fixture
from tests.support.browser import sign_in_and_keep
from tests.support.proxy import RoundRobinProxy
from tests.support.server import Server

pytestmark = pytest.mark.e2e

PASSWORD = "scaled-admin-password-4482"
SECRET = "scaled-auth-secret-Rk2vQ8mZ5tW1xN7pL3cF9hJ6bD0gS4aY"


def app_env(database_url: str, data_dir) -> dict[str, str]:
    """What deploy/render.scaled.yaml gives each web instance: one database, one AUTH_SECRET, no worker."""
    return {
        "DATABASE_URL": database_url,
        "AUTH_SECRET": SECRET,
        "TERMINAL_PASSWORD": PASSWORD,
        "WORKER_ENABLED": "false",
        "APP_ENV": "development",
        "DATA_DIR": str(data_dir),
    }


@pytest.fixture(scope="module")
def instances(make_sample_database, tmp_path_factory):
    database_url = make_sample_database()
    folder = tmp_path_factory.mktemp("scaled")
    # One after the other: the first start creates the admin account, the second finds it.
    with Server(app_env(database_url, folder), folder / "a.log") as first:
        first.wait_for_health(200, timeout=60)
        with Server(app_env(database_url, folder), folder / "b.log") as second:
            second.wait_for_health(200, timeout=60)
            yield database_url, (first, second)


@pytest.fixture
def proxy(instances):
    with RoundRobinProxy([server.url for server in instances[1]]) as running:
        yield running


def websocket_upstreams(proxy: RoundRobinProxy) -> list[int]:
    return [hit.upstream for hit in proxy.hits if hit.websocket]


def wait_for_overview(page) -> None:
    page.get_by_role("heading", name="Overview").wait_for(timeout=30_000)
    page.get_by_role("button", name="CSV").wait_for(timeout=30_000)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=30_000)


def download(page, label: str):  # noqa: ANN201 - a Playwright Download
    with page.expect_download(timeout=30_000) as info:
        page.get_by_role("button", name=label).click()
    return info.value


def media_get(server: Server, path: str, cookie: str | None) -> int:
    """The status of a GET for a media file sent straight to one instance (not through the proxy)."""
    headers = {"Cookie": f"{sessions.COOKIE_NAME}={cookie}"} if cookie else {}
    request = urllib.request.Request(server.url + path, headers=headers)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback only
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_sign_in_reload_use_a_page_and_download_through_a_round_robin_proxy(instances, proxy, browser, engine_for):  # noqa: F811
    database_url, servers = instances
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(proxy.url + "/")
    sign_in_and_keep(page, "admin", PASSWORD, "Overview")
    wait_for_overview(page)  # signed in on one instance, the cookie set by whichever answered /auth/session

    # A reload opens a new websocket: the proxy sends it to the other instance, which finds the session in the
    # database through the cookie.
    before = len(websocket_upstreams(proxy))
    page.reload()
    wait_for_overview(page)
    assert "Sign in to continue." not in page.inner_text("body")
    assert len(set(websocket_upstreams(proxy)[before - 1 :])) == 2, proxy.hits  # both instances ran the app

    # Use the page: keep ETFs only (a pill), on the instance that now holds the websocket.
    holder = websocket_upstreams(proxy)[-1]
    page.get_by_role("button", name="stock").click()
    page.wait_for_url(re.compile(r"ov_ac=etf"), timeout=20_000)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=30_000)
    page.get_by_text("7 of").wait_for(timeout=20_000)

    # Download every file of the export. The files are built on the websocket's instance; the proxy sends the
    # GETs for them alternately to both, so at least one is served by the instance that did not build it.
    csv_file = download(page, "CSV")
    params_file = download(page, "Parameters")
    xlsx_file = download(page, "XLSX")
    data = pd.read_csv(csv_file.path())
    assert len(data) == 7 and list(data["symbol"]) == sorted(data["symbol"]), data
    assert "SPY" in set(data["symbol"]) and not data["symbol"].isin(["AAPL", "MSFT"]).any()
    assert csv_file.suggested_filename.endswith(".csv")
    assert json.loads(params_file.path().read_text())["asset_classes"] == "etf"
    assert params_file.suggested_filename == csv_file.suggested_filename + ".params.json"
    book = openpyxl.load_workbook(io.BytesIO(xlsx_file.path().read_bytes()))
    assert book["data"].max_row == 8 and book["parameters"]["A1"].value == "parameter"

    media = [hit for hit in proxy.hits if hit.path.startswith("/media/")]
    # (Chromium asks for each file twice: the proxy's turns send the two GETs to different instances.)
    assert len({hit.path for hit in media}) == 3 and all(hit.status == 200 for hit in media), media
    assert {hit.upstream for hit in media} == {0, 1}, media  # served by the builder and by the other instance
    assert websocket_upstreams(proxy)[-1] == holder, "a new websocket opened during the downloads"

    # Each file answers on both instances for this browser's session, and for no other: a copied URL is no file.
    # Without the shared copy, the instance that did not build a file answers 404 to its own browser too.
    cookie = next(c["value"] for c in context.cookies() if c["name"] == sessions.COOKIE_NAME)
    stranger = stranger_cookie(engine_for(database_url, AUTH_SECRET=SECRET))
    for path in sorted({urllib.parse.urlsplit(hit.path).path for hit in media}):
        assert [media_get(server, path, cookie) for server in servers] == [200, 200], path
        assert [media_get(server, path, None) for server in servers] == [403, 403], path
        # Another live session (the same user in another browser) gets 404 where the file is only a shared copy.
        assert sorted(media_get(server, path, stranger) for server in servers) == [200, 404]
    never_built = exports.media_file_id(b"never built", exports.CSV_MIME, "x.csv")
    assert [media_get(server, f"/media/{never_built}.csv", cookie) for server in servers] == [404, 404]
    context.close()


def stranger_cookie(engine) -> str:
    """The session cookie of a new sign-in of the admin, as another browser would hold it (signed like the app's)."""
    import sqlalchemy as sa

    from store import tables

    with engine.connect() as conn:
        admin = conn.execute(sa.select(tables.users.c.id).where(tables.users.c.username == "admin")).scalar_one()
    return sessions.sign_cookie(sessions.create_session(engine, admin, "127.0.0.1"))
