"""Access control on the real server (`streamlit run`) in headless Chromium.

Every page URL on a fresh process serves only the sign-in form to a logged-out browser; a login survives a
refresh through the HttpOnly session cookie; logout ends it server-side so a copied cookie stops working;
and over a whole run with known secret values set, none of them reaches the server's output.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from dashboard.access import sessions
from tests.e2e.test_server import browser  # noqa: F401 - the shared Chromium fixture
from tests.support.browser import session_cookie, sign_in, sign_in_and_keep
from tests.support.server import ROOT, Server, free_port, get

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-admin-password-7731"
SECRET = "e2e-auth-secret-Xq7vP2mL9tR4wZ8kN3bF6hJ1cD5gS0aY"  # random-looking: production refuses predictable ones


def registered_pages() -> list[tuple[str, str, frozenset[str]]]:
    """(title, url path, roles) of router.PAGES, read from the source: importing the router would run it."""
    tree = ast.parse((ROOT / "dashboard" / "web" / "router.py").read_text())
    [pages] = [n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "PAGES"]
    found = []
    for entry in pages.elts:
        _, title, _, path, roles = entry.elts
        if isinstance(roles, ast.Name):  # ALL_ROLES
            allowed = frozenset({"viewer", "admin"})
        else:
            allowed = frozenset(ast.literal_eval(roles.args[0]))
        found.append((ast.literal_eval(title), ast.literal_eval(path), allowed))
    return found


PAGES = registered_pages()
TITLES = [title for title, _, _ in PAGES]
ADMIN_TITLES = [title for title, _, roles in PAGES if roles == frozenset({"admin"})]


@pytest.fixture(scope="module")
def database_url(make_database) -> str:
    """A database the first server migrates and fills with the sample; later servers reuse it."""
    return make_database()


def app_env(database_url: str, tmp_path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "TERMINAL_PASSWORD": PASSWORD,
        "AUTH_SECRET": SECRET,
        "DATA_DIR": str(tmp_path),
    }


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("access")
    with Server(app_env(database_url, folder), folder / "server.log") as srv:
        srv.wait_for_health(200, timeout=120)
        yield srv


def visible_text(page) -> str:
    return page.inner_text("body")


def wait_for_login_form(page) -> None:
    page.get_by_role("button", name="Sign in").wait_for(timeout=20_000)
    page.wait_for_timeout(500)  # time for any page content that might follow to arrive


def wait_for_idle(page) -> None:
    """Until the script run that a click started has finished (Streamlit's status widget is gone)."""
    page.wait_for_timeout(200)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=20_000)


@pytest.fixture(scope="module")
def fresh_servers(server, database_url, tmp_path_factory) -> Iterator[dict[str, Server]]:
    """One new app process per page URL, started together (their start-ups overlap rather than queue): no page
    request reaches any of them before its test. `server` has migrated and loaded the database already. No worker:
    these check the web process's gate, and a worker per process would only compete for the machine."""
    started: dict[str, Server] = {}
    ports: set[int] = set()
    try:
        for _, path, _ in PAGES:
            while (port := free_port()) in ports:  # none has bound its port yet: the OS could offer one twice
                pass
            ports.add(port)
            folder = tmp_path_factory.mktemp(f"fresh-{path}")
            env = {**app_env(database_url, folder), "WORKER_ENABLED": "false"}
            started[path] = Server(env, folder / "fresh.log", port=port)
        for fresh in started.values():
            fresh.wait_for_health(200, timeout=180)
        yield started
    finally:
        for fresh in started.values():
            fresh.stop()


@pytest.mark.parametrize("path", [path for _, path, _ in PAGES])
def test_every_page_url_on_a_fresh_process_serves_only_the_login_form(fresh_servers, browser, path):  # noqa: F811
    fresh = fresh_servers[path]
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{fresh.url}/{path}")  # the very first page request this process serves
    wait_for_login_form(page)
    body = visible_text(page)
    assert "Sign in to continue." in body
    for leaked in [*TITLES, "AAPL", "Coverage", "Last close", "admin_"]:
        assert not re.search(rf"\b{re.escape(leaked)}\b", body), f"/{path}: {leaked!r} visible while logged out"
    assert session_cookie(context) is None
    context.close()


def test_login_survives_a_refresh_and_logout_survives_one_too(server, browser):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/data-health")
    sign_in_and_keep(page, "admin", PASSWORD, "Data health")
    assert re.search(r"/data-health$", page.url), page.url  # back from /auth/session to the page signed in on
    cookie = session_cookie(context)
    assert cookie is not None, context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert 11.9 * 3600 < cookie["expires"] - __import__("time").time() <= 12 * 3600
    assert sessions.COOKIE_NAME not in page.evaluate("document.cookie")  # scripts cannot read it

    page.reload()
    page.get_by_role("heading", name="Data health").wait_for(timeout=20_000)
    assert "Sign in to continue." not in visible_text(page)
    for title in ADMIN_TITLES:  # an admin sees the admin pages in the navigation
        assert page.get_by_role("link", name=title).count() == 1

    page.get_by_role("button", name="Sign out").click()
    wait_for_login_form(page)
    page.wait_for_function(f"() => !document.cookie.includes('{sessions.COOKIE_NAME}')")
    page.wait_for_timeout(1000)
    assert session_cookie(context) is None  # /auth/logout cleared it
    page.reload()
    wait_for_login_form(page)
    assert "Symbols up to date" not in visible_text(page)

    # The cookie copied before signing out is dead: the session row is gone.
    thief = browser.new_context()
    thief.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")}])
    stolen = thief.new_page()
    stolen.goto(server.url + "/data-health")
    wait_for_login_form(stolen)
    assert "Symbols up to date" not in visible_text(stolen)
    thief.close()
    context.close()


