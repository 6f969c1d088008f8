"""An empty database (no sample loaded) gives clear messages on every page, never an exception."""

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import startup
from store.db import reset_engine
from store.settings import get_settings
from tests.conftest import ROOT, use_database
from tests.dashboard.test_app import log_in


@pytest.fixture
def empty_app(monkeypatch, empty_database_url):
    use_database(monkeypatch, empty_database_url, LOAD_SAMPLE_ON_EMPTY="false")
    startup.run_startup()
    st.cache_data.clear()
    yield
    st.cache_data.clear()
    startup._state.phase = "not started"
    reset_engine()
    get_settings.cache_clear()


def test_overview_on_an_empty_database_says_so(empty_app):
    at = log_in(AppTest.from_file(str(ROOT / "dashboard" / "router.py"), default_timeout=30).run())
    assert not at.exception
    assert any("No price data stored yet" in w.value for w in at.warning)
    assert len(at.dataframe) == 0
