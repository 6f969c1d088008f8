"""Admin actions as pages call them: on the app's database, by the signed-in admin, each one audited."""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboard.access import audit, tokens, users
from store.db import get_engine


def list_users() -> pd.DataFrame:
    return users.list_users(get_engine())


def add_user(username: str, role: str, *, actor: str, client_ip: str | None) -> str:
    return users.add_user(get_engine(), username, role, actor=actor, client_ip=client_ip)


def reset_password(username: str, *, actor: str, client_ip: str | None) -> str:
    return users.reset_password(get_engine(), username, actor=actor, client_ip=client_ip)


def set_active(username: str, active: bool, *, actor: str, client_ip: str | None) -> None:
    users.set_active(get_engine(), username, active, actor=actor, client_ip=client_ip)


def set_role(username: str, role: str, *, actor: str, client_ip: str | None) -> None:
    users.set_role(get_engine(), username, role, actor=actor, client_ip=client_ip)


def audit_entries(action: str | None = None, username: str | None = None, limit: int = 500) -> pd.DataFrame:
    return audit.recent(get_engine(), limit=limit, action=action, username=username)


def create_token(
    username: str, label: str, expires: date | None, *, actor: str, client_ip: str | None
) -> tuple[int, str]:
    return tokens.create(get_engine(), username, label, expires, actor=actor, client_ip=client_ip)


def list_tokens(username: str | None = None) -> pd.DataFrame:
    return tokens.list_tokens(get_engine(), username)


def revoke_token(token_id: int, *, actor: str, actor_role: str, client_ip: str | None) -> bool:
    return tokens.revoke(get_engine(), token_id, actor=actor, actor_role=actor_role, client_ip=client_ip)
