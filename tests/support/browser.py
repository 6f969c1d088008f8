"""Driving the real app in headless Chromium: wait for a script run, check a page, download and open an export."""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from playwright.sync_api import BrowserContext, Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dashboard.access import sessions
from tests.support.server import ROOT

# Screenshots and downloads of the browser suite (git-ignored).
OUTPUT = ROOT / "test-output" / "browser"

# The loaded 2-core CI box: a first page load can take a while (cold caches, the worker busy next to it).
FIRST_LOAD_MS = 90_000
RUN_MS = 60_000
CLICK_MS = 15_000  # a download that has not started this long after its click: the click was lost

EXCEPTION = '[data-testid="stException"]'
ERROR_ALERT = '[data-testid="stAlertContentError"]'


def idle(page: Page, timeout: float = RUN_MS) -> None:
    """Until the script run in progress has finished (Streamlit's running indicator is gone)."""
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout)
    page.locator('[data-testid="stApp"][data-test-script-state="running"]').wait_for(state="detached", timeout=timeout)


def sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def session_cookie(context: BrowserContext) -> dict | None:
    """The browser's session cookie (HttpOnly: only the context sees it, not the page's scripts)."""
    return next((c for c in context.cookies() if c["name"] == sessions.COOKIE_NAME), None)


def sign_in_and_keep(page: Page, username: str, password: str, title: str, server: Any = None) -> None:
    """Sign in, and wait until the browser has been to /auth/session for its session cookie and is back on the page,
    showing `title`.

    A sign-in draws the page at once, then sends the browser to /auth/session, which sets the cookie and redirects
    back. Waiting for the heading alone can end before that visit: a tab closed then, or a reload, is signed out,
    and an action taken during it lands on a document about to be replaced. So this waits for the return itself (the
    next document of the main frame, loaded) and then for the cookie."""
    with page.expect_event("framenavigated", lambda frame: frame == page.main_frame, timeout=FIRST_LOAD_MS):
        sign_in(page, username, password)
    page.wait_for_load_state("load")
    assert session_cookie(page.context) is not None, f"no session cookie after signing in: {page.context.cookies()}"
    wait_for_heading(page, title, server)


def open_from_navigation(page: Page, title: str) -> None:
    """Click `title` in the sidebar navigation and wait for that page's heading and its run to finish."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title, exact=True).click()
    wait_for_heading(page, title)


def wait_for_heading(page: Page, title: str, server: Any = None, timeout: float = FIRST_LOAD_MS) -> None:
    """Until the page shows `title` as a heading and its run has finished. When it does not: a screenshot and the
    page's text in the failure, and given the `server`, its recent log and its threads' stacks (a hang says where)."""
    try:
        page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=timeout)
        idle(page, timeout)
    except PlaywrightTimeout as exc:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        shot = OUTPUT / f"timeout-{title.lower().replace(' ', '-')}.png"
        with contextlib.suppress(Exception):
            page.screenshot(path=str(shot), full_page=True)
        text = ""
        with contextlib.suppress(Exception):
            text = page.locator("body").inner_text(timeout=5_000)[-2_000:]
        report = f"{title!r} not shown within {timeout / 1000:.0f} s at {page.url} (screenshot {shot.name})\n"
        report += f"--- page text:\n{text}"
        if server is not None:
            stacks = server.stacks()
            report += f"\n--- server log, last lines:\n{server.output()[-6_000:]}\n--- server threads:\n{stacks}"
        raise AssertionError(report) from exc


def errors(page: Page) -> list[str]:
    """The text of every Streamlit exception element and error alert on the page."""
    found = page.locator(f"{EXCEPTION}, {ERROR_ALERT}")
    return [found.nth(i).inner_text() for i in range(found.count())]


def check(page: Page, name: str) -> None:
    """No exception and no error alert on the page; a full-page screenshot as `name`.png."""
    idle(page)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
    assert errors(page) == [], f"{name}: {errors(page)}"


def download_button(page: Page, label: str) -> Locator:
    """The download button whose text is `label` (after its icon's ligature, e.g. "download")."""
    pattern = re.compile(rf"^\s*(download)?\s*{re.escape(label)}\s*$")
    return page.locator('[data-testid="stDownloadButton"] button').filter(has_text=pattern)


def download(page: Page, label: str, nth: int = 0) -> Path:
    """Once the run in progress has finished, click a download button and save what the browser receives under
    OUTPUT; returns the file. (A button drawn by a run that a later one replaces loses its file when that run ends:
    a click in between downloads nothing, in Streamlit as for a user, who clicks again: so does this, once the new
    run has finished, for up to RUN_MS.)"""
    deadline = time.monotonic() + RUN_MS / 1000
    while True:
        idle(page)
        try:
            with page.expect_download(timeout=CLICK_MS) as info:
                download_button(page, label).nth(nth).click()
            break
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
    got = info.value
    assert got.failure() is None, got.failure()
    target = OUTPUT / "downloads" / got.suggested_filename
    target.parent.mkdir(parents=True, exist_ok=True)
    got.save_as(target)
    return target


def open_export(path: Path) -> Any:
    """Parse a downloaded export as its suffix says; fails on an empty or unreadable file."""
    if path.suffix == ".csv":
        frame = pd.read_csv(path)
        assert not frame.empty and len(frame.columns) > 1, f"{path.name}: {frame.shape}"
        return frame
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        sheet = book[book.sheetnames[0]]
        assert sheet.max_row and sheet.max_row > 1, f"{path.name}: empty first sheet"
        return book
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        assert data, f"{path.name}: empty"
        return data
    raise AssertionError(f"unexpected export {path.name}")


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the select box labelled `label`."""
    box = page.get_by_label(label, exact=True).locator("visible=true").first
    box.click()
    box.fill(option)  # typing filters the list: a long list needs no scrolling, and a click that only focused opens it
    page.get_by_role("option", name=option, exact=True).click()
    idle(page)


def type_into(page: Page, label: str, text: str) -> None:
    """Replace a text input's value and submit it (Enter), as a user does."""
    box = page.get_by_role("textbox", name=label, exact=True).locator("visible=true").first
    box.fill(text)
    box.press("Enter")
    idle(page)


def press(page: Page, control: str, option: str) -> None:
    """Click `option` of the segmented control or pills labelled `control`."""
    group = page.locator('[data-testid="stButtonGroup"]').filter(has=page.get_by_text(control, exact=True))
    group.locator("button").filter(has_text=re.compile(rf"^\s*{re.escape(option)}\s*$")).first.click()
    idle(page)
