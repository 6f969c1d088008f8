"""Keeping the app's memory from growing with its sessions (benchmarks/memory.py measures it).

- pyarrow (pandas' strings, Streamlit's tables) allocates through the C library's malloc, not its default
  mimalloc pool, which holds on to freed pages: about 90 MiB less held after 10 sessions on the heavy pages.
- Streamlit keeps a session's widget metadata for every widget the session ever drew, and a widget's callback
  or format function keeps its page's globals alive (the frames the page computed): every page a session
  visited stays in memory until the session ends. `forget_stale_widgets` drops the metadata of widgets the
  run did not draw, as Streamlit drops their values at the end of the run.
- glibc keeps freed memory inside its arenas; `malloc_trim` every few seconds gives it back to the system.
- A page's globals and the functions it defines refer to each other, so what a run computed is freed only by the
  cyclic collector, whose full passes are rare: 10 sessions on the Index page grew the app by 400 MiB (170 with it).
  `RunCollector` runs a full pass after page runs, at most one a second: Streamlit's own after every run
  (runner.postScriptGC, now off) took a fifth of the app's time under 10 sessions re-running Risk (py-spy), each
  pass holding the GIL while the other sessions' runs waited; one pass frees what every run since the last one
  left. `freeze_warm_heap` (at start-up, once the pages' modules are imported) moves the process's long-lived
  objects out of the collector's view, so a pass walks only what sessions created since (about 0.1 s otherwise).
- Every page run in flight holds its frames (reads, copies out of st.cache_data, figures): 10 sessions re-running
  the heaviest pages at once held about 310 MiB more than the same sessions between runs. `RunSlots` lets
  PAGE_RUNS_AT_ONCE runs go at once (default 2: the GIL runs one Python thread at a time, so more at once only
  interleave, each finishing later); the others wait their turn, and a run that waited too long goes anyway.
"""

from __future__ import annotations

import ast
import ctypes
import ctypes.util
import gc
import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
TRIM_SECONDS = 5.0
COLLECT_SECONDS = 1.0

_trimmer: threading.Thread | None = None


def use_system_arrow_pool() -> str:
    """pyarrow's default pool: the one ARROW_DEFAULT_MEMORY_POOL names, else the system allocator. Returns it.

    The variable is also set, so the worker the app starts inherits the choice."""
    import pyarrow as pa

    if os.environ.get(ARROW_POOL_VARIABLE):
        return pa.default_memory_pool().backend_name  # pyarrow read the variable itself
    os.environ[ARROW_POOL_VARIABLE] = "system"
    pa.set_memory_pool(pa.system_memory_pool())
    return "system"


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    return getattr(libc, "malloc_trim", None)  # glibc only


def start_trimmer(every: float = TRIM_SECONDS) -> bool:
    """Start (once) a daemon thread returning glibc's free memory to the system every `every` s; False without
    glibc. A trim takes about 15 ms on a 500 MiB heap, outside the GIL."""
    global _trimmer
    trim = _malloc_trim()
    if trim is None:
        return False
    if _trimmer is None:

        def run() -> None:
            while True:
                threading.Event().wait(every)
                trim(0)

        _trimmer = threading.Thread(target=run, name="malloc-trim", daemon=True)
        _trimmer.start()
    return True


def imported_by(scripts: Iterable[Path]) -> list[str]:
    """The modules `scripts` import at their top level (absolute imports; for `from a import b`, `a` and, when it is
    a module, `a.b`), sorted."""
    names: set[str] = set()
    for script in scripts:
        for node in ast.parse(script.read_text(), str(script)).body:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(names)


def freeze_warm_heap(scripts: Iterable[Path]) -> int:
    """Import what `scripts` (the pages) import, collect, then move every object left into the collector's permanent
    generation (`gc.freeze`): modules, classes and functions live as long as the process, and a full collection
    no longer walks them. Returns how many objects were frozen."""
    for name in imported_by(scripts):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            continue  # `from a import b` where b is a name, not a module
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def forget_stale_widgets() -> int:
    """At the end of a completed script run: drop the widget metadata of widgets this run did not draw (their
    values Streamlit drops right after). Returns how many; 0 outside a script run or on a Streamlit whose
    internals differ (then nothing is dropped)."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    try:
        drawn = ctx.shared.widget_ids_this_run.snapshot()  # type: ignore[union-attr]
        state = ctx.session_state._state  # type: ignore[union-attr]
        metadata = state._new_widget_state.widget_metadata
        lock = ctx.session_state._lock  # type: ignore[union-attr]
    except AttributeError:
        return 0
    with lock:
        stale = [widget for widget in metadata if widget not in drawn]
        for widget in stale:
            del metadata[widget]
    return len(stale)


class RunSlots:
    """At most `limit` page runs at once; `slot()` waits up to `wait_seconds` for one, then runs without (a stuck
    run never blocks the others for good). The wait is logged when it is long."""

    def __init__(self, limit: int, wait_seconds: float = 30.0) -> None:
        self.limit, self.wait_seconds = limit, wait_seconds
        self._free = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Yields whether a slot was taken (False: waited `wait_seconds` and ran anyway)."""
        taken = self._free.acquire(timeout=self.wait_seconds)
        if not taken:
            log.warning(
                "a page run waited %.0f s for one of %d run slots; running anyway", self.wait_seconds, self.limit
            )
        try:
            yield taken
        finally:
            if taken:
                self._free.release()


_slots: RunSlots | None = None
_slots_lock = threading.Lock()


@contextmanager
def page_run_slot() -> Iterator[bool]:
    """One of this process's PAGE_RUNS_AT_ONCE page-run slots for the duration of a page run."""
    global _slots
    with _slots_lock:
        if _slots is None:
            from store.settings import get_settings

            _slots = RunSlots(get_settings().page_runs_at_once)
    try:
        with _slots.slot() as taken:
            yield taken
    finally:  # a run that ended early (st.stop, an exception) left garbage too
        if _collector is not None:
            _collector.ran()


class RunCollector:
    """Full collections (`collect(2)`) for page runs: `ran()` after a run; the thread collects `every` seconds later,
    once for every run that ended meanwhile, so at most one pass each `every` seconds under load, and an idle app's
    last runs still freed within `every` seconds."""

    def __init__(self, every: float = COLLECT_SECONDS, collect: Callable[[int], object] = gc.collect) -> None:
        self.every, self._collect = every, collect
        self.collections = 0
        self._due = threading.Event()
        self._thread = threading.Thread(target=self._run, name="run-collector", daemon=True)
        self._thread.start()

    def ran(self) -> None:
        self._due.set()

    def _run(self) -> None:
        while True:
            self._due.wait()
            threading.Event().wait(self.every)  # runs ending meanwhile share this pass
            self._due.clear()
            self._collect(2)
            self.collections += 1


_collector: RunCollector | None = None
_collector_lock = threading.Lock()


def start_collector(every: float = COLLECT_SECONDS) -> RunCollector:
    """Start (once) the process's RunCollector, which page runs then notify (`page_run_slot`); the served app does
    this at start-up, with runner.postScriptGC off (.streamlit/config.toml)."""
    global _collector
    with _collector_lock:
        if _collector is None:
            _collector = RunCollector(every)
    return _collector
