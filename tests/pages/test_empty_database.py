"""An empty database (no sample loaded) gives clear messages on every page, never an exception."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.app import ROUTER, log_in


@pytest.fixture
def empty_app(app_on, empty_database_url):
    app_on(empty_database_url, LOAD_SAMPLE_ON_EMPTY="false")


def test_overview_on_an_empty_database_says_so(empty_app):
    at = log_in(AppTest.from_file(ROUTER, default_timeout=30).run())
    assert not at.exception
    assert any("No price data stored yet" in w.value for w in at.warning)
    assert len(at.dataframe) == 0
