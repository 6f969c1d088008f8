"""The script st.App runs: start-up screen, login gate, navigation and shared chrome.

It lives in dashboard/web/ on purpose: with no `pages/` folder beside the main script, Streamlit's legacy
page auto-discovery never starts, so no page file can run without passing through this gate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import streamlit as st

from dashboard.access import gate
from dashboard.ui import currency
from dashboard.ui.text import plain
from dashboard.web import memory, metrics, startup
from store.logs import log_context

# (script, title, icon, url path, roles allowed); the first is the default page.
ALL_ROLES = frozenset({"viewer", "admin"})
PAGES = [
    ("../../pages/overview.py", "Overview", ":material/dashboard:", "overview", ALL_ROLES),
    ("../../pages/ticker.py", "Ticker", ":material/candlestick_chart:", "ticker", ALL_ROLES),
    ("../../pages/risk.py", "Risk", ":material/query_stats:", "risk", ALL_ROLES),
    ("../../pages/peers.py", "Peers", ":material/group_work:", "peers", ALL_ROLES),
    ("../../pages/screener.py", "Screener", ":material/filter_alt:", "screener", ALL_ROLES),
    ("../../pages/index_tracker.py", "Index", ":material/stacked_line_chart:", "index", ALL_ROLES),
    ("../../pages/backtest.py", "Backtest", ":material/science:", "backtest", ALL_ROLES),
    ("../../pages/options.py", "Options", ":material/ssid_chart:", "options", ALL_ROLES),
    ("../../pages/macro.py", "Macro", ":material/public:", "macro", ALL_ROLES),
    ("../../pages/alert_rules.py", "Alerts", ":material/notifications:", "alerts", ALL_ROLES),
    ("../../pages/alert_history.py", "Alert history", ":material/history:", "alert-history", ALL_ROLES),
    ("../../pages/data_health.py", "Data health", ":material/database:", "data-health", ALL_ROLES),
    ("../../pages/api_tokens.py", "API tokens", ":material/key:", "api-tokens", ALL_ROLES),
    ("../../pages/admin_users.py", "Users", ":material/group:", "admin-users", frozenset({"admin"})),
    ("../../pages/audit_log.py", "Audit log", ":material/policy:", "audit-log", frozenset({"admin"})),
]


def only(render: Callable[[], None], title: str) -> NoReturn:
    """Serve `render` at every known URL, and nothing else, then stop.

    Used while starting and while logged out: a deep link shows the start-up or sign-in screen (no
    "page not found"), and once that is done the session lands on the page that was asked for.
    """
    # The default page is served at "/" whatever its url_path, so it needs no stand-in of its own.
    stand_ins = [st.Page(render, title=title, url_path=page[3]) for page in PAGES[1:]]
    st.navigation([st.Page(render, title=title, default=True), *stand_ins], position="hidden").run()
    st.stop()


def startup_screen() -> None:
    """Shown until the database is ready; reruns by itself when start-up finishes."""
    state = startup.state()
    st.title("Market Desk")
    if state.phase == "error":
        st.error(plain(state.message))
    else:
        st.info(plain(f"{state.message or 'Starting'}…"))

    @st.fragment(run_every=1.0)
    def _poll() -> None:
        if startup.state().ready:
            st.rerun(scope="app")

    _poll()


st.set_page_config(page_title="Market Desk", page_icon=":material/monitoring:", layout="wide")

if not startup.ensure_started().ready:
    only(startup_screen, "Starting")

user = gate.current_user()
if user is None:
    only(gate.login_form, "Sign in")

# A page a role may not see is not registered for the session: its URL runs a hidden stand-in that says
# which role it needs (rather than falling back to the default page without a word).
navigation = st.navigation(
    [
        st.Page(script, title=title, icon=icon, url_path=path, default=i == 0)
        if user["role"] in roles
        else st.Page(gate.refusal_page(title, roles, user), title=title, url_path=path, visibility="hidden")
        for i, (script, title, icon, path, roles) in enumerate(PAGES)
    ],
    expanded=True,  # every page listed: Streamlit folds a long list behind "View more" otherwise
)
with st.sidebar:
    currency.sidebar_picker()
    st.caption(f"Signed in as **{plain(user['username'])}** ({user['role']})")
    if st.button("Sign out", icon=":material/logout:"):
        gate.logout()
        st.rerun()
# At most PAGE_RUNS_AT_ONCE page runs at once in this process (dashboard/web/memory.py): the rest wait their turn.
with memory.page_run_slot(), metrics.page_timer(navigation.title), log_context(user=user["username"]):
    navigation.run()
# Streamlit would keep every visited page's widgets' callbacks, and with them that page's frames, per session.
memory.forget_stale_widgets()
