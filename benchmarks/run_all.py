"""``make bench``: every benchmark at full scale, one after another.

Benchmarks are not tests: they print figures (JSON lines) and never fail on a
number. Run one alone with ``python -m benchmarks.<name> --help`` for its options.
"""

from __future__ import annotations

import subprocess
import sys
import time

RUNS: list[list[str]] = [
    ["bench_storage"],
    ["bench_repo", "--size", "1GiB", "--backend", "local"],
    ["bench_repo", "--size", "4GiB", "--backend", "local"],
    ["bench_repo", "--size", "1GiB", "--backend", "s3"],
    ["bench_sqlite_redis"],
    ["bench_postgresql"],
    ["bench_mysql"],
]


def main() -> int:
    failures = 0
    for name, *args in RUNS:
        print(f"== {name} {' '.join(args)}", flush=True)
        began = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *args])
        print(f"== {name}: exit {code} after {time.monotonic() - began:.0f} s", flush=True)
        failures += code != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
