"""dashboard/web/memory.py: the allocators' settings, and the widget metadata a run did not draw forgotten."""

import os
import threading
import time
from collections.abc import Callable

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.web import memory


@pytest.fixture
def arrow_pool():
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_arrow_uses_the_system_allocator_unless_the_variable_chooses(monkeypatch, arrow_pool):
    monkeypatch.delenv(memory.ARROW_POOL_VARIABLE, raising=False)
    assert memory.use_system_arrow_pool() == "system"
    assert pa.default_memory_pool().backend_name == "system"
    # The worker the app starts inherits the choice.
    assert os.environ[memory.ARROW_POOL_VARIABLE] == "system"

    pa.set_memory_pool(pa.mimalloc_memory_pool())
    monkeypatch.setenv(memory.ARROW_POOL_VARIABLE, "mimalloc")
    assert memory.use_system_arrow_pool() == "mimalloc"
    assert pa.default_memory_pool().backend_name == "mimalloc"


def test_the_trimmer_starts_once():
    assert memory.start_trimmer(every=60.0)
    thread = memory._trimmer
    assert thread is not None and thread.is_alive() and thread.daemon
    assert memory.start_trimmer(every=60.0) and memory._trimmer is thread


def page_script() -> None:
    import streamlit as st
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    from dashboard.web import memory

    if st.session_state.get("heavy", True):
        frames = [0.0] * 1000  # a global of the script, as a page's frames are
        # A format function closes over the script's globals, as a page's callbacks do.
        st.selectbox("Pick", [1, 2], key="pick", format_func=lambda v: f"{v} of {len(frames)}")
    else:
        st.checkbox("Other", key="other")
    st.session_state["forgotten"] = memory.forget_stale_widgets()
    # Streamlit's own record of the widgets (what kept the page's globals alive).
    st.session_state["kept"] = sorted(get_script_run_ctx().session_state._state._new_widget_state.widget_metadata)


def test_a_page_left_behind_is_not_kept_alive_by_its_widgets():
    at = AppTest.from_function(page_script).run()
    assert not at.exception and at.session_state["forgotten"] == 0
    assert at.selectbox[0].value == 1
    at.selectbox[0].select(2).run()  # the widget still works with the prune after each run
    assert at.selectbox[0].value == 2 and at.session_state["forgotten"] == 0
    assert [w.rsplit("-", 1)[-1] for w in at.session_state["kept"]] == ["pick"]

    at.session_state["heavy"] = False
    at.run()
    assert not at.exception and at.session_state["forgotten"] == 1
    assert [w.rsplit("-", 1)[-1] for w in at.session_state["kept"]] == ["other"]
    at.checkbox[0].check().run()
    assert at.checkbox[0].value is True and at.session_state["forgotten"] == 0

    at.session_state["heavy"] = True
    at.run()  # back on the first page: its widget starts afresh, as Streamlit does for a widget it dropped
    assert not at.exception and at.selectbox[0].value == 1 and at.session_state["forgotten"] == 1


def test_outside_a_script_run_nothing_is_forgotten():
    assert memory.forget_stale_widgets() == 0


def test_run_slots_let_limit_runs_at_once_and_the_rest_wait_their_turn():
    import threading
    import time

    slots = memory.RunSlots(2, wait_seconds=10)
    inside, most, lock = 0, 0, threading.Lock()
    release = threading.Event()

    def run() -> None:
        nonlocal inside, most
        with slots.slot() as taken:
            assert taken
            with lock:
                inside += 1
                most = max(most, inside)
            release.wait(5)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=run) for _ in range(5)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while inside < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert inside == 2  # two runs in, three waiting
    release.set()
    for t in threads:
        t.join(5)
    assert most == 2 and inside == 0


def test_a_run_that_waited_too_long_goes_anyway_and_says_so(caplog):
    slots = memory.RunSlots(1, wait_seconds=0.05)
    with slots.slot() as first, slots.slot() as second:  # the second cannot get the only slot
        assert first and not second
    assert "waited" in caplog.text
    with slots.slot() as again:  # the slot was given back; the run without one gave nothing back
        assert again


def test_a_run_that_raises_gives_its_slot_back():
    slots = memory.RunSlots(1, wait_seconds=0.05)
    with pytest.raises(RuntimeError), slots.slot():
        raise RuntimeError("a page's StopException or RerunException")
    with slots.slot() as taken:
        assert taken


def test_imported_by_lists_a_scripts_top_level_absolute_imports(tmp_path):
    script = tmp_path / "page.py"
    script.write_text(
        "import json\nimport xml.dom as dom\nfrom dashboard.ui import exports, loaders\nfrom . import sibling\n"
        "def later():\n    import sqlite3\n"
    )
    assert memory.imported_by([script]) == [
        "dashboard.ui",
        "dashboard.ui.exports",
        "dashboard.ui.loaders",
        "json",
        "xml.dom",
    ]  # not the relative import, nor one inside a function (the page's run imports that when it runs)


def test_the_warm_heap_is_frozen_with_the_pages_modules_and_new_garbage_is_still_collected():
    """In a fresh interpreter (freezing is for the life of the process): the pages' modules are imported, what
    exists is frozen, and a reference cycle made afterwards is freed by a full collection."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    code = """
import gc, sys, weakref
from pathlib import Path
from dashboard.web import memory
assert "dashboard.ui.risk_figures" not in sys.modules
frozen = memory.freeze_warm_heap(Path("pages").glob("*.py"))
assert "dashboard.ui.risk_figures" in sys.modules and "dashboard.ui.options_loaders" in sys.modules
assert frozen > 10_000 and gc.get_freeze_count() > 10_000, frozen
class Node: pass
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
del a, b
gc.collect()
assert gone() is None
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_the_served_app_leaves_collection_to_the_run_collector():
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[3] / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False  # not one full pass per script run


def recorder() -> tuple[list[int], threading.Event, Callable[[int], None]]:
    """A stand-in for gc.collect: the generations it was asked for, and an event set at each call."""
    calls: list[int] = []
    done = threading.Event()

    def collect(generation: int) -> None:
        calls.append(generation)
        done.set()

    return calls, done, collect


def test_runs_ending_together_share_one_full_collection_and_a_later_run_gets_its_own():
    calls, done, collect = recorder()
    collector = memory.RunCollector(every=0.3, collect=collect)
    for _ in range(100):  # ten sessions' runs ending within the same moment
        collector.ran()
    assert done.wait(10)
    time.sleep(0.9)  # three periods with no run: no pass
    assert calls == [2] and collector.collections == 1
    done.clear()
    collector.ran()  # an idle app's next run is collected too
    assert done.wait(10) and calls == [2, 2]


def test_a_page_run_tells_the_collector_even_when_it_stops_early(monkeypatch):
    calls, done, collect = recorder()
    monkeypatch.setattr(memory, "_collector", memory.RunCollector(every=0.01, collect=collect))
    with pytest.raises(RuntimeError), memory.page_run_slot():
        raise RuntimeError("a page's StopException")
    assert done.wait(10) and calls == [2]


def test_the_collector_frees_a_reference_cycle_the_interpreter_left():
    """With the interpreter's own collections off, only the collector's pass can free a cycle (a page's globals
    and its functions)."""
    import gc
    import weakref

    class Node:
        other: object

    collector = memory.RunCollector(every=0.01)
    gc.disable()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # refcounting alone cannot free it
        collector.ran()
        deadline = time.monotonic() + 10
        while (gone() is not None or not collector.collections) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gone() is None and collector.collections >= 1
    finally:
        gc.enable()
