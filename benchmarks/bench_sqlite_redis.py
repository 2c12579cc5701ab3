"""SQLite and Redis engines at full scale, through a real encrypted repository.

    python -m benchmarks.bench_sqlite_redis [--sqlite-mib 200] [--redis-keys 1000000]
        [--only sqlite|redis]

SQLite: a table of ``--sqlite-mib`` MiB (4 KiB rows, half random, half zero),
WAL mode; backup (one-step online backup API + integrity_check + per-table
digest + stream) and restore (write + integrity_check + digest) timed; then
the same backup again while a writer process keeps committing transfers.
Redis: ``DEBUG POPULATE`` keys on a private server; backup (PSYNC pull + parse
+ stream) and key-by-key restore (pipelined RESTORE + per-batch read-back)
timed, and DEBUG DIGEST compared. Prints one JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from testbed.redis_server import RedisServer

from dbs.engines.base import RestoreOptions
from dbs.engines.endpoint import parse_endpoint
from dbs.engines.redis import ENGINE as REDIS
from dbs.engines.selection import ObjectSelection
from dbs.engines.sqlite import ENGINE as SQLITE
from dbs.repo import KeySource, Repository
from dbs.storage.local import LocalStore
from dbs.streams import NullProgress

_WRITER = """
import random, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
while True:
    a, b = random.sample(range(1, 101), 2)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE accounts SET balance = balance - 1 WHERE id = ?", (a,))
    conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id = ?", (b,))
    conn.execute("COMMIT")
"""


def _repo(root: Path) -> Repository:
    return Repository.create(LocalStore(root / "repo"), KeySource.generate_keyfile(root / "key"))


def _backup(repo: Repository, engine: Any, url: str) -> tuple[str, dict[str, Any], float]:
    start = time.perf_counter()
    with repo.begin_backup() as writer:
        metadata = engine.backup(
            parse_endpoint(url), ObjectSelection.everything(), writer, NullProgress()
        )
        info = writer.commit(metadata)
    return info.id, metadata, time.perf_counter() - start


def bench_sqlite(root: Path, mib: int) -> list[dict[str, Any]]:
    source = root / "big.db"
    conn = sqlite3.connect(source, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, note TEXT, payload BLOB)")
    conn.execute(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {mib * 256}) "
        "INSERT INTO big SELECT i, 'row ' || i, "
        "CASE i % 2 WHEN 0 THEN randomblob(4096) ELSE zeroblob(4096) END FROM n"
    )
    conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
        "INSERT INTO accounts SELECT i, 100 FROM n"
    )
    conn.close()
    repo = _repo(root)
    set_id, metadata, backup_s = _backup(repo, SQLITE, f"sqlite://{source}")
    start = time.perf_counter()
    result = SQLITE.restore(
        repo.open_backup_set(set_id),
        parse_endpoint(f"sqlite://{root / 'restored.db'}"),
        RestoreOptions(),
        NullProgress(),
    )
    restore_s = time.perf_counter() - start
    size = metadata["size"]
    rows = [
        {
            "case": "sqlite-idle",
            "bytes": size,
            "backup_s": round(backup_s, 2),
            "backup_mib_s": round(size / backup_s / 2**20, 1),
            "restore_s": round(restore_s, 2),
            "restore_mib_s": round(size / restore_s / 2**20, 1),
            "verified": result.verified,
        }
    ]
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(source)])
    try:
        time.sleep(0.5)
        set_id, metadata, backup_s = _backup(repo, SQLITE, f"sqlite://{source}")
    finally:
        writer.kill()
        writer.wait()
    restored = root / "under-load.db"
    SQLITE.restore(
        repo.open_backup_set(set_id),
        parse_endpoint(f"sqlite://{restored}"),
        RestoreOptions(),
        NullProgress(),
    )
    total = sqlite3.connect(restored).execute("SELECT sum(balance) FROM accounts").fetchone()[0]
    rows.append(
        {
            "case": "sqlite-under-writer",
            "bytes": metadata["size"],
            "backup_s": round(backup_s, 2),
            "invariant_holds": total == 100 * 100,
        }
    )
    return rows


def bench_redis(keys: int) -> list[dict[str, Any]]:
    source, target = RedisServer(), RedisServer()
    try:
        source.client().execute_command("DEBUG", "POPULATE", keys, "key", 16)
        with tempfile.TemporaryDirectory(prefix="dbs-bench-redis-") as tmp:
            repo = _repo(Path(tmp))
            set_id, metadata, backup_s = _backup(repo, REDIS, f"redis://127.0.0.1:{source.port}")
            start = time.perf_counter()
            result = REDIS.restore(
                repo.open_backup_set(set_id), target.endpoint(), RestoreOptions(), NullProgress()
            )
            restore_s = time.perf_counter() - start
        same = source.client().execute_command(
            "DEBUG", "DIGEST"
        ) == target.client().execute_command("DEBUG", "DIGEST")
        return [
            {
                "case": "redis-small-keys",
                "keys": keys,
                "rdb_bytes": metadata["size"],
                "backup_s": round(backup_s, 2),
                "backup_keys_s": round(keys / backup_s),
                "restore_s": round(restore_s, 2),
                "restore_keys_s": round(keys / restore_s),
                "verified": result.verified,
                "digest_equal": same,
            }
        ]
    finally:
        source.stop()
        target.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-mib", type=int, default=200)
    parser.add_argument("--redis-keys", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "redis"])
    args = parser.parse_args()
    if args.only != "redis":
        with tempfile.TemporaryDirectory(prefix="dbs-bench-sqlite-") as tmp:
            for row in bench_sqlite(Path(tmp), args.sqlite_mib):
                print(json.dumps(row), flush=True)
    if args.only != "sqlite":
        for row in bench_redis(args.redis_keys):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
