"""PostgreSQL engine benchmark: dbs against pg_dump/pg_restore on the same ~1 GiB database.

    python -m benchmarks.bench_postgresql [--scale 1.0] [--parallel 2] [--keep]

Builds a database (orders ~4 M rows, customers, events: text with hashes,
numerics, timestamps, jsonb, bytea, int arrays), then in one run times
pg_dump -Fc, pg_dump -Fd -j2, pg_dump | zstd -3 -T2, pg_restore -j2, and dbs
backup/restore into a local encrypted repository; applies a change workload
(append ~2 %, update ~0.5 % of recent rows, delete ~0.1 % spread, update
~0.2 % of customers) and takes a second dbs backup to measure what it stores.
Each dbs phase runs in its own process so its peak RSS is its own.
Prints one JSON object with the figures and the target ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
ENV = {**os.environ, "PGHOST": HOST, "PGPORT": str(PORT), "PGUSER": USER}


def _sql(database: str, *statements: str) -> None:
    with psycopg.connect(host=HOST, port=PORT, user=USER, dbname=database,
                         autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def generate(database: str, scale: float) -> None:
    orders, customers, events = int(4_000_000 * scale), int(500_000 * scale), int(2_000_000 * scale)
    _sql("postgres", f'CREATE DATABASE "{database}"')
    _sql(database, f"""
    CREATE TABLE customers (id int PRIMARY KEY, name text, email text, profile jsonb,
                            created timestamptz);
    INSERT INTO customers SELECT g, 'customer ' || md5(g::text), 'c' || g || '@example.com',
      jsonb_build_object('tier', g % 5, 'tags', jsonb_build_array('a' || g % 13, 'b' || g % 7),
                         'score', (g % 1000) / 7.0),
      '2020-01-01'::timestamptz + g * interval '13 min'
    FROM generate_series(1, {customers}) g;
    CREATE TABLE orders (id bigint PRIMARY KEY, customer int, created timestamptz,
                         amount numeric(12, 2), status text, digest text, items int[]);
    INSERT INTO orders SELECT g, 1 + g % {customers},
      '2021-01-01'::timestamptz + g * interval '7 s',
      (g % 100000) / 3.0, (ARRAY['new', 'paid', 'shipped', 'returned'])[1 + g % 4],
      md5(g::text) || md5((g * 31)::text), ARRAY[g % 10, g % 100, g % 1000]
    FROM generate_series(1, {orders}) g;
    CREATE INDEX orders_customer ON orders (customer);
    CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz, kind text, payload jsonb,
                         blob bytea);
    INSERT INTO events SELECT g, '2022-01-01'::timestamptz + g * interval '3 s',
      'kind' || g % 17, jsonb_build_object('n', g, 'ok', g % 2 = 0),
      decode(md5(g::text) || md5((g + 1)::text), 'hex')
    FROM generate_series(1, {events}) g;
    """, "VACUUM ANALYZE")


def change(database: str, scale: float) -> None:
    orders, customers, events = int(4_000_000 * scale), int(500_000 * scale), int(2_000_000 * scale)
    add_orders, add_events = orders // 50, events // 50
    _sql(database, f"""
    INSERT INTO orders SELECT g, 1 + g % {customers}, now(), g / 7.0, 'new',
      md5(g::text) || md5((g * 31)::text), ARRAY[g % 10] FROM
      generate_series({orders + 1}, {orders + add_orders}) g;
    INSERT INTO events SELECT g, now(), 'kind0', '{{}}', '\\x00'
      FROM generate_series({events + 1}, {events + add_events}) g;
    UPDATE orders SET status = 'refunded' WHERE id > {orders - orders // 20} AND id % 10 = 0;
    DELETE FROM orders WHERE id % 1000 = 0;
    UPDATE customers SET email = 'changed' || id || '@example.com' WHERE id % 500 = 0;
    """)


def timed(argv: list[str] | str, *, shell: bool = False) -> float:
    start = time.monotonic()
    subprocess.run(argv, shell=shell, check=True, env=ENV, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def phase(argv: list[str]) -> dict[str, Any]:
    """Run one dbs phase in a fresh interpreter; it prints its figures as JSON."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_postgresql", "--phase", *argv],
                         check=True, capture_output=True, text=True, env=os.environ)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_phase(args: argparse.Namespace) -> None:
    from dbs.engines.base import RestoreOptions
    from dbs.engines.endpoint import parse_endpoint
    from dbs.engines.postgresql import ENGINE
    from dbs.engines.selection import ObjectSelection
    from dbs.repo import KeySource, Repository
    from dbs.storage.local import LocalStore
    from dbs.streams import NullProgress

    kind, database, repo_dir = args.phase
    key = KeySource.keyfile(Path(repo_dir) / "key")
    store = LocalStore(Path(repo_dir) / "store")
    start = time.monotonic()
    figures: dict[str, Any] = {}
    if kind.startswith("backup"):
        repo = Repository.open(store, key)
        # backup-heap: COPY in heap order instead of primary-key order, to price the ordering.
        query = "?ordered=off" if kind == "backup-heap" else ""
        url = f"postgresql://{USER}@{HOST}:{PORT}/{database}{query}"
        with repo.begin_backup() as writer:
            meta = ENGINE.backup(parse_endpoint(url),
                                 ObjectSelection.parse(database), writer, NullProgress(),
                                 parallel=args.parallel)
            info = writer.commit(meta)
        figures = {"set": info.id, "original": info.original_size, "stored": info.stored_size}
    else:
        repo = Repository.open(store, key)
        set_id = repo.list_backup_sets()[-1].id
        result = ENGINE.restore(repo.open_backup_set(set_id),
                                parse_endpoint(f"postgresql://{USER}@{HOST}:{PORT}/{database}"),
                                RestoreOptions(parallel=args.parallel,
                                               verify="rows" if kind == "restore-rows"
                                               else "content"),
                                NullProgress())
        figures = {"verified": result.verified}
    figures["seconds"] = round(time.monotonic() - start, 2)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--phase", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_phase(args)
        return

    from dbs.repo import KeySource, Repository
    from dbs.storage.local import LocalStore

    tag = secrets.token_hex(3)
    source, pgr_target, dbs_target = f"bench_pg_{tag}", f"bench_pgr_{tag}", f"bench_dbs_{tag}"
    work = Path(tempfile.mkdtemp(prefix="dbs-bench-pg-"))
    r: dict[str, Any] = {"scale": args.scale, "parallel": args.parallel}
    try:
        t = time.monotonic()
        generate(source, args.scale)
        r["generate_s"] = round(time.monotonic() - t, 1)
        with psycopg.connect(host=HOST, port=PORT, user=USER, dbname=source) as conn:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        r["database_mb"] = round(int(size[0]) / 2**20) if size else None

        r["pg_dump_fc_s"] = timed(["pg_dump", "-Fc", "-f", str(work / "db.fc"), source])
        r["pg_dump_fc_mb"] = du(work / "db.fc") / 2**20
        r["pg_dump_fd_j2_s"] = timed(["pg_dump", "-Fd", "-j2", "-f", str(work / "db.fd"), source])
        shutil.rmtree(work / "db.fd")
        r["pg_dump_zstd_s"] = timed(f"pg_dump {source} | zstd -3 -T2 -q -o {work / 'db.sql.zst'}",
                                    shell=True)
        r["pg_dump_zstd_mb"] = du(work / "db.sql.zst") / 2**20
        (work / "db.sql.zst").unlink()
        _sql("postgres", f'CREATE DATABASE "{pgr_target}"')
        r["pg_restore_j2_s"] = timed(["pg_restore", "-j2", "-d", pgr_target, str(work / "db.fc")])
        _sql("postgres", f'DROP DATABASE "{pgr_target}"')
        (work / "db.fc").unlink()

        repo_dir = work / "repo"
        repo_dir.mkdir()
        Repository.create(LocalStore(repo_dir / "store"),
                          KeySource.generate_keyfile(repo_dir / "key"))
        heap_dir = work / "repo-heap"
        heap_dir.mkdir()
        Repository.create(LocalStore(heap_dir / "store"),
                          KeySource.generate_keyfile(heap_dir / "key"))
        heap = phase(["backup-heap", source, str(heap_dir)])
        r["dbs_backup_heap_order_s"] = heap["seconds"]
        first = phase(["backup", source, str(repo_dir)])
        r["dbs_backup_s"], r["dbs_backup_rss_mb"] = first["seconds"], first["peak_rss_mb"]
        r["dbs_stored_mb"] = first["stored"] / 2**20
        r["dbs_stream_mb"] = first["original"] / 2**20
        restored = phase(["restore", dbs_target, str(repo_dir)])
        r["dbs_restore_s"], r["dbs_restore_rss_mb"] = restored["seconds"], restored["peak_rss_mb"]
        r["dbs_restore_verified"] = restored["verified"]
        _sql("postgres", f'DROP DATABASE "{dbs_target}"')
        # --verify rows: row counts only, no read-back of the values.
        counted = phase(["restore-rows", dbs_target, str(repo_dir)])
        r["dbs_restore_rows_s"] = counted["seconds"]
        _sql("postgres", f'DROP DATABASE "{dbs_target}"')

        change(source, args.scale)
        heap2 = phase(["backup-heap", source, str(heap_dir)])
        r["dbs_backup2_heap_order_stored_mb"] = heap2["stored"] / 2**20
        r["ratio_second_backup_stored_heap_order"] = heap2["stored"] / heap["stored"]
        second = phase(["backup", source, str(repo_dir)])
        r["dbs_backup2_s"], r["dbs_backup2_rss_mb"] = second["seconds"], second["peak_rss_mb"]
        r["dbs_backup2_stored_mb"] = second["stored"] / 2**20

        r["ratio_backup_vs_pg_dump_fc"] = r["dbs_backup_s"] / r["pg_dump_fc_s"]  # target <= 0.35
        r["ratio_backup_vs_pg_dump_zstd"] = r["dbs_backup_s"] / r["pg_dump_zstd_s"]  # <= 1.2
        r["ratio_stored_vs_zstd_dump"] = r["dbs_stored_mb"] / r["pg_dump_zstd_mb"]  # <= 1.0
        r["ratio_restore_vs_pg_restore_j2"] = r["dbs_restore_s"] / r["pg_restore_j2_s"]  # <= 1.0
        r["ratio_restore_rows_vs_pg_restore_j2"] = r["dbs_restore_rows_s"] / r["pg_restore_j2_s"]
        r["ratio_second_backup_stored"] = r["dbs_backup2_stored_mb"] / r["dbs_stored_mb"]  # 0.15
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()},
                         indent=1))
    finally:
        if not args.keep:
            for name in (source, pgr_target, dbs_target):
                _sql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
