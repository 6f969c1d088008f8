"""Control changes in a real browser, warm: Ticker and Macro against a page with one control (issue 16).

The app runs as the browser suite runs it (tests/support/server.py: `streamlit run`, the embedded PostgreSQL in a
new folder, the bundled sample; the worker off, so that its start-up jobs fall on no measurement), and headless
Chromium (Playwright, /usr/bin/chromium) signs in and opens two tabs: Ticker with the 5 tickers of the pages
benchmark over the whole history (/ticker?tk_t=AAPL,MSFT,NVDA,SPY,QQQ&tk_range=Max) and Macro as it opens. Each
repetition changes the main controls in turn: on Ticker the range (Max <-> 5Y), the chart type (Candlestick <->
Line) and an indicator (RSI on <-> off); on Macro the transformation of UNRATE (Levels <-> Change from Year Ago).
Every state is visited once before the measurements, so each change measured goes back to a state already seen:
warm, its data in the caches (the figures are built again, as on every run).

A change is timed from the click (the option's click; the select box is opened and filtered before) until the
run it starts has finished and the browser has drawn it: the ForwardMsg `script_finished` (successfully) arriving
on the page's websocket, then Streamlit's script state back to notRunning (its status widget gone), then two
animation frames (what the run sent is on screen, charts included). The websocket message is the robust part: a
run can be quick enough that the page never shows it "running", while every run ends with that message.

Baseline, in the same run and the same browser: the same measurement on a bare Streamlit app (its own
`streamlit run`) whose one page has one control, a segmented control, and writes its value: Streamlit's and the
browser's own cost of a rerun on this machine. The measurements are interleaved (a repetition changes every
control once, the baseline's included), so a busy moment of the shared machine falls on all of them alike.
Goal (issue 16): a control change on Ticker or Macro in <= 0.5 s warm in the browser, p50 per page; exit 1 when
missed.

    python benchmarks/browser_controls.py [--runs 10] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)
from tests.support import browser as ui  # noqa: E402
from tests.support.server import Server, free_port, get, guarded_env  # noqa: E402

GOAL_P50 = 0.5  # seconds, per page
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]
VIEWPORT = {"width": 1400, "height": 1000}
TICKER_URL = "/ticker?tk_t=AAPL,MSFT,NVDA,SPY,QQQ&tk_range=Max"
BARE_APP = """import streamlit as st

choice = st.segmented_control("Choice", ["A", "B"], default="A", required=True)
st.write(f"Chosen: {choice}")
"""
NOT_RUNNING = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PAINTED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def finished(payload: str | bytes) -> bool:
    """Whether a websocket frame from the server is the ForwardMsg that ends a script run successfully."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    if isinstance(payload, str):
        return False
    message = ForwardMsg.FromString(payload)
    return message.WhichOneof("type") == "script_finished" and message.script_finished == 0  # FINISHED_SUCCESSFULLY


class Tab:
    """One browser tab on one page of an app, with the websocket its runs come through."""

    def __init__(self, context, url: str, drawn: str) -> None:  # noqa: ANN001 - a Playwright BrowserContext
        """Open `url` and wait until the element `drawn` (a CSS selector) is on screen: the page is drawn (Streamlit
        loads each kind of element's code on its first use, after the run)."""
        self.page = context.new_page()
        self.page.set_default_timeout(ui.RUN_MS)
        self.sockets: list = []
        self.page.on("websocket", lambda socket: self.sockets.append(socket))
        self.page.goto(url)
        self.page.locator(NOT_RUNNING).wait_for(timeout=ui.FIRST_LOAD_MS)
        self.page.locator(drawn).first.wait_for(timeout=ui.FIRST_LOAD_MS)
        ui.idle(self.page, ui.FIRST_LOAD_MS)

    def front(self) -> Tab:
        """This tab in front, as the tab a user works in (untimed)."""
        self.page.bring_to_front()
        return self

    def timed(self, target) -> tuple[float, float]:  # noqa: ANN001 - a Playwright Locator
        """Click `target` (once it is on screen, scrolled to and enabled: untimed); seconds from the click until the
        run it starts has finished (its script_finished message came) and until the browser has drawn it."""
        target.wait_for(state="visible")
        target.scroll_into_view_if_needed()
        stream = next(s for s in reversed(self.sockets) if s.url.endswith("/_stcore/stream") and not s.is_closed())
        with stream.expect_event("framereceived", predicate=finished, timeout=ui.RUN_MS):
            started = time.perf_counter()
            target.click(force=True)  # no actionability waits (checked above) inside the measurement
        ended = time.perf_counter()
        self.page.locator(NOT_RUNNING).wait_for()
        self.page.evaluate(PAINTED)
        return time.perf_counter() - started, ended - started


def button(tab: Tab, control: str, option: str):  # noqa: ANN201 - a Playwright Locator
    """The button `option` of the segmented control or pills labelled `control` (ui.press's, without its wait)."""
    group = tab.page.locator('[data-testid="stButtonGroup"]').filter(has=tab.page.get_by_text(control, exact=True))
    return group.locator("button").filter(has_text=re.compile(rf"^\s*{re.escape(option)}\s*$")).first


