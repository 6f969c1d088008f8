"""Benchmarks: one script per concern, run together by `python -m benchmarks` (benchmarks/suite.py)."""
