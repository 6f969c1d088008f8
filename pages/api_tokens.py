"""API tokens (every signed-in user): create personal tokens for /api/v1 (shown once), list and revoke them.

Admins also see everyone's tokens and may revoke any. A new token lives only in a local variable of the run that
created it: it is never put in session state, so any rerun (a click, a refresh) leaves it behind for good.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.access import admin, gate, tokens, users
from dashboard.ui.components import load_or_stop
from dashboard.ui.text import plain

me = gate.require_login()

st.title("API tokens")
st.caption(
    "Personal tokens for the read API under /api/v1. A token acts with your current role and stops working when "
    "you revoke it, when it expires, or when your account is disabled. Only a hash of it is stored."
)
actor = me["username"]
client_ip = gate.client_ip()
FLASH_KEY = "api_token_flash"  # the outcome of a revocation, shown by the run that follows it (not secret)


def _origin() -> str:
    """scheme://host[:port] of this app as the browser sees it (for the example), or the local default."""
    url = st.context.url or ""
    parts = url.split("/", 3)
    if len(parts) >= 3 and parts[0] in ("http:", "https:") and parts[2]:
        return "/".join(parts[:3])
    return "http://localhost:8501"


def _choice(table: pd.DataFrame, with_owner: bool) -> dict[int, str]:
    """Active tokens as the revoke form offers them: id -> "label (prefix…)" (and the owner for admins)."""
    active = table[table["state"] == "active"]
    return {
        int(row.id): (f"{row.user}: " if with_owner else "") + f"{row.label} ({row.prefix}…)"
        for row in active.itertuples()
    }


def _show_table(table: pd.DataFrame, with_owner: bool) -> None:
    columns = (["user"] if with_owner else []) + [
        "label",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "state",
    ]
    when = "YYYY-MM-DD HH:mm"
    st.dataframe(
        table[columns],
        hide_index=True,
        width="stretch",
        column_config={
            "user": "Owner",
            "label": "Label",
            "prefix": "Starts with",
            "created_at": st.column_config.DatetimeColumn("Created", format=when),
            "expires_at": st.column_config.DatetimeColumn("Expires", format=when),
            "last_used_at": st.column_config.DatetimeColumn("Last used", format=when),
            "state": "State",
        },
    )


def _revoke_form(key: str, table: pd.DataFrame, *, with_owner: bool, role: str) -> None:
    """A select of active tokens, a confirmation and a button. A revocation reruns the page (fresh lists and
    choices) with its message kept for that one next run."""
    choices = _choice(table, with_owner)
    if not choices:
        return
    with st.form(f"{key}_revoke", clear_on_submit=True):
        token_id = st.selectbox("Token", list(choices), format_func=choices.__getitem__, key=f"{key}_revoke_id")
        confirmed = st.checkbox(
            "Yes, revoke it: scripts that use this token stop working at once.", key=f"{key}_revoke_confirm"
        )
        if not st.form_submit_button("Revoke token") or token_id is None:
            return
    if not confirmed:
        st.warning("Tick the confirmation to revoke the token.")
        return
    try:
        done = load_or_stop(
            "the token revocation",
            lambda: admin.revoke_token(token_id, actor=actor, actor_role=role, client_ip=client_ip),
        )
    except users.UserError as exc:
        st.error(plain(exc))
        return
    st.session_state[FLASH_KEY] = (
        f"Revoked {choices[token_id]}." if done else f"{choices[token_id]} was revoked already."
    )
    st.rerun()


if flash := st.session_state.pop(FLASH_KEY, None):
    st.success(plain(flash))

# -- create ------------------------------------------------------------------------------------------------

created: tuple[str, str] | None = None  # (label, token): this run only, never stored
with st.form("api_token_create", clear_on_submit=True):
    st.subheader("Create a token")
    label = st.text_input(
        "Label", key="api_token_label", max_chars=tokens.LABEL_MAX, placeholder="e.g. research notebook"
    )
    expires = st.date_input(
        "Expires (optional)",
        value=None,
        key="api_token_expires",
        help="The token stops working at the end of that day (UTC). Leave empty for a token that does not expire.",
    )
    if st.form_submit_button("Create token", type="primary"):
        try:
            _, secret = load_or_stop(
                "the new token",
                lambda: admin.create_token(actor, label, expires, actor=actor, client_ip=client_ip),
            )
            created = (label.strip(), secret)
        except users.UserError as exc:
            st.error(plain(exc))

if created is not None:
    name, secret = created
    st.success(plain(f"Created the token {name}."))
    st.warning("Copy it now: it is shown this once and cannot be shown again (only a hash of it is stored).")
    st.code(secret, language=None)
    st.caption("Use it as a bearer token, for example:")
    st.code(
        "export MD_TOKEN='paste the token here'\n"
        f'curl -H "Authorization: Bearer $MD_TOKEN" "{_origin()}/api/v1/prices?symbols=AAPL"',
        language="bash",
    )
    st.link_button("API reference", "/api/v1/docs", icon=":material/menu_book:")

# -- the lists, each with a revoke form ------------------------------------------------------------------

is_admin = me["role"] == "admin"
st.subheader("Your tokens")
mine = load_or_stop("your tokens", lambda: admin.list_tokens(actor))
if mine.empty:
    st.info("You have no API tokens yet.")
else:
    _show_table(mine, with_owner=False)
_revoke_form("api_token_mine", mine, with_owner=False, role=me["role"])

if is_admin:
    st.subheader("All users' tokens")
    everyone = load_or_stop("all tokens", lambda: admin.list_tokens())
    if everyone.empty:
        st.info("Nobody has an API token yet.")
    else:
        _show_table(everyone, with_owner=True)
    _revoke_form("api_token_all", everyone, with_owner=True, role="admin")
