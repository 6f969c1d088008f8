"""Data providers behind one contract (see base.py)."""
