"""Errors the access layer raises for the person who asked (one class, shared by users and tokens)."""

from __future__ import annotations


class UserError(ValueError):
    """A user operation that cannot be done; the message says why, in words for the person who asked."""