def press(tab: Tab, control: str, option: str) -> Callable[[], tuple[float, float]]:
    """A change: click `option` of `control`, timed (Tab.timed)."""
    return lambda: tab.front().timed(button(tab, control, option))


def pick(tab: Tab, label: str, option: str) -> Callable[[], tuple[float, float]]:
    """A change: open the select box `label`, filter it to `option` (untimed), then click the option, timed."""

    def change() -> tuple[float, float]:
        box = tab.front().page.get_by_label(label, exact=True).locator("visible=true").first
        box.click()
        box.fill(option)
        return tab.timed(tab.page.get_by_role("option", name=option, exact=True))

    return change


def bare_server(folder: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run` of BARE_APP; its process and address once it answers /_stcore/health."""
    script = folder / "one_control.py"
    script.write_text(BARE_APP)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
        + ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=folder,
        env=guarded_env({}),
        stdout=(folder / "bare.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get(f"{url}/_stcore/health")[0] == 200:
                return process, url
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the bare app never answered:\n{(folder / 'bare.log').read_text()}")


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="changes measured per control (each way)")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        print(f"no Chromium at {args.chromium} (apt-get install chromium)")
        return 2
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="md-bench-browser-"))
    password = secrets.token_urlsafe(16)
    env = {"DATA_DIR": str(folder), "TERMINAL_PASSWORD": password, "WORKER_ENABLED": "false"}
    bare, bare_url = bare_server(folder)
    samples: dict[str, list[tuple[float, float]]] = {"baseline": [], "ticker": [], "macro": []}
    try:
        with Server(env, folder / "server.log") as server, sync_playwright() as pw:
            server.wait_for_health(200, timeout=180)
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            app = browser.new_context(viewport=VIEWPORT)
            sign_in = app.new_page()
            sign_in.goto(server.url + "/")
            ui.sign_in(sign_in, "admin", password)
            sign_in.get_by_role("heading", name="Overview").wait_for(timeout=ui.FIRST_LOAD_MS)
            sign_in.close()
            chart = '[data-testid="stPlotlyChart"] .main-svg'
            ticker, macro = Tab(app, server.url + TICKER_URL, chart), Tab(app, server.url + "/macro", chart)
            baseline = Tab(browser.new_context(viewport=VIEWPORT), bare_url, '[data-testid="stButtonGroup"] button')
            # (page, the change there, the change back): each state is visited once, untimed, before the runs.
            changes = [
                ("baseline", press(baseline, "Choice", "B"), press(baseline, "Choice", "A")),
                ("ticker", press(ticker, "Range", "5Y"), press(ticker, "Range", "Max")),
                ("ticker", press(ticker, "Chart", "Line"), press(ticker, "Chart", "Candlestick")),
                ("ticker", press(ticker, "Indicators", "RSI"), press(ticker, "Indicators", "RSI")),
                (
                    "macro",
                    pick(macro, "Transformation of UNRATE", "Change from Year Ago"),
                    pick(macro, "Transformation of UNRATE", "Levels"),
                ),
            ]
            for _, there, back in changes:
                there(), back()
            for _ in range(args.runs):
                for name, there, back in changes:
                    samples[name] += [there(), back()]
            for tab in (ticker, macro, baseline):
                assert ui.errors(tab.page) == [], ui.errors(tab.page)
            browser.close()
    finally:
        bare.terminate()
        bare.wait(20)

    labels = {
        "baseline": "bare Streamlit, one control (baseline)",
        "ticker": "Ticker, 5 tickers: range, chart, RSI",
        "macro": "Macro: UNRATE's transformation",
    }
    base50, _ = p50_p95([drawn for drawn, _ in samples["baseline"]])
    print(f"\nA control change, click to the run drawn, warm: p50 / p95 of {args.runs * 2} changes per control")
    figures: dict[str, float] = {}
    goals: dict[str, bool] = {}
    for name, label in labels.items():
        p50, p95 = p50_p95([drawn for drawn, _ in samples[name]])
        ran50, _ = p50_p95([ran for _, ran in samples[name]])
        figures.update(
            {f"{label}: p50 (s)": p50, f"{label}: p95 (s)": p95, f"{label}: p50 to the run's end (s)": ran50}
        )
        text = f"  {label:<40} p50 {p50:6.3f} s  p95 {p95:6.3f} s  (the run ended at {ran50:.3f} s)"
        if name != "baseline":
            ok = p50 <= GOAL_P50
            goals[f"{label}: p50 {p50:.2f} s <= {GOAL_P50} s warm"] = ok
            text += f"  {p50 / base50:4.1f}x the baseline  goal p50 <= {GOAL_P50} s: {'ok' if ok else 'MISSED'}"
        print(text)
    for name, ok in goals.items():
        print(f"{'PASS' if ok else 'FAIL'}: {name}")
    from benchmarks.suite import emit

    emit(figures, goals)
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
