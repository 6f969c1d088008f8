"""AppTest: the login gate in front of every page, and the Overview on the real sample data."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import TEST_PASSWORD
from tests.support.app import PAGE_FILES, ROUTER, frame, log_in, page, shown, texts


def test_logged_out_session_gets_only_the_login_form(ready_app):
    at = AppTest.from_file(ROUTER, default_timeout=30).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert len(at.dataframe) == 0
    assert "Overview" not in texts(at)


@pytest.mark.parametrize("page", PAGE_FILES, ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_page_file_protects_itself(ready_app, page):
    """Run a page file directly, bypassing the router: it must show the login form and nothing else."""
    at = AppTest.from_file(page, default_timeout=30).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert len(at.dataframe) == 0 and len(at.title) == 1 and at.title[0].value == "Market Desk"


def test_wrong_password_is_refused_with_a_generic_message(ready_app):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run(), password="not-the-password")
    assert not at.exception
    assert [shown(e.value) for e in at.error] == ["Invalid username or password."]
    assert len(at.dataframe) == 0
    at = log_in(at, username="nobody", password=TEST_PASSWORD)
    assert [shown(e.value) for e in at.error] == ["Invalid username or password."]


def test_login_shows_the_overview_with_real_data(ready_app):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    assert not at.exception
    assert at.title[0].value == "Overview"
    table = at.dataframe[0].value
    assert len(table) == 35
    aapl = table.set_index("symbol").loc["AAPL"]
    assert aapl["last"] == pytest.approx(275.15, abs=0.005)  # SOURCES.md: AAPL last close 275.15
    assert str(aapl["as_of"]) == "2026-06-25"
    assert "bundled sample dataset" in texts(at) and "2026-06-25" in texts(at)


def test_sign_out_returns_to_the_login_form(ready_app):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    at.sidebar.button[0].click().run()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert len(at.dataframe) == 0


def test_data_health_page_lists_runs(ready_app):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    at.switch_page(page("data_health")).run()
    assert not at.exception
    assert at.title[0].value == "Data health"
    coverage, runs = frame(at, "dataset"), frame(at, "rows_written")
    assert set(coverage["dataset"]) == {"daily bars", "macro observations"}
    assert "success" in set(runs["status"])


def test_database_down_shows_a_message_not_a_traceback(ready_app, monkeypatch, pg_server_url):
    from sqlalchemy.engine import make_url

    from store import db

    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    dead = make_url(pg_server_url).set(host="127.0.0.1", port=1, query={}).render_as_string(hide_password=False)
    monkeypatch.setattr(db, "_engine", db.create_db_engine(dead))
    import streamlit as st

    st.cache_data.clear()
    at.run()
    assert not at.exception
    assert any("127.0.0.1:1" in shown(e.value) and "not answering" in shown(e.value) for e in at.error)
