"""Storage throughput: streaming put/get and small-object puts, local vs S3 (moto_server).

    python -m benchmarks.bench_storage [--size-mib 256] [--small 300]

Wall time on loopback mostly measures the server (moto is Python and shares
the CPUs); the client CPU column (this process's user+system time) is the
cost dbs itself pays per GiB, which is what the choice of client changes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator

from testbed.s3server import start_s3_server, stop_s3_server

from dbs.storage.base import ObjectStore
from dbs.storage.local import LocalStore
from dbs.storage.s3 import MiB, S3Store


def _pieces(total: int, piece: int = MiB) -> Iterator[bytes]:
    block = os.urandom(piece)  # incompressible, like encrypted packs
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        yield block[:n]
        sent += n


def _measure(action: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def _drain(store: ObjectStore, key: str) -> int:
    # Only count: hashing here would dominate the client CPU figure.
    return sum(len(piece) for piece in store.iter_get(key))


def bench(name: str, store: ObjectStore, size: int, small: int) -> None:
    gib = size / (1 << 30)
    wall, cpu = _measure(lambda: store.put("bench/big", _pieces(size)))
    print(f"{name:<28} put  {size / MiB / wall:8.1f} MiB/s   client CPU {cpu / gib:5.2f} s/GiB")
    wall, cpu = _measure(lambda: _drain(store, "bench/big"))
    print(f"{name:<28} get  {size / MiB / wall:8.1f} MiB/s   client CPU {cpu / gib:5.2f} s/GiB")
    body = os.urandom(64 << 10)

    def puts() -> None:
        for n in range(small):
            store.put(f"bench/small/{n:06d}", body, create_only=True)

    wall, _ = _measure(puts)
    print(f"{name:<28} {small} × 64 KiB create-only puts: {small / wall:7.1f} obj/s")
    for info in list(store.list("bench/")):
        store.delete(info.key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--small", type=int, default=300)
    args = parser.parse_args()
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory() as tmp:
        bench("local", LocalStore(tmp), size, args.small)
    server = start_s3_server()
    try:
        for part_mib, concurrency in ((8, 4), (16, 4), (16, 8)):
            bucket = server.create_bucket()
            store = S3Store(
                server.endpoint,
                bucket,
                server.region,
                server.access_key_id,
                server.secret_access_key,
                part_size=part_mib * MiB,
                max_concurrency=concurrency,
            )
            bench(f"s3 moto {part_mib} MiB × {concurrency}", store, size, args.small)
            server.delete_bucket(bucket)
    finally:
        stop_s3_server(server)


if __name__ == "__main__":
    main()
