"""`python -m ingestion worker`: a small parent process that serves the job queue (ingestion/queue.py) until stopped.

It never loads pandas, pyarrow, exchange_calendars or the provider libraries: each heavy task runs in a child
(ingestion/horse.py), and so does the start-up: a first child checks the production settings, migrates the schema,
seeds the universe and prints the NYSE session table the schedule's gates read (store.sessions).
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from ingestion import horse, queue
from ingestion.config import IngestionConfig
from store.sessions import SessionTable
from store.settings import Settings


def run_worker(
    engine: sa.Engine,
    settings: Settings,
    config: IngestionConfig,
    *,
    once: bool = False,
    command: list[str] | None = None,
) -> int:
    """Serve the job queue until SIGTERM/SIGINT; with `once`, queue what is due, run the queue dry, and exit.

    `command` starts a child (default `python -m ingestion`, its subcommand appended). Returns the exit status: the
    set-up child's when it failed (its message is on stderr already).
    """
    command = list(command or horse.default_command())
    url = engine.url.render_as_string(hide_password=False)
    setup = horse.call([*command, "worker-setup"], env=horse.child_env(url))
    if not setup.ok or not isinstance(setup.result, dict):
        return setup.returncode if setup.returncode > 0 else 1
    queue.use_sessions(SessionTable.from_json(setup.result))
    return asyncio.run(queue.serve(settings, config, once=once, command=command))
