"""`python -m dashboard doctor`: is this deployment fit to serve? One line per check, non-zero exit on a failure.

Run it before a deploy (settings, database, schema) and after (workers, data, queue). A FAIL is something that
keeps the desk from working (settings refused in production, the database unreachable, the schema behind); a
WARN is something that degrades it (a provider without its key, no live worker, stale data, a queue backlog,
failed tasks): the same reasons /healthz reports as "degraded". `--strict` fails on warnings too. No line
ever shows a secret: settings errors name the setting, database errors are redacted.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

from alembic.script import ScriptDirectory

Level = Literal["ok", "WARN", "FAIL"]


@dataclass(frozen=True)
class Check:
    level: Level
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.level:<4}  {self.name}: {self.detail}"


def run_checks() -> list[Check]:
    """Every check in order; a failure that makes later checks meaningless ends the list there."""
    from store.settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        return [Check("FAIL", "settings", str(exc))]
    checks = [_production(settings)]

    from store.db import (
        DatabaseUnavailable,
        alembic_config,
        current_revision,
        describe_url,
        get_engine,
        wait_for_database,
    )
    from store.errors import first_line

    try:
        engine = get_engine()
        wait_for_database(engine, attempts=2)
    except (DatabaseUnavailable, Exception) as exc:  # noqa: BLE001 - any failure to reach it is the finding
        return [*checks, Check("FAIL", "database", first_line(exc))]
    where = "embedded (local development)" if settings.uses_embedded_database else describe_url(engine.url)
    checks.append(Check("ok", "database", f"reachable at {where}"))

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    current = current_revision(engine)
    if current != head:
        detail = f"at {current or 'no schema'}, head is {head}: run `python -m ingestion migrate` (or start the app)"
        return [*checks, Check("FAIL", "migrations", detail)]
    checks.append(Check("ok", "migrations", f"at head ({head})"))

    from ingestion.providers.registry import disabled_providers

    disabled = disabled_providers(settings)
    for provider, reason in disabled.items():
        checks.append(Check("WARN", f"provider {provider}", f"off: {reason}"))
    if not disabled:
        checks.append(Check("ok", "providers", "every provider is configured"))

    from dashboard.web.health import degraded_reasons, probe
    from ingestion import queue_reads

    try:
        facts = probe(engine, settings)
        with engine.connect() as conn:
            failed = queue_reads.failed_tasks(conn, limit=1000)
    except Exception as exc:  # noqa: BLE001 - report it, as the health check would
        return [*checks, Check("FAIL", "database", f"reads failed: {first_line(exc)}")]
    reasons = degraded_reasons(facts, settings)
    checks.append(
        Check("ok", "workers", f"{facts['live_workers']} live")
        if facts["live_workers"]
        else Check("WARN", "workers", reasons.pop(0))
    )
    stale = [r for r in reasons if r.startswith(("data older", "no price data"))]
    checks.append(
        Check("WARN", "data", stale[0])
        if stale
        else Check("ok", "data", f"latest bar {facts['latest_bar_date']} (expected {facts['expected_bar_date']})")
    )
    checks.extend(Check("WARN", "provider circuit", r) for r in reasons if r.startswith("provider "))
    backlog = [r for r in reasons if r.startswith("queue backlog")]
    waiting = facts["queue"]["waiting"]
    checks.append(Check("WARN", "queue", backlog[0]) if backlog else Check("ok", "queue", f"{waiting} task(s) waiting"))
    if failed:
        checks.append(Check("WARN", "failed tasks", f"{len(failed)} (retry them on the Data health page)"))
    return checks


def _production(settings) -> Check:  # noqa: ANN001 - a Settings
    from store.settings import ConfigError

    try:
        settings.model_copy(update={"app_env": "production"}).check_production()
    except ConfigError as exc:
        reason = str(exc).removeprefix("Refusing to start in production: ")
        if settings.is_production:
            return Check("FAIL", "settings", reason)
        return Check("WARN", "settings", f"fine for development; production would refuse: {reason}")
    mode = "production" if settings.is_production else "development"
    return Check("ok", "settings", f"valid ({mode}; the production rules pass)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="exit non-zero on warnings too")
    args = parser.parse_args(argv)
    from store.logs import setup_logging

    setup_logging()
    checks = run_checks()
    for check in checks:
        print(check.line())
    failed = [c for c in checks if c.level == "FAIL" or (args.strict and c.level == "WARN")]
    print(
        f"{len(checks)} check(s): {sum(c.level == 'ok' for c in checks)} ok, "
        f"{sum(c.level == 'WARN' for c in checks)} warning(s), {sum(c.level == 'FAIL' for c in checks)} failure(s)"
    )
    return 1 if failed else 0
