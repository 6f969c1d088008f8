"""On-demand ingestion from the dashboard (admin actions): the same job path the worker runs."""

from __future__ import annotations

import logging

from ingestion.jobs import JobRequest, JobResult, run_job
from ingestion.providers.registry import macro_chain
from store.db import get_engine
from store.settings import get_settings

log = logging.getLogger(__name__)


def fetch_series_now(series_id: str) -> tuple[bool, str]:
    """Run the macro job for one FRED id at once; returns (ok, a message for the user).

    Uses the live macro providers (FRED with a key, then the keyless fredgraph CSV) under the job's
    advisory lock, exactly as the scheduled run would; failures are recorded in ingestion_runs.
    """
    providers = macro_chain(get_settings())
    if not providers:
        return False, "No live macro provider is enabled (set FRED_API_KEY); the series waits for one."
    result: JobResult = run_job(get_engine(), JobRequest(job="macro", items=[series_id]), providers)
    if result.status == "skipped":
        return False, "Another macro run is in progress; the series will be fetched by it or the next one."
    if result.status == "failed":
        reasons = "; ".join(f"{k}: {v}" for k, v in result.failures.items())[:400]
        log.warning("fetch now of %s failed: %s", series_id, reasons)
        return False, f"{series_id} could not be fetched now ({reasons}). The next macro run will try again."
    return True, f"{series_id}: {result.rows_written} observation(s) written (run {result.run_id}, {result.status})."
