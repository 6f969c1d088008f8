"""Reads for alerts: what the rules are evaluated on (closes, quotes, macro observations, ages, failed runs, opened
circuits) and what the Alerts and History pages list (rules, channels, events, delivery attempts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from store import tables

EPOCH = date(1970, 1, 1)


def closes_since(conn: sa.Connection, symbols: Iterable[str], start: date) -> pd.DataFrame:
    """Daily closes (symbol, date as datetime64, close) of `symbols` from `start`, by symbol then date: the traded
    close, or the adjusted one where a source publishes only that (the S&P 500 bundle)."""
    bars = tables.daily_bars
    wanted = sorted(set(symbols))
    if not wanted:
        return pd.DataFrame({"symbol": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]"),
                             "close": pd.Series(dtype="float64")})  # fmt: skip
    query = (
        sa.select(
            bars.c.symbol,
            (bars.c.date - sa.cast(sa.literal(EPOCH), sa.Date)).label("day"),  # days since 1970: an int, cheap
            sa.func.coalesce(bars.c.close, bars.c.adj_close).label("close"),
        )
        .where(bars.c.symbol.in_(wanted), bars.c.date >= start)
        .order_by(bars.c.symbol, bars.c.date)
    )
    rows = conn.execute(query).all()
    symbols, days, closes = zip(*rows, strict=True) if rows else ((), (), ())
    # Column by column: building the frame from row tuples infers each cell's type, which costs more than the query.
    return pd.DataFrame(
        {"symbol": pd.Series(symbols, dtype=object),
         "date": np.asarray(days, dtype="int64").astype("datetime64[D]").astype("datetime64[ns]"),
         "close": np.asarray(closes, dtype="float64")}
    )  # fmt: skip


def quotes_since(conn: sa.Connection, symbols: Iterable[str], since: datetime) -> pd.DataFrame:
    """Intraday quotes (symbol, ts, price) of `symbols` after `since`, oldest first."""
    q = tables.intraday_quotes
    wanted = sorted(set(symbols))
    if not wanted:
        return pd.DataFrame(columns=["symbol", "ts", "price"])
    query = (
        sa.select(q.c.symbol, q.c.ts, q.c.price)
        .where(q.c.symbol.in_(wanted), q.c.ts > since)
        .order_by(q.c.symbol, q.c.ts)
    )
    return pd.DataFrame(conn.execute(query).all(), columns=["symbol", "ts", "price"])


def last_bar_dates(conn: sa.Connection, symbols: Sequence[str] | None = None) -> dict[str, date]:
    """The latest stored bar per symbol (all symbols with bars when `symbols` is None)."""
    bars = tables.daily_bars
    query = sa.select(bars.c.symbol, sa.func.max(bars.c.date)).group_by(bars.c.symbol)
    if symbols is not None:
        query = query.where(bars.c.symbol.in_(list(symbols)))
    return {symbol: day for symbol, day in conn.execute(query).all()}


def last_observation_dates(conn: sa.Connection, series_ids: Sequence[str] | None = None) -> dict[str, date]:
    """The latest stored observation per macro series (all series when `series_ids` is None)."""
    obs = tables.macro_observations
    query = sa.select(obs.c.series_id, sa.func.max(obs.c.date)).group_by(obs.c.series_id)
    if series_ids is not None:
        query = query.where(obs.c.series_id.in_(list(series_ids)))
    return {series: day for series, day in conn.execute(query).all()}


def last_quote_time(conn: sa.Connection) -> datetime | None:
    return conn.execute(sa.select(sa.func.max(tables.intraday_quotes.c.ts))).scalar_one()


def failed_runs_since(conn: sa.Connection, since: datetime | None) -> list[sa.Row]:
    """Failed ingestion runs (id, job, source, finished_at, error_summary) finished after `since`, oldest first."""
    runs = tables.ingestion_runs
    query = sa.select(runs.c.id, runs.c.job, runs.c.source, runs.c.finished_at, runs.c.error_summary).where(
        runs.c.status == "failed", runs.c.finished_at.is_not(None)
    )
    if since is not None:
        query = query.where(runs.c.finished_at > since)
    return list(conn.execute(query.order_by(runs.c.finished_at)).all())


def circuits_opened_since(conn: sa.Connection, since: datetime | None) -> list[sa.Row]:
    """Providers (provider, opened_at, failures) whose circuit opened after `since` and is open or half-open now."""
    ps = tables.provider_state
    query = sa.select(ps.c.provider, ps.c.opened_at, ps.c.failures).where(
        ps.c.circuit != "closed", ps.c.opened_at.is_not(None)
    )
    if since is not None:
        query = query.where(ps.c.opened_at > since)
    return list(conn.execute(query.order_by(ps.c.opened_at)).all())


# -- the pages' lists -------------------------------------------------------------------------------------


def channels(conn: sa.Connection, user_id: int | None = None) -> pd.DataFrame:
    """Channels (never their secrets): id, user, kind, label, target, enabled, disabled_reason, rotation state."""
    c, u = tables.alert_channels, tables.users
    query = (
        sa.select(
            c.c.id,
            u.c.username.label("user"),
            c.c.kind,
            c.c.label,
            c.c.target,
            c.c.enabled,
            c.c.disabled_reason,
            c.c.previous_secret_until.label("previous_secret_valid_until"),
            c.c.created_at,
        )
        .join(u, u.c.id == c.c.user_id)
        .order_by(c.c.id)
    )
    if user_id is not None:
        query = query.where(c.c.user_id == user_id)
    return pd.DataFrame(conn.execute(query).mappings().all(), columns=list(query.selected_columns.keys()))


def rules(conn: sa.Connection, user_id: int | None = None) -> pd.DataFrame:
    """Rules with their channels' ids and bookkeeping, newest first."""
    r, rc, u = tables.alert_rules, tables.alert_rule_channels, tables.users
    channel_ids = (
        sa.select(sa.func.coalesce(sa.func.array_agg(aggregate_order_by(rc.c.channel_id, rc.c.channel_id)), "{}"))
        .where(rc.c.rule_id == r.c.id)
        .scalar_subquery()
    )
    query = (
        sa.select(
            r.c.id,
            u.c.username.label("user"),
            r.c.kind,
            r.c.target,
            r.c.condition,
            r.c.mode,
            r.c.cooldown_seconds,
            r.c.expires_at,
            r.c.enabled,
            r.c.note,
            channel_ids.label("channels"),
            r.c.fired_count,
            r.c.last_fired_at,
            r.c.watermark,
            r.c.evaluated_at,
        )
        .join(u, u.c.id == r.c.user_id)
        .order_by(r.c.id.desc())
    )
    if user_id is not None:
        query = query.where(r.c.user_id == user_id)
    return pd.DataFrame(conn.execute(query).mappings().all(), columns=list(query.selected_columns.keys()))


