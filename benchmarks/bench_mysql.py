"""MySQL/MariaDB engine against mariadb-dump, mydumper and myloader, side by side.

    python -m benchmarks.bench_mysql [--tables 4] [--table-size 1000000] [--events 2000,18000]
                                     [--fidelity-rows 300000] [--repeat 3]

Starts a private mariadbd (binlog on, ROW) in a temp dir, loads ``sysbench oltp_read_write
prepare`` (4 x 1 M rows, about 970 MB, by default), then in one run measures:

* ``mariadb-dump --single-transaction | zstd -3 -T2``: wall time and bytes (this and the dbs
  backup are timed ``--repeat`` times alternately, each dbs run into a fresh repository, and
  the medians reported: the machine is shared, single timings swing by 2x);
* ``mydumper -t 2 -c`` and ``mydumper -t 2``, then ``myloader -t 2`` of the latter;
* dbs backup into a fresh encrypted repository on local disk (wall, stored bytes, peak
  RSS of the child process that runs it), and dbs restore of that set (wall, peak RSS),
  verified by content and again with ``--verify rows``;
* ``sysbench oltp_read_write run --events N`` as the change workload (rounds of 2000, then
  18000 more events; each event updates two rows and deletes/re-inserts one), then another
  dbs backup after each round: its new stored bytes as a share of the first backup's; then
  the PostgreSQL benchmark's change workload (append 2 %, update 0.5 % of the newest rows,
  delete 0.1 % spread) and one more backup, for a like-for-like figure;
* a single 100 MB-class table (``--fidelity-rows`` rows, ~330 B each) backed up and restored.

dbs work runs in child processes, each reporting its own peak RSS (``getrusage``).
Prints a table and one JSON line. Needs sysbench, mydumper, myloader, zstd (Debian).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from testbed.mariadb import PrivateServer, execute, rows


def _run(cmd: str | list[str], **kw: Any) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, shell=isinstance(cmd, str), **kw)
    return time.perf_counter() - start


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _child(args: list[str]) -> dict[str, Any]:
    """Run one dbs step in a fresh interpreter; its JSON result plus its own peak RSS."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_mysql", "--child", *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def child_main(argv: list[str]) -> None:
    from dbs.engines.base import RestoreOptions
    from dbs.engines.endpoint import parse_endpoint
    from dbs.engines.mysql import ENGINE
    from dbs.engines.selection import ObjectSelection
    from dbs.repo import KeySource, Repository
    from dbs.storage.local import LocalStore
    from dbs.streams import NullProgress

    step, url, repo_dir, objects = argv[:4]
    endpoint = parse_endpoint(url)
    store = LocalStore(Path(repo_dir) / "repo")
    key = Path(repo_dir) / "repo.key"
    start = time.perf_counter()
    if step == "backup":
        if key.exists():
            repo = Repository.open(store, KeySource.keyfile(key))
        else:
            repo = Repository.create(store, KeySource.generate_keyfile(key))
        with repo.begin_backup() as writer:
            metadata = ENGINE.backup(
                endpoint, ObjectSelection.parse(objects), writer, NullProgress()
            )
            info = writer.commit(metadata)
        out = {"seconds": time.perf_counter() - start, "stored": info.stored_size,
               "original": info.original_size, "id": info.id,
               "method": metadata["snapshot"]["method"]}  # fmt: skip
    else:
        repo = Repository.open(store, KeySource.keyfile(key))
        set_id = argv[4]
        # Like myloader's default, the load is not written to the target's binlog.
        options = RestoreOptions(rename={objects: argv[5]}, extra={"binlog": False},
                                 verify="rows" if step == "restore-rows" else "content")
        result = ENGINE.restore(repo.open_backup_set(set_id), endpoint, options, NullProgress())
        out = {"seconds": time.perf_counter() - start, "verified": result.verified}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))


