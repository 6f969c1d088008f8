"""Memory under real use: the app, its ingestion worker and the embedded PostgreSQL, as RSS and PSS.

Render's starter plan gives the container 512 MB, and a page the app and the worker share (the interpreter,
numpy's and pyarrow's libraries) counts once there: PSS (each page split between the processes that map it)
is the figure that adds up. One server, as benchmarks/healthz.py starts it (`streamlit run`, embedded
PostgreSQL, the sample data, a first start in a temporary data dir), with the worker enabled as in production:

1. idle: the worker's start-up jobs queued (the schedule's catch-up, as a worker start inside its window
   queues them; without network they fail fast), then once its heartbeat says idle with nothing queued,
   sampled for --idle-seconds, the largest sample kept. The baseline, and the worker-idle goal's figure;
2. peak: N sessions (default 10) each open the heaviest pages in turn (`heavy`: Ticker with 8 tickers, Max; Risk
   with 30 tickers, Max; Index on the S&P 500 list; Options, SPY's chain), re-running the page every 2 s over
   --seconds (a share each), speaking Streamlit's websocket protocol (`rerun_script` back messages); each
   session has its own tickers (a rotation over the sample universe), as distinct users would. Sampled every
   0.5 s, the sample with the largest app + worker PSS kept. Before the sessions, the S&P 500 bundle and the
   option-chain demo are loaded into the server's database (`load-sample --dataset sp500 / options`), untimed;
   The worker runs no task meanwhile in the goal's figure: a task runs in a child of the worker that exits with it,
   so half-way through the sessions the benchmark queues the nightly prices job as its schedule does, and the
   samples while a child runs (that one, or a scheduled one whose time fell in the window) make "2c. peak, a task
   running" (not a goal: without network the job fails fast, so it shows a task's start and imports);
3. after: --after seconds once every websocket closed (Streamlit keeps a closed session for reconnection for
   server.disconnectedSessionTTL, 120 s), to show whether the memory goes back.

Groups: app = the `streamlit run` process; worker = its child `python -m ingestion worker` (and descendants);
postgres = the postmaster and its backends. RSS and PSS come from /proc/<pid>/smaps_rollup. The kernel's PSS
also splits a page with processes outside the container (any Python on this machine maps the same numpy), so
"PSS, container" splits each resident page (its frame, from /proc/<pid>/pagemap, root only) between the
measured processes alone: what Render would count. The goals use it (the kernel's PSS when not root). Reading
a process's frames takes a while, and an app allocating and freeing large arrays meanwhile shows more frames over
that while than it holds at any moment (PSS in the container above RSS at the peak, by up to 200 MiB): the row
"2b. peak, bounded by RSS" (not a goal) takes each process's share at most at the RSS read right after. Once the
sessions end, what st.cache_data holds is read from Streamlit's /_stcore/metrics.

Goals (memory issue): app + worker <= 400 MiB PSS at peak; worker <= 130 MiB PSS idle; every st.cache_data /
st.cache_resource in dashboard/ and pages/ has `ttl` and `max_entries` (a static scan, printed first). For
scale, fresh interpreters importing pandas etc. are measured in the same run. Exit code 1 when a goal is
missed. The server gets render.yaml's MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_ (what ships) unless the
environment sets them: `MALLOC_ARENA_MAX=8 MALLOC_MMAP_THRESHOLD_= python benchmarks/memory.py` measures glibc's
defaults on this 2-core machine.

    python benchmarks/memory.py [--sessions 10] [--seconds 60] [--after 30] [--no-jobs] [--caches] [--light]

--light keeps the first plan (Ticker with 5 tickers, then Risk with 20) and loads no bundle. The sessions'
driver (`drive`, `heavy`, `load_bundles`) is shared with benchmarks/concurrency.py.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import csv
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)
from benchmarks.healthz import cluster_pids, session_cookie  # noqa: E402
from tests.support.server import Server, guarded_env  # noqa: E402

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")
GOALS = {"peak": 400.0, "worker_idle": 130.0}  # MiB
MALLOC = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")  # glibc's settings render.yaml ships
UNIVERSE = [row["ticker"] for row in csv.DictReader((ROOT / "data/sample/reference/price_universe.csv").open())]
SCALE = {
    "python": "pass",
    "import pandas": "import pandas",
    "import streamlit": "import streamlit",
    "the worker's imports": "import ingestion.__main__, ingestion.worker, ingestion.queue",
    # What the Overview's market hours hold, and the baseline: the library's own minute methods (store.calendar).
    "NYSE open/next open": "from store import calendar; calendar.is_market_open(); calendar.next_open()",
    "the same, exchange_calendars' minute methods": "from store import calendar; c = calendar.trading_calendar(); "
    "m = calendar._minute(None); c.is_open_on_minute(m); c.next_open(m)",
}


# -- the cache check (static) ----------------------------------------------------------------------------


def cache_uses() -> list[tuple[str, int, str, bool, bool]]:
    """(file, line, cache_data|cache_resource, has ttl, has max_entries) for every use in dashboard/ and pages/."""
    found = []
    for path in sorted([*ROOT.glob("dashboard/**/*.py"), *ROOT.glob("pages/**/*.py")]):
        tree = ast.parse(path.read_text(), str(path))
        parent = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if name not in ("cache_data", "cache_resource") or isinstance(parent.get(node), ast.Attribute):
                continue  # not a cache, or st.cache_data.clear()
            call, given = parent.get(node), set()
            if isinstance(call, ast.Call) and call.func is node:  # @st.cache_data(...), st.cache_data(fn, ...)
                given = {
                    k.arg for k in call.keywords if not (isinstance(k.value, ast.Constant) and k.value.value is None)
                }
            found.append((str(path.relative_to(ROOT)), node.lineno, name, "ttl" in given, "max_entries" in given))
    return found


def print_caches() -> bool:
    uses = cache_uses()
    missing = [u for u in uses if not (u[3] and u[4])]
    print(f"Streamlit caches in dashboard/ and pages/: {len(uses)}, {len(missing)} without both ttl and max_entries")
    for file, line, name, ttl, entries in missing:
        lacks = " and ".join(k for k, ok in (("ttl", ttl), ("max_entries", entries)) if not ok)
        print(f"  {file}:{line} st.{name} has no {lacks}")
    return not missing


# -- memory of processes ---------------------------------------------------------------------------------


def rss_pss(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes from /proc/<pid>/smaps_rollup; (0, 0) for a process that is gone."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    kib = {line.split(":")[0]: int(line.split()[1]) for line in lines if line.endswith(" kB")}
    return kib.get("Rss", 0) * 1024, kib.get("Pss", 0) * 1024


def frames(pid: int) -> np.ndarray:
    """The physical frames of `pid`'s resident pages, from /proc/<pid>/pagemap (all zero without CAP_SYS_ADMIN)."""
    found = [np.zeros(0, np.uint64)]
    maps, pagemap = Path(f"/proc/{pid}/maps"), Path(f"/proc/{pid}/pagemap")
    with contextlib.suppress(FileNotFoundError, ProcessLookupError), maps.open() as lines, pagemap.open("rb") as table:
        for line in lines:
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            if start >= 1 << 47:
                continue  # [vsyscall]
            table.seek(start // PAGE * 8)
            entries = np.frombuffer(table.read((end - start) // PAGE * 8), np.uint64)
            found.append(entries[entries >> np.uint64(63) == 1] & np.uint64((1 << 55) - 1))
    return np.unique(np.concatenate(found))


def worker_pids(app: int) -> list[int]:
    """The app's child `python -m ingestion worker` and its descendants."""
    parent, command = {}, {}
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            parent[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command[int(proc.name)] = (proc / "cmdline").read_bytes()
    found = [pid for pid, ppid in parent.items() if ppid == app and b"ingestion\0worker" in command.get(pid, b"")]
    for pid in found:
        found.extend(child for child, ppid in parent.items() if ppid == pid)
    return found


def sample(app: int, folder: Path) -> dict[str, tuple[float, float, float, float]]:
    """Per group (and app+worker): RSS, PSS, PSS in the container (NaN when the frames are hidden), and that PSS
    bounded by each process's RSS, in bytes.

    Each process's frames and smaps are read back to back: the app's memory moves from one moment to the next.
    Reading a process's frames takes a while, and an app that maps and unmaps large arrays meanwhile shows more
    frames over that while than it ever holds at once (PSS in the container above RSS, measured up to 200 MiB at
    the peak): the bounded figure takes each process's share at most at the RSS read right after its frames.
    """
    groups = {"app": [app], "worker": worker_pids(app), "postgres": cluster_pids(folder)}
    kernel, pages = {}, {}
    for pid in (pid for pids in groups.values() for pid in pids):
        pages[pid] = frames(pid)
        kernel[pid] = rss_pss(pid)
    every, mapped_by = np.unique(np.concatenate([np.zeros(0, np.uint64), *pages.values()]), return_counts=True)
    hidden = every.size > 0 and not every.any()
    share = {
        p: np.nan if hidden else (1.0 / mapped_by[np.searchsorted(every, f)]).sum() * PAGE for p, f in pages.items()
    }
    out = {}
    for name, pids in groups.items():
        out[name] = (
            sum(kernel[p][0] for p in pids),
            sum(kernel[p][1] for p in pids),
            sum(share[p] for p in pids),
            sum(min(share[p], kernel[p][0]) for p in pids),  # NaN stays NaN
        )
    out["app+worker"] = tuple(a + w for a, w in zip(out["app"], out["worker"], strict=True))
    out["jobs"] = max(0, len(groups["worker"]) - 1)  # the worker's children: a task running (or its start-up ones)
    return out


def pss(s: dict, group: str, bounded: bool = False) -> float:
    """The goals' figure, in MiB: PSS in the container (the kernel's PSS when the frames are hidden); `bounded`:
    each process's share at most its RSS of the same sample (`sample`)."""
    column = 3 if bounded else 2
    return (s[group][1] if np.isnan(s[group][column]) else s[group][column]) / MIB


def watch(
    app: int, folder: Path, seconds: float, until: subprocess.Popen | None = None
) -> tuple[dict, dict, dict, dict | None]:
    """Sample every 0.5 s for `seconds` (or while `until` runs): (the largest app+worker sample while the worker ran
    no task, the last, the largest of those by the bounded figure, the largest while it ran one: None if it never
    did). A task runs in a child of the worker that exits with it: its memory is counted apart."""
    first = sample(app, folder)
    peak = bounded = first if not first["jobs"] else None
    busy = first if first["jobs"] else None
    last = first
    end = time.monotonic() + seconds
    while (until.poll() is None) if until else time.monotonic() < end:
        time.sleep(0.5)
        last = sample(app, folder)
        if last["jobs"]:
            busy = max(busy or last, last, key=lambda s: pss(s, "app+worker"))
            continue
        peak = max(peak or last, last, key=lambda s: pss(s, "app+worker"))
        bounded = max(bounded or last, last, key=lambda s: pss(s, "app+worker", bounded=True))
    if peak is None or bounded is None:
        raise SystemExit("the worker ran a task during every sample: no figure with the worker idle")
    return peak, last, bounded, busy


def queue_a_task(delay: float) -> threading.Timer:
    """After `delay` s, queue the nightly prices job as its schedule does (in this benchmark's closed network it
    fails fast: what it measures is a task's child starting and loading the job's modules beside the sessions)."""

    def defer() -> None:
        from ingestion import queue
        from store.db import reset_engine

        try:
            queue.open_sync()
            queue.defer_scheduled("prices")
        finally:
            queue.close_sync()
            reset_engine()

    timer = threading.Timer(delay, defer)
    timer.start()
    return timer


def for_scale() -> str:
    """RSS / PSS of a fresh interpreter after each statement in SCALE (the app's environment, nothing else)."""
    figures = []
    for label, statement in SCALE.items():
        code = f"{statement}\nprint(open('/proc/self/smaps_rollup').read())"
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=guarded_env({}), capture_output=True, text=True, check=True
        ).stdout
        kib = {line.split(":")[0]: int(line.split()[1]) for line in out.splitlines() if line.endswith(" kB")}
        figures.append(f"{label} {kib['Rss'] / 1024:.0f} / {kib['Pss'] / 1024:.0f}")
    return "For scale, RSS / PSS (MiB) of a fresh interpreter: " + "; ".join(figures)


# -- the sessions (their own process) --------------------------------------------------------------------


def tickers(start: int, count: int) -> str:
    symbols = [s for s in UNIVERSE if s != "SPY"]  # SPY is Risk's benchmark
    return ",".join(symbols[(start + i) % len(symbols)] for i in range(count))


def heavy(number: int) -> list[tuple[str, str]]:
    """Session `number`'s plan over the heaviest pages: (page url path, query string)."""
    return [
        ("ticker", f"t={tickers(8 * number, 8)}&range=Max"),
        ("risk", f"t={tickers(3 * number, 30)}&range=Max"),
        ("index", "ix_universe=sp500"),
        ("options", "op_symbol=SPY"),
    ]


def light(number: int) -> list[tuple[str, str]]:
    """The first plan: Ticker with 5 tickers, then Risk with 20."""
    return [("ticker", f"t={tickers(5 * number, 5)}&range=Max"), ("risk", f"t={tickers(3 * number, 20)}&range=Max")]


PLANS = {"heavy": heavy, "light": light}


async def drive(base: str, cookie: str, sessions: int, seconds: float, every: float = 2.0, plan: str = "heavy") -> dict:
    """Each session opens the plan's pages in turn, re-running each every `every` s for its share of `seconds`;
    returns what the runs showed: per page the seconds of each run, and the bytes received."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    pages = [page for page, _ in PLANS[plan](0)]
    stats: dict = {**{p: [] for p in pages}, "bytes": dict.fromkeys(pages, 0), "exceptions": 0, "errors": 0}

    async def run(ws, page: str, query: str) -> None:  # noqa: ANN001 - a websockets connection
        message = BackMsg()
        message.rerun_script.query_string = query
        message.rerun_script.page_name = page
        started = time.monotonic()
        await ws.send(message.SerializeToString())
        while True:
            raw = await ws.recv()
            stats["bytes"][page] += len(raw)
            reply = ForwardMsg()
            reply.ParseFromString(raw)
            kind = reply.WhichOneof("type")
            if kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                element = reply.delta.new_element
                stats["exceptions"] += element.WhichOneof("type") == "exception"
                stats["errors"] += element.WhichOneof("type") == "alert" and element.alert.format == 1
            elif kind == "script_finished" and reply.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                stats[page].append(time.monotonic() - started)
                return

    async def session(number: int) -> None:
        steps = PLANS[plan](number)
        headers = {"Cookie": f"md_session={cookie}", "Origin": base}
        url = base.replace("http://", "ws://") + "/_stcore/stream"
        async with websockets.connect(url, subprotocols=["streamlit"], additional_headers=headers, max_size=None) as ws:
            await asyncio.sleep(number * every / sessions)  # spread the sessions over the cadence
            begin = time.monotonic()
            for part, (page, query) in enumerate(steps, start=1):
                while True:
                    started = time.monotonic()
                    await run(ws, page, query)
                    if time.monotonic() - begin >= seconds * part / len(steps):
                        break
                    await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))

    await asyncio.gather(*(session(i) for i in range(sessions)))
    return stats


# -- the orchestration -----------------------------------------------------------------------------------


def settle_worker(app: int, jobs: bool, timeout: float = 300.0) -> list[str]:
    """With `jobs`, queue the schedule's catch-up (on an empty database every job is due); then wait until the
    worker's heartbeat says idle with nothing queued or running. Returns the ingestion tasks it ran."""
    import sqlalchemy as sa
    from procrastinate.exceptions import AlreadyEnqueued

    from ingestion import queue
    from store.db import get_engine, reset_engine

    beat = sa.text("select state from worker_heartbeats where pid = :pid and beat_at > now() - interval '30 seconds'")
    busy = sa.text(
        "select count(*) from procrastinate_jobs where status = 'doing' or (status = 'todo' and scheduled_at is null)"
    )
    ran = sa.text(
        "select task_name || ': ' || status from procrastinate_jobs where task_name like 'ingest.%' order by id"
    )
    try:
        if jobs:
            queue.open_sync()
            with contextlib.suppress(AlreadyEnqueued):
                queue.catch_up.defer(timestamp=int(time.time()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1.0)
            pids = worker_pids(app)
            with get_engine().connect() as conn:
                if pids and conn.execute(beat, {"pid": pids[0]}).scalar() == "idle" and not conn.execute(busy).scalar():
                    return list(conn.execute(ran).scalars())
        raise SystemExit(f"the worker was not idle within {timeout:.0f} s")
    finally:
        queue.close_sync()
        reset_engine()  # their backends would count as PostgreSQL's


def load_bundles(folder: Path) -> str:
    """Load the S&P 500 bundle and the option-chain demo into the server's embedded database (what the heavy
    pages show); returns what was loaded, with the seconds it took."""
    from ingestion.sample import load_sample
    from store.db import create_db_engine
    from store.embedded import start_embedded

    engine = create_db_engine(start_embedded(folder / "pgdata"))  # attaches to the running cluster
    done = []
    try:
        for dataset, root in (("sp500", ROOT / "data" / "sp500"), ("options", ROOT / "data" / "options")):
            started = time.monotonic()
            counts = load_sample(engine, root, dataset)
            done.append(
                f"{dataset} {sum(v for k, v in counts.items() if k != 'quarantined'):,} rows "
                f"({time.monotonic() - started:.0f} s)"
            )
    finally:
        engine.dispose()  # its backends would count as PostgreSQL's
    return ", ".join(done)


def cache_mib(base: str, cookie: str) -> float:
    """What st.cache_data holds (serialized MiB, every function and session), from Streamlit's /_stcore/metrics;
    NaN when it does not answer."""
    from tests.support.server import get

    with contextlib.suppress(OSError):
        status, body = get(f"{base}/_stcore/metrics", timeout=10.0, headers={"Cookie": f"md_session={cookie}"})
        if status == 200:
            rows = [line for line in body.splitlines() if line.startswith("cache_memory_bytes{")]
            return sum(float(line.rsplit(" ", 1)[1]) for line in rows if "st_cache_data" in line) / MIB
    return float("nan")


def report(phases: dict[str, dict], stats: dict) -> None:
    print(f"\n  {'memory (MiB)':<40}{'RSS':>7}{'PSS':>7}{'PSS, container':>16}{'bounded by RSS':>16}")
    for phase, s in phases.items():
        for group in ("app", "worker", "app+worker", "postgres"):
            rss, kernel, container, bounded = (v / MIB for v in s[group])
            print(
                f"  {phase if group == 'app' else '':<28}{group:<12}{rss:7.0f}{kernel:7.0f}{container:16.0f}"
                f"{bounded:16.0f}"
            )
    for page in [k for k in stats if k not in ("bytes", "exceptions", "errors")]:
        runs = stats[page] or [0.0]
        size = stats["bytes"][page] / len(runs) / 1024
        print(f"  {page}: {len(stats[page])} runs, median {statistics.median(runs):.2f} s, {size:.0f} KiB sent per run")
    print(f"  exceptions shown: {stats['exceptions']}, error messages shown: {stats['errors']}")


def shipped(key: str) -> str:
    """The value render.yaml gives `key` in the web service ("" when it gives none)."""
    import yaml

    web = next(s for s in yaml.safe_load((ROOT / "render.yaml").read_text())["services"] if s["type"] == "web")
    return next((str(e["value"]) for e in web["envVars"] if e["key"] == key and "value" in e), "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the sessions run (Ticker, then Risk)")
    parser.add_argument("--after", type=float, default=30.0, help="seconds measured once the sessions closed")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="seconds measured once the worker is idle")
    parser.add_argument("--no-jobs", action="store_true", help="queue no start-up jobs (then the clock decides)")
    parser.add_argument("--caches", action="store_true", help="only the static cache check")
    parser.add_argument("--light", action="store_true", help="Ticker (5) and Risk (20) only; no bundle loaded")
    parser.add_argument("--plan", default="heavy", help=argparse.SUPPRESS)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--cookie", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(asyncio.run(drive(args.drive, args.cookie, args.sessions, args.seconds, plan=args.plan))))
        return 0
    caches_ok = print_caches()
    if args.caches:
        return 0 if caches_ok else 1
    print(for_scale())

    folder = Path(tempfile.mkdtemp(prefix="md-bench-memory-"))
    env = {
        "DATA_DIR": str(folder),
        "TERMINAL_PASSWORD": secrets.token_urlsafe(16),
        "AUTH_SECRET": secrets.token_urlsafe(32),
        "WORKER_ENABLED": "true",
    }
    for key in MALLOC:  # what ships, unless this environment says otherwise ("" for glibc's default)
        value = os.environ.get(key, shipped(key))
        if value:
            env[key] = value
        print(f"{key}={value or 'unset (glibc default)'}")
    os.environ.update(env)
    with Server(env, folder / "server.log") as server:
        server.wait_for_health(200, timeout=180)
        app, started = server.process.pid, time.monotonic()
        ran = settle_worker(app, jobs=not args.no_jobs)
        print(f"\nserver {server.url} (pid {app}), data in {folder}; worker idle {time.monotonic() - started:.0f} s")
        print("  start-up tasks the worker ran: " + (", ".join(ran) or "none"))
        plan = "light" if args.light else "heavy"
        if not args.light:
            print("  loaded for the heavy pages: " + load_bundles(folder))
        idle, _, _, _ = watch(app, folder, args.idle_seconds)
        cookie = session_cookie(folder)
        drive_args = ["--drive", server.url, "--cookie", cookie, "--sessions", str(args.sessions)]
        drive_args += ["--plan", plan]
        driver = subprocess.Popen(
            [sys.executable, __file__, *drive_args, "--seconds", str(args.seconds)], stdout=subprocess.PIPE, text=True
        )
        task = queue_a_task(args.seconds / 2)
        peak, _, peak_bounded, busy = watch(app, folder, 0, until=driver)
        task.join()
        stats = json.loads(driver.communicate()[0])
        cached = cache_mib(server.url, cookie)
        _, after, _, _ = watch(app, folder, args.after)

    report(
        {
            "1. idle (baseline)": idle,
            f"2. peak, {args.sessions} sessions": peak,
            "2b. peak, bounded by RSS": peak_bounded,
            **({"2c. peak, a task running": busy} if busy else {}),
            f"3. {args.after:.0f} s after": after,
        },
        stats,
    )
    print(f"  st.cache_data once the sessions ended: {cached:.0f} MiB serialized (server.maxCacheDataSize bounds it)")
    figures = {"peak": pss(peak, "app+worker"), "worker_idle": pss(idle, "worker")}
    checks = {
        f"app+worker at peak {figures['peak']:.0f} <= {GOALS['peak']:.0f} MiB PSS": figures["peak"] <= GOALS["peak"],
        f"worker idle {figures['worker_idle']:.0f} <= {GOALS['worker_idle']:.0f} MiB PSS": figures["worker_idle"]
        <= GOALS["worker_idle"],
        "every Streamlit cache has ttl and max_entries": caches_ok,
        "every page ran, without an error": all(stats[page] for page, _ in PLANS[plan](0))
        and not stats["exceptions"]
        and not stats["errors"],
    }
    for name, ok in checks.items():
        print(f"  goal {name}: {'ok' if ok else 'MISSED'}")
    from benchmarks.suite import emit

    figures.update({f"{group} PSS idle (MiB)": pss(idle, group) for group in ("app", "worker", "postgres")})
    figures.update({f"{group} PSS at peak (MiB)": pss(peak, group) for group in ("app", "worker", "postgres")})
    figures["app PSS after (MiB)"] = pss(after, "app")
    # Not a goal: the peak with each process's share at most its RSS of the same sample (`sample` says why).
    figures["app+worker PSS at peak, bounded by RSS (MiB)"] = pss(peak_bounded, "app+worker", bounded=True)
    figures["st.cache_data at the end (MiB)"] = cached
    # Not a goal: the sessions' peak while a task ran in the worker's child (queued half-way through the sessions).
    figures["app+worker PSS at peak, a task running (MiB)"] = pss(busy, "app+worker") if busy else float("nan")
    figures["sessions"] = args.sessions
    emit(
        {
            ("app+worker PSS at peak (MiB)" if k == "peak" else "worker PSS idle (MiB)" if k == "worker_idle" else k): v
            for k, v in figures.items()
        },
        checks,
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
