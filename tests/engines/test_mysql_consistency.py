"""Consistency: a parallel backup taken while transactions run is one snapshot, and the
binlog position it records is exactly where that snapshot sits.

Runs on a private mariadbd (binlog on, ROW format). A transfer workload moves money
between accounts in two databases and logs each transfer; in every consistent state the
total is constant and the ledger has one row per counted transfer. After the backup the
binlog from the recorded position is replayed onto the restored copy: it must then equal
the source exactly, which it only does if the position matches the snapshot.
"""

from __future__ import annotations

import random
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from testbed.mariadb import PrivateServer, execute, private_server, rows, sql_connect

from dbs.engines.base import RestoreOptions
from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql import snapshot
from dbs.engines.mysql.engine import MySQLEngine
from dbs.engines.precheck_items import CHECK_BINLOG, CHECK_BINLOG_FORMAT
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress
from tests.engines.mysql_fixtures import SHARED, drop_databases, table_checksums, unique

ACCOUNTS = 500
START_BALANCE = 1000
FILLER_ROWS = 150_000  # makes the copy last long enough for many transfers to land during it
ENGINE = MySQLEngine(split_bytes=2 * 1024 * 1024)


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    yield from private_server()


def _prepare(endpoint: Endpoint) -> None:
    statements = ["DROP DATABASE IF EXISTS copy_a", "DROP DATABASE IF EXISTS copy_b"]
    for db in ("bank_a", "bank_b"):
        statements += [
            f"DROP DATABASE IF EXISTS {db}",
            f"CREATE DATABASE {db}",
            f"CREATE TABLE {db}.accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)",
            f"INSERT INTO {db}.accounts SELECT seq, {START_BALANCE} FROM {db}.seq_1_to_{ACCOUNTS}",
        ]
    statements += [
        "CREATE TABLE bank_a.ledger (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
        "src INT, dst INT, amount INT)",
        "CREATE TABLE bank_b.counter (id INT PRIMARY KEY, transfers BIGINT NOT NULL)",
        "INSERT INTO bank_b.counter VALUES (1, 0)",
        "CREATE TABLE bank_b.filler (id INT PRIMARY KEY, payload VARCHAR(200))",
        "INSERT INTO bank_b.filler SELECT seq, REPEAT(MD5(seq), 4) "
        f"FROM bank_b.seq_1_to_{FILLER_ROWS}",
        "ANALYZE TABLE bank_b.filler",
    ]
    execute(endpoint, statements)


class TransferWorkload:
    """Threads moving money between the two databases until stopped."""

    def __init__(self, endpoint: Endpoint, threads: int = 2) -> None:
        self.endpoint = endpoint
        self.stop = threading.Event()
        self.committed = 0
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def __enter__(self) -> TransferWorkload:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()
        assert not self.errors, self.errors

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = sql_connect(self.endpoint)
        conn.autocommit(False)
        try:
            while not self.stop.is_set():
                src, dst, amount = (
                    rng.randint(1, ACCOUNTS),
                    rng.randint(1, ACCOUNTS),
                    rng.randint(1, 50),
                )
                try:
                    with conn.cursor() as cur:
                        cur.execute(
                            "UPDATE bank_a.accounts SET balance = balance - %s WHERE id = %s",
                            (amount, src),
                        )
                        cur.execute(
                            "UPDATE bank_b.accounts SET balance = balance + %s WHERE id = %s",
                            (amount, dst),
                        )
                        cur.execute(
                            "INSERT INTO bank_a.ledger (src, dst, amount) VALUES (%s, %s, %s)",
                            (src, dst, amount),
                        )
                        cur.execute(
                            "UPDATE bank_b.counter SET transfers = transfers + 1 WHERE id = 1"
                        )
                    conn.commit()
                    self.committed += 1
                except pymysql.err.OperationalError as exc:
                    conn.rollback()
                    if exc.args[0] not in (1213, 1205):  # deadlock / lock wait: retry
                        raise
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            conn.close()


def _invariants(endpoint: Endpoint, a: str, b: str) -> tuple[int, int, int]:
    total = rows(endpoint, f"SELECT (SELECT SUM(balance) FROM {a}.accounts) + "
                           f"(SELECT SUM(balance) FROM {b}.accounts)")[0][0]  # fmt: skip
    ledger = rows(endpoint, f"SELECT COUNT(*) FROM {a}.ledger")[0][0]
    counted = rows(endpoint, f"SELECT transfers FROM {b}.counter")[0][0]
    return int(total), int(ledger), int(counted)


def _binlog_files_from(server: PrivateServer, first: str) -> list[str]:
    names = [str(r[0]) for r in rows(server.endpoint, "SHOW BINARY LOGS")]
    return [str(server.dir / "data" / n) for n in names[names.index(first) :]]


