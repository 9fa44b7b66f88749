"""Benchmarks, run on demand (`make bench`, or `python -m bench.NAME`); never in CI."""
