"""Rule evaluation on the database: new observations only, trigger modes, cooldown, expiry, data rules, and the
events and deliveries written in one transaction (alerts.evaluate, alerts.book)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from alerts import book, channels
from alerts.channels import InvalidAlert
from alerts.evaluate import evaluate
from ingestion.config import IngestionConfig
from ingestion.jobs import JobRequest, run_job
from store import clock, tables
from tests.support.doubles import SyntheticPrices, sessions

CONFIG = IngestionConfig(chunk_symbols=2, max_retries=1, backoff_seconds=0.0)
NOW = datetime(2024, 4, 10, 22, 0, tzinfo=UTC)


@pytest.fixture
def db(make_migrated_database, engine_for, monkeypatch):
    """A database with AAA's synthetic history to 2024-04-01 and a user `ana`."""
    engine = engine_for(make_migrated_database(), ALERT_WEBHOOK_ALLOWED_HOSTS="127.0.0.1")
    monkeypatch.setattr(clock, "now", lambda: NOW)
    with engine.begin() as conn:
        conn.execute(
            tables.instruments.insert().values(symbol="AAA", name="Triple A", asset_class="stock", source="test")
        )
        conn.execute(tables.users.insert().values(username="ana", password_hash="x", role="viewer"))
    run_job(engine, JobRequest("prices", ["AAA"], date(2024, 3, 1), date(2024, 4, 1)), [SyntheticPrices()], CONFIG)
    return engine


