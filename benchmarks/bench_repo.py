"""Repository ingest/restore throughput, stored bytes and peak memory.

    python -m benchmarks.bench_repo --size 1GiB --backend local|s3 [--boundaries newline|none]

Generates dump-like rows on the fly (benchmarks/datagen.py: unique blocks,
compressible about 2.5x by zstd), writes them as one stream into a fresh
encrypted repository (compression + AES-256-GCM on), commits, then restores
and verifies the stream. The work runs in a child process; its peak RSS comes
from ``getrusage(RUSAGE_CHILDREN)``. For S3 the moto server runs in this
(parent) process tree but is not waited for before the measurement, so its
memory (it keeps every object in RAM) is not counted. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def parse_size(text: str) -> int:
    for unit, factor in UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def _child(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from benchmarks.datagen import dump_like
    from dbs.repo import KeySource, Repository
    from dbs.storage.base import ObjectStore
    from dbs.storage.local import LocalStore

    store: ObjectStore
    if args.backend == "local":
        store = LocalStore(workdir / "repo")
    else:
        from dbs.storage.s3 import S3Store

        cfg = json.loads(os.environ["DBS_BENCH_S3"])
        store = S3Store(
            cfg["endpoint"], cfg["bucket"], cfg["region"], cfg["key"], cfg["secret"], "bench"
        )
    repo = Repository.create(store, KeySource.generate_keyfile(workdir / "key"))
    boundaries = b"\n" if args.boundaries == "newline" else None
    size = parse_size(args.size)
    start = time.perf_counter()
    cpu = time.process_time()
    with repo.begin_backup() as writer:
        info = writer.add_stream("table", dump_like(size), boundaries)
        set_info = writer.commit({})
    ingest = time.perf_counter() - start
    ingest_cpu = time.process_time() - cpu
    start = time.perf_counter()
    restored = sum(len(p) for p in repo.open_backup_set(set_info.id).open_stream("table"))
    restore = time.perf_counter() - start
    assert restored == size
    repo.close()
    mb = size / 1e6
    return {
        "backend": args.backend,
        "boundaries": args.boundaries,
        "size_bytes": size,
        "chunks": info.chunk_count,
        "ingest_MBps": round(mb / ingest, 1),
        "ingest_cpu_s": round(ingest_cpu, 1),
        "restore_MBps": round(mb / restore, 1),
        "stored_bytes": set_info.stored_size,
        "ratio": round(size / set_info.stored_size, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--backend", choices=["local", "s3"], default="local")
    parser.add_argument("--boundaries", choices=["newline", "none"], default="newline")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args, Path(args.child))))
        return
    server = None
    env = dict(os.environ)
    if args.backend == "s3":
        from testbed.s3server import start_s3_server

        server = start_s3_server()
        bucket = server.create_bucket()
        env["DBS_BENCH_S3"] = json.dumps(
            {
                "endpoint": server.endpoint,
                "bucket": bucket,
                "region": server.region,
                "key": server.access_key_id,
                "secret": server.secret_access_key,
            }
        )
    try:
        with tempfile.TemporaryDirectory(prefix="dbs-bench-") as tmp:
            cmd = [sys.executable, "-m", "benchmarks.bench_repo", *sys.argv[1:], "--child", tmp]
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    finally:
        if server is not None:
            from testbed.s3server import stop_s3_server

            stop_s3_server(server)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_rss_MB"] = round(peak_kib * 1024 / 1e6, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
