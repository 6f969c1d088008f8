"""Cached reads for the pages, one module per area; every query is SQLAlchemy Core with bound parameters.

Cache keys include `data_version()` (the id of the latest finished ingestion run), so a new run
invalidates cached results at once; the TTL bounds staleness for anything else.
"""

from dashboard.queries.core import (  # noqa: F401 - the package's public surface
    TTL,
    coverage,
    data_version,
    freshness,
    ingestion_runs,
    instruments,
    recent_closes,
)
