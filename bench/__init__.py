"""Benchmarks of the remote-jobs runner against local servers: `python -m bench`.

Not part of the tests: see the README's "Benchmarks" section and docs/benchmarks.md.
"""
