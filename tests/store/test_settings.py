"""Settings: URL normalisation and the production refusals."""

import subprocess
import sys

import pytest

from store import redaction
from store.settings import ConfigError, Settings, load_settings
from store.strength import password_problem, secret_problem
from tests.conftest import ROOT

STRONG = "Jm3v9Qx_7LrT2sWpZ0eK5uYhN8bCdA4gF6iO1"  # what secrets.token_urlsafe(28) looks like


def make(**values) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    "given",
    [
        "postgres://u:p@db.example:5432/desk",
        "postgresql://u:p@db.example:5432/desk",
        "postgresql+psycopg2://u:p@db.example:5432/desk",
    ],
)
def test_database_url_accepts_both_forms(given):
    assert make(database_url=given).database_url.get_secret_value() == "postgresql+psycopg2://u:p@db.example:5432/desk"


def test_database_url_rejects_other_schemes():
    with pytest.raises(ValueError, match="postgres://"):
        make(database_url="mysql://u:p@h/db")


def test_empty_database_url_means_embedded():
    settings = make(database_url="")
    assert settings.uses_embedded_database
    assert settings.embedded_pgdata == settings.data_dir / "pgdata"


def test_development_needs_no_secrets():
    make().check_production()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"auth_secret": "short", "terminal_password": "a-good-password"}, "AUTH_SECRET"),
        ({"auth_secret": STRONG}, "TERMINAL_PASSWORD"),
        ({"auth_secret": STRONG, "terminal_password": "changeme"}, "TERMINAL_PASSWORD"),
        ({"auth_secret": "changeme", "terminal_password": "a-good-password"}, "AUTH_SECRET"),
        # Long enough but not random: 32 spaces, 32 a's, a sequence (each was accepted before).
        ({"auth_secret": " " * 32, "terminal_password": "a-good-password"}, "AUTH_SECRET"),
        ({"auth_secret": "a" * 32, "terminal_password": "a-good-password"}, "AUTH_SECRET .* distinct characters"),
        ({"auth_secret": "abcdefghijklmnopqrstuvwxyz012345", "terminal_password": "k9#Tq2!vLm"}, "too predictable"),
        # Ten characters and common: the length rule alone let these in.
        ({"auth_secret": STRONG, "terminal_password": "1234567890"}, "TERMINAL_PASSWORD is not strong enough"),
        ({"auth_secret": STRONG, "terminal_password": "Password12"}, "very common password"),
    ],
)
def test_production_refuses_weak_or_missing_secrets(values, message):
    settings = make(app_env="production", database_url="postgres://u:p@h/db", **values)
    with pytest.raises(ConfigError, match=message) as excinfo:
        settings.check_production()
    for value in values.values():
        if len(value) > 8:
            assert value not in str(excinfo.value)


def test_running_on_render_is_production(monkeypatch):
    monkeypatch.setenv("RENDER", "true")
    settings = Settings(_env_file=None)
    assert settings.is_production
    with pytest.raises(ConfigError, match="AUTH_SECRET"):
        settings.check_production()


def test_production_with_strong_secrets_starts():
    make(
        app_env="production",
        database_url="postgres://u:p@h/db",
        auth_secret=STRONG,
        terminal_password="s3cret-pass-phrase",
    ).check_production()


@pytest.mark.parametrize("value", ["Production", "PRODUCTION", " production "])
def test_app_env_is_production_in_any_case(value):
    assert make(app_env=value).is_production


@pytest.mark.parametrize(
    ("password", "ok"),
    [("aaaaaaaaaa", False), ("password12", False), ("short1!", False), ("s3cret-pass-phrase", True)],
)
def test_one_password_rule_with_a_reason(password, ok):
    problem = password_problem(password)
    assert (problem is None) is ok
    if not ok:
        assert problem and password not in problem


def test_a_generated_secret_is_strong():
    import secrets

    assert secret_problem(secrets.token_urlsafe(32)) is None


def test_a_bad_setting_is_one_line_naming_it_never_its_value(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://u:Secr3tPw99xyz@db/app")
    monkeypatch.setenv("CACHE_TTL_SECONDS", "soon")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message and "Secr3tPw99xyz" not in message and "mysql://" not in message
    assert "DATABASE_URL: DATABASE_URL must start with postgres:// or postgresql://" in message
    assert "CACHE_TTL_SECONDS:" in message and "soon" not in message


def test_the_app_prints_the_settings_error_in_one_line_and_exits_2(tmp_path):
    """As a deploy would see it: `streamlit_app.py` refuses before binding the port, with no traceback."""
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "mysql://u:Secr3tPw99xyz@db/app", "HOME": str(tmp_path)}
    code = "import runpy; runpy.run_path('streamlit_app.py', run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603
    assert result.returncode == 2
    assert "Secr3tPw99xyz" not in result.stderr + result.stdout and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: Invalid configuration: DATABASE_URL:")


def test_loading_the_settings_registers_the_secrets_for_redaction(monkeypatch):
    monkeypatch.setenv("FRED_API_KEY", "fredkey0123456789")
    load_settings()
    assert redaction.redact("GET /fred?api_key=fredkey0123456789 failed") == "GET /fred?api_key=*** failed"
    assert redaction.redact("token fredkey0123456789 echoed") == "token *** echoed"
    assert redaction.redact("https://x/query?function=X&apikey=OTHER123&symbol=IBM") == (
        "https://x/query?function=X&apikey=***&symbol=IBM"
    )


def test_environment_overrides_dotenv(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("TERMINAL_USER=from-dotenv\nCACHE_TTL_SECONDS=7\n")
    monkeypatch.setenv("TERMINAL_USER", "from-env")
    settings = Settings(_env_file=env_file)
    assert settings.terminal_user == "from-env"
    assert settings.cache_ttl_seconds == 7
