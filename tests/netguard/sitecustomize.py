"""Loaded by Python at start-up when this folder is on PYTHONPATH: guards subprocesses started by tests.

Also: SIGUSR1 prints every thread's stack to stderr (the server's log), so a test that sees a server hang can say
where it hangs (tests.support.server.Server.stacks)."""

import faulthandler
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.netguard.guard import install  # noqa: E402

install()
faulthandler.register(signal.SIGUSR1, all_threads=True)