def _sysbench(server: PrivateServer, db: str, tables: int, size: int, *more: str) -> list[str]:
    return [
        "sysbench", "oltp_read_write", "--db-driver=mysql", "--mysql-host=127.0.0.1",
        f"--mysql-port={server.port}", "--mysql-user=root", f"--mysql-db={db}",
        f"--tables={tables}", f"--table-size={size}", *more,
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=4)
    parser.add_argument("--table-size", type=int, default=1_000_000)
    parser.add_argument("--events", default="2000,18000", help="change rounds, comma-separated")
    parser.add_argument("--fidelity-rows", type=int, default=300_000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="backup timings to take the median of"
    )
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return
    server = PrivateServer()
    server.extra_args = ["--innodb-buffer-pool-size=2G", "--innodb-log-file-size=512M"]
    server.start()
    work = Path(tempfile.mkdtemp(prefix="dbs-bench-mysql-"))
    port = server.port
    url = f"mysql://root@127.0.0.1:{port}/"
    client = f"-h127.0.0.1 -P{port} -uroot"
    figures: dict[str, Any] = {"tables": args.tables, "table_size": args.table_size}
    try:
        execute(server.endpoint, ["CREATE DATABASE sbtest"])
        _run(_sysbench(server, "sbtest", args.tables, args.table_size, "--threads=2", "prepare"),
             stdout=subprocess.DEVNULL)  # fmt: skip
        size = rows(server.endpoint, "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM "
                    "information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'")[0][0]  # fmt: skip
        figures["dataset_mb"] = round(int(size) / 2**20)

        # The machine is shared: time the two backups alternately, report the medians.
        dump = work / "dump.sql.zst"
        dump_times, dbs_times = [], []
        for i in range(args.repeat):
            dump_times.append(_run(
                f"mariadb-dump {client} --single-transaction sbtest | zstd -q -3 -T2 -o {dump}"
            ))  # fmt: skip
            figures["mariadb_dump_zstd_mb"] = round(dump.stat().st_size / 2**20, 1)
            dump.unlink()
            if i < args.repeat - 1:  # the last dbs run below keeps its repository
                scratch = work / f"scratch{i}"
                scratch.mkdir()
                dbs_times.append(_child(["backup", url, str(scratch), "sbtest"])["seconds"])
                shutil.rmtree(scratch)
        figures["mariadb_dump_zstd_s"] = statistics.median(dump_times)

        for name, extra in (("mydumper_c", ["-c"]), ("mydumper", [])):
            out = work / name
            figures[f"{name}_s"] = _run(
                ["mydumper", "-h", "127.0.0.1", "-P", str(port), "-u", "root", "-B", "sbtest",
                 "-t", "2", "-o", str(out), *extra], stdout=subprocess.DEVNULL,
            )  # fmt: skip
            figures[f"{name}_mb"] = round(_du(out) / 2**20, 1)
        figures["myloader_s"] = _run(
            ["myloader", "-h", "127.0.0.1", "-P", str(port), "-u", "root", "-t", "2",
             "-d", str(work / "mydumper"), "-B", "sb_myloader"], stdout=subprocess.DEVNULL,
        )  # fmt: skip
        execute(server.endpoint, ["DROP DATABASE sb_myloader"])
        shutil.rmtree(work / "mydumper")
        shutil.rmtree(work / "mydumper_c")

        first = _child(["backup", url, str(work), "sbtest"])
        dbs_times.append(first["seconds"])
        figures["dbs_backup_s"] = statistics.median(dbs_times)
        figures["dbs_backup_runs_s"] = [round(t, 2) for t in dbs_times]
        figures["mariadb_dump_zstd_runs_s"] = [round(t, 2) for t in dump_times]
        figures["dbs_backup_stored_mb"] = round(first["stored"] / 2**20, 1)
        figures["dbs_backup_stream_mb"] = round(first["original"] / 2**20, 1)
        figures["dbs_backup_peak_rss_mb"] = first["peak_rss_mb"]
        figures["dbs_snapshot_method"] = first["method"]
        restored = _child(["restore", url, str(work), "sbtest", first["id"], "sb_dbs"])
        assert restored["verified"], restored
        figures["dbs_restore_s"] = restored["seconds"]
        figures["dbs_restore_peak_rss_mb"] = restored["peak_rss_mb"]
        execute(server.endpoint, ["DROP DATABASE sb_dbs"])
        counted = _child(["restore-rows", url, str(work), "sbtest", first["id"], "sb_dbs"])
        figures["dbs_restore_rows_s"] = counted["seconds"]  # --verify rows
        execute(server.endpoint, ["DROP DATABASE sb_dbs"])

        done = 0
        for events in (int(e) for e in args.events.split(",")):
            change = [f"--events={events}", "--time=0", "--threads=2", "run"]
            _run(_sysbench(server, "sbtest", args.tables, args.table_size, *change),
                 stdout=subprocess.DEVNULL)  # fmt: skip
            done += events
            again = _child(["backup", url, str(work), "sbtest"])
            figures[f"dbs_backup_after_{done}_events_s"] = again["seconds"]
            figures[f"dbs_stored_after_{done}_events_mb"] = round(again["stored"] / 2**20, 1)
            figures[f"stored_share_after_{done}_events"] = round(
                again["stored"] / first["stored"], 3
            )

        # The PostgreSQL benchmark's change workload, for a like-for-like figure: append 2 %,
        # update 0.5 % of the newest rows, delete 0.1 % spread over each table.
        statements = []
        for n in range(1, args.tables + 1):
            table, size = f"sbtest.sbtest{n}", args.table_size
            statements += [
                f"INSERT INTO {table} (id, k, c, pad) SELECT {size} * 2 + seq, seq % 1000, "
                f"REPEAT(MD5(seq), 3), REPEAT(SHA1(seq), 1) FROM sbtest.seq_1_to_{size // 50}",
                f"UPDATE {table} SET c = REPEAT(SHA1(id), 3) WHERE id > {size - size // 200}",
                f"DELETE FROM {table} WHERE id % 1000 = 7",
            ]
        execute(server.endpoint, statements)
        again = _child(["backup", url, str(work), "sbtest"])
        figures["stored_share_after_pg_like_changes"] = round(again["stored"] / first["stored"], 3)

        if args.fidelity_rows:
            execute(server.endpoint, [
                "CREATE DATABASE big", "CREATE TABLE big.t (id BIGINT PRIMARY KEY, k INT NOT NULL,"
                " c CHAR(120) NOT NULL, pad VARCHAR(200) NOT NULL, KEY k_1 (k))",
                "INSERT INTO big.t SELECT seq, seq % 1000, MD5(seq), REPEAT(SHA1(seq), 5) "
                f"FROM big.seq_1_to_{args.fidelity_rows}", "ANALYZE TABLE big.t",
            ])  # fmt: skip
            size = rows(server.endpoint, "SELECT DATA_LENGTH FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA = 'big'")[0][0]  # fmt: skip
            figures["big_table_mb"] = round(int(size) / 2**20)
            big = _child(["backup", url, str(work), "big"])
            figures["big_backup_s"] = big["seconds"]
            back = _child(["restore", url, str(work), "big", big["id"], "big_copy"])
            assert back["verified"], back
            figures["big_restore_s"] = back["seconds"]
            same = rows(server.endpoint, "CHECKSUM TABLE big.t, big_copy.t")
            figures["big_checksum_equal"] = same[0][1] == same[1][1]
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    figures["ratio_backup_vs_dump_zstd"] = round(
        figures["dbs_backup_s"] / figures["mariadb_dump_zstd_s"], 2
    )
    figures["ratio_stored_vs_dump_zstd"] = round(
        figures["dbs_backup_stored_mb"] / figures["mariadb_dump_zstd_mb"], 2
    )
    figures["ratio_restore_vs_myloader"] = round(
        figures["dbs_restore_s"] / figures["myloader_s"], 2
    )
    for key, value in figures.items():
        print(f"{key:32} {round(value, 2) if isinstance(value, float) else value}")
    print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in figures.items()}))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
