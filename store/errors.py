"""Turning exceptions into the one line a person reads (UI messages, run records, logs)."""

from __future__ import annotations


def first_line(exc: BaseException | object) -> str:
    """The first non-blank line of an exception's text (the driver's cause for SQLAlchemy errors), or its type.

    Never raises, whatever the exception holds: it is called inside the handlers meant to show a friendly message.
    """
    cause = getattr(exc, "orig", None) or exc
    try:
        text = str(cause)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break error handling
        text = ""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return type(cause).__name__
