"""The API tokens page: create a token (shown once), list and revoke your own; admins see and revoke everyone's."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from dashboard.access import tokens, users
from store import clock, tables
from tests.support.app import markdown_bodies, messages, open_page, shown

VIEWER, VIEWER_PASSWORD = "vera", "vera-password-1"
RENDER = MarkdownIt("commonmark", {"linkify": True, "html": True}).enable(["linkify", "strikethrough"])


@pytest.fixture
def app_db(app_on, empty_database_url):
    """A fresh, migrated database with the TERMINAL_PASSWORD admin and a viewer (no market data needed)."""
    engine = app_on(empty_database_url, LOAD_SAMPLE_ON_EMPTY="false")
    users.add_user(engine, VIEWER, "viewer", VIEWER_PASSWORD)
    return engine


def as_viewer() -> AppTest:
    return open_page("api_tokens", username=VIEWER, password=VIEWER_PASSWORD)


def button(at: AppTest, label: str):
    [found] = [b for b in at.button if b.label == label]
    return found


def create(at: AppTest, label: str, expires=None) -> AppTest:
    at.text_input(key="api_token_label").input(label)
    if expires is not None:
        at.date_input(key="api_token_expires").set_value(expires)
    return button(at, "Create token").click().run()


def shown_tokens(at: AppTest) -> list[str]:
    return [c.value for c in at.code if c.value.startswith(tokens.TOKEN_PREFIX)]


def revoke(at: AppTest, key: str, token_id: int, confirm: bool = True) -> AppTest:
    """Revoke through the form `key` (api_token_mine: your tokens; api_token_all: the admins' list)."""
    at.selectbox(key=f"{key}_revoke_id").select(token_id)
    at.checkbox(key=f"{key}_revoke_confirm").set_value(confirm)
    [submit] = [b for b in at.button if b.label == "Revoke token" and b.proto.form_id == f"{key}_revoke"]
    return submit.click().run()


def table(at: AppTest, index: int = 0):
    return [d.value for d in at.dataframe][index]


def audit_rows(engine, action: str) -> list[tuple]:
    a = tables.audit_log
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(a.c.username, a.c.details).where(a.c.action == action))]


def test_a_viewer_creates_a_token_that_is_shown_once_and_authenticates(app_db, caplog):
    caplog.set_level("DEBUG")
    at = create(as_viewer(), "research notebook")
    assert not at.exception and not at.error
    [token] = shown_tokens(at)
    assert "shown this once" in messages(at)
    example = [c.value for c in at.code if "curl" in c.value]
    assert len(example) == 1 and "$MD_TOKEN" in example[0] and "/api/v1/prices?symbols=AAPL" in example[0]
    assert token not in example[0]
    assert [b.proto.url for b in at.get("link_button")] == ["/api/v1/docs"]
    user = tokens.authenticate(app_db, token)
    assert user is not None and (user.username, user.role) == (VIEWER, "viewer")
    mine = table(at)
    assert mine["label"].tolist() == ["research notebook"] and mine["state"].tolist() == ["active"]
    assert mine["prefix"].tolist() == [token[: tokens.PREFIX_SHOWN]] and "token_hash" not in mine.columns
    # The token lives in no session state, and the next run (any click, a refresh) shows it no more.
    assert "auth_token" in repr(at.session_state) and token not in repr(at.session_state)
    at.run()
    assert shown_tokens(at) == [] and not at.get("link_button")
    assert all(token not in body for body in markdown_bodies(at))
    [(actor, details)] = audit_rows(app_db, "api_token_created")
    assert actor == VIEWER and details["user"] == VIEWER and details["label"] == "research notebook"
    assert token not in str(details) and token not in caplog.text


def test_a_viewer_revokes_their_token_after_confirming(app_db):
    at = create(as_viewer(), "laptop")
    [token] = shown_tokens(at)
    token_id = int(tokens.list_tokens(app_db, VIEWER)["id"][0])
    at = revoke(at, "api_token_mine", token_id, confirm=False)
    assert "Tick the confirmation" in messages(at) and tokens.authenticate(app_db, token) is not None
    at = revoke(at, "api_token_mine", token_id)
    assert not at.exception and not at.error
    assert shown(at.success[0].value).startswith("Revoked laptop (mdk_")
    assert tokens.authenticate(app_db, token) is None
    assert table(at)["state"].tolist() == ["revoked"]
    assert not [s for s in at.selectbox if s.key == "api_token_mine_revoke_id"]  # nothing left to revoke
    [(actor, details)] = audit_rows(app_db, "api_token_revoked")
    assert actor == VIEWER and details == {"user": VIEWER, "token_id": token_id}


