"""Benchmarks: run on purpose, never as timed unit tests (``python -m benchmarks``)."""
