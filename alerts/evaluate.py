"""Evaluate the enabled rules against the stored data and write what fires: the events, one delivery per channel
(the outbox) and the rules' bookkeeping, all in one transaction.

Each rule remembers the last observation it was evaluated on (its watermark): only later observations are
evaluated, so an observation is never evaluated twice, and a unique (rule, observation) key in the database makes
a second event for it impossible even if two evaluations raced. Trigger modes, as TradingView's: `once` fires
once and disables the rule; `once-per-bar` fires at most once per bar (a session's date: intraday quotes and that
day's close are one bar); `every-time` fires on every observation that meets the condition. A cooldown skips
firings within that many seconds of the last one; an expired rule is not evaluated. Data rules watch the
pipeline itself: a dataset, symbol or series older than a limit, a failed ingestion run, an opened circuit.
A rule that cannot be evaluated is logged and skipped; it never stops the others.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from alerts import rules
from alerts.outbox import new_webhook_id
from alerts.series import SPREADS, close_times, index_label, observation_time, spread_series, with_quotes
from store import clock, tables
from store.clock import NEW_YORK
from store.errors import first_line
from store.reads import alerts as reads
from store.reads.macro import wide_observations
from store.settings import get_settings

log = logging.getLogger(__name__)

NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # the observation time of "never stored" (an older-than rule's event)
PAGE_PATHS = {"price": "ticker", "macro": "macro", "data": "data-health"}


@dataclass
class Outcome:
    evaluated: int = 0
    fired: int = 0
    event_ids: list[int] = field(default_factory=list)
    delivery_ids: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # rule id -> why it was skipped

    def summary(self) -> str:
        text = f"{self.evaluated} rule(s) evaluated, {self.fired} fired, {len(self.delivery_ids)} delivery(ies) queued"
        return text + (f", {len(self.errors)} skipped with an error" if self.errors else "")


@dataclass
class Firing:
    rule: Any
    condition: rules.Condition
    hit: rules.Hit
    observed_at: datetime


def link(kind: str, target: str, base_url: str) -> str:
    """The view of the app an alert points to."""
    path = PAGE_PATHS.get(kind, "")
    query = urlencode({"tk_t": target}) if kind == "price" else ""
    return f"{base_url.rstrip('/')}/{path}" + (f"?{query}" if query else "")


def bar_of(label: pd.Timestamp) -> date:
    """The bar an observation belongs to: its New York session date (a macro observation: its own date)."""
    stamp = pd.Timestamp(label)
    return stamp.date() if stamp.tzinfo is None else stamp.tz_convert(NEW_YORK).date()


class Data:
    """What a batch of rules is evaluated on, read once per batch (a symbol's series serves all its rules)."""

    def __init__(self, conn: sa.Connection, rows: list[Any], conditions: dict[int, rules.Condition], now: datetime):
        self.conn, self.now = conn, now
        self.series: dict[tuple[str, str], pd.Series] = {}
        self._by_rule: dict[int, list[rules.Hit]] = {}
        self._last: dict[tuple[str, str], datetime] = {}
        price = [r for r in rows if r.kind == "price" and r.id in conditions]
        macro = [r for r in rows if r.kind == "macro" and r.id in conditions]
        data = [r for r in rows if r.kind == "data" and r.id in conditions]
        if price:
            start = self._start(price, conditions)
            closes = reads.closes_since(conn, {r.target for r in price}, start or date(1900, 1, 1))
            # By symbol then date: each symbol is one run of rows, put on the close-time axis all at once.
            symbols, stamps = closes["symbol"].to_numpy(), close_times(closes["date"])
            firsts = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]]) if len(symbols) else np.empty(0, int)
            ends = np.r_[firsts[1:], len(symbols)].astype(int)
            since = stamps[ends - 1].min().to_pydatetime() if len(ends) else now - timedelta(days=4)
            quotes = reads.quotes_since(conn, {r.target for r in price}, since)  # those after the last bars
            by_symbol = dict(tuple(quotes.groupby("symbol", sort=False))) if len(quotes) else {}
            values = closes["close"].to_numpy(dtype="float64")
            for first, end in zip(firsts, ends, strict=True):
                symbol = str(symbols[first])
                series = pd.Series(values[first:end], index=stamps[first:end], dtype="float64")
                self.series["price", symbol] = with_quotes(series, by_symbol.get(symbol))
        if macro:
            ids = sorted({s for r in macro for s in SPREADS.get(r.target, (r.target,))})
            frame = wide_observations(conn, ids, self._start(macro, conditions))
            for r in macro:
                if r.target in SPREADS:
                    self.series["macro", r.target] = spread_series(frame, *SPREADS[r.target])
                elif r.target in frame:
                    self.series["macro", r.target] = frame[r.target].astype("float64")
        self.filled = {key for key, series in self.series.items() if len(series)}  # the series with observations
        self.bars: dict[str, date] = {}
        self.observations: dict[str, date] = {}
        self.last_quote: datetime | None = None
        self.failed: list[Any] = []
        self.opened: list[Any] = []
        if data:
            marks = [r.watermark for r in data if r.watermark is not None]
            since = min(marks) if marks else None
            if any(conditions[r.id].op == "older-than" for r in data):
                self.bars = reads.last_bar_dates(conn)
                self.observations = reads.last_observation_dates(conn)
                self.last_quote = reads.last_quote_time(conn)
            if any(conditions[r.id].op == "job-failed" for r in data):
                self.failed = reads.failed_runs_since(conn, since)
            if any(conditions[r.id].op == "circuit-opened" for r in data):
                self.opened = reads.circuits_opened_since(conn, since)

    @staticmethod
    def _start(rows: list[Any], conditions: dict[int, rules.Condition]) -> date | None:
        """The earliest date any of these rules needs (its context before its watermark); None: all history."""
        needs: dict[tuple, tuple[rules.Condition, datetime]] = {}  # what context_start reads, once per shape and mark
        for r in rows:
            if r.watermark is None:
                return None
            c = conditions[r.id]
            needs.setdefault((c.kind, c.op, c.window, c.units, r.watermark), (c, r.watermark))
        return min(rules.context_start(c, mark.astimezone(NEW_YORK).date()) for c, mark in needs.values())

    def hits(self, row: Any, condition: rules.Condition) -> tuple[list[tuple[rules.Hit, datetime]], datetime | None]:
        """The rule's hits after its watermark (with each one's observation time) and its new watermark."""
        if row.kind == "data":
            return self._data_hits(row, condition)
        if (row.kind, row.target) not in self.filled:
            return [], row.watermark
        series = self.series[row.kind, row.target]
        found = (
            self._by_rule[row.id]
            if row.id in self._by_rule
            else rules.hits(condition, series, index_label(row.watermark, series))
        )
        pairs = [(h, observation_time(h.at)) for h in found]
        return pairs, max(self._newest(row.kind, row.target), row.watermark or NEVER)

    def _newest(self, kind: str, target: str) -> datetime:
        """The time of a series' latest observation (asked once per rule: kept per series)."""
        key = (kind, target)
        if key not in self._last:
            self._last[key] = observation_time(self.series[key].index[-1])
        return self._last[key]

    def share_work(self, rows: list[Any], conditions: dict[int, rules.Condition]) -> None:
        """Evaluate rules that differ only in their level together (rules.hits_many): one series pass for all of
        them. A group that fails is left to the rules one by one, so one bad rule never stops the others."""
        groups: dict[tuple, list[int]] = defaultdict(list)
        labels: dict[tuple, Any] = {}  # (series, watermark) -> the watermark on the series' axis
        works: dict[tuple[str, str], rules.SeriesWork] = {}  # a series' sessions, SMAs, ...: once for its rules
        for row in rows:
            condition = conditions.get(row.id)
            if condition is None or (row.kind, row.target) not in self.filled:
                continue
            series = self.series[row.kind, row.target]
            mark = (row.kind, row.target, row.watermark)
            if mark not in labels:
                labels[mark] = index_label(row.watermark, series)
            groups[row.kind, row.target, condition.op, condition.window, condition.units, labels[mark]].append(row.id)
        for (kind, target, *_, after), ids in groups.items():
            series = self.series[kind, target]
            work = works.get((kind, target)) or works.setdefault((kind, target), rules.SeriesWork(series))
            try:
                found = rules.hits_many([conditions[i] for i in ids], series, after, work)
            except Exception:  # noqa: BLE001, S112 - evaluated one by one instead, where the bad rule is named
                continue
            self._by_rule.update(zip(ids, found, strict=True))

    def _last_observed(self, target: str) -> datetime | None:
        if target == "prices":
            day = max(self.bars.values(), default=None)
            return close_times([day])[0].to_pydatetime() if day else None
        if target == "macro":
            day = max(self.observations.values(), default=None)
            return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None
        if target == "quotes":
            return self.last_quote
        if target in self.bars:
            return close_times([self.bars[target]])[0].to_pydatetime()
        if target in self.observations:
            day = self.observations[target]
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        return None

    def _data_hits(
        self, row: Any, condition: rules.Condition
    ) -> tuple[list[tuple[rules.Hit, datetime]], datetime | None]:
        if condition.op == "older-than":
            last = self._last_observed(row.target)
            hit = rules.stale_hit(condition, last, self.now)
            return ([(hit, last or NEVER)] if hit else []), row.watermark
        found: list[tuple[rules.Hit, datetime]] = []
        mark = row.watermark
        if condition.op == "job-failed":
            for run in self.failed:
                if (mark is None or run.finished_at > mark) and row.target in ("*", run.job):
                    detail = f"the {run.job} run {run.id} ({run.source}) failed: {first_line(run.error_summary or '')}"
                    found.append(
                        (rules.Hit(pd.Timestamp(run.finished_at), float(run.id), np.nan, detail), run.finished_at)
                    )
        else:
            for circuit in self.opened:
                if (mark is None or circuit.opened_at > mark) and row.target in ("*", circuit.provider):
                    detail = f"the {circuit.provider} circuit opened after {circuit.failures} consecutive failures"
                    hit = rules.Hit(pd.Timestamp(circuit.opened_at), float(circuit.failures), np.nan, detail)
                    found.append((hit, circuit.opened_at))
        newest = max((at for _, at in found), default=None)
        return found, max(newest, mark) if newest and mark else (newest or mark or self.now)


