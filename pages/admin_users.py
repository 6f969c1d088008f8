"""Users (admins only): add users, disable or enable them, reset passwords, change roles."""

import streamlit as st

from dashboard.access import admin, gate, users
from dashboard.ui.components import load_or_stop
from dashboard.ui.text import plain

gate.require_login()
me = gate.require_role("admin")

st.title("Users")
actor = {"actor": me["username"], "client_ip": gate.client_ip()}


def _done(message: str, password: str | None = None) -> None:
    st.success(plain(message))
    if password:
        st.caption("Password (shown once; pass it on privately, it is not stored in readable form):")
        st.code(password, language=None)


add_column, change_column = st.columns(2)
with add_column, st.form("add_user", clear_on_submit=True):
    st.subheader("Add a user")
    new_name = st.text_input("User name", key="admin_new_username", max_chars=64)
    new_role = st.selectbox("Role", users.ROLES, key="admin_new_role")
    if st.form_submit_button("Add user", type="primary"):
        try:
            password = admin.add_user(new_name, new_role, **actor)
            _done(f"Added {new_name.strip()} ({new_role}).", password)
        except users.UserError as exc:
            st.error(plain(exc))

table = load_or_stop("users", admin.list_users)
ACTIONS = {
    "Disable": lambda name: admin.set_active(name, False, **actor),
    "Enable": lambda name: admin.set_active(name, True, **actor),
    "Reset password": lambda name: admin.reset_password(name, **actor),
    "Make admin": lambda name: admin.set_role(name, "admin", **actor),
    "Make viewer": lambda name: admin.set_role(name, "viewer", **actor),
}
with change_column, st.form("change_user"):
    st.subheader("Change a user")
    name = st.selectbox("User", table["username"].tolist(), key="admin_change_username")
    action = st.radio("Action", list(ACTIONS), key="admin_change_action", horizontal=True)
    if st.form_submit_button("Apply") and name:
        try:
            result = ACTIONS[action](name)
            _done(f"{action}: {name}.", result if action == "Reset password" else None)
            table = admin.list_users()
        except users.UserError as exc:
            st.error(plain(exc))

st.subheader("All users")
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_config={
        "username": "User",
        "role": "Role",
        "active": st.column_config.CheckboxColumn("Active"),
        "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
        "last_login_at": st.column_config.DatetimeColumn("Last sign-in", format="YYYY-MM-DD HH:mm"),
    },
)
st.caption("Disabling a user or resetting a password ends that user's sessions at once.")
