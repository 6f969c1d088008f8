"""User administration from the command line: `python -m dashboard.users reset NAME | add NAME [--role R]`."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys

import sqlalchemy as sa

from dashboard.auth import hash_password
from store import tables
from store.db import DatabaseUnavailable, prepare_database, reset_engine
from store.embedded import stop_embedded
from store.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.users", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("add", "reset"):
        p = sub.add_parser(name)
        p.add_argument("username")
        p.add_argument("--role", choices=["viewer", "admin"], default="viewer")
        p.add_argument("--prompt", action="store_true", help="type the password instead of generating one")
    args = parser.parse_args(argv)
    setup_logging()
    password = getpass.getpass("New password: ") if args.prompt else secrets.token_urlsafe(12)
    users = tables.users
    try:
        engine = prepare_database()
        with engine.begin() as conn:
            if args.command == "add":
                conn.execute(
                    users.insert().values(username=args.username, password_hash=hash_password(password), role=args.role)
                )
            else:
                done = conn.execute(
                    users.update()
                    .where(users.c.username == args.username)
                    .values(password_hash=hash_password(password))
                ).rowcount
                if not done:
                    print(f"error: no user named {args.username!r}", file=sys.stderr)
                    return 1
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sa.exc.IntegrityError:
        print(f"error: a user named {args.username!r} already exists", file=sys.stderr)
        return 1
    finally:
        reset_engine()
        stop_embedded()
    if not args.prompt:
        print(f"username: {args.username}\npassword: {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
