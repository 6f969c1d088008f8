"""Audit log (admins only): sign-ins, lockouts, sign-outs, exports and admin actions, newest first."""

import json

import streamlit as st

from dashboard.access import admin, audit, gate
from dashboard.access.client_ip import shown_address
from dashboard.ui import exports, formatting
from dashboard.ui.components import load_or_stop
from store import clock

gate.require_login()
gate.require_role("admin")

st.title("Audit log")
left, right = st.columns(2)
action = left.selectbox("Action", ["(all)", *audit.ACTIONS], key="audit_action")
username = right.text_input("User", key="audit_user", max_chars=64).strip()

entries = load_or_stop(
    "the audit log",
    lambda: admin.audit_entries(action=None if action == "(all)" else action, username=username or None),
)
if entries.empty:
    st.info("No entries match.")
    st.stop()
entries["details"] = entries["details"].map(lambda d: json.dumps(d, sort_keys=True) if d else "")
# Rows written before addresses were stored in their IPv4 form still read as one.
entries["client_ip"] = entries["client_ip"].map(shown_address)
st.dataframe(
    formatting.styled(entries),
    hide_index=True,
    width="stretch",
    column_config={
        "at": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "username": "User",
        "action": "Action",
        "client_ip": "Client IP",
        "details": "Details",
    },
)
st.caption(f"The latest {len(entries)} entries.")
params = {
    "exported_by": "Market Desk",
    "generated_at_utc": clock.now().replace(microsecond=0, tzinfo=None).isoformat(),
    "action": action,
    "user": username or "(all)",
    "rows": str(len(entries)),
    "times": "UTC",
}
# Built only when the admin clicks (served from /media to a signed-in browser only), and audited then.
exports.export_buttons(
    "market-desk_audit-log",
    lambda: entries,
    params,
    lambda fmt: gate.recorder("export", {"what": "audit_log", "format": fmt, "rows": len(entries)}),
    key="audit_export",
)
