"""Every reading of "now" goes through store.clock: a test that fixes the time must reach all of the code."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from store import clock

ROOT = Path(__file__).resolve().parents[2]
# Packages and scripts of the product (tests and benchmarks measure real time on purpose).
CHECKED = ["store", "ingestion", "dashboard", "analytics", "alerts", "pages", "streamlit_app.py"]
ALLOWED = {ROOT / "store" / "clock.py"}
# (object name, attribute) pairs that read the system clock.
FORBIDDEN = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("Timestamp", "now"),
    ("Timestamp", "today"),
}


def python_files() -> list[Path]:
    files: list[Path] = []
    for name in CHECKED:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in path.rglob("*.py") if "migrations" not in p.parts)
    return [f for f in files if f not in ALLOWED]


def clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, text) of each call such as datetime.now(), date.today(), time.time(), pd.Timestamp.now()."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        name = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else None
        if (name, node.func.attr) in FORBIDDEN:
            found.append((node.lineno, f"{name}.{node.func.attr}()"))
    return found


def test_the_checker_finds_direct_clock_reads() -> None:
    source = (
        "import time, datetime as dt\nfrom datetime import date\n"
        + "a = dt.datetime.now()\nb = date.today()\nc = time.time()\n"
    )
    assert [text for _, text in clock_reads(source)] == ["datetime.now()", "date.today()", "time.time()"]
    assert clock_reads("x = clock.now()\ny = time.monotonic()\n") == []


def test_no_code_reads_the_system_clock_outside_the_clock_module() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in python_files()
        for line, text in clock_reads(path.read_text())
    ]
    assert python_files(), "nothing was checked"
    assert offenders == [], "read the time through store.clock instead:\n" + "\n".join(offenders)


def test_frozen_moves_every_reading_of_now() -> None:
    at = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)  # 22:30 on the 24th in New York
    with clock.frozen(at):
        assert clock.now() == at
        assert clock.utc_today() == date(2026, 11, 25)
        assert clock.new_york_today() == date(2026, 11, 24)
        assert clock.epoch_seconds() == at.timestamp()
    assert clock.now() != at


def test_frozen_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"), clock.frozen(datetime(2026, 1, 1)):
        pass
