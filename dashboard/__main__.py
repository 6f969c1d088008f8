"""`python -m dashboard doctor [--strict]` (deployment checks) and `python -m dashboard users ...` (accounts)."""

import sys

COMMANDS = ("doctor", "users")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m dashboard {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return 2
    if argv[0] == "doctor":
        from dashboard.doctor import main as doctor

        return doctor(argv[1:])
    from dashboard.access.users import main as users

    return users(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