def events(
    conn: sa.Connection,
    *,
    user_id: int | None = None,
    target: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """Events, newest first, with their deliveries' states summed up (delivered / pending / failed counts)."""
    e, d = tables.alert_events, tables.alert_deliveries
    counts = {
        state: sa.select(sa.func.count())
        .where(d.c.event_id == e.c.id, d.c.state == state)
        .scalar_subquery()
        .label(state)
        for state in ("delivered", "pending", "failed")
    }
    query = sa.select(
        e.c.id,
        e.c.fired_at,
        e.c.rule_id,
        e.c.kind,
        e.c.target,
        e.c.condition,
        e.c.observed_at,
        e.c.value,
        e.c.threshold,
        e.c.detail,
        *counts.values(),
    ).order_by(e.c.fired_at.desc(), e.c.id.desc())
    if user_id is not None:
        query = query.where(e.c.user_id == user_id)
    if target:
        query = query.where(e.c.target == target)
    if since is not None:
        query = query.where(e.c.fired_at >= since)
    query = query.limit(limit)
    return pd.DataFrame(conn.execute(query).mappings().all(), columns=list(query.selected_columns.keys()))


def deliveries(
    conn: sa.Connection, *, user_id: int | None = None, event_id: int | None = None, limit: int = 1000
) -> pd.DataFrame:
    """Every delivery attempt (one row per attempt; a delivery not yet tried has one row with no attempt)."""
    d, a, c, e = tables.alert_deliveries, tables.alert_attempts, tables.alert_channels, tables.alert_events
    query = (
        sa.select(
            d.c.id.label("delivery_id"),
            d.c.event_id,
            d.c.webhook_id,
            c.c.kind.label("channel_kind"),
            c.c.label.label("channel"),
            d.c.state,
            d.c.attempts,
            d.c.next_attempt_at,
            a.c.attempted_at,
            a.c.status,
            a.c.latency_ms,
            a.c.error,
        )
        .join(c, c.c.id == d.c.channel_id)
        .join(e, e.c.id == d.c.event_id)
        .outerjoin(a, a.c.delivery_id == d.c.id)
        .order_by(d.c.id.desc(), a.c.attempted_at.desc())
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(e.c.user_id == user_id)
    if event_id is not None:
        query = query.where(d.c.event_id == event_id)
    return pd.DataFrame(conn.execute(query).mappings().all(), columns=list(query.selected_columns.keys()))
