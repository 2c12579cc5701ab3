"""Consistency under load: pgbench writes while the backup runs; every restored copy is a
transactionally consistent snapshot.

pgbench's TPC-B transaction moves a delta through one account, teller and
branch and logs it in pgbench_history; balances start at zero, so in any
consistent snapshot sum(abalance) = sum(tbalance) = sum(bbalance) = sum(delta).
A backup whose workers saw different moments breaks this at once.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dbs.engines.base import RestoreOptions
from dbs.engines.postgresql import ENGINE
from dbs.engines.postgresql.engine import PostgresEngine
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress
from tests.engines.harness_postgresql import (
    admin,
    create_database,
    drop_database,
    endpoint,
    unique_name,
)

SCALE = 10  # 1 M accounts
BACKUPS = 3

INVARIANT = """
SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts),
       (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers),
       (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches),
       (SELECT coalesce(sum(delta), 0) FROM pgbench_history),
       (SELECT count(*) FROM pgbench_history)
"""


def _pgbench(*args: str) -> list[str]:
    return ["pgbench", "-h", "127.0.0.1", "-U", "postgres", *args]


@pytest.fixture
def loaded_database() -> Iterator[str]:
    name = unique_name("dbs_bench")
    create_database(name)
    try:
        subprocess.run(_pgbench("-i", "-q", "-s", str(SCALE), "--unlogged-tables", name),
                       check=True, capture_output=True)
        yield name
    finally:
        drop_database(name)


def _wait_for_transactions(database: str, at_least: int) -> None:
    for _ in range(600):
        with admin(database) as conn:
            row = conn.execute("SELECT count(*) FROM pgbench_history").fetchone()
        if row is not None and row[0] >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError("pgbench made no progress")


def test_backups_under_pgbench_load_restore_consistent(loaded_database: str,
                                                       repository: Any) -> None:
    source = endpoint(loaded_database)
    load = subprocess.Popen(_pgbench("-n", "-c", "4", "-j", "2", "-T", "300", loaded_database),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    infos = []
    try:
        for n in range(BACKUPS):
            _wait_for_transactions(loaded_database, 200 * (n + 1))
            # Every other backup reads pgbench_accounts (~130 MB) as 8 key ranges at once.
            engine = ENGINE if n % 2 == 0 else PostgresEngine(split_bytes=8 << 20)
            with repository.begin_backup() as writer:
                metadata = engine.backup(source, ObjectSelection.parse(loaded_database), writer,
                                         NullProgress(), parallel=2)
                infos.append(writer.commit(metadata))
            tables = {t["name"]: t for t in metadata["databases"][0]["tables"]}
            assert len(tables["pgbench_accounts"].get("parts", [])) == (0 if n % 2 == 0 else 8)
        with admin(loaded_database) as conn:
            still_running = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'"
            ).fetchone()
        assert still_running is not None and still_running[0] > 0, "load ended before backups"
    finally:
        load.terminate()
        load.wait()

    history_counts = []
    for info in infos:
        target = unique_name("dbs_bench_dst")
        try:
            result = ENGINE.restore(repository.open_backup_set(info.id), endpoint(target),
                                    RestoreOptions(), NullProgress())
            assert result.verified, result
            with admin(target) as conn:
                row = conn.execute(INVARIANT).fetchone()
            assert row is not None
            a, t, b, delta, count = row
            assert a == t == b == delta, f"inconsistent snapshot in {info.id}: {row}"
            history_counts.append(count)
        finally:
            drop_database(target)
    # Each backup saw the load at a different moment: the snapshots really were under load.
    assert len(set(history_counts)) == BACKUPS and min(history_counts) > 0, history_counts
