"""SQLAlchemy Core tables: the one contract between the ingestion writer and the dashboard reader."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from store.identifiers import SERIES_ID, SYMBOL

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

_now = sa.text("now()")

# The mark ingestion.validate puts in daily_bars.flags on a move over 50% (kept, not rejected).
JUMP_FLAG = "jump"

instruments = sa.Table(
    "instruments",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("asset_class", sa.String(16), nullable=False),  # stock | etf | index | fx ...
    sa.Column("sector", sa.Text),
    sa.Column("industry", sa.Text),
    sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    # The one symbol rule (store.identifiers): the app, the providers and this table accept the same strings.
    sa.CheckConstraint(SYMBOL.sql_check("symbol"), name="symbol_syntax"),
)

# Two kinds of bar. A full bar: open, high, low, close (as traded), adj_close and volume. An adjusted-close-only
# bar: adj_close alone, open/high/low/close NULL (volume may be NULL too), from a source that publishes nothing
# else (the S&P 500 demo bundle, source "sample-sp500"); its prices are never invented from the adjusted close.
# `close IS NULL` is what marks such a bar; the CHECK below makes OHLC all-or-nothing, so the mark is reliable.
ADJ_ONLY_BARS = "open IS NULL AND high IS NULL AND low IS NULL AND close IS NULL"
FULL_BARS = "open IS NOT NULL AND high IS NOT NULL AND low IS NOT NULL AND close IS NOT NULL AND volume IS NOT NULL"

daily_bars = sa.Table(
    "daily_bars",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("open", sa.Float(53)),
    sa.Column("high", sa.Float(53)),
    sa.Column("low", sa.Float(53)),
    sa.Column("close", sa.Float(53)),
    sa.Column("adj_close", sa.Float(53), nullable=False),
    sa.Column("volume", sa.BigInteger),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    # Validation marks kept with the row, e.g. "jump" for a move over 50% (kept, not rejected).
    sa.Column("flags", sa.Text),
    # For "latest bar" (health, freshness) without scanning the whole table.
    sa.Index("ix_daily_bars_date", "date"),
    sa.CheckConstraint(f"({ADJ_ONLY_BARS}) OR ({FULL_BARS})", name="ohlc_all_or_none"),
)

macro_series = sa.Table(
    "macro_series",
    metadata,
    sa.Column("series_id", sa.String(32), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("units", sa.Text, nullable=False),
    sa.Column("frequency", sa.String(16), nullable=False),
    sa.Column("seasonal_adjustment", sa.Text),
    sa.Column("last_updated", sa.DateTime(timezone=True)),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint(SERIES_ID.sql_check("series_id"), name="series_id_syntax"),
)

macro_observations = sa.Table(
    "macro_observations",
    metadata,
    sa.Column("series_id", sa.String(32), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    # NULL is FRED's "." (no value published); it is a gap, never a zero.
    sa.Column("value", sa.Float(53)),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

ingestion_runs = sa.Table(
    "ingestion_runs",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("job", sa.String(32), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(16), nullable=False),  # running | success | partial | failed
    sa.Column("rows_written", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("error_summary", sa.Text),
    sa.Column("details", JSONB),
    sa.CheckConstraint("status in ('running', 'success', 'partial', 'failed')", name="status"),
    sa.Index("ix_ingestion_runs_finished", "status", "finished_at"),
)

quarantined_rows = sa.Table(
    "quarantined_rows",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("run_id", sa.BigInteger, sa.ForeignKey("ingestion_runs.id", ondelete="CASCADE")),
    sa.Column("dataset", sa.String(32), nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False, server_default="viewer"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("last_login_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("role in ('viewer', 'admin')", name="role"),
)

# -- ingestion (issue 3) ----------------------------------------------------------------------------

intraday_quotes = sa.Table(
    "intraday_quotes",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("ts", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("price", sa.Float(53), nullable=False),
    sa.Column("volume", sa.BigInteger),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Index("ix_intraday_quotes_ts", "ts"),
)

corporate_actions = sa.Table(
    "corporate_actions",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("action", sa.String(16), primary_key=True),  # split | dividend
    # split: new shares per old share (4.0 for 4-for-1); dividend: cash per share in the quote currency
    sa.Column("value", sa.Float(53), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint("action in ('split', 'dividend')", name="action"),
)

# Point in time: a figure is usable from its `filing_date` (when it became public: the SEC filing date of a
# quarterly report; for a Yahoo figure the day it was seen), never from its `period_end` (the day it describes:
# the quarter's end for a filing, the same day as filing_date for a Yahoo figure). Restatements and several
# sources coexist: each (source, period_end, filing_date) is its own row.
shares_outstanding = sa.Table(
    "shares_outstanding",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("period_end", sa.Date, primary_key=True),
    sa.Column("filing_date", sa.Date, primary_key=True),
    sa.Column("shares", sa.BigInteger, nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

# Closes as traded (split-adjusted by the source, never dividend-adjusted) and share volumes, kept apart from
# daily_bars: market capitalisation is close x shares outstanding, and an adjusted close (lowered by every later
# dividend) would understate it. A source whose daily bars carry no close (the S&P 500 demo bundle: adjusted
# closes 2019-2026, closes and volumes 2019-2024 from another download) stores them here, so two vintages never
# meet inside one daily_bars row.
raw_closes = sa.Table(
    "raw_closes",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("close", sa.Float(53), nullable=False),
    sa.Column("volume", sa.BigInteger),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

# Membership of a stock index as a source lists it ("SP500": the S&P 500 demo bundle's constituents, with their
# GICS classification, plus the former members it has prices for, `is_current` false). The GICS sector lives
# here, not only in instruments.sector, which a live reference run overwrites with the provider's own sectors.
index_members = sa.Table(
    "index_members",
    metadata,
    sa.Column("index_code", sa.String(16), primary_key=True),
    sa.Column("symbol", sa.String(16), sa.ForeignKey("instruments.symbol", ondelete="CASCADE"), primary_key=True),
    sa.Column("is_current", sa.Boolean, nullable=False),
    sa.Column("sector", sa.Text),
    sa.Column("sub_industry", sa.Text),
    sa.Column("date_added", sa.Date),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

worker_heartbeats = sa.Table(
    "worker_heartbeats",
    metadata,
    sa.Column("worker_id", sa.String(64), primary_key=True),
    sa.Column("hostname", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("state", sa.String(16), nullable=False),  # idle | running | stopping
    sa.Column("current_job", sa.String(32)),
    sa.Column("details", JSONB),
)

# -- market pages (issue 5) -------------------------------------------------------------------------

watchlists = sa.Table(
    "watchlists",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    # NULL owner: the default list everyone sees when they have none of their own.
    sa.Column("owner", sa.String(64)),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("symbols", sa.ARRAY(sa.String(16)), nullable=False, server_default="{}"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.UniqueConstraint("owner", "name", name="uq_watchlists_owner_name", postgresql_nulls_not_distinct=True),
)

# -- access control (issue 4) -----------------------------------------------------------------------

user_sessions = sa.Table(
    "user_sessions",
    metadata,
    # sha256 of the session token: a leaked table does not hand out working cookies.
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("client_ip", sa.String(64)),
    sa.Index("ix_user_sessions_user", "user_id"),
)

# A fresh sign-in's one-time hand-off to the cookie route: an opaque id (only its sha256 stored), the session it
# names, and the fingerprint of the XSRF cookie of the browser that signed in (login-CSRF protection).
login_handoffs = sa.Table(
    "login_handoffs",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column(
        "session_hash", sa.String(64), sa.ForeignKey("user_sessions.token_hash", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("binding", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("client_ip", sa.String(64)),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Index("ix_login_attempts_username_at", "username", "at"),
    sa.Index("ix_login_attempts_ip_at", "client_ip", "at"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("username", sa.String(64)),
    sa.Column("action", sa.String(32), nullable=False),  # login_ok | login_failed | lockout | logout | export | admin_*
    sa.Column("client_ip", sa.String(64)),
    sa.Column("details", JSONB),
    sa.Index("ix_audit_log_at", "at"),
)

# -- operations (issue 11) --------------------------------------------------------------------------

# What an operator or a page asked the queue to run, and how far it got: the page polls this row. The queue's own
# job (Procrastinate, `procrastinate_jobs`) carries the work; this row carries what a person reads.
task_progress = sa.Table(
    "task_progress",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("queue_job_id", sa.BigInteger),  # procrastinate_jobs.id (no foreign key: the queue prunes its rows)
    sa.Column("task", sa.String(64), nullable=False),  # e.g. "ingest.prices"
    sa.Column("params", JSONB, nullable=False, server_default="{}"),
    sa.Column("requested_by", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False, server_default="queued"),
    sa.Column("step", sa.Text),
    sa.Column("done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_written", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("message", sa.Text),
    sa.Column("run_id", sa.BigInteger),  # ingestion_runs.id once the run is recorded
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint("state in ('queued', 'running', 'done', 'failed', 'cancelled')", name="state"),
    sa.Index("ix_task_progress_created_at", "created_at"),
)

# -- index tracker (issue 12) -------------------------------------------------------------------------

# A user's saved index: `definition` is store.indices.IndexDefinition as JSON (universe, weighting, cap,
# rebalance, costs, base, start, benchmark). Composition and changes are recomputed from it; the daily levels are
# stored (index_levels) by a worker task, with when and from which data version (ingestion_runs.id) they were
# computed, or why they could not be.
index_definitions = sa.Table(
    "index_definitions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),  # users.username, as for watchlists
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("definition", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("levels_computed_at", sa.DateTime(timezone=True)),
    sa.Column("levels_data_version", sa.BigInteger),
    sa.Column("levels_error", sa.Text),
    sa.UniqueConstraint("owner", "name", name="uq_index_definitions_owner_name"),
)

index_levels = sa.Table(
    "index_levels",
    metadata,
    sa.Column(
        "definition_id",
        sa.BigInteger,
        sa.ForeignKey("index_definitions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("level_gross", sa.Float(53), nullable=False),
    sa.Column("level_net", sa.Float(53), nullable=False),
)

# End-of-day (or pre-close) option chains, one row per contract per session: a snapshot of the chain as the source
# published it. Snapshots accumulate, so history builds one session at a time. The key starts with (symbol,
# session_date), so "one underlying, one session" and "one underlying, these sessions" are index range reads.
# `symbol` is the underlying. Prices are as published: bid/ask NULL where the source has none (the bundled end-of-day
# data), 0/0 kept as published (Yahoo outside trading hours: "not quoted", never a price: analytics.options reads
# it so). `provider_iv` and `provider_delta` are the source's own figures (decimal IV), kept beside ours.
OPTION_QUOTE_CHECKS = {
    "type": "type IN ('C', 'P')",
    "strike_positive": "strike > 0",
    "prices_not_negative": "(bid IS NULL OR bid >= 0) AND (ask IS NULL OR ask >= 0) AND (last IS NULL OR last >= 0)",
    "ask_not_below_bid": "bid IS NULL OR ask IS NULL OR bid = 0 OR ask = 0 OR ask >= bid",
    "not_expired": "expiration >= session_date",
}
option_quotes = sa.Table(
    "option_quotes",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("session_date", sa.Date, primary_key=True),
    sa.Column("expiration", sa.Date, primary_key=True),
    sa.Column("type", sa.String(1), primary_key=True),
    sa.Column("strike", sa.Float(53), primary_key=True),
    sa.Column("bid", sa.Float(53)),
    sa.Column("ask", sa.Float(53)),
    sa.Column("last", sa.Float(53)),
    sa.Column("volume", sa.BigInteger),
    sa.Column("open_interest", sa.BigInteger),
    sa.Column("provider_iv", sa.Float(53)),
    sa.Column("provider_delta", sa.Float(53)),
    sa.Column("delta_inconsistent", sa.Boolean),  # the source flags its delta as inconsistent with its own IV
    sa.Column("underlying_price", sa.Float(53)),
    sa.Column("snapshot_ts", sa.DateTime(timezone=True)),  # when the chain was read (NULL: an end-of-day file)
    sa.Column("last_trade_ts", sa.DateTime(timezone=True)),  # the contract's last trade, where the source says
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    *(sa.CheckConstraint(check, name=name) for name, check in OPTION_QUOTE_CHECKS.items()),
)

# Personal API tokens for /api/v1: only the sha256 of a token is stored (tokens are 256-bit random strings, so a
# fast hash is enough, unlike passwords), with a short prefix to tell them apart in lists. A token acts with its
# user's current role; revoked, expired or belonging to a disabled user, it opens nothing.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("label", sa.String(64), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_by", sa.String(64)),
    sa.Index("ix_api_tokens_user", "user_id"),
)

# What a provider's guard (ingestion/providers/resilience.py) must remember across the worker's short-lived task
# processes, one row per provider, shared by every worker: its circuit breaker, the end of the window in which a
# daily limit disabled it, and the requests of one UTC day counted against its local daily budget.
provider_state = sa.Table(
    "provider_state",
    metadata,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("circuit", sa.String(16), nullable=False, server_default="closed"),  # closed | open | half-open
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),  # consecutive, as the breaker counts
    sa.Column("opened_at", sa.DateTime(timezone=True)),
    sa.Column("disabled_until", sa.DateTime(timezone=True)),
    sa.Column("day", sa.Date),
    sa.Column("day_requests", sa.Integer),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint("circuit in ('closed', 'open', 'half-open')", name="circuit"),
)

# -- alerts (alerts/) -------------------------------------------------------------------------------------
# A user's channels (where alerts go) and rules (what fires); each firing is one event (unique per rule and
# observation: the database, not only the code, refuses a second event for the same observation), with one
# delivery per channel written in the same transaction (the outbox); every send is an attempt row.
ALERT_CHANNEL_KINDS = ("webhook", "slack", "email")
ALERT_RULE_KINDS = ("price", "macro", "data")
ALERT_MODES = ("once", "once-per-bar", "every-time")
ALERT_DELIVERY_STATES = ("pending", "delivered", "failed", "cancelled")

alert_channels = sa.Table(
    "alert_channels",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("label", sa.String(64), nullable=False),
    sa.Column("target", sa.Text, nullable=False),  # the URL, or the email address
    sa.Column("secret", sa.Text),  # webhook: the whsec_ signing secret (shown once, never listed)
    sa.Column("previous_secret", sa.Text),  # after a rotation, also signs until previous_secret_until
    sa.Column("previous_secret_until", sa.DateTime(timezone=True)),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("disabled_reason", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint("kind in ('webhook', 'slack', 'email')", name="kind"),
    sa.Index("ix_alert_channels_user", "user_id"),
)

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("target", sa.String(64), nullable=False),  # symbol, series id or spread, dataset/job/provider or *
    sa.Column("condition", sa.Text, nullable=False),  # the canonical text of alerts.rules.Condition
    sa.Column("mode", sa.String(16), nullable=False, server_default="once-per-bar"),
    sa.Column("cooldown_seconds", sa.Integer, nullable=False, server_default="0"),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("note", sa.String(200)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    # Bookkeeping, written with the events in one transaction: the last observation evaluated (nothing at or
    # before it is evaluated again), the bar (New York date) and time of the last firing.
    sa.Column("watermark", sa.DateTime(timezone=True)),
    sa.Column("last_bar", sa.Date),
    sa.Column("last_fired_at", sa.DateTime(timezone=True)),
    sa.Column("fired_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("evaluated_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("kind in ('price', 'macro', 'data')", name="kind"),
    sa.CheckConstraint("mode in ('once', 'once-per-bar', 'every-time')", name="mode"),
    sa.CheckConstraint("cooldown_seconds >= 0", name="cooldown"),
    sa.Index("ix_alert_rules_target", "kind", "target"),
    sa.Index("ix_alert_rules_user", "user_id"),
)

alert_rule_channels = sa.Table(
    "alert_rule_channels",
    metadata,
    sa.Column("rule_id", sa.BigInteger, sa.ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("channel_id", sa.BigInteger, sa.ForeignKey("alert_channels.id", ondelete="CASCADE"), primary_key=True),
)

alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("rule_id", sa.BigInteger, sa.ForeignKey("alert_rules.id", ondelete="SET NULL")),  # NULL: a test send
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("target", sa.String(64), nullable=False),
    sa.Column("condition", sa.Text, nullable=False),
    sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),  # the observation that fired
    sa.Column("value", sa.Float(53)),
    sa.Column("threshold", sa.Float(53)),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("payload", JSONB, nullable=False),  # the body every channel sends
    sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.UniqueConstraint("rule_id", "observed_at", name="uq_alert_events_rule_observation"),
    sa.Index("ix_alert_events_fired", "fired_at"),
    sa.Index("ix_alert_events_user", "user_id"),
)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.BigInteger, sa.ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=False),
    sa.Column("channel_id", sa.BigInteger, sa.ForeignKey("alert_channels.id", ondelete="CASCADE"), nullable=False),
    sa.Column("webhook_id", sa.String(64), nullable=False, unique=True),  # the idempotency key, same on retries
    sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),  # a sender holds it until then (a killed one lets go)
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint("state in ('pending', 'delivered', 'failed', 'cancelled')", name="state"),
    sa.UniqueConstraint("event_id", "channel_id", name="uq_alert_deliveries_event_channel"),
    sa.Index("ix_alert_deliveries_due", "next_attempt_at", postgresql_where=sa.text("state = 'pending'")),
)

alert_attempts = sa.Table(
    "alert_attempts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("delivery_id", sa.BigInteger, sa.ForeignKey("alert_deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("status", sa.Integer),
    sa.Column("latency_ms", sa.Float(53)),
    sa.Column("error", sa.Text),
    sa.Index("ix_alert_attempts_delivery", "delivery_id"),
)

# -- saved views (issue 16) ---------------------------------------------------------------------------------
# A user's named screens (the Screener's filters and sort) and portfolios (holdings and weights on the Risk page),
# one row each, the definition as JSON validated by the code that owns the kind (store/saved_views.py).
SAVED_VIEW_KINDS = ("screen", "portfolio")

saved_views = sa.Table(
    "saved_views",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),  # the username, as watchlists
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("definition", JSONB, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.CheckConstraint("kind in ('screen', 'portfolio')", name="kind"),
    sa.UniqueConstraint("owner", "kind", "name", name="uq_saved_views_owner_kind_name"),
)

# -- key statistics (issue 16) ------------------------------------------------------------------------------
# A provider's headline figures as seen on `as_of` (the New York day they were read: Yahoo revises them daily and
# keeps no history), one row per (symbol, source, as_of), so a point-in-time read takes the latest seen by then.
# NULL: the provider gave no such figure (an ETF has no P/E). dividend_yield is a fraction (0.0041 = 0.41%).
key_statistics = sa.Table(
    "key_statistics",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("trailing_pe", sa.Float(53)),
    sa.Column("trailing_eps", sa.Float(53)),
    sa.Column("dividend_yield", sa.Float(53)),
    sa.Column("beta", sa.Float(53)),
    sa.Column("next_earnings", sa.Date),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
)

# -- shared downloads (issue 17) ----------------------------------------------------------------------------
# A copy of each export file a browser asked for, so that any web instance can answer the browser's GET for it
# (Streamlit keeps its /media files in the memory of the process that built them; Render's balancer has no
# sticky sessions). Keyed by Streamlit's media file id and the browser's session (a sha256 of its session cookie);
# kept minutes, not days (dashboard/web/shared_downloads.py).
shared_downloads = sa.Table(
    "shared_downloads",
    metadata,
    sa.Column("file_id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("mime", sa.String(128), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_shared_downloads_expires_at", "expires_at"),
)
