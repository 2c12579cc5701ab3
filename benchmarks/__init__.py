"""Benchmarks: full-scale figures, run by `make bench`; never part of `make test`."""
