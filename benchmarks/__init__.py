"""Benchmarks: scripts that print figures side by side with a named peer, run from the
repository root as `python -m benchmarks.NAME` (shared parts in `benchmarks/_common.py`)."""