def apply_mode(
    row: Any, found: list[tuple[rules.Hit, datetime]], now: datetime
) -> tuple[list[tuple[rules.Hit, datetime]], dict]:
    """The hits that fire under the rule's mode and cooldown, and the rule's new bookkeeping."""
    fires = []
    last_bar, last_fired, enabled = row.last_bar, row.last_fired_at, True
    for hit, at in found:
        bar = bar_of(hit.at)
        if row.mode == "once-per-bar" and last_bar == bar:
            continue
        if (
            row.cooldown_seconds
            and last_fired is not None
            and (now - last_fired).total_seconds() < row.cooldown_seconds
        ):
            continue
        fires.append((hit, at))
        last_bar, last_fired = bar, now
        if row.mode == "once":
            enabled = False
            break
    return fires, {"last_bar": last_bar, "last_fired_at": last_fired, "enabled": enabled, "fired": len(fires)}


def payload(row: Any, hit: rules.Hit, observed_at: datetime, now: datetime, base_url: str) -> dict[str, Any]:
    """The JSON body every channel sends for an event."""
    body: dict[str, Any] = {
        "type": "alert.fired",
        "rule": {"id": row.id, "kind": row.kind, "condition": row.condition, "mode": row.mode},
        "target": row.target,
        "value": _number(hit.value),
        "threshold": _number(hit.threshold),
        "detail": hit.detail,
        "observed_at": observed_at.isoformat(),
        "as_of": now.isoformat(),
        "link": link(row.kind, row.target, base_url),
    }
    if row.kind == "price":
        body["symbol"] = row.target
    elif row.kind == "macro":
        body["series"] = row.target
    return body


