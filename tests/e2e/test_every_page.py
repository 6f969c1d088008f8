"""Every page in a real browser, as a new user: `streamlit run` on the embedded database and the sample data.

Signs in with the login printed on the console, opens every page from the navigation, uses each page's main
controls, downloads each export and opens it, and checks that no page shows an exception or an error alert (a
screenshot per page goes to test-output/browser/). A viewer made with `python -m dashboard users add` sees no
admin page. Run alone with `python -m pytest -m browser`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.test_access import ADMIN_TITLES, TITLES
from tests.e2e.test_server import browser, printed_password  # noqa: F401 - the shared Chromium fixture
from tests.support import browser as ui
from tests.support.receiver import Receiver
from tests.support.server import ROOT, Server, guarded_env

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

VIEWPORT = {"width": 1400, "height": 1000}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def app_env(tmp_path_factory) -> dict[str, str]:
    """A new user's start: no DATABASE_URL (the embedded server in an empty folder), no password chosen."""
    return {
        "DATA_DIR": str(tmp_path_factory.mktemp("every-page")),
        "ALERT_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",  # the loopback receiver is the alert channel
        # No internet here: the worker's first scheduled provider runs fail at once rather than retrying for a minute.
        "PROVIDER_RETRY_ATTEMPTS": "1",
    }