def test_a_viewer_sees_only_their_tokens_and_cannot_revoke_anyone_elses(app_db):
    admin_id, admin_token = tokens.create(app_db, "admin", "admin script", actor="admin")
    tokens.create(app_db, VIEWER, "mine", actor=VIEWER)
    at = as_viewer()
    assert not at.exception
    assert len(at.dataframe) == 1 and table(at)["label"].tolist() == ["mine"]
    assert "user" not in table(at).columns
    assert "All users' tokens" not in [s.value for s in at.subheader]
    [choice] = [s for s in at.selectbox if s.key == "api_token_mine_revoke_id"]
    assert choice.options == [f"mine ({table(at)['prefix'][0]}…)"]
    with pytest.raises(users.UserError, match=f"no token {admin_id} of yours"):
        tokens.revoke(app_db, admin_id, actor=VIEWER, actor_role="viewer")
    assert tokens.authenticate(app_db, admin_token) is not None


def test_an_admin_sees_everyones_tokens_and_revokes_any(app_db):
    vera_id, vera_token = tokens.create(app_db, VIEWER, "vera's feed", actor=VIEWER)
    tokens.create(app_db, "admin", "ops", actor="admin")
    at = open_page("api_tokens")
    assert not at.exception
    assert "All users' tokens" in [s.value for s in at.subheader]
    assert table(at, 0)["label"].tolist() == ["ops"]  # the admin's own
    everyone = table(at, 1)
    assert sorted(zip(everyone["user"], everyone["label"], strict=True)) == [("admin", "ops"), (VIEWER, "vera's feed")]
    at = revoke(at, "api_token_all", vera_id)
    assert not at.exception and not at.error
    assert shown(at.success[0].value).startswith("Revoked vera: vera's feed (mdk_")
    assert tokens.authenticate(app_db, vera_token) is None
    assert table(at, 1).set_index("label").loc["vera's feed", "state"] == "revoked"
    listed = tokens.list_tokens(app_db, VIEWER)
    assert listed["revoked_by"].tolist() == ["admin"]
    [(actor, details)] = audit_rows(app_db, "api_token_revoked")
    assert actor == "admin" and details == {"user": VIEWER, "token_id": vera_id}


def test_a_bad_expiry_or_label_is_a_message_and_makes_no_token(app_db):
    yesterday = clock.now().date() - timedelta(days=1)
    at = create(as_viewer(), "too late", expires=yesterday)
    assert not at.exception and [shown(e.value) for e in at.error] == ["The expiry must be in the future."]
    assert shown_tokens(at) == []
    at = create(at, "   ")
    assert "A token label is 1 to 64 printable characters." in messages(at) and shown_tokens(at) == []
    assert tokens.list_tokens(app_db, VIEWER).empty


def test_a_token_with_an_expiry_shows_it(app_db):
    until = clock.now().date() + timedelta(days=30)
    at = create(as_viewer(), "month", expires=until)
    assert not at.error and len(shown_tokens(at)) == 1
    assert table(at)["expires_at"][0].date() == until


PAYLOAD = "[SIGN-IN](HTTPS://EV.IL) <img src=x onerror=alert(1)> :red[R]"  # 62 characters


def assert_shown_as_text(at: AppTest, expected: str) -> None:
    bodies = markdown_bodies(at)
    assert any(shown(body) == expected for body in bodies), bodies  # the label was shown...
    for body in bodies:  # ...as text
        html = RENDER.render(body)
        assert "<a " not in html and "<img" not in html, f"{body!r} renders as {html!r}"
        assert PAYLOAD not in body


def test_a_label_with_markdown_and_html_is_shown_as_text(app_db):
    at = create(as_viewer(), PAYLOAD)
    assert not at.exception and len(shown_tokens(at)) == 1
    assert_shown_as_text(at, f"Created the token {PAYLOAD}.")
    assert table(at)["label"][0] == PAYLOAD  # a table cell is text already
    token_id = int(tokens.list_tokens(app_db, VIEWER)["id"][0])
    at = revoke(at, "api_token_mine", token_id)
    assert not at.exception
    assert_shown_as_text(at, f"Revoked {PAYLOAD} ({table(at)['prefix'][0]}…).")
