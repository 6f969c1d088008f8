"""Work horses: the worker's parent process stays small and runs each heavy task in a short-lived child process.

The parent (the queue's worker loop in ingestion.queue: Procrastinate, psycopg, SQLAlchemy, croniter) never imports
pandas, pyarrow, numpy, exchange_calendars or the provider libraries. A task that needs them (an ingestion job, a
bundled load, the saved indices' levels) runs in `python -m ingestion task-run ...`, a child that exits when its
task ends, as RQ's work horses do: what the task allocated goes back to the system with it, and an idle worker holds
only the parent (about a third of a worker that imports everything).

Parent side: `run` starts a child and waits for it (a line `task-result: <json>` on its stdout is the task's return
value; other output is passed on); `terminate_all` relays a stop: SIGTERM to every child, then SIGKILL once the
grace period is over. A task cancelled while its child runs (the job aborted, the worker stopping) does the same for
its child before the cancellation goes on.

Child side: `become_child` makes the child die with the worker that started it (Linux's PR_SET_PDEATHSIG: a worker
killed with SIGKILL leaves no orphan still writing while the queue hands its task to another worker) and turns
SIGTERM and SIGINT into `stop_requested`, which the job checks between batches (it ends there and records what it did).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The pid of the worker that started a child: the child checks it is still its parent once it asked to die with it.
WORKER_PID_ENV = "MARKET_DESK_WORKER_PID"
RESULT_PREFIX = "task-result: "
PROJECT_ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_LINE_LIMIT = 16 * 1024 * 1024  # a result line (the session table is about 30 KiB)
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}

stop_requested = threading.Event()  # child side: set by SIGTERM/SIGINT; the running job ends between batches


def default_command() -> list[str]:
    """How the worker starts a child: this interpreter, `-m ingestion`, then the subcommand."""
    return [sys.executable, "-m", "ingestion"]


@dataclass
class Outcome:
    """How a child ended: its exit status (negative: the signal that killed it), the result it printed, and whether
    the parent asked it to stop (SIGTERM) or killed it (SIGKILL after the grace period)."""

    returncode: int
    result: Any = None
    terminated: bool = False
    killed: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        if self.returncode >= 0:
            return f"exited with status {self.returncode}"
        try:
            name = signal.Signals(-self.returncode).name
        except ValueError:
            name = f"signal {-self.returncode}"
        return f"was killed by {name}" + (" after the stop grace period" if self.killed else "")


# -- parent side --------------------------------------------------------------------------------------


class _Child:
    """A running child and its stop: SIGTERM now, SIGKILL when `grace` seconds have passed since."""

    def __init__(self, process: asyncio.subprocess.Process, grace: float) -> None:
        self.process, self.grace = process, grace
        self.terminated = self.killed = False
        self._timer: asyncio.TimerHandle | None = None

    def _signal(self, signum: int) -> None:
        if self.process.returncode is None:  # not reaped yet: the pid is still this child's
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def terminate(self) -> None:
        if self.terminated or self.process.returncode is not None:
            return
        self.terminated = True
        log.info("asking task child %d to stop (SIGKILL in %g s)", self.process.pid, self.grace)
        self._signal(signal.SIGTERM)
        self._timer = asyncio.get_running_loop().call_later(self.grace, self.kill)

    def kill(self) -> None:
        if self.process.returncode is None:
            self.killed = True
            log.warning("task child %d did not stop in time; killing it", self.process.pid)
            self._signal(signal.SIGKILL)

    def forget(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


_children: set[_Child] = set()


def terminate_all() -> None:
    """Ask every running child to stop (the worker is stopping): SIGTERM, then SIGKILL after its grace period.
    Call from the event loop's thread."""
    for child in list(_children):
        child.terminate()


def running_children() -> list[int]:
    """The pids of the children running now."""
    return [child.process.pid for child in _children]


async def run(argv: list[str], *, env: dict[str, str], grace: float) -> Outcome:
    """Run `argv` as a child, pass its output on, and wait for it.

    Cancelled while the child runs, it stops the child first (SIGTERM; SIGKILL after `grace` seconds), waits for it
    to end, then lets the cancellation go on. Start children from the event loop's thread only: the parent-death
    signal fires when the thread that started the child ends, and the loop's thread lives as long as the worker.
    """
    # The child starts with SIGTERM and SIGINT blocked (the mask is inherited): one sent before it has installed its
    # handler waits instead of killing it mid-start; `become_child` unblocks them.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, env=env, cwd=PROJECT_ROOT, limit=_LINE_LIMIT
        )
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    child = _Child(process, grace)
    _children.add(child)
    result: list[Any] = []
    relay = asyncio.create_task(_relay(process, result), name=f"task child {process.pid} output")
    try:
        try:
            await process.wait()
        except asyncio.CancelledError:
            child.terminate()
            try:
                await asyncio.shield(process.wait())
            except asyncio.CancelledError:  # cancelled again: no more waiting
                child.kill()
                raise
            raise
    finally:
        _children.discard(child)
        child.forget()
        await asyncio.shield(relay)  # the pipe ends with the child (kept even when cancelled: its last lines)
    return Outcome(process.returncode or 0, result[-1] if result else None, child.terminated, child.killed)


async def _relay(process: asyncio.subprocess.Process, result: list[Any]) -> None:
    assert process.stdout is not None
    async for raw in process.stdout:
        line = raw.decode(errors="replace")
        if line.startswith(RESULT_PREFIX):
            try:
                result.append(json.loads(line[len(RESULT_PREFIX) :]))
            except ValueError:
                log.warning("task child %d printed an unreadable result", process.pid)
        else:
            sys.stdout.write(line)
            sys.stdout.flush()


def call(argv: list[str], *, env: dict[str, str]) -> Outcome:
    """Run a child to its end from synchronous code (the worker's start, before its event loop); its stderr is the
    worker's, its result is the `task-result:` line of its stdout."""
    done = subprocess.run(argv, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True, check=False)  # noqa: S603
    result = None
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
        else:
            print(line, flush=True)
    return Outcome(done.returncode, result)


def child_env(database_url: str) -> dict[str, str]:
    """A child's environment: the worker's, the database it resolved (the embedded one too: a child never starts
    its own), and the worker's pid."""
    return {**os.environ, "DATABASE_URL": database_url, WORKER_PID_ENV: str(os.getpid()), "PYTHONUNBUFFERED": "1"}


def print_result(result: Any) -> None:
    """Child side: hand the task's return value to the parent (the last line of stdout). The task is over: a stop sent
    from now on is held back (the interpreter's shutdown restores the default action, which would kill the child
    and turn a finished task into a failed one)."""
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


# -- child side ---------------------------------------------------------------------------------------


def become_child() -> None:
    """In a child, first thing: die with the worker (when one started it), and stop between batches on SIGTERM/SIGINT
    (the parent relays a stop or an abort; a Ctrl-C in the worker's terminal reaches the child too)."""
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _stop_handler)
    signal.pthread_sigmask(
        signal.SIG_UNBLOCK, _STOP_SIGNALS
    )  # blocked by `run` until now: a stop sent meanwhile arrives
    expected = os.environ.get(WORKER_PID_ENV)
    if not expected:
        return  # run by hand
    _die_with_parent()
    if os.getppid() != int(expected):
        # The worker died before the child could ask to die with it: nobody waits for this child.
        os._exit(3)


def _stop_handler(signum: int, frame: object) -> None:
    stop_requested.set()  # nothing else here (no logging): the job notices between batches and says so


def _die_with_parent() -> None:
    """SIGKILL this process when its parent ends (Linux; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as exc:
        log.warning("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)
