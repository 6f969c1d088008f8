"""Loaded by Python at start-up when this folder is on PYTHONPATH: guards subprocesses started by tests."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests.netguard.guard import install  # noqa: E402

install()
