"""How strong a password or a signing secret must be: one rule for the settings, the users page and the CLI.

Passwords: at least MIN_PASSWORD_LENGTH characters and a zxcvbn score of at least MIN_PASSWORD_SCORE (zxcvbn
estimates how many guesses an attacker needs, from dictionaries, keyboard patterns, repeats and sequences).
Signing secrets (AUTH_SECRET): at least 32 characters, not a placeholder, and at least 10^30 guesses (about
100 bits); a value Render generates or `secrets.token_urlsafe(32)` gives is far above that.
"""

from __future__ import annotations

MIN_PASSWORD_LENGTH = 10
MIN_PASSWORD_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline slow-hash scenario"
MIN_SECRET_LENGTH = 32
MIN_SECRET_GUESSES_LOG10 = 30
# zxcvbn's cost grows with the input; the first characters decide a weak value anyway.
_ESTIMATE_CHARS = 100


def password_problem(password: str, user_inputs: list[str] | None = None) -> str | None:
    """Why `password` is too weak (one sentence for the person choosing it), or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"A password needs at least {MIN_PASSWORD_LENGTH} characters."
    from zxcvbn import zxcvbn  # its dictionaries take about 14 MiB: loaded by the processes that check a password

    estimate = zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=[u for u in (user_inputs or []) if u])
    if estimate["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = estimate.get("feedback") or {}
    hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
    detail = " ".join(h.strip() for h in hints if h and h.strip())
    return "This password is too easy to guess." + (f" {detail}" if detail else "")


def secret_problem(secret: str) -> str | None:
    """Why a signing secret is too weak (never quoting it), or None."""
    if len(secret) < MIN_SECRET_LENGTH:
        return f"must be at least {MIN_SECRET_LENGTH} characters long"
    if len(set(secret)) < 10:
        return "is made of too few distinct characters to be random"
    from zxcvbn import zxcvbn

    if zxcvbn(secret[:_ESTIMATE_CHARS])["guesses_log10"] < MIN_SECRET_GUESSES_LOG10:
        return "is too predictable (use a random value: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    return None
