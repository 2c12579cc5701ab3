"""SQLite under load: a backup taken while another process keeps writing is consistent,
and a 200 MB table goes through the repository and back."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.engines.sqlite_fixtures import back_up, restore

ACCOUNTS = 200
START_BALANCE = 1000

# Moves money between two random accounts in one transaction, forever; prints a
# line per 50 commits so the test can see it is alive. Every committed state
# has the same total, so any consistent snapshot has it too.
_WRITER = """
import random, sqlite3, sys, time
pause = float(sys.argv[3])
conn = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
n = 0
while True:
    a, b = random.sample(range(1, int(sys.argv[2]) + 1), 2)
    amount = random.randint(1, 50)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amount, a))
    conn.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, b))
    conn.execute("INSERT INTO transfers(src, dst, amount) VALUES (?, ?, ?)", (a, b, amount))
    conn.execute("COMMIT")
    n += 1
    if n % 50 == 0:
        print(n, flush=True)
    time.sleep(pause)
"""


def _bank(path: Path, wal: bool) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(
        f"""
        CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
        CREATE TABLE transfers (id INTEGER PRIMARY KEY, src INT, dst INT, amount INT);
        -- ballast so the snapshot and the stream take a while
        CREATE TABLE ballast (b BLOB);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ACCOUNTS})
        INSERT INTO accounts SELECT i, {START_BALANCE} FROM n;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
        INSERT INTO ballast SELECT randomblob(4000) FROM n;
        """
    )
    conn.close()


def _transfers(path: Path) -> int:
    conn = sqlite3.connect(path, timeout=60)
    try:
        return int(conn.execute("SELECT count(*) FROM transfers").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("wal", [True, False], ids=["wal", "rollback-journal"])
def test_backup_under_a_concurrent_writer_is_consistent(
    tmp_path: Path, repository: Any, wal: bool
) -> None:
    source = tmp_path / "bank.db"
    _bank(source, wal)
    writer = subprocess.Popen(
        # In rollback-journal mode a writer that never pauses starves every reader (that
        # case has its own test); a real application pauses now and then.
        [sys.executable, "-c", _WRITER, str(source), str(ACCOUNTS), "0" if wal else "0.002"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and int(writer.stdout.readline()) > 0  # it is writing
        before = _transfers(source)
        set_id, metadata = back_up(repository, source)
        after = _transfers(source)
    finally:
        writer.kill()
        writer.wait()
    assert after > before, "the writer made no progress while the backup ran"
    target = tmp_path / "restored.db"
    result = restore(repository, set_id, target)
    assert result.verified, result
    conn = sqlite3.connect(target)
    try:
        total, count = conn.execute("SELECT sum(balance), count(*) FROM accounts").fetchone()
        transfers = conn.execute("SELECT count(*) FROM transfers").fetchone()[0]
        # Sum of the moves recorded equals the net drift of every account (none, in total).
        net = conn.execute(
            "SELECT coalesce(sum(balance - ?), 0) FROM accounts", (START_BALANCE,)
        ).fetchone()[0]
    finally:
        conn.close()
    assert (total, count) == (ACCOUNTS * START_BALANCE, ACCOUNTS)
    assert net == 0
    # The snapshot is one commit between the backup's start and end.
    assert before <= transfers <= after
    transfers_meta = next(o for o in metadata["objects"] if o["name"] == "main.transfers")
    assert transfers_meta["rows"] == transfers


@pytest.mark.slow
def test_a_200_mb_table_round_trips(tmp_path: Path, repository: Any) -> None:
    source = tmp_path / "big.db"
    conn = sqlite3.connect(source, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, note TEXT, payload BLOB)")
    # 51 200 rows x 4 KB = 200 MiB; half random (incompressible), half repetitive.
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 51200) "
        "INSERT INTO big SELECT i, 'row ' || i, "
        "CASE i % 2 WHEN 0 THEN randomblob(4096) ELSE zeroblob(4096) END FROM n"
    )
    expected = conn.execute(
        "SELECT count(*), sum(length(payload)), sum(hex(substr(payload, 1, 4)) = '00000000') "
        "FROM big"
    ).fetchone()
    conn.close()
    assert expected[1] >= 200 * 1024 * 1024
    set_id, metadata = back_up(repository, source)
    assert metadata["size"] > 200 * 1024 * 1024
    target = tmp_path / "restored.db"
    result = restore(repository, set_id, target)
    assert result.verified, result  # integrity_check + BLAKE3 of every value vs the backup
    conn = sqlite3.connect(target)
    try:
        got = conn.execute(
            "SELECT count(*), sum(length(payload)), "
            "sum(hex(substr(payload, 1, 4)) = '00000000') FROM big"
        ).fetchone()
    finally:
        conn.close()
    assert got == expected
