"""Start the ingestion worker as a child process of the app, restart it with backoff when it dies, stop it on exit.

The worker is a separate OS process so a crash, a hang in a provider library or a memory blow-up never
takes the dashboard down; the app only watches it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from store import clock

log = logging.getLogger(__name__)

# Tells the worker which process started it: it stops when that process is no longer its parent.
PARENT_ENV = "MARKET_DESK_SUPERVISOR_PID"

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SupervisorState:
    status: str = "not started"  # not started | waiting | running | backoff | stopped
    pid: int | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    started_at: float | None = None
    history: list[int] = field(default_factory=list)  # exit codes, most recent last (bounded)


class WorkerSupervisor:
    """Runs `command` (default `python -m ingestion worker`) and keeps it running.

    `ready()` gates the first start (the app's own start-up must have migrated the database); `env()`
    gives the child's environment (e.g. the embedded database URL the app resolved). Restart delays
    double from `base_delay` up to `max_delay` and reset once the child has run for `stable_after`.
    """

    def __init__(
        self,
        *,
        command: list[str] | None = None,
        env: Callable[[], dict[str, str]] | None = None,
        ready: Callable[[], bool] | None = None,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        stable_after: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.command = command or [sys.executable, "-m", "ingestion", "worker"]
        self._env = env or (lambda: {})
        self._ready = ready or (lambda: True)
        self.base_delay, self.max_delay, self.stable_after = base_delay, max_delay, stable_after
        self.stop_timeout = stop_timeout
        self.state = SupervisorState()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="worker-supervisor", daemon=True)
            self._thread.start()

    def _spawn(self) -> subprocess.Popen:
        env = {**os.environ, **self._env(), PARENT_ENV: str(os.getpid()), "PYTHONUNBUFFERED": "1"}
        # Its own session: a Ctrl-C in the app's terminal reaches the app, which then stops the worker in order.
        return subprocess.Popen(self.command, cwd=PROJECT_ROOT, env=env, start_new_session=True)  # noqa: S603

    def _loop(self) -> None:
        self.state.status = "waiting"
        while not self._stop.is_set() and not self._ready():
            self._stop.wait(0.5)
        failures = 0
        while not self._stop.is_set():
            try:
                process = self._spawn()
            except OSError as exc:
                log.error("could not start the ingestion worker: %s", exc)
                process = None
            started = time.monotonic()
            if process is not None:
                with self._lock:
                    self._process = process
                self.state.status, self.state.pid, self.state.started_at = "running", process.pid, clock.epoch_seconds()
                log.info("ingestion worker started (pid %d)", process.pid)
                while process.poll() is None and not self._stop.is_set():
                    self._stop.wait(0.5)
                if self._stop.is_set():
                    break
                code = process.returncode
                self.state.last_exit_code = code
                self.state.history = [*self.state.history[-9:], code]
            if time.monotonic() - started >= self.stable_after:
                failures = 0
            delay = min(self.max_delay, self.base_delay * 2**failures)
            failures += 1
            self.state.restarts += 1
            self.state.status, self.state.pid = "backoff", None
            log.warning(
                "ingestion worker exited (code %s); restarting in %.1f s",
                self.state.last_exit_code,
                delay,
            )
            self._stop.wait(delay)
        self.state.status = "stopped"

    def stop(self) -> None:
        """Stop the worker (SIGTERM, then SIGKILL after `stop_timeout`) and the supervising thread."""
        self._stop.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("ingestion worker did not stop within %.0f s; killing it", self.stop_timeout)
                process.kill()
                process.wait(5)
        if self._thread is not None:
            self._thread.join(5)
        self.state.status, self.state.pid = "stopped", None


_supervisor: WorkerSupervisor | None = None


def start_embedded_worker(ready: Callable[[], bool], database_url: Callable[[], str]) -> WorkerSupervisor | None:
    """Called by the app's lifespan: start the supervised worker unless WORKER_ENABLED is false.

    `ready` gates the first start (the app has migrated the database); `database_url` is the database the app
    resolved (the embedded one included), which the child uses instead of starting its own.
    """
    global _supervisor
    from store.settings import get_settings

    if not get_settings().worker_enabled:
        log.info("WORKER_ENABLED is false: the app does not run the ingestion worker")
        return None
    _supervisor = WorkerSupervisor(env=lambda: {"DATABASE_URL": database_url()}, ready=ready)
    _supervisor.start()
    return _supervisor


def stop_embedded_worker() -> None:
    global _supervisor
    if _supervisor is not None:
        _supervisor.stop()
        _supervisor = None


def embedded_worker_state() -> SupervisorState | None:
    return _supervisor.state if _supervisor is not None else None
