"""Secret values never leave the process in text: one redaction for log lines, provider errors and run records.

`register` is called with the configured secrets (API keys, AUTH_SECRET, passwords, the database password)
when the settings are read; `redact` replaces each of them, and any `api_key=` / `apikey=` / `token=` query
value, by `***`. Provider errors are redacted where they are created (providers/base.ProviderError), so a run
record, a page or a CLI line built from them cannot leak what an upstream echoed back.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

MASK = "***"
_QUERY_SECRET = re.compile(r"(?i)\b(api_?key|apikey|access_token|token|password)=([^&\s'\"<>]+)")
_secrets: list[str] = []
_lock = threading.Lock()


def register(values: Iterable[str | None]) -> None:
    """Add secret values to redact (values shorter than 4 characters would mask ordinary text and are ignored)."""
    global _secrets
    with _lock:
        merged = set(_secrets) | {v for v in values if v and len(v) >= 4}
        _secrets = sorted(merged, key=len, reverse=True)  # longest first: a secret containing another stays whole


def redact(text: str) -> str:
    """`text` with every registered secret and every secret-looking query value masked."""
    if not text:
        return text
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)


def registered() -> int:
    """How many secret values are registered (for tests and the doctor command)."""
    return len(_secrets)
