"""The real server, started with `streamlit run` exactly as a newcomer does, on a free port.

No DATABASE_URL: the embedded PostgreSQL starts in a temporary data folder, the sample loads, the
login printed on the console works, and a logged-out browser asking for a page URL on a fresh process
gets the login form and no page content.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from tests.support.server import ROOT, Server, guarded_env

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-data")


@pytest.fixture(scope="module")
def server(data_dir, tmp_path_factory):
    with Server({"DATA_DIR": str(data_dir)}, tmp_path_factory.mktemp("logs") / "server.log") as srv:
        srv.wait_for_health(200, timeout=90)
        yield srv


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs it")
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        built_for = playwright_chromium_major()
        if built_for is not None and instance.version.split(".")[0] != built_for:
            warnings.warn(
                f"Chromium {instance.version} with a Playwright built for Chromium {built_for}: pin the playwright "
                "release built for this Chromium in requirements-dev.txt (a mismatch has hung browser contexts)",
                stacklevel=1,
            )
        yield instance
        instance.close()


def playwright_chromium_major() -> str | None:
    """The Chromium major version the installed Playwright speaks to (its driver's browsers.json)."""
    import playwright

    listed = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    try:
        browsers = json.loads(listed.read_text())["browsers"]
    except (OSError, ValueError, KeyError):
        return None
    return next((b["browserVersion"].split(".")[0] for b in browsers if b.get("name") == "chromium"), None)


def printed_password(output: str) -> str:
    match = re.search(r"username: (\S+)\s+password: (\S+)", output)
    assert match, f"no login printed on the console:\n{output}"
    return match.group(2)


def test_cold_start_serves_health_with_the_sample_loaded(server):
    status, body = server.health()
    assert status == 200
    assert body["database"] == "ok" and body["latest_bar_date"] == "2026-06-25"
    assert body["last_successful_ingestion"]
    assert "initialising embedded PostgreSQL" in server.output()


def test_logged_out_browser_gets_only_the_login_form_for_every_page_url(server, browser):
    """A fresh process (first requests are page URLs, not the root) and fresh browser contexts."""
    # "/" is the Overview (the default page); an unknown URL falls back to it, behind the same gate.
    for path in ("/data-health", "/", "/no-such-page"):
        context = browser.new_context()
        page = context.new_page()
        page.goto(server.url + path)
        page.get_by_role("button", name="Sign in").wait_for(timeout=20_000)
        page.wait_for_timeout(500)  # give any page content that might follow time to arrive
        body = page.inner_text("body")
        assert "Sign in to continue." in body
        for leaked in ("Coverage", "Symbols up to date", "Last close", "AAPL", "Overview", "Data health"):
            assert leaked not in body, f"{path}: {leaked!r} visible while logged out"
        context.close()


def test_console_login_opens_the_requested_page(server, browser, tmp_path):
    password = printed_password(server.output())
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/data-health")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Data health").wait_for(timeout=20_000)
    page.get_by_text("Symbols up to date").wait_for()
    page.get_by_role("link", name="Overview").click()
    page.get_by_role("heading", name="Overview").wait_for(timeout=20_000)
    page.get_by_text("bundled sample dataset").wait_for()
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    context.close()


def test_second_server_on_the_same_data_folder_reuses_the_database(server, data_dir, tmp_path):
    with Server({"DATA_DIR": str(data_dir)}, tmp_path / "second.log") as second:
        body = second.wait_for_health(200, timeout=60)
        assert body["latest_bar_date"] == "2026-06-25"
        assert "initialising" not in second.output()
        assert "password:" not in second.output()  # the login was printed once, by the first start
    assert server.health()[0] == 200  # the first server's database survived the second's exit


def test_unreachable_database_url_is_a_clear_503_that_never_shows_the_password(tmp_path, browser):
    secret = "pw-should-never-appear-42"
    url = f"postgresql://desk:{secret}@127.0.0.1:1/deskdb"
    with Server({"DATABASE_URL": url, "DATA_DIR": str(tmp_path)}, tmp_path / "down.log") as srv:
        body = srv.wait_for_health(503, timeout=30)
        deadline = time.monotonic() + 30
        while body.get("status") != "error" and time.monotonic() < deadline:
            time.sleep(0.2)
            body = srv.health()[1] or {}
        assert body["status"] == "error"
        assert "127.0.0.1:1/deskdb" in body["reason"] and secret not in body["reason"]

        page = browser.new_page()
        page.goto(srv.url + "/overview")
        page.get_by_text("is not reachable").wait_for(timeout=20_000)
        shown = page.inner_text("body")
        assert "127.0.0.1:1/deskdb" in shown and secret not in shown
        page.close()
        assert secret not in srv.output()
        assert not (tmp_path / "pgdata").exists()  # DATABASE_URL set: nothing embedded was started

    cli = subprocess.run(
        [sys.executable, "-m", "ingestion", "status"],
        cwd=ROOT,
        env=guarded_env({"DATABASE_URL": url, "DB_CONNECT_RETRIES": "2"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 2
    assert "127.0.0.1:1/deskdb is not reachable" in cli.stderr and secret not in cli.stderr + cli.stdout


def test_production_without_strong_secrets_refuses_to_start(tmp_path):
    env = {"APP_ENV": "production", "AUTH_SECRET": "short", "DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}
    srv = Server(env, tmp_path / "prod.log")
    try:
        srv.process.wait(60)
    finally:
        srv.stop()
    assert srv.process.returncode != 0
    assert "Refusing to start in production" in srv.output() and "AUTH_SECRET" in srv.output()


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_app_leaves_a_server_the_next_start_adopts_and_stops_at_exit(tmp_path):
    """kill -9 of the app leaves the embedded postmaster running; the next start adopts it (no second server on
    the same files) and, being the last process attached, stops it when it exits cleanly."""
    import signal

    data = tmp_path / "data"
    first = Server({"DATA_DIR": str(data), "WORKER_ENABLED": "false"}, tmp_path / "first.log")
    first.wait_for_health(200, timeout=90)
    orphan = postmaster_pid(data)
    os.kill(first.process.pid, signal.SIGKILL)  # no exit hooks run
    first.process.wait(10)
    first.stop()
    assert alive(orphan)
    with Server({"DATA_DIR": str(data), "WORKER_ENABLED": "false"}, tmp_path / "second.log") as second:
        second.wait_for_health(200, timeout=90)
        assert postmaster_pid(data) == orphan  # adopted, not restarted
    deadline = time.monotonic() + 20
    while alive(orphan) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(orphan), "the last app to exit did not stop the embedded PostgreSQL"
    assert "forgot 1 process(es) that died without detaching" in second.output()


def test_every_response_carries_security_headers_and_media_needs_a_session(server):
    import urllib.request

    for path in ("/", "/healthz", "/media/0123456789abcdef0123456789abcdef.csv"):
        request = urllib.request.Request(server.url + path)  # noqa: S310 - loopback only
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback only
                status, headers = response.status, response.headers
        except urllib.error.HTTPError as exc:
            status, headers = exc.code, exc.headers
        assert headers["X-Frame-Options"] == "SAMEORIGIN" and headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
        if path.startswith("/media/"):
            assert status == 403  # no session cookie: no file, whatever its id
