"""One settings object for the app, the ingestion worker and the CLI: environment, then `.env`, then defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.redaction import register as register_secrets
from store.strength import password_problem, secret_problem

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
        # Compared after lower-casing and dropping everything but letters and digits (see is_placeholder).
        "changethisplease",
        "replaceme",
        "yoursecrethere",
        "yoursecretkey",
        "yoursecretkeyhere",
        "secretkey",
        "mysecret",
        "supersecret",
        "supersecretkey",
        "placeholder",
        "default",
        "todo",
        "xxx",
        "test",
        "password1",
        "password123",
        "admin123",
        "letmein",
        "qwerty",
        "123456",
        "12345678",
        "generateme",
        "setme",
    }
)
# Words that never occur in a generated secret but do in the placeholders of examples and templates.
PLACEHOLDER_WORDS = ("changeme", "changethis", "replaceme", "yoursecret", "placeholder", "insertsecret", "generateme")


def is_placeholder(value: str) -> bool:
    """A value copied from an example rather than chosen: exact known placeholders, or a placeholder word in it."""
    normalised = "".join(ch for ch in value.lower() if ch.isalnum())
    if value.strip().lower() in PLACEHOLDER_SECRETS or normalised in PLACEHOLDER_SECRETS:
        return True
    return any(word in normalised for word in PLACEHOLDER_WORDS)


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
    # The S&P 500 demo bundle (`python -m ingestion load-sample --dataset sp500`), never loaded by itself.
    sp500_data_dir: Path = PROJECT_ROOT / "data" / "sp500"
    # The option-chain demo bundle (`python -m ingestion load-sample --dataset options`, or the Options page).
    options_data_dir: Path = PROJECT_ROOT / "data" / "options"
    load_sample_on_empty: bool = True

    auth_secret: SecretStr | None = None
    terminal_user: str = "admin"
    terminal_password: SecretStr | None = None
    # Access control (issue 4): signed session cookie lifetime, and the login lockout rule.
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: float = Field(default=15, gt=0)
    # How many proxies in front of the app append to X-Forwarded-For; the client is the entry the outermost
    # one appended. None: 2 on Render (Cloudflare, then Render's proxy), 0 elsewhere (use the socket peer).
    forwarded_for_hops: int | None = Field(default=None, ge=0, le=10)

    cache_ttl_seconds: int = Field(default=300, ge=0)
    # The read API (/api/v1): requests a minute per personal token (held in PostgreSQL, across processes).
    api_requests_per_minute: int = Field(default=120, ge=1, le=100_000)
    # An answer of at least this many rows is an export: written to the audit log (who, endpoint, rows, parameters).
    api_audit_rows: int = Field(default=5_000, ge=1)
    # N of the Index page's default universe, the top N by market cap (the equal-weight top-100 tracker we replace).
    index_size: int = Field(default=100, ge=1, le=600)
    # Macro page: a spread below zero for fewer sessions than this is a blip, not an inversion (the page's default).
    inversion_min_sessions: int = Field(default=5, ge=1, le=260)
    # /healthz (dashboard/web/health.py): a background check every N s with a client-side deadline; 503 after
    # several failed checks in a row or when the status is older than the limit (Render's own timeout is 5 s).
    healthz_refresh_seconds: float = Field(default=2.0, gt=0)
    healthz_check_timeout_seconds: float = Field(default=2.0, gt=0, le=4.5)
    healthz_max_age_seconds: float = Field(default=15.0, gt=0)
    healthz_failures_before_503: int = Field(default=3, ge=1)
    # "degraded" (still 200): a task due longer than this waits in the queue, or bars behind the last session
    # closed this many hours ago (the prices job runs at 17:15 New York: 3 h covers its run).
    healthz_backlog_seconds: float = Field(default=600.0, gt=0)
    bars_grace_hours: float = Field(default=3.0, ge=0)
    db_connect_retries: int = Field(default=30, ge=1)
    log_level: str = "INFO"

    alphavantage_api_key: SecretStr | None = None
    fred_api_key: SecretStr | None = None
    alphavantage_base_url: str = "https://www.alphavantage.co"
    fred_base_url: str = "https://api.stlouisfed.org"

    # Page runs at once in one app process; more sessions wait their turn (dashboard/web/memory.py): the GIL runs
    # one at a time anyway, and each run in flight holds its frames, so this bounds the memory 10 sessions take.
    page_runs_at_once: int = Field(default=2, ge=1, le=64)
    # The ingestion worker (a separate process the app starts and supervises; see ingestion/supervisor.py).
    worker_enabled: bool = True
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    # How long a stop waits for the running job to reach the end of a batch (the supervisor kills after 15 s).
    worker_stop_grace_seconds: float = Field(default=10.0, ge=0)
    # The job queue (ingestion/queue.py, Procrastinate on this database): worker concurrency, how often a worker
    # beats, after how long without a beat its running task is taken over by another worker.
    worker_concurrency: int = Field(default=1, ge=1, le=16)
    queue_heartbeat_seconds: float = Field(default=10.0, gt=0)
    queue_stalled_seconds: float = Field(default=60.0, gt=0)
    queue_stalled_check_seconds: float = Field(default=30.0, gt=0)
    # A task that raises (not a provider error: those fail per item) is tried 3 times, after this wait x 5^n.
    queue_retry_seconds: float = Field(default=5.0, gt=0)
    # Operations: /metrics behind a bearer token when set; logs as one JSON object per line (`json`), readable
    # lines (`text`), or `auto` (JSON unless the output is a terminal).
    metrics_token: SecretStr | None = None
    log_format: Literal["auto", "json", "text"] = "auto"
    # Provider politeness (ingestion/providers/resilience.py): budgets, retries, circuit breaker.
    yfinance_enabled: bool = True
    provider_timeout_seconds: float = Field(default=20.0, gt=0)
    provider_retry_attempts: int = Field(default=4, ge=1)
    provider_retry_max_wait_seconds: float = Field(default=120.0, ge=0)  # total sleep across retries
    provider_backoff_initial_seconds: float = Field(default=1.0, ge=0)
    provider_rate_wait_seconds: float = Field(default=90.0, ge=0)  # longest wait for a rate-budget slot
    circuit_fail_max: int = Field(default=5, ge=1)
    circuit_reset_seconds: float = Field(default=300.0, gt=0)
    yahoo_requests_per_minute: int = Field(default=120, ge=1)  # one request per ticker in a batch
    yahoo_batch_size: int = Field(default=50, ge=1)
    yahoo_max_concurrency: int = Field(default=2, ge=1)
    # The `options` job: the underlyings whose chains are snapshotted each session (comma-separated; SPY,AAPL by
    # default, the demo bundle's), and how far out: expiries within this many days (one Yahoo request each).
    options_underlyings: str = "SPY,AAPL"
    options_max_days: int = Field(default=120, ge=1, le=800)
    # Dividend yield for option pricing when no dividend is stored for the underlying over the last year.
    options_default_dividend_yield: float = Field(default=0.0, ge=0.0, le=0.2)
    alphavantage_requests_per_minute: int = Field(default=5, ge=1)
    alphavantage_requests_per_day: int = Field(default=25, ge=1)
    alphavantage_premium: bool = False  # use TIME_SERIES_DAILY_ADJUSTED (a premium endpoint)
    fred_requests_per_minute: int = Field(default=120, ge=1)
    # Keyless FRED fallback (public graph CSV): observations only, no series metadata.
    fred_graph_enabled: bool = True
    fred_graph_base_url: str = "https://fred.stlouisfed.org"
    # Alerts (alerts/): outbound webhooks and Slack only to public addresses, except the hosts listed here
    # (comma-separated names or IPs, e.g. "127.0.0.1" in tests or an internal receiver you trust).
    alert_webhook_allowed_hosts: str = ""
    # A failed delivery is tried again after these waits in seconds (the Standard Webhooks schedule: immediately,
    # 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), each with up to 10% jitter; then it is marked failed.
    alert_retry_schedule: str = "0,5,300,1800,7200,18000,36000,36000"
    alert_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    # How often a worker looks for due alert deliveries.
    alert_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # After a webhook secret is rotated, the previous one still signs (both signatures are sent) for this long.
    alert_secret_grace_hours: float = Field(default=24.0, ge=0)
    # Links in alert messages point here (e.g. https://desk.example.com); empty: relative links.
    app_base_url: str = ""
    # The email channel: an SMTP server (STARTTLS on by default; credentials when the server asks for them).
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "alerts@localhost"

    @field_validator("app_env", mode="before")
    @classmethod
    def _normalise_app_env(cls, value: object) -> object:
        """APP_ENV=Production or PRODUCTION is production too."""
        return value.strip().lower() if isinstance(value, str) else value

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
    def alert_allowed_hosts(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.alert_webhook_allowed_hosts.split(",") if h.strip())

    @property
    def alert_retry_waits(self) -> tuple[float, ...]:
        return tuple(float(w) for w in self.alert_retry_schedule.split(",") if w.strip())

    @field_validator("alert_retry_schedule")
    @classmethod
    def _check_retry_schedule(cls, value: str) -> str:
        try:
            waits = [float(w) for w in value.split(",") if w.strip()]
        except ValueError:
            raise ValueError("must be comma-separated seconds, e.g. 0,5,300") from None
        if not waits or any(w < 0 for w in waits):
            raise ValueError("must list at least one wait, none negative")
        return value

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
        if not secret or is_placeholder(secret):
            problems.append("AUTH_SECRET must be set to a random value of at least 32 characters (not a placeholder)")
        elif (weak := secret_problem(secret)) is not None:
            problems.append(f"AUTH_SECRET {weak}")
        password = self.terminal_password.get_secret_value() if self.terminal_password else ""
        if not password or is_placeholder(password) or password.strip().lower() == self.terminal_user.strip().lower():
            problems.append(
                "TERMINAL_PASSWORD must be set (not to a placeholder such as 'changeme', nor to the user name)"
            )
        elif (weak := password_problem(password, [self.terminal_user])) is not None:
            problems.append(f"TERMINAL_PASSWORD is not strong enough: {weak}")
        if self.database_url is None:
            problems.append("DATABASE_URL must be set (the embedded database is for local development)")
        if problems:
            raise ConfigError("Refusing to start in production: " + "; ".join(problems) + ".")


def secret_values(settings: Settings) -> list[str]:
    """The configured secrets (and the database password), for redaction."""
    values = [
        s.get_secret_value()
        for s in (
            settings.auth_secret,
            settings.terminal_password,
            settings.alphavantage_api_key,
            settings.fred_api_key,
            settings.metrics_token,
            settings.smtp_password,
        )
        if s is not None
    ]
    if settings.database_url is not None:
        from sqlalchemy.engine import make_url

        password = make_url(settings.database_url.get_secret_value()).password
        if password:
            values.append(str(password))
    return values


def load_settings() -> Settings:
    """The settings from the environment; ConfigError with one line per bad setting, naming it, never its value."""
    try:
        settings = Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error.get("loc", ())).upper() or "a setting"
            message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
            lines.append(f"{name}: {message}")
        raise ConfigError("Invalid configuration: " + "; ".join(lines) + ".") from None
    register_secrets(secret_values(settings))
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
