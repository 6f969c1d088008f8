"""One settings object for the app, the ingestion worker and the CLI: environment, then `.env`, then defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Values that people paste from examples; a production deployment must never run with them.
PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "changethis",
        "secret",
        "password",
        "admin",
        "example",
        "your-secret-here",
        "replace-me",
    }
)


class ConfigError(RuntimeError):
    """The configuration cannot run in the current environment; the message says what to change."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    app_env: Literal["development", "production", "test"] = "development"
    # Render sets RENDER=true on every service; treat that as production whatever APP_ENV says.
    render: bool = False

    database_url: SecretStr | None = None
    data_dir: Path = PROJECT_ROOT / ".data"
    sample_data_dir: Path = PROJECT_ROOT / "data" / "sample"
    load_sample_on_empty: bool = True

    auth_secret: SecretStr | None = None
    terminal_user: str = "admin"
    terminal_password: SecretStr | None = None

    cache_ttl_seconds: int = Field(default=300, ge=0)
    healthz_db_timeout_ms: int = Field(default=80, ge=10)
    db_connect_retries: int = Field(default=30, ge=1)
    log_level: str = "INFO"

    alphavantage_api_key: SecretStr | None = None
    fred_api_key: SecretStr | None = None
    alphavantage_base_url: str = "https://www.alphavantage.co"
    fred_base_url: str = "https://api.stlouisfed.org"

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalise_database_url(cls, value: object) -> object:
        """Render and Heroku hand out `postgres://`; SQLAlchemy wants an explicit dialect and driver."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        raw = raw.strip()
        for prefix in ("postgres://", "postgresql://"):
            if raw.startswith(prefix):
                return "postgresql+psycopg2://" + raw[len(prefix) :]
        if not raw.startswith("postgresql+"):
            raise ValueError("DATABASE_URL must start with postgres:// or postgresql://")
        return raw

    @property
    def is_production(self) -> bool:
        return self.app_env == "production" or self.render

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def check_production(self) -> None:
        """Refuse to run in production with weak or missing secrets."""
        if not self.is_production:
            return
        problems = []
        secret = self.auth_secret.get_secret_value() if self.auth_secret else ""
        if len(secret) < 32 or secret.lower() in PLACEHOLDER_SECRETS:
            problems.append("AUTH_SECRET must be set to a random value of at least 32 characters")
        password = self.terminal_password.get_secret_value() if self.terminal_password else ""
        if not password or password.lower() in PLACEHOLDER_SECRETS:
            problems.append("TERMINAL_PASSWORD must be set (and not to a placeholder such as 'changeme')")
        if self.database_url is None:
            problems.append("DATABASE_URL must be set (the embedded database is for local development)")
        if problems:
            raise ConfigError("Refusing to start in production: " + "; ".join(problems) + ".")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
