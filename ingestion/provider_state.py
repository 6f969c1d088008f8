"""Provider state that outlives the worker's short-lived task processes, in PostgreSQL.

The worker runs each task in a child process (ingestion/horse.py) that builds its providers afresh, so what a
provider's guard learnt would die with the child. Two things are kept:

- `provider_state` (`DatabaseGuardMemory`, a `GuardMemory`): one row per provider, its circuit breaker (state,
  consecutive failures, when it opened), the end of a daily-limit window and the day's requests against its local
  daily budget. A guard reads its row when it is built and writes it when one of these changes. Shared by every
  worker: the limits are the provider's (or the API key's), not one process's. Last writer wins.
- the counters (requests, calls, retries, errors by kind) that /metrics reads from each worker's heartbeat row
  (`details["providers"]`, one `ProviderGuard.state()` per provider): a child adds what its guards counted to its
  worker's row when its task ends (`record_worker_providers`), so a worker's counters still run from its start.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from store import tables
from store.errors import first_line

log = logging.getLogger(__name__)

_COUNTERS = ("requests", "calls", "retries")


class DatabaseGuardMemory:
    """A guard's memory in the provider_state table; a database error is logged, never raised into a provider call."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def load(self, provider: str) -> dict[str, Any] | None:
        t = tables.provider_state
        try:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(t).where(t.c.provider == provider)).mappings().first()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("%s: remembered state not read: %s", provider, first_line(exc))
            return None
        if row is None:
            return None
        return {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in row.items() if k != "provider"}

    def save(self, provider: str, state: dict[str, Any]) -> None:
        t = tables.provider_state
        values = {
            "circuit": state["circuit"],
            "failures": state["failures"],
            "opened_at": state.get("opened_at"),
            "disabled_until": state.get("disabled_until"),
            "day": state.get("day"),
            "day_requests": state.get("day_requests"),
        }
        statement = pg_insert(t).values(provider=provider, **values)
        statement = statement.on_conflict_do_update(
            index_elements=["provider"], set_={**values, "updated_at": sa.func.now()}
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(statement)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("%s: state not remembered: %s", provider, first_line(exc))


def merged_states(before: list[Any], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A worker's provider states once a task's guards (`after`, counting from zero) are added to `before`: counters
    and errors summed, the circuit, consecutive failures and disabled_until as the task left them."""
    merged = {s["provider"]: dict(s) for s in before if isinstance(s, dict) and isinstance(s.get("provider"), str)}
    for state in after:
        old = merged.get(state["provider"])
        if old is None:
            merged[state["provider"]] = dict(state)
            continue
        new = dict(state)
        for name in _COUNTERS:
            new[name] = _count(old.get(name)) + _count(state.get(name))
        errors = (
            {k: _count(v) for k, v in (old.get("errors") or {}).items()} if isinstance(old.get("errors"), dict) else {}
        )
        for kind, count in (state.get("errors") or {}).items():
            errors[kind] = errors.get(kind, 0) + _count(count)
        new["errors"] = errors
        merged[state["provider"]] = new
    return sorted(merged.values(), key=lambda s: s["provider"])


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def record_worker_providers(engine: sa.Engine, worker_id: str, states: list[dict[str, Any]]) -> bool:
    """Add a task's provider states to its worker's heartbeat row (`details["providers"]`); False when the worker has
    no row (yet) or the database refused. The row is locked while it is read and written: two children of one worker
    (WORKER_CONCURRENCY > 1) add in turn; the worker's own beat keeps this key (it merges its keys into `details`)."""
    if not states:
        return True
    hb = tables.worker_heartbeats
    try:
        with engine.begin() as conn:
            row = conn.execute(sa.select(hb.c.details).where(hb.c.worker_id == worker_id).with_for_update()).first()
            if row is None:
                return False
            details = row.details if isinstance(row.details, dict) else {}
            before = details.get("providers")
            providers = before if isinstance(before, list) else []
            details = {**details, "providers": merged_states(providers, states)}
            conn.execute(hb.update().where(hb.c.worker_id == worker_id).values(details=details))
    except sa.exc.SQLAlchemyError as exc:
        log.warning("provider counters not added to worker %s's heartbeat: %s", worker_id, first_line(exc))
        return False
    return True
