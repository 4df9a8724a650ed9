"""Benchmarks that print their figures: ``python -m bench NAME`` (``--list`` lists them)."""
