"""Alerts (every signed-in user): rules on prices, macro series and the data pipeline, and the channels they go to.

A rule is evaluated by the worker when new data for it arrives (and data rules every few minutes); what fires is
delivered to the rule's channels and listed on the Alert history page. A webhook channel's signing secret is shown
once, in the run that created or rotated it, never stored in session state.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

import streamlit as st

from dashboard.access import alerts, gate
from dashboard.access.alerts import SPREADS, InvalidAlert
from dashboard.ui.components import load_or_stop
from dashboard.ui.text import plain

me = gate.require_login()
client_ip = gate.client_ip()
FLASH_KEY = "alerts_flash"
MODES = {"once-per-bar": "Once per bar", "every-time": "Every time", "once": "Only once"}
KIND_HELP = {
    "price": "a ticker symbol, e.g. AAPL",
    "macro": f"a FRED series id (e.g. CPIAUCSL, DGS10) or a spread: {', '.join(SPREADS)}",
    "data": "a dataset (prices, macro, quotes), a symbol or series (older than); a job or * (job failed); "
    "a provider or * (circuit opened)",
}

st.title("Alerts")
st.caption(
    "Rules are evaluated when new data for them is stored, never twice on the same observation. Once per bar: at "
    "most one alert a session (intraday quotes and that day's close are one bar); every time: every new "
    "observation that meets the condition; only once: the first, then the rule switches itself off."
)
if flash := st.session_state.pop(FLASH_KEY, None):
    st.success(plain(flash))


def _done(message: str) -> None:
    st.session_state[FLASH_KEY] = message
    st.rerun()


def _try(what: str, action):
    """Run an action: a refused input is shown with its reason; the database being down stops the page."""
    try:
        return load_or_stop(what, action)
    except InvalidAlert as exc:
        st.error(plain(exc))
        return None


rules_tab, channels_tab = st.tabs(["Rules", "Channels"])

# -- channels ----------------------------------------------------------------------------------------------

with channels_tab:
    secret: str | None = None  # a new or rotated webhook secret: this run only
    with st.form("alert_channel_add", clear_on_submit=True):
        st.subheader("Add a channel")
        kind = st.selectbox("Kind", ["webhook", "slack", "email"], key="alert_channel_kind")
        target = st.text_input(
            "URL or email address", key="alert_channel_target", placeholder="https://example.com/hooks/alerts"
        )
        label = st.text_input("Label (optional)", key="alert_channel_label", max_chars=64)
        if st.form_submit_button("Add channel", type="primary"):
            new = _try("the new channel", lambda: alerts.add_channel(me, kind, target, label, client_ip=client_ip))
            if new is not None:
                st.success(f"Added channel {new.id}.")
                secret = new.secret
    mine = load_or_stop("your channels", lambda: alerts.my_channels(me))  # after the form: a new one is listed
    channel_names = {int(c.id): f"{c.label} ({c.kind})" for c in mine.itertuples()}
    st.subheader("Your channels")
    if mine.empty:
        st.info("No channels yet: alerts still appear on the Alert history page.")
    else:
        st.dataframe(
            mine[["id", "kind", "label", "target", "enabled", "disabled_reason", "previous_secret_valid_until"]],
            hide_index=True,
            width="stretch",
            column_config={
                "id": "Id",
                "disabled_reason": "Why disabled",
                "previous_secret_valid_until": st.column_config.DatetimeColumn(
                    "Previous secret valid until", format="YYYY-MM-DD HH:mm"
                ),
            },
        )
        chosen = st.selectbox(
            "Channel", list(channel_names), format_func=channel_names.__getitem__, key="alert_channel_pick"
        )
        row = mine[mine["id"] == chosen].iloc[0]
        test, rotate, toggle, remove = st.columns(4)
        if test.button("Send test", key="alert_channel_test", disabled=not row["enabled"]):
            result = _try("the test message", lambda: alerts.send_test(me, chosen))
            if result is not None and result.ok:
                st.success(f"Delivered: status {result.status} in {result.latency_ms:,.0f} ms.")
            elif result is not None:
                st.error(plain(f"Not delivered: {result.error or result.status}"))
        if row["kind"] == "webhook" and rotate.button("Rotate secret", key="alert_channel_rotate"):
            secret = _try("the new secret", lambda: alerts.rotate_secret(me, chosen, client_ip=client_ip))
        enable = not row["enabled"]
        if toggle.button("Enable" if enable else "Disable", key="alert_channel_toggle"):
            _try("the channel", lambda: alerts.set_channel_enabled(me, chosen, enable, client_ip=client_ip))
            _done(f"Channel {chosen} {'enabled' if enable else 'disabled'}.")
        confirm = remove.checkbox("Really delete", key="alert_channel_confirm")
        if remove.button("Delete", key="alert_channel_remove", disabled=not confirm):
            _try("the channel", lambda: alerts.remove_channel(me, chosen, client_ip=client_ip))
            _done(f"Channel {chosen} deleted.")
    if secret:
        st.warning(
            "Copy the signing secret now: it is shown this once. Receivers verify each request's webhook-signature "
            "header with it (Standard Webhooks); after a rotation the previous secret also signs for a grace period."
        )
        st.code(secret, language=None)

# -- rules -------------------------------------------------------------------------------------------------

with rules_tab:
    table = load_or_stop("your rules", lambda: alerts.my_rules(me))
    editing: int | None = None
    if not table.empty:
        st.subheader("Your rules")
        shown = table.copy()
        shown["channels"] = [", ".join(channel_names.get(int(c), str(c)) for c in cs) for cs in shown["channels"]]
        st.dataframe(
            shown[
                [
                    "id",
                    "kind",
                    "target",
                    "condition",
                    "mode",
                    "channels",
                    "enabled",
                    "fired_count",
                    "last_fired_at",
                    "expires_at",
                    "note",
                ]
            ],  # fmt: skip
            hide_index=True,
            width="stretch",
            column_config={
                "id": "Id",
                "fired_count": st.column_config.NumberColumn("Fired", format="%d"),
                "last_fired_at": st.column_config.DatetimeColumn("Last fired", format="YYYY-MM-DD HH:mm"),
                "expires_at": st.column_config.DatetimeColumn("Expires", format="YYYY-MM-DD HH:mm"),
            },
        )
        names = {int(r.id): f"{r.id}: {r.target} {r.condition}" for r in table.itertuples()}
        pick = st.selectbox("Rule", list(names), format_func=names.__getitem__, key="alert_rule_pick")
        current = table[table["id"] == pick].iloc[0]
        edit, toggle, remove = st.columns(3)
        if edit.toggle("Edit this rule", key="alert_rule_edit"):
            editing = pick
        enable = not current["enabled"]
        if toggle.button("Enable" if enable else "Disable", key="alert_rule_toggle"):
            _try("the rule", lambda: alerts.set_rule_enabled(me, pick, enable, client_ip=client_ip))
            _done(f"Rule {pick} {'enabled' if enable else 'disabled'}.")
        confirm = remove.checkbox("Really delete", key="alert_rule_confirm")
        if remove.button("Delete", key="alert_rule_remove", disabled=not confirm):
            _try("the rule", lambda: alerts.remove_rule(me, pick, client_ip=client_ip))
            _done(f"Rule {pick} deleted (its alerts stay in the history).")

    base = table[table["id"] == editing].iloc[0] if editing is not None else None
    st.subheader(f"Edit rule {editing}" if editing is not None else "New rule")
    kinds = list(alerts.RULE_KINDS)
    kind = st.radio(
        "Watch",
        kinds,
        index=kinds.index(base["kind"]) if base is not None else 0,
        horizontal=True,
        format_func={"price": "A price", "macro": "A macro series", "data": "The data pipeline"}.__getitem__,
        key=f"alert_rule_kind_{editing}",
    )
    examples = alerts.examples(kind)
    with st.form(f"alert_rule_form_{editing}"):
        target = st.text_input(
            "Target", value=base["target"] if base is not None else "", help=KIND_HELP[kind], key=f"ar_target_{editing}"
        )
        when = st.text_input(
            "Condition",
            value=base["condition"] if base is not None else "",
            placeholder=examples[0],
            help="For example: " + "; ".join(examples),
            key=f"ar_when_{editing}",
        )
        mode = st.selectbox(
            "Trigger",
            list(MODES),
            index=list(MODES).index(base["mode"]) if base is not None else 0,
            format_func=MODES.__getitem__,
            key=f"ar_mode_{editing}",
        )
        cooldown = st.number_input(
            "Cooldown (minutes)",
            min_value=0,
            max_value=366 * 24 * 60,
            value=int(base["cooldown_seconds"] // 60) if base is not None else 0,
            key=f"ar_cool_{editing}",
        )
        expires = st.date_input("Expires (optional, end of day UTC)", value=None, key=f"ar_exp_{editing}")
        picked = st.multiselect(
            "Channels",
            list(channel_names),
            default=[int(c) for c in base["channels"]] if base is not None else list(channel_names)[:1],
            format_func=channel_names.__getitem__,
            key=f"ar_ch_{editing}_{'-'.join(map(str, channel_names))}",  # new channels: the default again
        )
        note = st.text_input("Note (optional)", value=(base["note"] or "") if base is not None else "", max_chars=200)
        check, save = st.columns(2)
        tried = check.form_submit_button("Test this rule now")
        saved = save.form_submit_button("Save rule", type="primary")
    if tried:
        found = _try("the test", lambda: alerts.dry_run(kind, target, when))
        if found is not None and found.empty:
            st.info("It would not have fired on the stored data.")
        elif found is not None:
            st.caption(f"It would have fired {len(found):,} time(s) on the stored data (latest first):")
            st.dataframe(found, hide_index=True, width="stretch")
    if saved:
        spec = alerts.RuleSpec(
            kind,
            target,
            when,
            tuple(picked),
            mode,
            int(cooldown) * 60,
            datetime.combine(expires, time.max, tzinfo=UTC) if expires else None,
            note or None,
        )
        rule_id = _try("the rule", lambda: alerts.save_rule(me, spec, editing, client_ip=client_ip))
        if rule_id is not None:
            _done(f"Rule {rule_id} saved: it fires on data stored from now on.")
