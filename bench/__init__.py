"""Benchmarks and experiments, run with ``manage.py bench`` (each in a fresh data directory with
its own simulators) or, for the 100,000-SKU stock benchmark, ``python -m bench.stock_100k``."""
