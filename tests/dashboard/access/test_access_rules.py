"""Access control rules without Streamlit: lockout timing, client IP, signed values, production refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.access import sessions
from dashboard.access.client_ip import resolve_client_ip, trusted_hops
from dashboard.access.lockout import locked_until
from dashboard.web.auth_routes import safe_next
from store.settings import ConfigError, Settings, is_placeholder
from tests.conftest import ROOT

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def at(*minutes: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in minutes]


def test_five_failures_within_the_window_lock_for_the_window_after_the_fifth():
    assert locked_until(at(0, 1, 2, 3), 5, WINDOW) is None
    assert locked_until(at(0, 1, 2, 3, 4), 5, WINDOW) == T0 + timedelta(minutes=19)
    assert locked_until(at(0, 1, 2, 3, 20), 5, WINDOW) is None  # spread wider than the window
    assert locked_until(at(0, 5, 10, 15, 15), 5, WINDOW) == T0 + timedelta(minutes=30)  # exactly 15 min apart


@given(st.lists(st.integers(min_value=0, max_value=120), max_size=30), st.integers(min_value=0, max_value=140))
def test_lockout_rule_matches_its_definition(minutes, now):
    """At time `now` (only failures up to now exist), locked iff 5 failures lie within 15 minutes of each other
    and the last of them happened less than 15 minutes ago."""
    probe = T0 + timedelta(minutes=now)
    times = sorted(t for t in at(*minutes) if t <= probe)
    expected = any(times[i] - times[i - 4] <= WINDOW and probe < times[i] + WINDOW for i in range(4, len(times)))
    until = locked_until(times, 5, WINDOW)
    assert (until is not None and probe < until) == expected


@pytest.mark.parametrize(
    ("header", "peer", "hops", "expected"),
    [
        # On Render: `<client as Cloudflare saw it>, <Cloudflare edge as Render's proxy saw it>`.
        (["198.51.100.7, 104.22.17.40"], "10.21.157.68", 2, "198.51.100.7"),
        # A client-written prefix is ignored: only the entries the two proxies appended count.
        (["6.6.6.6, 198.51.100.7, 104.22.17.40"], "10.21.157.68", 2, "198.51.100.7"),
        (["6.6.6.6", "198.51.100.7, 104.22.17.40"], "10.21.157.68", 2, "198.51.100.7"),  # repeated header
        (["104.22.17.40"], "10.0.0.1", 2, "104.22.17.40"),  # fewer entries than proxies: the leftmost
        ([], "10.0.0.1", 2, "10.0.0.1"),
        (["not-an-ip, 104.22.17.40"], "10.0.0.1", 2, None),
        # Not behind a known proxy: the header is anyone's to write, so only the socket peer counts.
        (["6.6.6.6"], "203.0.113.5", 0, "203.0.113.5"),
        ([], None, 0, None),
        (["2001:db8::1, 104.22.17.40"], "10.0.0.1", 2, "2001:db8::1"),
        # A dual-stack socket reports an IPv4 client as IPv4-mapped IPv6: stored (and shown) as IPv4.
        ([], "::ffff:7f00:1", 0, "127.0.0.1"),
        (["::ffff:198.51.100.7, 104.22.17.40"], "10.0.0.1", 2, "198.51.100.7"),
    ],
)
def test_client_ip_trusts_only_what_the_proxies_appended(header, peer, hops, expected):
    assert resolve_client_ip(header, peer, hops) == expected


def test_addresses_are_shown_as_people_read_them():
    from dashboard.access.client_ip import shown_address

    assert shown_address("::ffff:7f00:1") == "127.0.0.1"
    assert shown_address("::FFFF:C633:6407") == "198.51.100.7"
    assert shown_address("2001:db8::1") == "2001:db8::1"
    assert shown_address(None) is None and shown_address("") == ""
    assert shown_address("not-an-ip") == "not-an-ip"  # an old row is shown as stored, never an error


def test_trusted_hops_default_to_render_layout_only_on_render():
    assert trusted_hops(Settings(_env_file=None)) == 0
    assert trusted_hops(Settings(_env_file=None, render=True)) == 2
    assert trusted_hops(Settings(_env_file=None, render=True, forwarded_for_hops=1)) == 1


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/data-health", "/data-health"),
        ("/ticker?symbol=AAPL", "/ticker?symbol=AAPL"),
        ("", "/"),
        (None, "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("data-health", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
    ],
)
def test_redirect_targets_stay_on_the_site(target, expected):
    assert safe_next(target) == expected


def test_signed_values_refuse_tampering_and_other_purposes(monkeypatch):
    from store.settings import get_settings

    monkeypatch.setenv("AUTH_SECRET", "a" * 40)
    get_settings.cache_clear()
    cookie = sessions.sign_cookie("tok")
    assert sessions.read_cookie(cookie) == "tok"
    assert sessions.read_cookie(cookie + "x") is None
    assert sessions.read_cookie("tok") is None
    code = sessions.logout_code("tok")
    assert sessions.read_cookie(code) is None  # a logout code is not a cookie
    assert sessions.read_logout_code(cookie) is None  # and a cookie is not a logout code
    monkeypatch.setenv("AUTH_SECRET", "b" * 40)  # a different secret: nothing signed before verifies
    get_settings.cache_clear()
    assert sessions.read_cookie(cookie) is None
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "value",
    ["changeme", "CHANGE_ME", "change-me-please-to-something-random", "your-secret-key-here", "placeholder" * 4],
)
def test_known_placeholders_are_recognised(value):
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["a-good-password", "s3cret-pass-phrase", "Xq7-vLp2-zR9k-wT4m"])
def test_chosen_values_are_not_placeholders(value):
    assert not is_placeholder(value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"auth_secret": "changeme-changeme-changeme-changeme-1"}, "AUTH_SECRET"),
        ({"auth_secret": "your-secret-key-here-at-least-32-chars!"}, "AUTH_SECRET"),
        ({"terminal_password": "admin"}, "TERMINAL_PASSWORD"),
        ({"terminal_password": "Password123"}, "TERMINAL_PASSWORD"),
        ({"terminal_user": "deskadmin", "terminal_password": "DeskAdmin"}, "TERMINAL_PASSWORD"),  # = user name
        ({"terminal_password": "short-pw"}, "at least 10 characters"),
    ],
)
def test_production_refuses_placeholders_defaults_and_short_passwords(values, message):
    base = {"auth_secret": "k" * 40, "terminal_password": "a-long-chosen-pass", "database_url": "postgres://u:p@h/db"}
    settings = Settings(_env_file=None, app_env="production", **{**base, **values})
    with pytest.raises(ConfigError, match=message) as excinfo:
        settings.check_production()
    for value in values.values():
        if len(value) > 8:
            assert value not in str(excinfo.value)


def test_xsrf_protection_stays_on():
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert "enableXsrfProtection = true" in config


def test_tables_have_no_unaudited_browser_export():
    """Streamlit reads the project's config as the app does; a table's built-in CSV button would bypass the audit."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True
