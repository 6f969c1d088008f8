"""`python -m ingestion worker`: seed the universe, then run a queue worker (ingestion/queue.py) until stopped."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from ingestion import queue
from ingestion.config import IngestionConfig
from ingestion.sample import ensure_universe
from store.settings import Settings


def run_worker(engine: sa.Engine, settings: Settings, config: IngestionConfig, *, once: bool = False) -> int:
    """Serve the job queue until SIGTERM/SIGINT; with `once`, queue what is due, run the queue dry, and exit."""
    ensure_universe(engine, settings.sample_data_dir)
    return asyncio.run(queue.serve(settings, config, once=once))
