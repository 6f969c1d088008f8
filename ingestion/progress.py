"""How a run reports its progress: a no-op base the CLI (a bar) and a queued task (its task_progress row) extend.

Its own module, without pandas: the worker's parent process (ingestion.queue) imports it, the jobs never run there.
"""

from __future__ import annotations


class Progress:
    """Progress of a job over its requests; the CLI shows a bar, a queued task stores it for the page."""

    def start(self, job: str, total: int) -> None:  # noqa: B027 - a no-op by default
        pass

    def grow(self, more: int) -> None:  # noqa: B027 - fallback passes add requests
        pass

    def advance(self, note: str, rows: int = 0) -> None:  # noqa: B027
        pass

    def close(self) -> None:  # noqa: B027
        pass
