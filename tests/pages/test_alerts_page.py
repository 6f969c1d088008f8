"""The Alerts and Alert history pages: channels (secret shown once, send test), rules (refused with the reason,
tested on the stored data, saved, disabled), the history of what fired and a resend."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook
from streamlit.testing.v1 import AppTest

from dashboard.access import users
from store import tables
from tests.support.app import frame, messages, open_page
from tests.support.receiver import Receiver

VIEWER, PASSWORD = "vera", "vera-password-1"


@pytest.fixture
def app_db(app_on, make_sample_database):
    engine = app_on(make_sample_database(), ALERT_WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    users.add_user(engine, VIEWER, "viewer", PASSWORD)
    return engine


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def alerts_page() -> AppTest:
    return open_page("alert_rules", username=VIEWER, password=PASSWORD)


def click(at: AppTest, label: str) -> AppTest:
    [found] = [b for b in at.button if b.label == label]
    return found.click().run()


def add_channel(at: AppTest, url: str) -> AppTest:
    at.selectbox(key="alert_channel_kind").select("webhook")
    at.text_input(key="alert_channel_target").input(url)
    at.text_input(key="alert_channel_label").input("desk hook")
    return click(at, "Add channel")


def secrets_shown(at: AppTest) -> list[str]:
    return [c.value for c in at.code if c.value.startswith("whsec_")]


def test_a_channel_shows_its_secret_once_and_a_test_verifies(app_db, receiver):
    at = add_channel(alerts_page(), receiver.url)
    assert not at.exception and not at.error
    [secret] = secrets_shown(at)
    assert "shown this once" in messages(at)
    channels = frame(at, "disabled_reason")
    assert channels["label"].tolist() == ["desk hook"] and "secret" not in channels.columns
    at = click(at, "Send test")
    assert "Delivered: status 200" in messages(at)
    assert secrets_shown(at) == []  # any later run has forgotten it
    [request] = receiver.requests
    assert Webhook(secret).verify(request.body, request.headers)["type"] == "alert.test"


def test_a_private_address_is_refused_with_the_reason(app_db):
    at = add_channel(alerts_page(), "http://10.1.2.3/hook")
    assert "private address" in messages(at) and not at.exception
    with app_db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.alert_channels)).scalar_one() == 0


def rule_form(at: AppTest, target: str, when: str) -> AppTest:
    at.text_input(key="ar_target_None").input(target)
    at.text_input(key="ar_when_None").input(when)
    return at


def test_rules_are_refused_tested_saved_and_disabled(app_db, receiver):
    at = add_channel(alerts_page(), receiver.url)
    at = click(rule_form(at, "AAPL", "close abve **100**"), "Save rule")
    assert "close abve **100**" in messages(at)  # the reason, with the text echoed as plain text
    assert not any("<strong>" in e.proto.body for e in at.error)
    at = click(rule_form(at, "AAPL", "new 52-week high"), "Test this rule now")
    assert "It would have fired" in messages(at) or "would have fired" in "\n".join(c.value for c in at.caption)
    hits = frame(at, "detail")
    assert list(hits.columns) == ["observed", "value", "threshold", "detail"] and len(hits) > 0
    at = click(rule_form(at, "AAPL", "close above 100"), "Save rule")
    assert "saved" in messages(at) and not at.exception
    rules = frame(at, "condition")
    assert rules["condition"].tolist() == ["close above 100"] and rules["enabled"].tolist() == [True]
    assert rules["channels"].tolist() == ["desk hook (webhook)"]
    at = at.button(key="alert_rule_toggle").click().run()
    assert "disabled" in messages(at)
    with app_db.connect() as conn:
        assert conn.execute(sa.select(tables.alert_rules.c.enabled)).scalar_one() is False


def test_history_lists_what_fired_and_sends_it_again(app_db, receiver):
    at = add_channel(alerts_page(), receiver.url)
    at = click(at, "Send test")
    history = open_page("alert_history", username=VIEWER, password=PASSWORD)
    assert not history.exception and not history.error
    events = frame(history, "fired_at")
    assert events["target"].tolist() == ["test"] and events["delivered"].tolist() == [1]
    attempts = frame(history, "webhook_id")
    assert attempts["status"].tolist() == [200] and attempts["state"].tolist() == ["delivered"]
    history = click(history, "Send again")
    assert "queued again" in messages(history)
    with app_db.connect() as conn:
        assert conn.execute(sa.select(tables.alert_deliveries.c.state)).scalar_one() == "pending"
