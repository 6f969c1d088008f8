"""`python -m benchmarks`: every benchmark script, one after another, into benchmarks/results/ (see suite.py)."""

import sys

from benchmarks.suite import main

sys.exit(main())