def test_viewer_has_no_admin_pages_in_navigation_or_by_url(server, browser, database_url):  # noqa: F811
    from dashboard.access import users
    from store.db import create_db_engine

    engine = create_db_engine(database_url)
    users.add_user(engine, "e2e-viewer", "viewer", "viewer-password-1")
    engine.dispose()
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/")
    sign_in_and_keep(page, "e2e-viewer", "viewer-password-1", "Overview")
    for title in ADMIN_TITLES:
        assert page.get_by_role("link", name=title).count() == 0
    # By URL: the page is not registered for a viewer; a stand-in says which role it needs, and shows nothing of it.
    page.goto(server.url + "/admin-users")
    page.get_by_text("The Users page needs the admin role").wait_for(timeout=20_000)
    body = visible_text(page)
    assert "Add a user" not in body and "All users" not in body
    page.goto(server.url + "/audit-log")
    page.get_by_text("The Audit log page needs the admin role").wait_for(timeout=20_000)
    assert "login_ok" not in visible_text(page)
    context.close()


@pytest.fixture
def secret_database_url(make_database, pg_server_url):
    """A database owned by a role that has a password, so DATABASE_URL carries a password to hide."""
    name = make_url(make_database()).database
    role = f"md_secret_{uuid.uuid4().hex[:8]}"
    password = f"db-pw-{uuid.uuid4().hex}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        conn.execute(sa.text(f'ALTER DATABASE "{name}" OWNER TO {role}'))
    url = make_url(pg_server_url).set(database=name, username=role, password=password)
    yield url.render_as_string(hide_password=False), password
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
    admin.dispose()


def failed_logins(engine) -> int:
    from store import tables

    a = tables.audit_log
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).where(a.c.action == "login_failed")).scalar_one()


def wait_until(condition, describe=lambda: "", timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time: {describe()}")
        time.sleep(0.1)


def test_no_secret_reaches_the_logs_over_a_full_run(secret_database_url, browser, tmp_path):  # noqa: F811
    url, db_password = secret_database_url
    secrets = {
        "TERMINAL_PASSWORD": "log-test-terminal-password-5501",
        "AUTH_SECRET": "log-test-auth-secret-Vb8nQ2xR7kL4mP9tW3zF6cH1",
        "FRED_API_KEY": "fredkey0123456789abcdef01234567",
        "ALPHAVANTAGE_API_KEY": "AVKEY9876543210ZZ",
        "METRICS_TOKEN": "log-test-metrics-token-Qm4sW8",
    }
    env = {
        **secrets,
        "DATABASE_URL": url,
        "APP_ENV": "production",
        "DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "DEBUG",
        "FRED_BASE_URL": "http://127.0.0.1:9",
        "ALPHAVANTAGE_BASE_URL": "http://127.0.0.1:9",
    }
    with Server(env, tmp_path / "server.log") as srv:
        srv.wait_for_health(200, timeout=120)
        context = browser.new_context()
        page = context.new_page()
        page.goto(srv.url + "/")
        engine = sa.create_engine(url)
        attempts = [
            ("admin", "wrong-password-1"),
            ("admin", secrets["AUTH_SECRET"]),  # secrets typed into the form must not be logged either
            ("admin", db_password),
            (secrets["TERMINAL_PASSWORD"], secrets["TERMINAL_PASSWORD"]),  # a password typed as the user name
        ]
        for done, (username, password) in enumerate(attempts, start=1):
            sign_in(page, username, password)
            wait_until(lambda n=done: failed_logins(engine) == n, lambda n=done: f"attempt {n}: {visible_text(page)}")
            wait_for_idle(page)
        page.get_by_text("Invalid username or password.").wait_for(timeout=20_000)
        engine.dispose()
        sign_in_and_keep(page, "admin", secrets["TERMINAL_PASSWORD"], "Overview")
        page.reload()
        page.get_by_role("heading", name="Overview").wait_for(timeout=30_000)
        page.get_by_role("link", name="Audit log").click()
        page.get_by_role("heading", name="Audit log").wait_for(timeout=20_000)
        page.get_by_role("button", name="Sign out").click()
        wait_for_login_form(page)
        health = get(srv.url + "/healthz")[1]
        bearer = {"Authorization": f"Bearer {secrets['METRICS_TOKEN']}"}
        assert get(srv.url + "/metrics")[0] == 401
        scraped = get(srv.url + "/metrics", headers=bearer)[1]
        assert 'market_desk_logins_total{outcome="failed"} 4.0' in scraped
        context.close()
    output = srv.output()
    # Not a terminal: the app and its worker log one JSON object per line.
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(logged) > 10 and all({"timestamp", "level", "logger", "message"} <= set(line) for line in logged)
    assert any(line["message"].startswith("login ok: admin") for line in logged)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        from store import tables

        a = tables.audit_log
        entries = conn.execute(sa.select(a.c.action, a.c.client_ip)).all()
    engine.dispose()
    assert {action for action, _ in entries} >= {"login_failed", "login_ok", "logout"}
    assert {ip for _, ip in entries} == {"127.0.0.1"}  # the socket peer: no proxy is trusted off Render
    assert "login ok: admin" in output and "login failed" in output and "logout: admin" in output
    for name, value in {**secrets, "DATABASE password": db_password}.items():
        assert value not in output, f"{name} appears in the server output"
        assert value not in health, f"{name} appears in /healthz"