def _number(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


@lru_cache(maxsize=8192)
def _parsed(kind: str, text: str) -> rules.Condition:
    """A stored condition, parsed (many rules share a text; a Condition is immutable)."""
    return rules.parse(kind, text)


def _rules(conn: sa.Connection, now: datetime, kinds: list[str] | None, rule_ids: list[int] | None) -> list[Any]:
    r = tables.alert_rules
    query = (
        sa.select(r)
        .where(r.c.enabled, sa.or_(r.c.expires_at.is_(None), r.c.expires_at > now))
        .order_by(r.c.id)
        .with_for_update(of=r)  # a concurrent evaluation waits, then sees the new watermarks
    )
    if kinds:
        query = query.where(r.c.kind.in_(kinds))
    if rule_ids:
        query = query.where(r.c.id.in_(rule_ids))
    return list(conn.execute(query).all())


def _channels(conn: sa.Connection, rule_ids: list[int]) -> dict[int, list[int]]:
    rc, c = tables.alert_rule_channels, tables.alert_channels
    query = (
        sa.select(rc.c.rule_id, rc.c.channel_id)
        .join(c, c.c.id == rc.c.channel_id)
        .where(c.c.enabled, rc.c.rule_id.in_(rule_ids))
    )
    out: dict[int, list[int]] = {}
    for rule_id, channel_id in conn.execute(query):
        out.setdefault(rule_id, []).append(channel_id)
    return out


_BOOKKEEPING = sa.text(
    """
    update alert_rules r set
        watermark = v.watermark, last_bar = v.last_bar, last_fired_at = v.last_fired_at,
        fired_count = r.fired_count + v.fired, enabled = v.enabled, evaluated_at = :now
    from unnest(cast(:ids as bigint[]), cast(:watermarks as timestamptz[]), cast(:bars as date[]),
                cast(:fired_at as timestamptz[]), cast(:fired as int[]), cast(:enabled as boolean[]))
         as v(id, watermark, last_bar, last_fired_at, fired, enabled)
    where r.id = v.id
    """
)
_EVENT_IDS = sa.text("select nextval(pg_get_serial_sequence('alert_events', 'id')) from generate_series(1, :n)")
# The rules that did not fire only move their watermark: the common case, sent as ids and a slot in the few
# distinct watermarks (a series' newest observation is every one of its rules' watermark), cheap to send.
_WATERMARKS = sa.text(
    """
    update alert_rules r set watermark = (cast(:marks as timestamptz[]))[v.slot], evaluated_at = :now
    from unnest(cast(:ids as bigint[]), cast(:slots as int[])) as v(id, slot)
    where r.id = v.id
    """
)


def evaluate(
    engine: sa.Engine,
    *,
    now: datetime | None = None,
    kinds: list[str] | None = None,
    rule_ids: list[int] | None = None,
) -> Outcome:
    """Evaluate the enabled, unexpired rules (of `kinds`, or `rule_ids`) now; write events and deliveries."""
    now = now or clock.now()
    base_url = get_settings().app_base_url
    outcome = Outcome()
    with engine.begin() as conn:
        rows = _rules(conn, now, kinds, rule_ids)
        if not rows:
            return outcome
        conditions: dict[int, rules.Condition] = {}
        for row in rows:
            try:
                conditions[row.id] = _parsed(row.kind, row.condition)
            except rules.RuleError as exc:
                outcome.errors[row.id] = str(exc)
        data = Data(conn, rows, conditions, now)
        data.share_work(rows, conditions)
        firings: list[tuple[Any, rules.Hit, datetime]] = []
        book: list[tuple[int, datetime | None, dict]] = []  # rules that fired: their new bookkeeping
        moved: list[tuple[int, datetime | None]] = []  # the others (most): only their watermark moves
        for row in rows:
            if row.id not in conditions:
                continue
            try:
                found, watermark = data.hits(row, conditions[row.id])
                fires, keeping = apply_mode(row, found, now) if found else ([], None)
            except Exception as exc:  # noqa: BLE001 - one bad rule never stops the others
                log.exception(
                    "alert rule %s (%s %s: %s) could not be evaluated", row.id, row.kind, row.target, row.condition
                )
                outcome.errors[row.id] = first_line(exc)
                continue
            outcome.evaluated += 1
            if keeping and keeping["fired"]:
                firings.extend((row, hit, at) for hit, at in fires)
                book.append((row.id, watermark, keeping))
            else:
                moved.append((row.id, watermark))
        _write(conn, firings, book, moved, now, base_url, outcome)
    for rule_id, reason in outcome.errors.items():
        log.warning("alert rule %s skipped: %s", rule_id, reason)
    return outcome


def _write(
    conn: sa.Connection,
    firings: list[tuple[Any, rules.Hit, datetime]],
    book: list[tuple[int, datetime | None, dict]],
    moved: list[tuple[int, datetime | None]],
    now: datetime,
    base_url: str,
    outcome: Outcome,
) -> None:
    e, d = tables.alert_events, tables.alert_deliveries
    if firings:
        # The events' ids are drawn first, so each payload carries its event_id from the start (no second write).
        numbers = conn.execute(_EVENT_IDS, {"n": len(firings)}).scalars().all()
        values = [
            {
                "id": number,
                "rule_id": row.id,
                "user_id": row.user_id,
                "kind": row.kind,
                "target": row.target,
                "condition": row.condition,
                "observed_at": at,
                "value": _number(hit.value),
                "threshold": _number(hit.threshold),
                "detail": hit.detail,
                "payload": {**payload(row, hit, at, now, base_url), "event_id": number},
                "fired_at": now,
            }
            for number, (row, hit, at) in zip(numbers, firings, strict=True)
        ]
        inserted = conn.execute(  # executemany with RETURNING: batched, and its statement compiled once per process
            pg_insert(e)
            .on_conflict_do_nothing(constraint="uq_alert_events_rule_observation")
            .returning(e.c.id, e.c.rule_id),
            values,
        ).all()
        ids = [r.id for r in inserted]
        if ids:
            channels = _channels(conn, sorted({r.rule_id for r in inserted}))
            rows = [
                {"event_id": ev.id, "channel_id": ch, "webhook_id": new_webhook_id(), "next_attempt_at": now}
                for ev in inserted
                for ch in channels.get(ev.rule_id, [])
            ]
            if rows:
                outcome.delivery_ids = list(conn.execute(pg_insert(d).returning(d.c.id), rows).scalars())
        outcome.event_ids, outcome.fired = ids, len(ids)
    if book:
        conn.execute(
            _BOOKKEEPING,
            {
                "now": now,
                "ids": [rule_id for rule_id, _, _ in book],
                "watermarks": [mark for _, mark, _ in book],
                "bars": [keep["last_bar"] for _, _, keep in book],
                "fired_at": [keep["last_fired_at"] for _, _, keep in book],
                "fired": [keep["fired"] for _, _, keep in book],
                "enabled": [keep["enabled"] for _, _, keep in book],
            },
        )
    if moved:
        slots: dict[datetime | None, int] = {}
        numbered = [slots.setdefault(mark, len(slots) + 1) for _, mark in moved]
        conn.execute(_WATERMARKS, {"now": now, "marks": list(slots), "ids": [i for i, _ in moved], "slots": numbered})