def ana(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return channels.user_id(conn, "ana")


def one_more_session(engine: sa.Engine, day: str) -> None:
    """An ingestion run that adds the session `day` (synthetic closes rise 0.1% a calendar day)."""
    result = run_job(
        engine,
        JobRequest("prices", ["AAA"], date.fromisoformat(day), date.fromisoformat(day)),
        [SyntheticPrices()],
        CONFIG,
    )
    assert result.status == "success" and result.rows_written == 1


def events(engine: sa.Engine) -> list[sa.Row]:
    e = tables.alert_events
    with engine.connect() as conn:
        return list(conn.execute(sa.select(e).order_by(e.c.observed_at)).all())


def rule(engine: sa.Engine, when: str, mode: str, channel: int | None = None, **extra) -> int:
    spec = book.RuleSpec("price", "aaa", when, (channel,) if channel else (), mode, **extra)
    return book.add_rule(engine, ana(engine), spec, now=clock.now())


@pytest.mark.parametrize(("mode", "expected"), [("once-per-bar", 3), ("every-time", 3), ("once", 1)])
def test_a_rule_fires_once_per_new_observation_across_three_runs(db, mode, expected):
    channel = channels.add_channel(db, ana(db), "webhook", "http://127.0.0.1:9/hook")
    rule_id = rule(db, "up 0.05% over 1", mode, channel.id)
    assert evaluate(db).fired == 0  # made after the last stored bar: history never fires

    for day in ("2024-04-02", "2024-04-03", "2024-04-04"):
        one_more_session(db, day)
        evaluate(db)
        evaluate(db)  # again, with no new data: nothing is evaluated twice

    fired = events(db)
    assert len(fired) == expected
    assert [e.observed_at.date() for e in fired] == [date(2024, 4, 2), date(2024, 4, 3), date(2024, 4, 4)][:expected]
    # Each event: its value (the % move), the threshold, and one delivery for the channel, written with it.
    first = fired[0]
    closes = {d: 70 * 1.001 ** (d - date(2024, 1, 1)).days for d in (date(2024, 4, 1), date(2024, 4, 2))}
    assert first.value == pytest.approx((closes[date(2024, 4, 2)] / closes[date(2024, 4, 1)] - 1) * 100, rel=1e-6)
    assert first.threshold == pytest.approx(0.05)
    assert first.payload["symbol"] == "AAA" and first.payload["event_id"] == first.id
    assert first.payload["link"].endswith("/ticker?tk_t=AAA")
    with db.connect() as conn:
        deliveries = conn.execute(sa.select(tables.alert_deliveries)).all()
        state = conn.execute(sa.select(tables.alert_rules).where(tables.alert_rules.c.id == rule_id)).one()
    assert sorted(d.event_id for d in deliveries) == sorted(e.id for e in fired)
    assert len({d.webhook_id for d in deliveries}) == len(deliveries)
    assert state.enabled is (mode != "once")
    assert state.fired_count == expected


def test_intraday_quotes_and_the_close_are_one_bar(db):
    once_per_bar = rule(db, "close above 110", "once-per-bar")
    every_time = rule(db, "close above 110", "every-time")
    last_close = 70 * 1.001 ** (date(2024, 4, 1) - date(2024, 1, 1)).days  # about 76.9
    assert last_close < 110
    # Quotes on 2024-04-02 cross 110, fall back, cross again; then the close crosses once more from below.
    quotes = [("14:00", 111.0), ("14:30", 109.0), ("15:00", 112.0)]
    with db.begin() as conn:
        conn.execute(
            tables.intraday_quotes.insert(),
            [
                {
                    "symbol": "AAA",
                    "ts": datetime.fromisoformat(f"2024-04-02T{t}:00+00:00"),
                    "price": p,
                    "source": "test",
                }
                for t, p in quotes
            ],
        )
    evaluate(db)
    fired = events(db)
    by_rule = {r: [e for e in fired if e.rule_id == r] for r in (once_per_bar, every_time)}
    assert len(by_rule[once_per_bar]) == 1  # one bar (New York 2024-04-02)
    assert [e.value for e in by_rule[every_time]] == [111.0, 112.0]


def test_cooldown_and_expiry_hold(db, monkeypatch):
    cooled = rule(db, "up 0.05% over 1", "every-time", cooldown_seconds=3600)
    expiring = rule(db, "up 0.05% over 1", "every-time", expires_at=NOW + timedelta(days=1))
    moments = iter([NOW, NOW + timedelta(minutes=30), NOW + timedelta(days=2)])
    for day in ("2024-04-02", "2024-04-03", "2024-04-04"):
        moment = next(moments)
        monkeypatch.setattr(clock, "now", lambda moment=moment: moment)
        one_more_session(db, day)
        evaluate(db)
    fired = events(db)
    # Cooldown: 04-02 fires, 04-03 (30 min later) is skipped, 04-04 (two days later) fires.
    assert [e.observed_at.date() for e in fired if e.rule_id == cooled] == [date(2024, 4, 2), date(2024, 4, 4)]
    # Expiry: fires until its expiry passes, then is not evaluated any more.
    assert [e.observed_at.date() for e in fired if e.rule_id == expiring] == [date(2024, 4, 2), date(2024, 4, 3)]


def test_a_second_event_for_the_same_observation_is_impossible(db):
    rule_id = rule(db, "up 0.05% over 1", "every-time")
    one_more_session(db, "2024-04-02")
    assert evaluate(db).fired == 1
    # Even if the bookkeeping were lost (the watermark put back), the database refuses the same event again.
    with db.begin() as conn:
        conn.execute(
            tables.alert_rules.update()
            .where(tables.alert_rules.c.id == rule_id)
            .values(watermark=datetime(2024, 4, 1, 20, 0, tzinfo=UTC))
        )
    assert evaluate(db).fired == 0
    assert len(events(db)) == 1


def test_a_bad_rule_is_skipped_and_the_others_fire(db):
    good = rule(db, "up 0.05% over 1", "every-time")
    bad = rule(db, "up 0.05% over 1", "every-time")
    with db.begin() as conn:  # a rule damaged outside the app (its condition no longer parses)
        conn.execute(tables.alert_rules.update().where(tables.alert_rules.c.id == bad).values(condition="close abve 1"))
    one_more_session(db, "2024-04-02")
    outcome = evaluate(db)
    assert outcome.fired == 1 and bad in outcome.errors and "close abve 1" in outcome.errors[bad]
    assert [e.rule_id for e in events(db)] == [good]


def test_data_rules_stale_failed_run_and_circuit(db, monkeypatch):
    user = ana(db)
    stale = book.add_rule(db, user, book.RuleSpec("data", "AAA", "older than 3 days", mode="every-time"), now=NOW)
    failed = book.add_rule(db, user, book.RuleSpec("data", "*", "job failed", mode="every-time"), now=NOW)
    circuit = book.add_rule(db, user, book.RuleSpec("data", "yfinance", "circuit opened", mode="every-time"), now=NOW)
    later = NOW + timedelta(hours=1)
    with db.begin() as conn:
        conn.execute(
            tables.ingestion_runs.insert().values(
                job="macro", source="fred", status="failed", finished_at=later, error_summary="fred: 500\nmore"
            )
        )
        conn.execute(
            tables.provider_state.insert().values(provider="yfinance", circuit="open", failures=5, opened_at=later)
        )
    monkeypatch.setattr(clock, "now", lambda: later + timedelta(minutes=5))
    evaluate(db)
    evaluate(db)  # the same stale point, run and opening fire once
    fired = {e.rule_id: e for e in events(db)}
    assert set(fired) == {stale, failed, circuit}
    # AAA's last bar is 2024-04-01 (close 16:00 New York); on 2024-04-10 it is about 9 days old.
    assert fired[stale].value == pytest.approx(
        (later + timedelta(minutes=5) - datetime(2024, 4, 1, 20, 0, tzinfo=UTC)).total_seconds() / 86400
    )
    assert (
        "macro run" in fired[failed].detail
        and "fred: 500" in fired[failed].detail
        and "more" not in fired[failed].detail
    )
    assert "yfinance circuit opened" in fired[circuit].detail


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (book.RuleSpec("price", "ZZZZ", "close above 1"), "unknown ticker 'ZZZZ'"),
        (book.RuleSpec("price", "A A", "close above 1"), "is not a symbol"),
        (book.RuleSpec("price", "AAA", "close abve 1"), "close abve 1"),
        (book.RuleSpec("macro", "NOPE", "above 1"), "unknown series 'NOPE'"),
        (book.RuleSpec("macro", "DGS10", "inverts"), "is for a spread"),
        (book.RuleSpec("price", "AAA", "close above 1", mode="sometimes"), "unknown mode 'sometimes'"),
        (book.RuleSpec("price", "AAA", "close above 1", channels=(999,)), "no channel 999 of yours"),
        (book.RuleSpec("price", "AAA", "close above 1", expires_at=NOW - timedelta(days=1)), "not in the future"),
        (book.RuleSpec("data", "nowhere!", "older than 1 days"), "neither a dataset"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(db, spec, reason):
    with pytest.raises(InvalidAlert) as refused:
        book.add_rule(db, ana(db), spec, now=NOW)
    assert reason in str(refused.value).replace("\u2019", "'")
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.alert_rules)).scalar_one() == 0


def test_dry_run_shows_what_a_rule_would_fire_on_the_stored_data(db):
    found = book.dry_run(db, "price", "AAA", "crosses above sma 5")
    assert found.empty  # a steady rise never crosses its SMA from below after the start
    found = book.dry_run(db, "price", "AAA", "up 0.05% over 1")
    assert len(found) == len(sessions("2024-03-01", "2024-04-01")) - 1
    with pytest.raises(InvalidAlert, match="data rules watch what happens from now on"):
        book.dry_run(db, "data", "prices", "older than 1 days")


def test_admins_first_channel_gets_the_operators_rules(db):
    with db.begin() as conn:
        admin = conn.execute(
            tables.users.insert().values(username="ops", password_hash="x", role="admin").returning(tables.users.c.id)
        ).scalar_one()
    channels.add_channel(db, admin, "email", "ops@example.com", admin=True)
    channels.add_channel(db, admin, "email", "ops2@example.com", admin=True)
    with db.connect() as conn:
        made = conn.execute(
            sa.select(tables.alert_rules.c.condition).where(tables.alert_rules.c.user_id == admin)
        ).scalars()
        assert sorted(made) == ["circuit opened", "job failed"]
