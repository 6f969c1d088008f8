"""User administration for the admin page and the CLI: `python -m dashboard.users add|reset|disable|enable|list`,
and `... token add|list|revoke` for personal API tokens (dashboard.access.tokens)."""

from __future__ import annotations

import argparse
import getpass
import re
import secrets
import sys
from datetime import date

import pandas as pd
import sqlalchemy as sa

from dashboard.access import audit, sessions, tokens
from dashboard.access.auth import hash_password
from dashboard.access.errors import UserError
from store import tables
from store.db import DatabaseUnavailable, prepare_database, reset_engine
from store.logs import setup_logging
from store.settings import ConfigError
from store.strength import password_problem

ROLES = ("viewer", "admin")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def validate_username(username: str) -> str:
    name = (username or "").strip()
    if not USERNAME_PATTERN.fullmatch(name):
        raise UserError(
            "A user name is 1 to 64 characters: letters, digits and . _ @ - (starting with a letter or digit)."
        )
    return name


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _check_password(password: str, username: str = "") -> str:
    """The one password rule (store.strength: length and a zxcvbn estimate), with the reason when refused."""
    problem = password_problem(password, [username])
    if problem is not None:
        raise UserError(problem)
    return password


def _user(conn: sa.Connection, username: str) -> sa.RowMapping:
    u = tables.users
    row = conn.execute(sa.select(u).where(u.c.username == username).with_for_update()).mappings().first()
    if row is None:
        raise UserError(f"There is no user named {username!r}.")
    return row


def _other_active_admins(conn: sa.Connection, user_id: int) -> int:
    u = tables.users
    return conn.execute(
        sa.select(sa.func.count()).where(u.c.role == "admin", u.c.active.is_(True), u.c.id != user_id)
    ).scalar_one()


def list_users(engine: sa.Engine) -> pd.DataFrame:
    u = tables.users
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(u.c.username, u.c.role, u.c.active, u.c.created_at, u.c.last_login_at).order_by(u.c.username)
        ).mappings()
        return pd.DataFrame(rows.all(), columns=["username", "role", "active", "created_at", "last_login_at"])


def add_user(
    engine: sa.Engine,
    username: str,
    role: str = "viewer",
    password: str | None = None,
    *,
    actor: str | None = None,
    client_ip: str | None = None,
) -> str:
    """Create an active user; returns the password (generated when not given)."""
    name = validate_username(username)
    if role not in ROLES:
        raise UserError(f"The role must be one of: {', '.join(ROLES)}.")
    password = _check_password(password, name) if password is not None else generate_password()
    try:
        with engine.begin() as conn:
            conn.execute(tables.users.insert().values(username=name, password_hash=hash_password(password), role=role))
            audit.write(
                conn, "admin_add_user", username=actor, client_ip=client_ip, details={"user": name, "role": role}
            )
    except sa.exc.IntegrityError:
        raise UserError(f"A user named {name!r} already exists.") from None
    return password


def reset_password(
    engine: sa.Engine,
    username: str,
    password: str | None = None,
    *,
    actor: str | None = None,
    client_ip: str | None = None,
) -> str:
    """Set a new password (generated when not given) and end the user's sessions; returns the password."""
    password = _check_password(password, username) if password is not None else generate_password()
    with engine.begin() as conn:
        row = _user(conn, username)
        conn.execute(
            tables.users.update().where(tables.users.c.id == row["id"]).values(password_hash=hash_password(password))
        )
        ended = sessions.delete_user_sessions(conn, row["id"])
        audit.write(
            conn,
            "admin_reset_password",
            username=actor,
            client_ip=client_ip,
            details={"user": row["username"], "sessions_ended": ended},
        )
    return password


def set_active(
    engine: sa.Engine, username: str, active: bool, *, actor: str | None = None, client_ip: str | None = None
) -> None:
    """Enable or disable a user; disabling ends their sessions. The last active admin cannot be disabled."""
    with engine.begin() as conn:
        row = _user(conn, username)
        if not active and row["role"] == "admin" and row["active"] and not _other_active_admins(conn, row["id"]):
            raise UserError("This is the last active admin; add or enable another admin first.")
        conn.execute(tables.users.update().where(tables.users.c.id == row["id"]).values(active=active))
        ended = 0 if active else sessions.delete_user_sessions(conn, row["id"])
        audit.write(
            conn,
            "admin_enable_user" if active else "admin_disable_user",
            username=actor,
            client_ip=client_ip,
            details={"user": row["username"], "sessions_ended": ended},
        )


