"""Start-up benchmark: seconds from process start to /healthz 200, cold and warm, plus /healthz latency.

Baseline measured in the same run: a bare Streamlit script from process start to /_stcore/health 200,
i.e. the floor Streamlit itself costs. Goals (issue 2): cold <= 15 s, warm <= 5 s, /healthz < 100 ms.

    python benchmarks/startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import Server, free_port, get, guarded_env  # noqa: E402

GOALS = {"cold": 15.0, "warm": 5.0, "healthz_p95_ms": 100.0}


def bare_streamlit_seconds(folder: Path) -> float:
    script = folder / "bare.py"
    script.write_text("import streamlit as st\nst.write('hello')\n")
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(script),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--logger.hideWelcomeMessage",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        env=guarded_env({}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)[0] == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(20)


def app_seconds(data_dir: Path, log: Path) -> tuple[float, Server]:
    server = Server({"DATA_DIR": str(data_dir), "TERMINAL_PASSWORD": "benchmark-password"}, log)
    server.wait_for_health(200, timeout=120)
    return time.perf_counter() - server.started_at, server


def healthz_latency_ms(server: Server, n: int = 200) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        status, _ = get(f"{server.url}/healthz")
        samples.append((time.perf_counter() - t0) * 1000)
        assert status == 200
    return sorted(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    cold, warm, bare, latency = [], [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="md-bench-") as tmp:
            folder = Path(tmp)
            bare.append(bare_streamlit_seconds(folder))
            seconds, server = app_seconds(folder / "data", folder / "cold.log")  # empty folder: initdb + load
            server.stop()
            cold.append(seconds)
            seconds, server = app_seconds(folder / "data", folder / "warm.log")  # same folder again
            warm.append(seconds)
            if run == 0:
                latency = healthz_latency_ms(server)
            server.stop()
        print(f"run {run + 1}: bare streamlit {bare[-1]:.2f} s · cold {cold[-1]:.2f} s · warm {warm[-1]:.2f} s")

    p50 = statistics.median(latency)
    p95 = latency[int(len(latency) * 0.95) - 1]
    base = statistics.median(bare)
    rows = [
        ("bare Streamlit to /_stcore/health (baseline)", base, None),
        ("cold start to /healthz 200 (initdb + migrations + sample load)", statistics.median(cold), GOALS["cold"]),
        ("warm start to /healthz 200", statistics.median(warm), GOALS["warm"]),
    ]
    print(f"\nmedian of {args.runs} runs")
    for label, value, goal in rows:
        verdict = "" if goal is None else f"  goal <= {goal:.0f} s: {'ok' if value <= goal else 'MISSED'}"
        overhead = "" if goal is None else f"  (+{value - base:.2f} s over baseline, {value / base:.1f}x)"
        print(f"  {label:<64} {value:6.2f} s{overhead}{verdict}")
    ok = p95 <= GOALS["healthz_p95_ms"]
    print(
        f"  /healthz latency over {len(latency)} requests: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"max {latency[-1]:.1f} ms  goal p95 < {GOALS['healthz_p95_ms']:.0f} ms: {'ok' if ok else 'MISSED'}"
    )
    missed = statistics.median(cold) > GOALS["cold"] or statistics.median(warm) > GOALS["warm"] or not ok
    from benchmarks.suite import emit

    figures = {f"{label} (s)": value for label, value, _ in rows}
    goals = {f"{label} <= {goal:.0f} s": value <= goal for label, value, goal in rows if goal is not None}
    emit({**figures, "/healthz p95 (ms)": p95}, {**goals, f"/healthz p95 < {GOALS['healthz_p95_ms']:.0f} ms": ok})
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
