"""Start the real app with `streamlit run` on a free port, with the network guard loaded in the process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUARD_DIR = ROOT / "tests" / "netguard"

# Variables that would change what the app connects to or how it logs in.
_APP_VARIABLES = ("DATABASE_URL", "APP_ENV", "RENDER", "TERMINAL_PASSWORD", "TERMINAL_USER", "AUTH_SECRET", "DATA_DIR")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def guarded_env(extra: dict[str, str]) -> dict[str, str]:
    """The current environment minus app settings, plus `extra`, with the network guard preloaded."""
    env = {k: v for k, v in os.environ.items() if k not in _APP_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join([str(GUARD_DIR), str(ROOT)])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def get(url: str, timeout: float = 2.0, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Server:
    """A `streamlit run streamlit_app.py` process; output goes to `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "streamlit_app.py",
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
            ],
            cwd=ROOT,
            env=guarded_env(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def health(self) -> tuple[int, dict | None]:
        try:
            status, body = get(f"{self.url}/healthz")
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return 0, None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None

    def wait_for_health(self, expected: int = 200, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        last: tuple[int, dict | None] = (0, None)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.output()}")
            last = self.health()
            if last[0] == expected:
                return last[1] or {}
            time.sleep(0.1)
        raise AssertionError(f"/healthz never returned {expected} (last {last}):\n{self.output()}")

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def stacks(self, settle: float = 1.0) -> str:
        """Every thread's stack in the server process now (SIGUSR1: the network guard's start-up registers
        faulthandler for it), as the log's last lines: where a server that stopped answering is stuck."""
        before = len(self.output())
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGUSR1)
            time.sleep(settle)
        return self.output()[before:]

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
