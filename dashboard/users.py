"""`python -m dashboard.users add|reset|disable|enable|role|list`: user administration (dashboard.access.users)."""

import sys

from dashboard.access.users import main

if __name__ == "__main__":
    sys.exit(main())