@pytest.fixture(scope="module")
def server(app_env, tmp_path_factory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("every-page-logs") / "server.log"
    with Server(app_env, log) as srv:
        srv.wait_for_health(200, timeout=120)
        yield srv


@pytest.fixture(scope="module")
def admin(server, browser) -> Iterator[BrowserContext]:  # noqa: F811
    """One signed-in admin browser (the session cookie serves every new tab)."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.goto(server.url + "/")
    ui.sign_in_and_keep(page, "admin", printed_password(server.output()), "Overview", server)
    page.close()
    yield context
    context.close()


@pytest.fixture
def page(admin, server) -> Iterator[Page]:
    tab = admin.new_page()
    tab.set_default_timeout(ui.RUN_MS)
    tab.goto(server.url + "/")
    ui.wait_for_heading(tab, "Overview", server)
    yield tab
    tab.close()


def test_overview_with_a_display_currency_and_its_exports(page):
    ui.open_from_navigation(page, "Overview")
    ui.choose(page, "Display currency", "EUR €")
    expect(page).to_have_url(re.compile(r"ccy=EUR"))
    expect(page.get_by_text("No DEXUSEU rates")).to_have_count(0)
    ui.open_export(ui.download(page, "CSV"))
    ui.open_export(ui.download(page, "XLSX"))
    params = ui.open_export(ui.download(page, "Parameters"))
    assert "EUR" in params["prices"], params
    ui.check(page, "overview")


def test_ticker_tickers_range_chart_type_and_indicators(page):
    ui.open_from_navigation(page, "Ticker")
    ui.type_into(page, "Tickers (up to 8, comma-separated; the first is charted in detail)", "AAPL,MSFT")
    ui.press(page, "Range", "5Y")
    ui.press(page, "Chart", "Line")
    ui.press(page, "Indicators", "SMA50")
    ui.press(page, "Indicators", "RSI")
    expect(page).to_have_url(re.compile(r"tk_.*=AAPL"))
    page.locator('[data-testid="stPlotlyChart"]').nth(1).wait_for()  # the price chart and the comparison
    csv = ui.open_export(ui.download(page, "CSV"))
    assert "AAPL" in csv.to_csv() and "MSFT" in csv.to_csv()
    ui.open_export(ui.download(page, "XLSX"))
    ui.open_export(ui.download(page, "Parameters"))
    ui.check(page, "ticker")


def test_risk_tickers_and_exports(page):
    ui.open_from_navigation(page, "Risk")
    ui.press(page, "Range", "1Y")
    ui.check(page, "risk")
    for label in ("CSV", "XLSX", "Parameters"):
        ui.open_export(ui.download(page, label))


def test_peers_and_exports(page):
    ui.open_from_navigation(page, "Peers")
    ui.press(page, "Range", "6M")
    ui.check(page, "peers")
    for label in ("CSV", "XLSX", "Parameters"):
        ui.open_export(ui.download(page, label))


def test_peers_five_year_range(page):
    ui.open_from_navigation(page, "Peers")
    ui.press(page, "Range", "5Y")
    ui.check(page, "peers-5y")


def test_screener_and_exports(page):
    ui.open_from_navigation(page, "Screener")
    ui.check(page, "screener")
    for label in ("CSV", "XLSX", "Parameters"):
        ui.open_export(ui.download(page, label))


def test_index_built_saved_and_exported(page):
    ui.open_from_navigation(page, "Index")
    ui.type_into(page, "Tickers", "AAPL,MSFT,NVDA")
    ui.choose(page, "Rebalance", "Month end")
    for label in ("Levels CSV", "Changes CSV", "XLSX", "JSON"):
        ui.open_export(ui.download(page, label))
    page.get_by_text("Save this index").click()
    ui.type_into(page, "Name", "Three megacaps")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved “Three megacaps”").wait_for()
    ui.check(page, "index")


def test_backtest_run_and_exports(page):
    ui.open_from_navigation(page, "Backtest")
    ui.choose(page, "Strategy", "Buy and hold")
    expect(page).to_have_url(re.compile(r"Buy"))
    for label in ("Equity CSV", "Trades CSV", "XLSX", "Parameters"):
        ui.open_export(ui.download(page, label))
    ui.check(page, "backtest")


def test_options_demo_loaded_by_the_admin_button_then_a_chain_opened(page):
    ui.open_from_navigation(page, "Options")
    load = page.get_by_role("button", name="Load the option-chain demo")
    chain = page.get_by_role("heading", name="Implied volatility")
    load.or_(chain).first.wait_for()  # the Data health test may have loaded the demo already (random order)
    if load.is_visible():
        load.click()
    # The worker loads it (about 300k rows); the page reruns by itself when the task closes.
    chain.wait_for(timeout=180_000)
    ui.idle(page)
    ui.choose(page, "Underlying", "AAPL")
    page.get_by_text("All strikes", exact=True).click()
    expect(page).to_have_url(re.compile(r"op_symbol=AAPL.*op_all=true|op_all=true.*op_symbol=AAPL", re.IGNORECASE))
    chain.wait_for()
    for label in ("CSV", "XLSX", "Parameters"):
        ui.open_export(ui.download(page, label))
    ui.check(page, "options")


def test_macro_series_transform_and_export(page):
    ui.open_from_navigation(page, "Macro")
    ui.choose(page, "Transformation of UNRATE", "Change from Year Ago")
    expect(page).to_have_url(re.compile(r"macro_u_UNRATE=Change"))
    ui.open_export(ui.download(page, "Download CSV"))
    ui.open_export(ui.download(page, "Parameters"))
    ui.check(page, "macro")


def test_alert_channel_tested_and_a_rule_created_and_tested(page, receiver):
    ui.open_from_navigation(page, "Alerts")
    page.get_by_role("tab", name="Channels").click()
    page.get_by_label("URL or email address").fill(receiver.url)
    page.get_by_role("button", name="Add channel").click()
    page.get_by_text(re.compile(r"Added channel \d+")).wait_for()
    ui.idle(page)
    page.get_by_role("button", name="Send test").click()
    page.get_by_text(re.compile(r"Delivered: status 200")).wait_for()
    assert receiver.requests, "the test message never reached the receiver"
    page.get_by_role("tab", name="Rules").click()
    page.get_by_role("textbox", name="Target").fill("AAPL")
    page.get_by_role("textbox", name="Condition").fill("close above 100")
    page.get_by_role("button", name="Test this rule now").click()
    page.get_by_text(re.compile(r"It would (not )?have fired")).wait_for()
    ui.idle(page)
    page.get_by_role("textbox", name="Target").fill("AAPL")
    page.get_by_role("textbox", name="Condition").fill("close above 100")
    page.get_by_role("button", name="Save rule").click()
    page.get_by_text(re.compile(r"Rule \d+ saved")).wait_for()
    ui.check(page, "alerts")


def test_alert_history(page):
    ui.open_from_navigation(page, "Alert history")
    ui.check(page, "alert-history")


def test_data_health_job_run_to_the_end_and_exports(page):
    ui.open_from_navigation(page, "Data health")
    for label in ("CSV", "XLSX", "Parameters"):
        ui.open_export(ui.download(page, label))
    page.get_by_role("tab", name="Run now").click()
    # A provider job cannot succeed without internet; the option-chain demo load is a real worker job that can.
    ui.choose(page, "Job", "options-demo")
    page.get_by_role("button", name="Queue the run").click()
    page.get_by_text("Your runs").wait_for()
    # The progress polls every second until the task closes.
    page.get_by_text(re.compile(r"^Task \d+ · .* · Done$")).wait_for(timeout=180_000)
    ui.idle(page)
    ui.check(page, "data-health")


def test_api_token_created(page):
    ui.open_from_navigation(page, "API tokens")
    page.get_by_label("Label").fill("browser suite")
    page.get_by_role("button", name="Create token").click()
    page.get_by_text("browser suite").first.wait_for()
    ui.check(page, "api-tokens")


def test_users_and_audit_log(page):
    ui.open_from_navigation(page, "Users")
    ui.check(page, "users")
    ui.open_from_navigation(page, "Audit log")
    for label in ("CSV", "XLSX", "Parameters"):
        ui.open_export(ui.download(page, label))
    ui.check(page, "audit-log")


def test_admin_navigation_lists_every_page_and_sign_out_ends_the_session(server, browser):  # noqa: F811
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.goto(server.url + "/")
    ui.sign_in_and_keep(tab, "admin", printed_password(server.output()), "Overview", server)
    nav = tab.locator('[data-testid="stSidebarNav"]')
    for title in TITLES:
        expect(nav.get_by_role("link", name=title, exact=True)).to_have_count(1)
    tab.get_by_role("button", name="Sign out").click()
    tab.get_by_role("button", name="Sign in").wait_for(timeout=ui.RUN_MS)
    tab.reload()
    tab.get_by_role("button", name="Sign in").wait_for(timeout=ui.RUN_MS)
    assert "Overview" not in tab.inner_text("body")
    context.close()


def test_viewer_sees_no_admin_page(server, app_env, browser):  # noqa: F811
    made = subprocess.run(
        [sys.executable, "-m", "dashboard", "users", "add", "desk-viewer", "--role", "viewer"],
        cwd=ROOT,
        env=guarded_env(app_env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    match = re.search(r"password: (\S+)", made.stdout)
    assert match, made.stdout
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.goto(server.url + "/")
    ui.sign_in_and_keep(tab, "desk-viewer", match.group(1), "Overview", server)
    nav = tab.locator('[data-testid="stSidebarNav"]')
    expect(nav.get_by_role("link", name="Data health", exact=True)).to_have_count(1)
    for title in ADMIN_TITLES:
        expect(nav.get_by_role("link", name=title, exact=True)).to_have_count(0)
    ui.check(tab, "viewer-overview")
    context.close()
