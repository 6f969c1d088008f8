"""The benchmark suite: runs every script under benchmarks/ and writes benchmarks/results/latest.json and .md.

Each script runs as its own subprocess (the same interpreter, the repository as working folder) with a timeout,
and compares its figures against a baseline of the same run. The convention a script follows: its last line of
output may be `RESULT-JSON: {"figures": {name: number}, "goals": {name: true|false}}` (printed by `emit`);
when it gives no goals, they are read from the lines the scripts printed before the convention existed:
`PASS: name` / `FAIL: name`, `goal name: ok|met|MISSED`, or a line with PASS / FAIL in it (see goal_lines).
A script's result is `pass` when it exited 0 and met every goal, `fail` when a goal was missed, `error` when it
exited non-zero with no goal missed (it broke), `timeout` when it was stopped at its timeout.

    python -m benchmarks [--quick] [--only NAME ...] [--timeout SECONDS] [--database-url URL] [--no-write]
    python -m benchmarks --readme    # latest.md again from latest.json, into the README's Benchmarks section

--quick passes each script the smaller sizes it accepts (QUICK). --only runs the named scripts and keeps the
other scripts' entries of the previous latest.json (each entry carries its own date). The database server is
--database-url, else $BENCH_DATABASE_URL or $TEST_DATABASE_URL (passed on to the scripts as both).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
RESULTS = HERE / "results"
MARKER = "RESULT-JSON: "
FIGURES_SHOWN = 6  # per script in the Markdown table
README_MARKERS = ("<!-- benchmarks-table:start -->", "<!-- benchmarks-table:end -->")
NOT_SCRIPTS = {"__init__", "__main__", "suite", "peer_stockpeers"}  # the runner and the peer app (pages.py runs it)
# Smaller sizes for --quick, by script; a script not named here runs as it is.
QUICK: dict[str, list[str]] = {
    "alerts": ["--rules", "2000", "--deliveries", "200", "--firing", "20", "--rounds", "2", "--runs", "1"],
    "api": ["--runs", "10"],
    "backtest": ["--runs", "1", "--bt-symbols", "2", "--bt-combos", "1"],
    "browser_controls": ["--runs", "4"],
    "cold_start": ["--runs", "1"],
    "concurrency": ["--seconds", "48"],
    "healthz": ["--seconds", "20", "--baseline-seconds", "10"],
    "index": ["--runs", "2"],
    "ingest_write": ["--rows", "100000", "--chunk-rows", "50000", "--skip-memory"],
    "job_queue": ["--tasks", "200", "--singles", "20", "--rounds", "1", "--patience", "5", "--attempts", "1"],
    "memory": ["--seconds", "30", "--after", "10", "--idle-seconds", "5"],
    "options": ["--runs", "3", "--baseline-runs", "1"],
    "pages": ["--runs", "3"],
    "startup": ["--runs", "1"],
}
GOAL_LINES = [
    re.compile(r"^\s*(?P<verdict>PASS|FAIL):\s*(?P<name>.+?)\s*$"),
    re.compile(r"^\s*goal (?P<name>.+?):\s*(?P<verdict>ok|met|MISSED)\b"),
]
INLINE = re.compile(r"\b(PASS|FAIL|MISSED)\b")


# -- the convention (used by the scripts) -----------------------------------------------------------------


def emit(figures: dict[str, Any], goals: dict[str, bool]) -> None:
    """Print the RESULT-JSON line: `figures` (numbers; NaN becomes null) and `goals` (met or not)."""

    def plain(value: Any) -> Any:
        if isinstance(value, bool | str) or value is None:
            return value
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else round(number, 4)

    body = {"figures": {k: plain(v) for k, v in figures.items()}, "goals": {k: bool(v) for k, v in goals.items()}}
    print(MARKER + json.dumps(body), flush=True)


def parse(output: str) -> tuple[dict[str, Any], dict[str, bool]]:
    """(figures, goals) from a script's output: its last RESULT-JSON line; the goals from its goal lines when
    that line gives none (or there is no such line)."""
    lines = output.splitlines()
    figures: dict[str, Any] = {}
    goals: dict[str, bool] = {}
    for line in reversed(lines):
        if line.startswith(MARKER):
            body = json.loads(line[len(MARKER) :])
            figures = dict(body.get("figures", {}))
            goals = {k: bool(v) for k, v in body.get("goals", {}).items()}
            break
    return figures, goals or goal_lines(lines)


def goal_lines(lines: list[str]) -> dict[str, bool]:
    """`PASS: name`, `FAIL: name`, `goal name: ok|met|MISSED`, and a line with PASS / FAIL / MISSED words in it
    (its text, without them, is the goal's name; it is met when none of its words says otherwise)."""
    goals: dict[str, bool] = {}
    for line in lines:
        match = next((m for m in (p.match(line) for p in GOAL_LINES) if m), None)
        if match:
            goals[match["name"]] = match["verdict"] in ("PASS", "ok", "met")
        elif not line.startswith(MARKER) and INLINE.search(line):
            name = " ".join(INLINE.sub(" ", line).split()).rstrip(":")
            goals[name] = not re.search(r"\b(FAIL|MISSED)\b", line)
    return goals


def verdict(returncode: int | None, goals: dict[str, bool]) -> str:
    """pass / fail / error / timeout (None: the script was stopped at its timeout)."""
    if returncode is None:
        return "timeout"
    if not all(goals.values()):
        return "fail"
    return "pass" if returncode == 0 else "error"


# -- running ---------------------------------------------------------------------------------------------


def scripts(folder: Path = HERE) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.py") if p.stem not in NOT_SCRIPTS)


def run_script(path: Path, args: list[str], timeout: float, env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run one script, its output echoed and kept in `log`; its entry of latest.json."""
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-u", str(path), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its servers and workers are stopped with it at a timeout
        )
        deadline = started + timeout
        returncode: int | None = None
        assert process.stdout is not None
        for line in _lines_until(process, deadline):
            out.write(line)
            print(f"  {path.stem}| {line}", end="", flush=True)
        returncode = process.poll()
        if returncode is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
    output = log.read_text()
    figures, goals = parse(output)
    return {
        "args": args,
        "figures": figures,
        "goals": goals,
        "result": verdict(returncode, goals),
        "exit_code": returncode,
        "seconds": round(time.monotonic() - started, 1),
        "tail": [] if returncode == 0 else output.splitlines()[-8:],
    }


def _lines_until(process: subprocess.Popen, deadline: float):  # noqa: ANN202 - a generator of str
    """The process's output lines until it ends or the deadline passes (a reader thread: readline blocks)."""
    import queue
    import threading

    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            line = lines.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if line is None:
            process.wait()
            return
        yield line


# -- the machine -----------------------------------------------------------------------------------------


def machine(database_url: str | None) -> dict[str, Any]:
    """Cores, memory, CPU model, Python and PostgreSQL versions of the machine the figures come from."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), 0)
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(total / 1024 / 1024, 1),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "postgresql": postgres_version(database_url),
        "os": platform.platform(),
        "load_average": [round(x, 1) for x in os.getloadavg()],  # 1, 5, 15 min: other work moves the figures
    }


def postgres_version(database_url: str | None) -> str | None:
    """The server's version (`SHOW server_version`), or the embedded binaries' when no server is configured."""
    try:
        if database_url:
            import sqlalchemy as sa

            engine = sa.create_engine(database_url.replace("postgres://", "postgresql://", 1))
            try:
                with engine.connect() as conn:
                    return str(conn.execute(sa.text("show server_version")).scalar())
            finally:
                engine.dispose()
        found = subprocess.run(["postgres", "--version"], capture_output=True, text=True, check=True)
        return found.stdout.strip().removeprefix("postgres (PostgreSQL) ")  # "15.20 (Debian ...)", as the server says
    except Exception as error:  # noqa: BLE001 - the version is a label; the suite runs without it
        return f"unknown ({type(error).__name__})"


# -- the results -----------------------------------------------------------------------------------------


def markdown(results: dict[str, Any]) -> str:
    """The table the README shows: one row per script, its goals with their verdicts, and how long it took."""
    m = results["machine"]
    lines = [
        f"Run {results['date']} ({results['mode']} mode) on {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}; "
        f"Python {m['python']}, PostgreSQL {m['postgresql']}"
        + (f"; load average {m['load_average'][0]} at the start." if m.get("load_average") else "."),
        "",
        "| Benchmark | Result | Goals | Figures (first few; all in latest.json) | Time |",
        "|---|---|---|---|---|",
    ]
    for name, entry in sorted(results["scripts"].items()):
        goals = "<br>".join(f"{'✅' if ok else '❌'} {_cell(goal)}" for goal, ok in entry["goals"].items()) or "—"
        when = "" if entry.get("date", results["date"]) == results["date"] else f" (run {entry['date']})"
        shown = list(entry["figures"].items())[:FIGURES_SHOWN]
        figures = "<br>".join(f"{_cell(k)}: {_number(v)}" for k, v in shown) or "—"
        lines.append(f"| `{name}` | {entry['result']}{when} | {goals} | {figures} | {entry['seconds']:.0f} s |")
    return "\n".join(lines) + "\n"


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write(results: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (folder / "latest.md").write_text(markdown(results))


def into_readme(table: str, readme: Path) -> None:
    """Put `table` between the README's benchmarks-table markers (its Benchmarks section), replacing what was there."""
    text = readme.read_text()
    begin, end = text.index(README_MARKERS[0]) + len(README_MARKERS[0]), text.index(README_MARKERS[1])
    readme.write_text(text[:begin] + "\n" + table + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes where a script accepts them")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run this script (repeatable)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per script")
    parser.add_argument("--database-url", help="a PostgreSQL server for the scratch databases")
    parser.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/results alone")
    parser.add_argument("--readme", action="store_true", help="only rewrite latest.md and put it into the README")
    parser.add_argument("--folder", type=Path, default=HERE, help=argparse.SUPPRESS)  # the scripts' folder (tests)
    parser.add_argument("--results", type=Path, default=RESULTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.readme:  # latest.md written again from latest.json (the table's form may have changed), then pasted
        write(json.loads((args.results / "latest.json").read_text()), args.results)
        into_readme((args.results / "latest.md").read_text(), ROOT / "README.md")
        return 0

    names = scripts(args.folder)
    unknown = [n for n in args.only if n not in names]
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; there are: {', '.join(names)}")
    chosen = args.only or names
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    env = dict(os.environ)
    if url:
        env.update(BENCH_DATABASE_URL=url, TEST_DATABASE_URL=url)
    from store.clock import now

    date = now().strftime("%Y-%m-%d %H:%M UTC")
    logs = Path(tempfile.mkdtemp(prefix="md-bench-suite-"))
    previous = args.results / "latest.json"
    kept = json.loads(previous.read_text())["scripts"] if args.only and previous.exists() else {}
    results: dict[str, Any] = {
        "date": date,
        "mode": "quick" if args.quick else "full",
        "machine": machine(url),
        "scripts": {k: v for k, v in kept.items() if k in names},
    }
    for name in chosen:
        extra = QUICK.get(name, []) if args.quick else []
        print(f"\n== {name} {' '.join(extra)}", flush=True)
        entry = run_script(args.folder / f"{name}.py", extra, args.timeout, env, logs / f"{name}.log")
        results["scripts"][name] = {"date": date, **entry}
        print(f"== {name}: {entry['result']} in {entry['seconds']:.0f} s", flush=True)
    print(f"\nlogs in {logs}\n")
    print(markdown(results))
    if not args.no_write:
        write(results, args.results)
        print(f"written: {args.results / 'latest.json'}, {args.results / 'latest.md'}")
    return 0 if all(results["scripts"][n]["result"] == "pass" for n in chosen) else 1