@pytest.mark.parametrize("lock_free_attempts", [snapshot.LOCK_FREE_ATTEMPTS, 0])
def test_backup_under_load_is_one_snapshot_at_the_recorded_position(
    server: PrivateServer, repository: Any, monkeypatch: pytest.MonkeyPatch, lock_free_attempts: int
) -> None:
    # With no lock-free attempts the workers start under FLUSH TABLES WITH READ LOCK, the
    # path MySQL and binlog-less servers take: both must give the same guarantees.
    monkeypatch.setattr(snapshot, "LOCK_FREE_ATTEMPTS", lock_free_attempts)
    endpoint = server.endpoint
    _prepare(endpoint)
    selection = ObjectSelection.parse("bank_a,bank_b")
    with TransferWorkload(endpoint) as load:
        while load.committed < 50:  # the workload is running before the snapshot starts
            threading.Event().wait(0.01)
        before = load.committed
        with repository.begin_backup() as writer:
            metadata = ENGINE.backup(endpoint, selection, writer, NullProgress(), parallel=2)
            info = writer.commit(metadata)
        during = load.committed - before
    end_file, end_position = rows(endpoint, "SHOW MASTER STATUS")[0][:2]
    print(f"method={metadata['snapshot']['method']} transfers during backup={during}")
    assert during > 0, "no transfer committed while the backup ran; the test proves nothing"

    snap = metadata["snapshot"]
    assert snap["workers"] == 2
    if lock_free_attempts == 0:
        assert snap["method"] == "flush-tables-with-read-lock"
    else:
        assert snap["method"] in ("lock-free", "flush-tables-with-read-lock")
    assert snap["binlog_file"] and snap["binlog_position"] > 0
    assert snap["gtid"] and snap["gtid"].startswith("0-1-")

    result = ENGINE.restore(
        repository.open_backup_set(info.id), endpoint,
        RestoreOptions(rename={"bank_a": "copy_a", "bank_b": "copy_b"}), NullProgress(),
    )  # fmt: skip
    assert result.verified and not result.mismatches, result
    assert result.restored["bank_a"] == "copy_a" and result.restored["bank_b"] == "copy_b"
    total, ledger, counted = _invariants(endpoint, "copy_a", "copy_b")
    assert total == 2 * ACCOUNTS * START_BALANCE
    assert ledger == counted > 0
    assert rows(endpoint, "SELECT COUNT(*) FROM copy_b.filler")[0][0] == FILLER_ROWS

    # Roll the copy forward with the binlog from the recorded position to the end of the
    # workload: it must land exactly on the source's final state.
    binlog = subprocess.run(
        ["mariadb-binlog", f"--start-position={snap['binlog_position']}",
         f"--stop-position={end_position}", "--rewrite-db=bank_a->copy_a",
         "--rewrite-db=bank_b->copy_b", *_binlog_files_from(server, snap["binlog_file"])],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    assert end_file == snap["binlog_file"], "test assumes one binlog file"
    subprocess.run(
        ["mariadb", "-h127.0.0.1", f"-P{server.port}", "-uroot", "--binary-mode"],
        input=binlog, check=True, capture_output=True,
    )  # fmt: skip
    for src, copy in (("bank_a", "copy_a"), ("bank_b", "copy_b")):
        assert table_checksums(endpoint, copy) == table_checksums(endpoint, src)


def test_idle_server_needs_no_lock(server: PrivateServer, repository: Any) -> None:
    endpoint = server.endpoint
    _prepare(endpoint)
    master = rows(endpoint, "SHOW MASTER STATUS")[0]
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(
            endpoint, ObjectSelection.parse("bank_a"), writer, NullProgress(), parallel=3
        )
        writer.commit(metadata)
    snap = metadata["snapshot"]
    assert snap["method"] == "lock-free" and snap["workers"] == 3
    assert (snap["binlog_file"], snap["binlog_position"]) == (master[0], int(master[1]))
    gtid = rows(endpoint, f"SELECT BINLOG_GTID_POS('{master[0]}', {int(master[1])})")[0][0]
    assert snap["gtid"] == gtid


def test_precheck_on_a_binlog_server_passes_binlog_items(server: PrivateServer) -> None:
    _prepare(server.endpoint)
    items = {i.item: i for i in ENGINE.precheck(server.endpoint, ObjectSelection.parse("bank_a"))}
    assert items[CHECK_BINLOG].state == "finish"
    assert items[CHECK_BINLOG_FORMAT].state == "finish"
    assert all(i.state == "finish" for i in items.values()), items


def _binlog_text(server: PrivateServer, start: tuple[str, int]) -> str:
    files = _binlog_files_from(server, start[0])
    out = subprocess.run(
        ["mariadb-binlog", f"--start-position={start[1]}", "--base64-output=decode-rows", *files],
        check=True,
        capture_output=True,
    ).stdout
    return out.decode("utf-8", "replace")


def test_restore_writes_the_binlog_unless_told_not_to(
    server: PrivateServer, repository: Any
) -> None:
    endpoint = server.endpoint
    _prepare(endpoint)
    execute(endpoint, ["DROP DATABASE IF EXISTS logged", "DROP DATABASE IF EXISTS unlogged"])
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(endpoint, ObjectSelection.parse("bank_a"), writer, NullProgress())
        info = writer.commit(metadata)
    for name, extra in (("logged", {}), ("unlogged", {"binlog": False})):
        start = rows(endpoint, "SHOW MASTER STATUS")[0][:2]
        result = ENGINE.restore(
            repository.open_backup_set(info.id), endpoint,
            RestoreOptions(rename={"bank_a": name}, extra=extra), NullProgress(),
        )  # fmt: skip
        assert result.verified
        text = _binlog_text(server, (str(start[0]), int(start[1])))
        # Row events name their table in a Table_map; the DDL is always logged.
        assert (f"`{name}`.`accounts` mapped" in text) == (name == "logged"), name
        assert "CREATE TABLE" in text


def test_restore_into_another_server(server: PrivateServer, repository: Any) -> None:
    _prepare(server.endpoint)
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(
            server.endpoint, ObjectSelection.parse("bank_a,bank_b"), writer, NullProgress()
        )
        info = writer.commit(metadata)
    names = {"bank_a": unique("dbs_other_a"), "bank_b": unique("dbs_other_b")}
    try:
        result = ENGINE.restore(
            repository.open_backup_set(info.id), SHARED, RestoreOptions(rename=names),
            NullProgress(),
        )  # fmt: skip
        assert result.verified
        for source, copy in names.items():
            assert table_checksums(SHARED, copy) == table_checksums(server.endpoint, source)
    finally:
        for copy in names.values():
            drop_databases(SHARED, copy)
