"""Real services on loopback for the tests and the benchmarks, neither of which owns them.

Private MariaDB and Redis servers and an S3-compatible server (moto), each on a free port
in a temp directory, started and stopped by the code that needs them. Tests import from
here (``tests/`` holds the tests and their data), and so do the benchmarks
(``benchmarks/`` holds the measurements): neither depends on the other.
"""
