"""Access control through AppTest and the real auth routes: lockout, sessions, roles, admin pages, audit, CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from dashboard.access import audit, auth, gate, sessions, users
from dashboard.web import auth_routes
from store import clock, tables
from tests.conftest import ROOT, TEST_PASSWORD
from tests.support.app import ROUTER, log_in, page, shown, texts

ADMIN_PAGES = (page("admin_users"), page("audit_log"))


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def app_db(app_on, empty_database_url):
    """A fresh, migrated database with the TERMINAL_PASSWORD admin (no sample data: these tests need none)."""
    return app_on(empty_database_url, LOAD_SAMPLE_ON_EMPTY="false")


@pytest.fixture
def fake_clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock, "now", fake)
    return fake


def fresh() -> AppTest:
    return AppTest.from_file(ROUTER, default_timeout=30).run()


def signed_in(at: AppTest) -> bool:
    return not at.text_input and any("Signed in as" in shown(c.value) for c in at.sidebar.caption)


def audit_actions(engine) -> list[tuple[str, str | None]]:
    a = tables.audit_log
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(a.c.action, a.c.username).order_by(a.c.id))]


def html_urls(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html")]


def test_wrong_password_and_unknown_user_get_the_same_generic_message(app_db, fake_clock):
    at = log_in(fresh(), password="not-the-password")
    assert [shown(e.value) for e in at.error] == ["Invalid username or password."] and not signed_in(at)
    at = log_in(at, username="nobody", password=TEST_PASSWORD)
    assert [shown(e.value) for e in at.error] == ["Invalid username or password."] and not signed_in(at)
    assert audit_actions(app_db) == [("login_failed", "admin"), ("login_failed", "nobody")]


def test_five_failures_lock_the_user_name_for_fifteen_minutes(app_db, fake_clock):
    at = fresh()
    for _ in range(5):
        at = log_in(at, password="wrong-password")
        assert [shown(e.value) for e in at.error] == ["Invalid username or password."]
        fake_clock.advance(seconds=10)
    at = log_in(at)  # the right password, but locked
    assert not signed_in(at)
    assert [shown(e.value) for e in at.error] == ["Too many failed sign-in attempts. Try again in 15 minutes."]
    fake_clock.advance(minutes=14)
    at = log_in(at)
    assert not signed_in(at) and "Try again in 1 minute." in shown(at.error[0].value)
    fake_clock.advance(minutes=1, seconds=1)  # 15 minutes after the fifth failure
    at = log_in(at)
    assert signed_in(at), texts(at)
    actions = [a for a, _ in audit_actions(app_db)]
    assert actions == ["login_failed"] * 5 + ["lockout", "lockout", "lockout", "login_ok"]
    with app_db.connect() as conn:  # refused attempts are not password checks and do not extend the lockout
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.login_attempts)).scalar_one() == 6


def test_a_locked_name_is_refused_even_for_a_user_that_does_not_exist(app_db, fake_clock):
    at = fresh()
    for _ in range(5):
        at = log_in(at, username="ghost", password="guess-guess")
    at = log_in(at, username="ghost", password="guess-again")
    assert "Too many failed sign-in attempts" in shown(at.error[0].value)
    at = log_in(at)  # another name from an unknown (local test) address is unaffected
    assert signed_in(at)


def test_five_failures_from_one_address_lock_that_address(app_db, fake_clock, monkeypatch):
    address = {"ip": "203.0.113.7"}
    monkeypatch.setattr(gate, "client_ip", lambda: address["ip"])
    at = fresh()
    for name in ("ann", "bob", "cat", "dan", "eve"):  # five different names: only the address links them
        at = log_in(at, username=name, password="wrong-password")
    at = log_in(at)
    assert not signed_in(at) and "Too many failed sign-in attempts" in shown(at.error[0].value)
    address["ip"] = "198.51.100.9"
    at = log_in(at)
    assert signed_in(at)
    with app_db.connect() as conn:
        ips = conn.execute(sa.select(tables.audit_log.c.client_ip).distinct()).scalars().all()
    assert set(ips) == {"203.0.113.7", "198.51.100.9"}


def test_a_successful_login_resets_the_count_for_the_name(app_db, fake_clock):
    for _ in range(4):
        log_in(fresh(), password="wrong-password")
    assert signed_in(log_in(fresh()))
    at = fresh()
    for _ in range(4):
        at = log_in(at, password="wrong-password")
    assert signed_in(log_in(at))


BROWSER_BIND = "this-browsers-binding-cookie"


def test_login_creates_a_server_side_session_and_hands_it_to_the_browser(
    app_db, fake_clock, monkeypatch, routes_client
):
    monkeypatch.setattr(gate, "binding_cookie", lambda: BROWSER_BIND)
    at = log_in(fresh())
    assert signed_in(at)
    token = at.session_state[gate.TOKEN_KEY]
    with app_db.connect() as conn:
        row = conn.execute(sa.select(tables.user_sessions)).mappings().one()
    assert row["token_hash"] == sessions.token_hash(token) and token not in row["token_hash"]
    assert row["expires_at"] == fake_clock.at + timedelta(hours=12)
    # The page tells the browser to visit /auth/session with a signed one-time code, from which it gets the cookie.
    [script] = html_urls(at)
    assert "window.location.replace(" in script and '"/auth/session?code=' in script
    code = parse_qs(urlsplit(script.split('"')[1]).query)["code"][0]
    # The code names an opaque one-time id, not the session token (only the id's hash is stored).
    with app_db.connect() as conn:
        handoff = conn.execute(sa.select(tables.login_handoffs)).mappings().one()
    assert token not in code and handoff["session_hash"] == sessions.token_hash(token)
    assert sessions.read_cookie(code) is None  # a login code is not a cookie
    assert html_urls(at.run()) == []  # sent once
    routes_client.cookies.set(sessions.BINDING_COOKIE_NAME, BROWSER_BIND)
    response = routes_client.get("/auth/session", params={"code": code}, follow_redirects=False)
    assert sessions.COOKIE_NAME in set_cookie_header(response)


def test_a_browser_without_a_binding_cookie_gets_no_login_code(app_db, fake_clock):
    at = log_in(fresh())
    assert signed_in(at) and html_urls(at) == []  # signed in for this tab only; no code to steal
    with app_db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.login_handoffs)).scalar_one() == 0
    with pytest.raises(ValueError, match="binding"):
        sessions.create_handoff(app_db, at.session_state[gate.TOKEN_KEY], "")


def test_a_session_expires_after_the_configured_hours(app_db, fake_clock):
    at = log_in(fresh())
    fake_clock.advance(hours=11, minutes=59)
    assert signed_in(at.run())
    fake_clock.advance(minutes=2)
    at.run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_logout_deletes_the_session_and_clears_the_cookie(app_db, fake_clock):
    at = log_in(fresh())
    token = at.session_state[gate.TOKEN_KEY]
    [sign_out] = [b for b in at.sidebar.button if b.label == "Sign out"]
    at = sign_out.click().run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert sessions.lookup(app_db, token) is None
    with app_db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.user_sessions)).scalar_one() == 0
    [script] = html_urls(at)
    assert '"/auth/logout?code=' in script
    assert ("logout", "admin") in audit_actions(app_db)


def test_disabling_a_user_ends_their_open_sessions(app_db, fake_clock):
    users.add_user(app_db, "vera", "viewer", "vera-password-1")
    at = log_in(fresh(), "vera", "vera-password-1")
    assert signed_in(at)
    users.set_active(app_db, "vera", False, actor="admin")
    at.run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert not signed_in(log_in(at, "vera", "vera-password-1"))


def test_viewer_sees_no_admin_pages_and_cannot_open_them(app_db, fake_clock):
    users.add_user(app_db, "vera", "viewer", "vera-password-1")
    at = log_in(fresh(), "vera", "vera-password-1")
    assert signed_in(at)
    for admin_page in ADMIN_PAGES:
        with pytest.raises(ValueError, match="not a registered page|registered"):
            at.switch_page(admin_page)
    # An admin in the same app can open both.
    admin = log_in(fresh())
    for admin_page in ADMIN_PAGES:
        admin.switch_page(admin_page).run()
        assert not admin.exception and not admin.error


def open_url_path(at: AppTest, url_path: str) -> AppTest:
    """What a browser does with a typed page URL: run the page registered at that path (hidden ones too)."""
    [page_hash] = [h for h, info in at._registered_pages.items() if info.get("url_pathname") == url_path]
    at._page_hash = page_hash
    return at.run()


@pytest.mark.parametrize(("url_path", "title"), [("admin-users", "Users"), ("audit-log", "Audit log")])
def test_a_viewer_opening_an_admin_url_is_told_it_needs_the_admin_role(app_db, fake_clock, url_path, title):
    users.add_user(app_db, "vera", "viewer", "vera-password-1")
    at = open_url_path(log_in(fresh(), "vera", "vera-password-1"), url_path)
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [
        f"The {title} page needs the admin role; you are signed in with the viewer role. "
        "Ask an administrator if you need it."
    ]
    assert at.title[0].value == title and len(at.dataframe) == 0  # the refusal, not the page and not Overview
    # The stand-in is hidden: the viewer's navigation lists no admin page.
    hidden = [i for i in at._registered_pages.values() if i.get("url_pathname") in ("admin-users", "audit-log")]
    assert all(not i.get("script_path", "").endswith(("admin_users.py", "audit_log.py")) for i in hidden)
    # An admin at the same URL gets the page itself.
    admin = open_url_path(log_in(fresh()), url_path)
    assert not admin.exception and not admin.error and admin.title[0].value == title


def test_a_disabled_user_is_told_why_they_are_back_at_the_sign_in_form(app_db, fake_clock):
    users.add_user(app_db, "vera", "viewer", "vera-password-1")
    at = log_in(fresh(), "vera", "vera-password-1")
    assert signed_in(at)
    users.set_active(app_db, "vera", False, actor="admin")
    at.run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert [shown(e.value) for e in at.error] == [gate.DISABLED_MESSAGE]
    # Still disabled on a new attempt; enabled again, they sign in and the notice is gone.
    assert not signed_in(log_in(at, "vera", "vera-password-1"))
    users.set_active(app_db, "vera", True, actor="admin")
    at = log_in(at, "vera", "vera-password-1")
    assert signed_in(at) and gate.DISABLED_MESSAGE not in texts(at)


def test_an_expired_session_is_explained_and_a_sign_out_is_not(app_db, fake_clock):
    users.add_user(app_db, "vera", "viewer", "vera-password-1")
    at = log_in(fresh(), "vera", "vera-password-1")
    fake_clock.advance(days=30)
    at.run()
    assert [shown(i.value) for i in at.info] == [gate.ENDED_MESSAGE] and not at.error
    fake_clock.advance(days=-30)
    at = log_in(at, "vera", "vera-password-1")
    assert signed_in(at)
    at = next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert not at.info and not at.error


@pytest.mark.parametrize("page", ["admin_users.py", "audit_log.py"])
def test_admin_page_files_refuse_a_viewer_when_run_directly(app_db, fake_clock, page):
    users.add_user(app_db, "vera", "viewer", "vera-password-1")
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=30).run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    at = log_in(at, "vera", "vera-password-1")
    assert not at.exception
    assert [shown(e.value) for e in at.error] == ["This page is for administrators only."]
    assert len(at.dataframe) == 0 and not at.title


def test_admin_adds_disables_and_resets_users_from_the_page(app_db, fake_clock):
    at = log_in(fresh())
    at.switch_page(page("admin_users")).run()
    assert not at.exception and at.title[0].value == "Users"
    at.text_input(key="admin_new_username").input("wendy")
    at = [b for b in at.button if b.label == "Add user"][0].click().run()
    assert not at.exception
    assert shown(at.success[0].value) == "Added wendy (viewer)."
    wendy_password = at.code[0].value
    assert set(at.dataframe[0].value["username"]) == {"admin", "wendy"}
    assert signed_in(log_in(fresh(), "wendy", wendy_password))

    at.selectbox(key="admin_change_username").select("wendy")
    at.radio(key="admin_change_action").set_value("Reset password")
    at = [b for b in at.button if b.label == "Apply"][0].click().run()
    new_password = at.code[0].value
    assert new_password != wendy_password
    assert not signed_in(log_in(fresh(), "wendy", wendy_password))
    assert signed_in(log_in(fresh(), "wendy", new_password))

    at.selectbox(key="admin_change_username").select("wendy")
    at.radio(key="admin_change_action").set_value("Disable")
    at = [b for b in at.button if b.label == "Apply"][0].click().run()
    assert shown(at.success[0].value) == "Disable: wendy."
    table = at.dataframe[0].value.set_index("username")
    assert not table.loc["wendy", "active"]
    assert not signed_in(log_in(fresh(), "wendy", new_password))

    # The last active admin cannot lock everyone out of administration.
    at.selectbox(key="admin_change_username").select("admin")
    at.radio(key="admin_change_action").set_value("Disable")
    at = [b for b in at.button if b.label == "Apply"][0].click().run()
    assert "last active admin" in shown(at.error[0].value)

    at.switch_page(page("audit_log")).run()
    assert not at.exception and at.title[0].value == "Audit log"
    log = at.dataframe[0].value
    assert {"admin_add_user", "admin_reset_password", "admin_disable_user", "login_ok"} <= set(log["action"])
    added = log[log["action"] == "admin_add_user"].iloc[0]
    assert added["username"] == "admin" and '"user": "wendy"' in added["details"]


def test_bad_user_input_gets_a_clear_message(app_db, fake_clock):
    at = log_in(fresh())
    at.switch_page(page("admin_users")).run()
    at.text_input(key="admin_new_username").input("<script>alert(1)</script>")
    at = [b for b in at.button if b.label == "Add user"][0].click().run()
    assert not at.exception and "A user name is 1 to 64 characters" in shown(at.error[0].value)
    at.text_input(key="admin_new_username").input("admin")
    at = [b for b in at.button if b.label == "Add user"][0].click().run()
    assert shown(at.error[0].value) == "A user named 'admin' already exists."


# -- the HTTP routes that set and clear the cookie --------------------------------------------------------


@pytest.fixture
def routes_client():
    return TestClient(Starlette(routes=auth_routes.routes), base_url="http://127.0.0.1")


def set_cookie_header(response) -> str:
    return response.headers.get("set-cookie", "")


def test_auth_session_route_sets_a_signed_httponly_lax_cookie_once(app_db, fake_clock, routes_client):
    user = auth.authenticate(app_db, "admin", TEST_PASSWORD)
    token = sessions.create_session(app_db, user["id"], None)
    code = sessions.create_handoff(app_db, token, sessions.browser_binding(BROWSER_BIND))
    routes_client.cookies.set(sessions.BINDING_COOKIE_NAME, BROWSER_BIND)
    response = routes_client.get(
        "/auth/session", params={"code": code, "next": "/data-health?x=1"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/data-health?x=1"
    header = set_cookie_header(response)
    assert header.startswith(f"{sessions.COOKIE_NAME}=") and "HttpOnly" in header and "SameSite=lax" in header
    assert "Secure" not in header  # development over plain http; production adds it (next test)
    assert "Max-Age=43200" in header
    cookie = response.cookies[sessions.COOKIE_NAME]
    new_token = sessions.read_cookie(cookie)
    assert new_token and new_token != token
    assert sessions.lookup(app_db, new_token)["username"] == "admin"
    assert sessions.lookup(app_db, token) is None  # the code's token was rotated away: single use
    again = routes_client.get("/auth/session", params={"code": code}, follow_redirects=False)
    assert again.status_code == 303 and "set-cookie" not in again.headers
    tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    assert sessions.read_cookie(tampered) is None


def test_secure_cookie_in_production(app_db, fake_clock, routes_client, monkeypatch):
    from store.settings import get_settings

    monkeypatch.setenv("APP_ENV", "production")
    get_settings.cache_clear()
    user = auth.authenticate(app_db, "admin", TEST_PASSWORD)
    token = sessions.create_session(app_db, user["id"], None)
    code = sessions.create_handoff(app_db, token, sessions.browser_binding(BROWSER_BIND))
    routes_client.cookies.set(sessions.BINDING_COOKIE_NAME, BROWSER_BIND)
    response = routes_client.get("/auth/session", params={"code": code}, follow_redirects=False)
    assert "Secure" in set_cookie_header(response) and "HttpOnly" in set_cookie_header(response)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"])
def test_auth_routes_only_redirect_within_the_site(app_db, routes_client, target):
    response = routes_client.get("/auth/session", params={"code": "bad", "next": target}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "set-cookie" not in response.headers


def test_a_login_code_only_works_in_the_browser_that_signed_in(app_db, fake_clock, routes_client):
    mine, theirs = "binding-of-my-browser", "binding-of-their-browser"
    user = auth.authenticate(app_db, "admin", TEST_PASSWORD)
    session = sessions.create_session(app_db, user["id"], None)
    # Another browser, or one with no binding cookie at all (the hole that was open), gets nothing.
    for cookie in (theirs, None):
        code = sessions.create_handoff(app_db, session, sessions.browser_binding(mine))
        routes_client.cookies.clear()
        if cookie:
            routes_client.cookies.set(sessions.BINDING_COOKIE_NAME, cookie)
        response = routes_client.get("/auth/session", params={"code": code}, follow_redirects=False)
        assert "set-cookie" not in response.headers
    # The browser that signed in gets its cookie, once.
    code = sessions.create_handoff(app_db, session, sessions.browser_binding(mine))
    routes_client.cookies.set(sessions.BINDING_COOKIE_NAME, mine)
    response = routes_client.get("/auth/session", params={"code": code}, follow_redirects=False)
    assert sessions.COOKIE_NAME in set_cookie_header(response)
    again = routes_client.get("/auth/session", params={"code": code}, follow_redirects=False)
    assert "set-cookie" not in again.headers


def test_logout_route_needs_a_valid_code_and_clears_the_cookie(app_db, fake_clock, routes_client):
    user = auth.authenticate(app_db, "admin", TEST_PASSWORD)
    token = sessions.create_session(app_db, user["id"], None)
    refused = routes_client.get("/auth/logout", follow_redirects=False)
    assert refused.status_code == 303 and "set-cookie" not in refused.headers
    assert sessions.lookup(app_db, token) is not None
    response = routes_client.get("/auth/logout", params={"code": sessions.logout_code(token)}, follow_redirects=False)
    header = set_cookie_header(response)
    assert header.startswith(f'{sessions.COOKIE_NAME}=""') and "Max-Age=0" in header
    assert sessions.lookup(app_db, token) is None


# -- CLI --------------------------------------------------------------------------------------------------


def test_cli_adds_lists_disables_and_resets(app_db, capsys):
    assert users.main(["add", "carol", "--role", "viewer"]) == 0
    password = capsys.readouterr().out.split("password: ")[1].split()[0]
    assert auth.authenticate(app_db, "carol", password)["role"] == "viewer"
    assert users.main(["add", "carol"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert users.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "carol" in listing and "admin" in listing and password not in listing
    assert users.main(["disable", "carol"]) == 0
    assert auth.authenticate(app_db, "carol", password) is None
    assert users.main(["enable", "carol"]) == 0
    assert users.main(["reset", "carol"]) == 0
    new_password = capsys.readouterr().out.split("password: ")[1].split()[0]
    assert auth.authenticate(app_db, "carol", password) is None
    assert auth.authenticate(app_db, "carol", new_password) is not None
    assert users.main(["disable", "nobody"]) == 1
    assert "no user named 'nobody'" in capsys.readouterr().err
    assert users.main(["disable", "admin"]) == 1  # the last active admin
    actions = [a for a, _ in audit_actions(app_db)]
    assert actions.count("admin_add_user") == 1 and "admin_disable_user" in actions
    assert all(u.startswith("cli") for a, u in audit_actions(app_db) if a.startswith("admin_"))


def test_recorder_captures_the_user_during_the_run_and_writes_when_called_later(ready_app):
    """Deferred downloads (Ticker CSV/XLSX) are built outside the script run: the user is captured before."""
    from store.db import get_engine

    def script() -> None:
        import streamlit as st

        from dashboard.access import gate

        st.session_state["pending"] = gate.recorder("export", {"page": "ticker", "format": "csv"})

    with get_engine().connect() as conn:
        admin_id = conn.execute(sa.select(tables.users.c.id).where(tables.users.c.username == "admin")).scalar_one()
    at = AppTest.from_function(script)
    at.session_state[gate.TOKEN_KEY] = sessions.create_session(get_engine(), admin_id, None)
    at.run()
    assert not at.exception
    record = at.session_state["pending"]
    a = tables.audit_log
    query = sa.select(a.c.username, a.c.details).where(a.c.action == "export", a.c.details["page"].astext == "ticker")
    with get_engine().connect() as conn:
        before = len(conn.execute(query).all())
    record()  # outside any script run, as when the browser requests the file
    with get_engine().connect() as conn:
        rows = conn.execute(query).all()
    assert len(rows) == before + 1
    assert rows[-1].username == "admin" and rows[-1].details == {"page": "ticker", "format": "csv"}


@pytest.mark.parametrize("typed", ["aaaaaaaaaa", "password12", "1234567890"])
def test_cli_refuses_a_weak_typed_password_and_says_why(app_db, capsys, monkeypatch, typed):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": typed)
    assert users.main(["add", "weakling", "--prompt"]) == 1
    err = capsys.readouterr().err
    assert "too easy to guess" in err and typed not in err
    with pytest.raises(users.UserError, match="too easy to guess"):
        users.add_user(app_db, "weakling", "viewer", typed)
    assert auth.authenticate(app_db, "weakling", typed) is None


def test_cli_accepts_a_strong_typed_password(app_db, capsys, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "orbit-velvet-93-lantern")
    assert users.main(["add", "strongling", "--prompt"]) == 0
    assert auth.authenticate(app_db, "strongling", "orbit-velvet-93-lantern") is not None


def test_the_audit_log_shows_ipv4_mapped_addresses_as_ipv4(app_db, fake_clock):
    with app_db.begin() as conn:
        audit.write(conn, "export", username="old-row", client_ip="::ffff:7f00:1", details={"what": "x"})
        audit.write(conn, "export", username="v6", client_ip="2001:db8::1", details={"what": "y"})
    at = log_in(fresh())
    at.switch_page(page("audit_log")).run()
    assert not at.exception
    shown_rows = at.dataframe[0].value.set_index("username")["client_ip"]
    assert shown_rows["old-row"] == "127.0.0.1" and shown_rows["v6"] == "2001:db8::1"


def test_the_audit_log_export_is_audited_and_reads_back(app_db, fake_clock, monkeypatch):
    import io
    import json

    import openpyxl
    import pandas as pd
    from streamlit.elements.widgets.button import ButtonMixin

    captured = {}
    original = ButtonMixin.download_button

    def spy(self, label, data, *args, **kwargs):
        captured[label] = data
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(ButtonMixin, "download_button", spy)
    at = log_in(fresh())
    at.switch_page(page("audit_log")).run()
    assert not at.exception
    shown_rows = at.dataframe[0].value
    csv = pd.read_csv(io.BytesIO(captured["CSV"]()))  # data only: no comment lines to skip
    assert list(csv.columns) == list(shown_rows.columns) and len(csv) == len(shown_rows)
    assert json.loads(captured["Parameters"]())["action"] == "(all)"
    sheet = openpyxl.load_workbook(io.BytesIO(captured["XLSX"]()))["data"]
    assert sheet.freeze_panes == "A2" and sheet["A2"].number_format == "yyyy-mm-dd hh:mm:ss"
    exported = [d for a, d in audit_detail_rows(app_db) if a == "export"]
    assert [d["format"] for d in exported] == ["csv", "xlsx"] and all(d["what"] == "audit_log" for d in exported)


def audit_detail_rows(engine) -> list[tuple[str, dict]]:
    a = tables.audit_log
    with engine.connect() as conn:
        return [(r.action, r.details or {}) for r in conn.execute(sa.select(a.c.action, a.c.details).order_by(a.c.id))]
