"""Command line: `python -m alerts channel ... | rule ... | list | evaluate | deliver | history`.

The same checks and messages as the Alerts page (alerts.channels, alerts.book): a bad channel or rule is refused
with the reason and exit status 2. `evaluate` does what the worker does after an ingestion run (evaluate every
enabled rule, write what fires to the outbox); `deliver` sends what the outbox holds, for a setup without a worker.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime

import sqlalchemy as sa

from store import clock
from store.db import DatabaseUnavailable, prepare_database
from store.logs import setup_logging
from store.settings import ConfigError, get_settings

log = logging.getLogger("alerts")

TARGETS = ("symbol", "series", "spread", "dataset", "job", "provider")
KIND_OF_TARGET = {"symbol": "price", "series": "macro", "spread": "macro"}


def _expiry(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alerts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    channel = sub.add_parser("channel", help="where alerts go: add, rotate, test, enable, disable, remove")
    csub = channel.add_subparsers(dest="action", required=True)
    add = csub.add_parser("add", help="add a channel; prints its id (and a webhook's whsec_ secret, this once)")
    add.add_argument("--user", required=True)
    add.add_argument("--kind", required=True, choices=["webhook", "slack", "email"])
    add.add_argument("--url", help="the webhook or Slack incoming-webhook URL")
    add.add_argument("--email", help="the address (kind email)")
    add.add_argument("--label")
    for name, text in (
        ("rotate", "a new signing secret (printed once); the old one signs too for ALERT_SECRET_GRACE_HOURS"),
        ("test", "send a test message now and print the result"),
        ("enable", "enable a channel"),
        ("disable", "disable a channel"),
        ("remove", "delete a channel"),
    ):
        csub.add_parser(name, help=text).add_argument("--id", type=int, required=True)

    rule = sub.add_parser("rule", help="what fires: add, test, enable, disable, remove")
    rsub = rule.add_subparsers(dest="action", required=True)
    for name in ("add", "test"):
        r = rsub.add_parser(name, help="add a rule" if name == "add" else "what a rule would fire on the stored data")
        if name == "add":
            r.add_argument("--user", required=True)
            r.add_argument("--channel", type=int, action="append", default=[], help="a channel id (repeatable)")
            r.add_argument("--mode", default="once-per-bar", choices=["once", "once-per-bar", "every-time"])
            r.add_argument("--cooldown", type=int, default=0, help="seconds between firings (default 0)")
            r.add_argument("--expires", type=_expiry, help="stop evaluating after this date/time (UTC)")
            r.add_argument("--note")
        target = r.add_mutually_exclusive_group(required=True)
        for option in TARGETS:
            target.add_argument(f"--{option}")
        r.add_argument("--when", required=True, help='e.g. "close above 100", "pc1 above 3", "older than 3 days"')
    for name in ("enable", "disable", "remove"):
        rsub.add_parser(name, help=f"{name} a rule").add_argument("--id", type=int, required=True)

    listing = sub.add_parser("list", help="channels and rules")
    listing.add_argument("--user")
    evaluate = sub.add_parser("evaluate", help="evaluate every enabled rule now and queue what fires")
    evaluate.add_argument("--kind", action="append", choices=["price", "macro", "data"])
    sub.add_parser("deliver", help="send the queued deliveries that are due")
    history = sub.add_parser("history", help="the latest events and their deliveries")
    history.add_argument("--limit", type=int, default=20)
    return parser


def _target(args: argparse.Namespace) -> tuple[str, str]:
    for option in TARGETS:
        value = getattr(args, option)
        if value:
            return KIND_OF_TARGET.get(option, "data"), value
    raise ValueError("give a target: --" + " | --".join(TARGETS))


def _channel(args: argparse.Namespace, engine: sa.Engine) -> None:
    from alerts import channels, outbox

    if args.action == "add":
        with engine.connect() as conn:
            user = channels.user_id(conn, args.user)
            admin = conn.execute(sa.text("select role = 'admin' from users where id = :id"), {"id": user}).scalar_one()
        target = args.email if args.kind == "email" else args.url
        if not target:
            raise ValueError(
                "--email is required for an email channel" if args.kind == "email" else "--url is required"
            )
        new = channels.add_channel(engine, user, args.kind, target, args.label, admin=admin)
        print(f"channel: {new.id}")
        if new.secret:
            print(f"secret: {new.secret}\n(shown this once: give it to the receiver to verify signatures)")
    elif args.action == "rotate":
        settings = get_settings()
        secret = channels.rotate_secret(
            engine, args.id, None, now=clock.now(), grace_hours=settings.alert_secret_grace_hours
        )
        print(f"secret: {secret}\n(the previous secret also signs for {settings.alert_secret_grace_hours:g} h)")
    elif args.action == "test":
        result = outbox.send_test(engine, args.id, None)
        status = f"status {result.status}" if result.status is not None else "no answer"
        print(
            f"{'delivered' if result.ok else 'failed'}: {status}, {result.latency_ms:.0f} ms"
            + (f", {result.error}" if result.error else "")
        )
        if not result.ok:
            raise SystemExit(1)
    elif args.action in ("enable", "disable"):
        channels.set_enabled(engine, args.id, None, args.action == "enable", "disabled from the command line")
        print(f"channel {args.id} {args.action}d")
    else:
        channels.remove_channel(engine, args.id, None)
        print(f"channel {args.id} removed")


def _rule(args: argparse.Namespace, engine: sa.Engine) -> None:
    from alerts import book, channels

    if args.action in ("add", "test"):
        kind, target = _target(args)
        if args.action == "test":
            found = book.dry_run(engine, kind, target, args.when)
            print(found.to_string(index=False) if not found.empty else "it would not have fired on the stored data")
            return
        with engine.connect() as conn:
            user = channels.user_id(conn, args.user)
        spec = book.RuleSpec(
            kind, target, args.when, tuple(args.channel), args.mode, args.cooldown, args.expires, args.note
        )
        print(f"rule: {book.add_rule(engine, user, spec, now=clock.now())}")
    elif args.action in ("enable", "disable"):
        book.set_enabled(engine, args.id, None, args.action == "enable", now=clock.now())
        print(f"rule {args.id} {args.action}d")
    else:
        book.remove_rule(engine, args.id, None)
        print(f"rule {args.id} removed")


def _list(args: argparse.Namespace, engine: sa.Engine) -> None:
    from alerts import channels
    from alerts.channels import shown_target
    from store.reads import alerts as reads

    with engine.connect() as conn:
        user = channels.user_id(conn, args.user) if args.user else None
        chans = reads.channels(conn, user)
        rules = reads.rules(conn, user)
    if chans.empty:
        print("no channels")
    for c in chans.itertuples():
        state = "enabled" if c.enabled else f"disabled ({c.disabled_reason})"
        print(f"channel {c.id}  {c.user}  {c.kind:<7} {c.label}  {shown_target(c.kind, c.target)}  {state}")
    if rules.empty:
        print("no rules")
    for r in rules.itertuples():
        state = "enabled" if r.enabled else "disabled"
        chans_text = ",".join(str(ch) for ch in r.channels) or "-"
        print(
            f"rule {r.id}  {r.user}  {r.kind:<5} {r.target:<10} {r.condition!r}  {r.mode}  channels {chans_text}  "
            f"{state}, fired {r.fired_count}"
        )


def _history(args: argparse.Namespace, engine: sa.Engine) -> None:
    from store.reads import alerts as reads

    with engine.connect() as conn:
        events = reads.events(conn, limit=args.limit)
    if events.empty:
        print("no events")
    for e in events.itertuples():
        print(
            f"event {e.id}  {e.fired_at:%Y-%m-%d %H:%M:%S}  {e.target}  {e.detail}  "
            f"delivered {e.delivered}, pending {e.pending}, failed {e.failed}"
        )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = get_settings()
        setup_logging(settings)
        settings.check_production()
        engine = prepare_database(settings)
        if args.command == "channel":
            _channel(args, engine)
        elif args.command == "rule":
            _rule(args, engine)
        elif args.command == "list":
            _list(args, engine)
        elif args.command == "history":
            _history(args, engine)
        elif args.command == "evaluate":
            from alerts.evaluate import evaluate

            print(evaluate(engine, kinds=args.kind).summary())
        elif args.command == "deliver":
            from alerts.outbox import deliver_due

            outcome = deliver_due(engine, limit=10_000)
            print(
                f"{outcome.attempted} sent: {outcome.delivered} delivered, {outcome.retrying} to retry, "
                f"{outcome.failed} failed"
            )
        return 0
    except (ConfigError, DatabaseUnavailable, ValueError) as exc:  # InvalidAlert is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - a CLI reports, it does not dump a traceback on the user
        log.exception("command %s failed", args.command)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        from store.db import reset_engine

        reset_engine()


if __name__ == "__main__":
    sys.exit(main())
