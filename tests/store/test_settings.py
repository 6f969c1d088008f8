"""Settings: URL normalisation and the production refusals."""

import pytest

from store.settings import ConfigError, Settings

STRONG = "x" * 40


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


def test_environment_overrides_dotenv(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("TERMINAL_USER=from-dotenv\nCACHE_TTL_SECONDS=7\n")
    monkeypatch.setenv("TERMINAL_USER", "from-env")
    settings = Settings(_env_file=env_file)
    assert settings.terminal_user == "from-env"
    assert settings.cache_ttl_seconds == 7
