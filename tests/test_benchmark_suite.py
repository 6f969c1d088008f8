"""`python -m benchmarks`: the RESULT-JSON convention, the verdicts, and a run over a folder of small scripts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import suite

ROOT = Path(__file__).resolve().parents[1]


def test_the_last_result_line_gives_the_figures_and_goals(capsys: pytest.CaptureFixture[str]) -> None:
    suite.emit({"old": 1}, {"old": True})
    suite.emit({"cold (s)": 0.12345678, "missing": math.nan, "runs": 3}, {"cold <= 1.5 s": True, "p95": False})
    figures, goals = suite.parse("noise\nPASS: not this one\n" + capsys.readouterr().out)
    assert figures == {"cold (s)": 0.1235, "missing": None, "runs": 3.0}
    assert goals == {"cold <= 1.5 s": True, "p95": False}


def test_without_a_result_line_the_goal_lines_are_read() -> None:
    output = "\n".join(
        [
            "PASS: daily <= 0.3 s",
            "FAIL: top-100 <= 0.5 s",
            "  goal app+worker at peak 300 <= 400 MiB PSS: ok",
            "goal first load < 60 s: met",
            "goal p95 < 1 s: MISSED (1.2 s)",
            "  analytics.index    0.120 s   (goal <= 0.3 s)  PASS",
            "  rebalance=Q   0.400 s  (goal <= 0.5 s)  PASS   12 rebalances, peak 400 MB FAIL",
            "no verdict on this line, PASSED is not one",
        ]
    )
    assert suite.parse(output) == (
        {},
        {
            "daily <= 0.3 s": True,
            "top-100 <= 0.5 s": False,
            "app+worker at peak 300 <= 400 MiB PSS": True,
            "first load < 60 s": True,
            "p95 < 1 s": False,
            "analytics.index 0.120 s (goal <= 0.3 s)": True,
            "rebalance=Q 0.400 s (goal <= 0.5 s) 12 rebalances, peak 400 MB": False,
        },
    )
    # a RESULT-JSON line without goals leaves them to the lines
    no_goals = suite.MARKER + '{"figures": {"s": 1}, "goals": {}}'
    assert suite.parse("PASS: fast\n" + no_goals) == ({"s": 1}, {"fast": True})


@pytest.mark.parametrize(
    ("code", "goals", "expected"),
    [
        (0, {"a": True}, "pass"),
        (0, {}, "pass"),
        (0, {"a": True, "b": False}, "fail"),  # some scripts exit 0 whatever their figures
        (1, {"a": False}, "fail"),
        (1, {"a": True}, "error"),  # it broke after its goals
        (None, {"a": True}, "timeout"),
    ],
)
def test_verdicts(code: int | None, goals: dict[str, bool], expected: str) -> None:
    assert suite.verdict(code, goals) == expected


def test_every_script_is_found_follows_the_convention_and_has_its_quick_sizes_right() -> None:
    names = suite.scripts()
    assert {"pages", "memory", "concurrency", "cold_start", "startup"} <= set(names)
    assert not {"suite", "peer_stockpeers", "__main__", "__init__"} & set(names)
    assert set(suite.QUICK) <= set(names)
    for name in names:
        source = (ROOT / "benchmarks" / f"{name}.py").read_text()
        assert "emit(" in source, f"benchmarks/{name}.py prints no RESULT-JSON line"
        for flag in suite.QUICK.get(name, [])[::2]:
            assert f'"{flag}"' in source, f"benchmarks/{name}.py has no {flag} option"


SCRIPTS = {
    "good": "from benchmarks.suite import emit\nprint('working')\nemit({'seconds': 0.5}, {'fast | enough': True})\n",
    "missed": "import sys\nprint('goal p95 < 1 s: MISSED')\nsys.exit(1)\n",
    "broken": "raise RuntimeError('no database')\n",
    "slow": "import time\nprint('started', flush=True)\ntime.sleep(60)\n",
}


def test_a_run_writes_the_results_and_the_table(tmp_path: Path) -> None:
    for name, source in SCRIPTS.items():
        (tmp_path / f"{name}.py").write_text(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n" + source)
    results = tmp_path / "results"
    code = suite.main(["--folder", str(tmp_path), "--results", str(results), "--timeout", "8"])
    assert code == 1
    written = json.loads((results / "latest.json").read_text())
    assert {"date", "mode", "machine", "scripts"} <= set(written)
    assert written["machine"]["cores"] >= 1 and written["machine"]["memory_gib"] > 0
    got = {name: entry["result"] for name, entry in written["scripts"].items()}
    assert got == {"good": "pass", "missed": "fail", "broken": "error", "slow": "timeout"}
    assert written["scripts"]["good"]["figures"] == {"seconds": 0.5}
    assert "RuntimeError: no database" in "\n".join(written["scripts"]["broken"]["tail"])
    assert written["scripts"]["slow"]["seconds"] < 40
    table = (results / "latest.md").read_text()
    assert "| `good` | pass | ✅ fast \\| enough |" in table
    assert "| `missed` | fail | ❌ p95 < 1 s | — |" in table
    assert "| ✅ fast \\| enough | seconds: 0.5 |" in table
    assert f"{written['machine']['cores']} cores" in table

    # --only reruns one script and keeps the others' entries, which say when they ran
    (tmp_path / "missed.py").write_text("print('goal p95 < 1 s: ok')\n")
    written["scripts"]["good"]["date"] = "2026-01-01 00:00 UTC"
    (results / "latest.json").write_text(json.dumps(written))
    assert suite.main(["--folder", str(tmp_path), "--results", str(results), "--only", "missed"]) == 0
    again = json.loads((results / "latest.json").read_text())
    assert again["scripts"]["missed"]["result"] == "pass" and again["scripts"]["slow"]["result"] == "timeout"
    assert "| `good` | pass (run 2026-01-01 00:00 UTC) |" in (results / "latest.md").read_text()


def test_an_unknown_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        suite.main(["--folder", str(tmp_path), "--only", "nothing"])
    assert "no benchmark named nothing" in capsys.readouterr().err


def test_the_table_goes_between_the_readme_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    start, end = suite.README_MARKERS
    readme.write_text(f"# Title\n\n## Benchmarks\n\n{start}\nold table\n{end}\n\nafter\n")
    suite.into_readme("| a | b |\n", readme)
    suite.into_readme("| new | table |\n", readme)
    assert readme.read_text() == f"# Title\n\n## Benchmarks\n\n{start}\n| new | table |\n{end}\n\nafter\n"
    assert start in (ROOT / "README.md").read_text() and end in (ROOT / "README.md").read_text()


def test_the_postgresql_label_is_the_version_whether_from_the_server_or_the_embedded_binaries(monkeypatch):
    import subprocess

    class Printed:
        stdout = "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n"

    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: Printed())
    assert suite.postgres_version(None) == "15.20 (Debian 15.20-0+deb12u1)"  # as `SHOW server_version` says it