def set_role(
    engine: sa.Engine, username: str, role: str, *, actor: str | None = None, client_ip: str | None = None
) -> None:
    """Change a user's role (effective at their next interaction). The last active admin stays an admin."""
    if role not in ROLES:
        raise UserError(f"The role must be one of: {', '.join(ROLES)}.")
    with engine.begin() as conn:
        row = _user(conn, username)
        if role != "admin" and row["role"] == "admin" and row["active"] and not _other_active_admins(conn, row["id"]):
            raise UserError("This is the last active admin; make another user an admin first.")
        conn.execute(tables.users.update().where(tables.users.c.id == row["id"]).values(role=role))
        audit.write(
            conn,
            "admin_set_role",
            username=actor,
            client_ip=client_ip,
            details={"user": row["username"], "role": role, "was": row["role"]},
        )


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


class _BadInput(ValueError):
    """A command line value that cannot be read (exit status 2, as argparse's own refusals)."""


def _expiry_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise _BadInput(f"--expires takes a date as YYYY-MM-DD, not {text!r}.") from None


def _token_cli(engine: sa.Engine, args: argparse.Namespace, expires: date | None, actor: str) -> None:
    """`token add|list|revoke`. The CLI is an operator's tool: it acts as an admin on anyone's tokens."""

    if args.subcommand == "add":
        token_id, secret = tokens.create(engine, args.username, args.label, expires, actor=actor)
        until = f"{expires:%Y-%m-%d} (end of day, UTC)" if expires else "never"
        print(f"id: {token_id}\nuser: {args.username}\nlabel: {args.label.strip()}\nexpires: {until}")
        print(f"token: {secret}")
        print("The token is shown this once: only its hash is stored.", file=sys.stderr)
    elif args.subcommand == "list":
        table = tokens.list_tokens(engine, args.username)
        if table.empty:
            print("no tokens" + (f" for {args.username}" if args.username else ""))
            return
        shown = table[["id", "user", "label", "prefix", "created_at", "expires_at", "last_used_at", "state"]].copy()
        for column in ("created_at", "expires_at", "last_used_at"):
            shown[column] = [f"{v:%Y-%m-%d %H:%M}" if pd.notna(v) else "-" for v in shown[column]]
        print(shown.to_string(index=False))
    else:
        done = tokens.revoke(engine, args.token_id, actor=actor, actor_role="admin")
        print(f"token {args.token_id}: " + ("revoked" if done else "already revoked"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.users", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="create a user and print a generated password")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="viewer")
    add.add_argument("--prompt", action="store_true", help="type the password instead of generating one")
    reset = sub.add_parser("reset", help="set a new password (printed) and end the user's sessions")
    reset.add_argument("username")
    reset.add_argument("--prompt", action="store_true", help="type the password instead of generating one")
    for name, text in (("disable", "block a user and end their sessions"), ("enable", "allow a user again")):
        sub.add_parser(name, help=text).add_argument("username")
    role = sub.add_parser("role", help="change a user's role")
    role.add_argument("username")
    role.add_argument("role", choices=ROLES)
    sub.add_parser("list", help="list users")
    token = sub.add_parser("token", help="personal API tokens for /api/v1: add, list, revoke")
    token_sub = token.add_subparsers(dest="subcommand", required=True)
    token_add = token_sub.add_parser("add", help="create a token for a user and print it (shown this once)")
    token_add.add_argument("username")
    token_add.add_argument("--label", required=True, help="what the token is for (1 to 64 characters)")
    token_add.add_argument("--expires", metavar="YYYY-MM-DD", help="last day it works (UTC); default: no expiry")
    token_sub.add_parser("list", help="list tokens (never the tokens themselves)").add_argument("username", nargs="?")
    token_sub.add_parser("revoke", help="revoke a token by its id").add_argument("token_id", type=int)
    args = parser.parse_args(argv)
    try:
        setup_logging()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    typed = getpass.getpass("New password: ") if getattr(args, "prompt", False) else None
    actor = _cli_actor()
    try:
        if typed is not None:
            _check_password(typed, args.username)  # before the database: a weak password is refused at once
        expires = _expiry_date(args.expires) if args.command == "token" and args.subcommand == "add" else None
        engine = prepare_database()
        if args.command == "token":
            _token_cli(engine, args, expires, actor)
        elif args.command == "list":
            table = list_users(engine)
            print(table.to_string(index=False) if not table.empty else "no users")
        elif args.command == "add":
            password = add_user(engine, args.username, args.role, typed, actor=actor)
            print(
                f"username: {args.username.strip()}\nrole: {args.role}" + ("" if typed else f"\npassword: {password}")
            )
        elif args.command == "reset":
            password = reset_password(engine, args.username, typed, actor=actor)
            print(f"username: {args.username}" + ("" if typed else f"\npassword: {password}"))
        elif args.command in ("disable", "enable"):
            set_active(engine, args.username, args.command == "enable", actor=actor)
            print(f"{args.username}: {args.command}d")
        else:
            set_role(engine, args.username, args.role, actor=actor)
            print(f"{args.username}: role {args.role}")
    except (DatabaseUnavailable, _BadInput) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        reset_engine()  # an embedded server started here stops at exit (see ingestion.__main__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
