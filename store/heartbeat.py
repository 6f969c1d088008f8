"""When a worker counts as gone: the one staleness rule for its heartbeat (health check, pages, CLI)."""

from __future__ import annotations

# A worker that missed this many beats in a row is gone or stuck (the supervisor restarts a dead one).
STALE_AFTER_BEATS = 3


def stale_after_seconds(beat_interval_seconds: float) -> float:
    return STALE_AFTER_BEATS * beat_interval_seconds


def worker_status(state: str, beat_age_seconds: float, beat_interval_seconds: float) -> str:
    """The worker's own state (idle, running, stopping, stopped), or `stale` when its beats stopped coming."""
    if state != "stopped" and beat_age_seconds > stale_after_seconds(beat_interval_seconds):
        return "stale"
    return state
