"""Alert history (every signed-in user): every alert that fired, with the value that fired it, and every delivery
attempt (status, latency, error); filter them, and send a delivery again. Admins may look at everyone's."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from dashboard.access import alerts, gate
from dashboard.access.alerts import InvalidAlert
from dashboard.ui.components import load_or_stop
from dashboard.ui.text import plain
from store import clock

me = gate.require_login()
client_ip = gate.client_ip()
FLASH_KEY = "alert_history_flash"

st.title("Alert history")
st.caption(
    "Every alert that fired and every attempt to deliver it. A failed delivery is retried on a schedule "
    "(immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); a resend carries the same webhook-id, so a receiver "
    "that has it already can ignore it."
)
if flash := st.session_state.pop(FLASH_KEY, None):
    st.success(plain(flash))

left, middle, right = st.columns([2, 2, 1])
target = left.text_input("Symbol, series or target", key="ah_target", max_chars=64).strip().upper()
since = middle.date_input(
    "Fired since", value=clock.new_york_today() - timedelta(days=30), key="ah_since", max_value=clock.new_york_today()
)
everyone = right.toggle("Everyone's", key="ah_all") if me["role"] == "admin" else False
start = datetime.combine(since, time.min, tzinfo=UTC) if since else None

found = load_or_stop("the alerts", lambda: alerts.events(me, everyone=everyone, target=target, since=start))
if found.empty:
    st.info("No alert fired in this period." + (" Try another target, or an earlier date." if target else ""))
    st.stop()

st.dataframe(
    found,
    hide_index=True,
    width="stretch",
    column_config={
        "id": "Event",
        "fired_at": st.column_config.DatetimeColumn("Fired", format="YYYY-MM-DD HH:mm:ss"),
        "rule_id": st.column_config.NumberColumn("Rule", format="%d"),
        "observed_at": st.column_config.DatetimeColumn("Observation", format="YYYY-MM-DD HH:mm"),
        "value": st.column_config.NumberColumn("Value", format="%,.4f"),
        "threshold": st.column_config.NumberColumn("Threshold", format="%,.4f"),
        "delivered": st.column_config.NumberColumn("Delivered", format="%d"),
        "pending": st.column_config.NumberColumn("Pending", format="%d"),
        "failed": st.column_config.NumberColumn("Failed", format="%d"),
    },
)

st.subheader("Deliveries")
labels = {int(e.id): f"{e.id}: {e.target} {e.detail}" for e in found.itertuples()}
event_id = st.selectbox("Alert", list(labels), format_func=labels.__getitem__, key="ah_event")
attempts = load_or_stop("the deliveries", lambda: alerts.deliveries(me, everyone=everyone, event_id=event_id))
if attempts.empty:
    st.info("This alert had no channel to go to.")
    st.stop()
st.dataframe(
    attempts,
    hide_index=True,
    width="stretch",
    column_config={
        "delivery_id": "Delivery",
        "webhook_id": "webhook-id",
        "next_attempt_at": st.column_config.DatetimeColumn("Next attempt", format="YYYY-MM-DD HH:mm:ss"),
        "attempted_at": st.column_config.DatetimeColumn("Attempted", format="YYYY-MM-DD HH:mm:ss"),
        "status": st.column_config.NumberColumn("Status", format="%d"),
        "latency_ms": st.column_config.NumberColumn("Latency (ms)", format="%,.0f"),
    },
)
choices = sorted({int(d) for d in attempts["delivery_id"]})
delivery = st.selectbox("Delivery", choices, key="ah_delivery")
if st.button("Send again", key="ah_resend"):
    try:
        load_or_stop("the delivery", lambda: alerts.resend(me, delivery, client_ip=client_ip))
    except InvalidAlert as exc:
        st.error(plain(exc))
    else:
        st.session_state[FLASH_KEY] = f"Delivery {delivery} queued again: the worker sends it within seconds."
        st.rerun()
