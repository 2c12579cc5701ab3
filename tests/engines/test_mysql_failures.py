"""Failures: bad credentials, missing privileges, a connection killed mid-backup."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from testbed.mariadb import PrivateServer, execute, private_server, rows

from dbs.engines.base import EngineError, RestoreOptions
from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql import ENGINE
from dbs.engines.mysql.engine import MySQLEngine
from dbs.engines.precheck_items import CHECK_CONNECTIVITY, CHECK_PRIVILEGES
from dbs.engines.selection import ObjectSelection
from dbs.streams import Boundaries, NullProgress, StreamInfo
from tests.engines.mysql_fixtures import SHARED, drop_databases, q, table_checksums, unique


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    yield from private_server()


@pytest.fixture
def database() -> Iterator[str]:
    name = unique("dbs_fail")
    execute(
        SHARED,
        [
            f"CREATE DATABASE {q(name)}",
            f"CREATE TABLE {q(name)}.t (id INT PRIMARY KEY, v VARCHAR(40))",
            f"INSERT INTO {q(name)}.t SELECT seq, MD5(seq) FROM {q(name)}.seq_1_to_5000",
        ],
    )
    try:
        yield name
    finally:
        drop_databases(SHARED, name)


def test_bad_credentials_fail_precheck_and_backup_without_leaking_the_password(
    database: str, repository: Any
) -> None:
    bad = replace(SHARED.with_database(database), user="dbs_nobody", password="s3cret-pw")
    items = ENGINE.precheck(bad, ObjectSelection.parse(database))
    assert [i.item for i in items] == [CHECK_CONNECTIVITY]
    assert items[0].state == "failed" and "GRANT" in items[0].fix
    assert "s3cret-pw" not in items[0].message + items[0].fix
    with pytest.raises(EngineError) as caught, repository.begin_backup() as writer:
        ENGINE.backup(bad, ObjectSelection.parse(database), writer, NullProgress())
    assert caught.value.step.startswith("connect to ")
    assert "refused user 'dbs_nobody'" in caught.value.message
    assert "s3cret-pw" not in str(caught.value)
    assert repository.list_backup_sets() == []


@pytest.fixture
def limited_user(database: str) -> Iterator[Endpoint]:
    user = unique("dbs_u")
    execute(
        SHARED,
        [
            f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'",
            f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'pw-{user}'",
            f"GRANT SELECT ON {q(database)}.* TO '{user}'@'%'",
            f"GRANT SELECT ON {q(database)}.* TO '{user}'@'localhost'",
        ],
    )
    try:
        yield replace(SHARED.with_database(database), user=user, password=f"pw-{user}")
    finally:
        execute(SHARED, [f"DROP USER '{user}'@'%'", f"DROP USER '{user}'@'localhost'"])


def test_missing_privileges_are_named_with_the_grant_that_fixes_them(
    database: str, limited_user: Endpoint
) -> None:
    items = {i.item: i for i in ENGINE.precheck(limited_user, ObjectSelection.parse(database))}
    privileges = items[CHECK_PRIVILEGES]
    assert privileges.state == "failed"
    for missing in ("SHOW VIEW", "TRIGGER", "EVENT", "LOCK TABLES", "RELOAD", "REPLICATION CLIENT"):
        assert missing in privileges.message
    assert privileges.fix.startswith("GRANT ") and limited_user.user in privileges.fix
    assert "SELECT," not in privileges.fix  # SELECT is held on the database


def test_without_reload_the_backup_uses_one_snapshot(
    database: str, limited_user: Endpoint, repository: Any
) -> None:
    # The shared server has no binlog, so several workers would need the global read lock.
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(
            limited_user, ObjectSelection.parse(database), writer, NullProgress(), parallel=2
        )
        info = writer.commit(metadata)
    assert metadata["snapshot"]["method"] == "single"
    assert metadata["snapshot"]["workers"] == 1
    assert any("RELOAD" in n for n in metadata["snapshot"]["notes"])
    target = unique("dbs_fail_copy")
    try:
        result = ENGINE.restore(
            repository.open_backup_set(info.id), SHARED.with_database(target),
            RestoreOptions(), NullProgress(),
        )  # fmt: skip
        assert result.verified
        assert table_checksums(SHARED, target) == table_checksums(SHARED, database)
    finally:
        drop_databases(SHARED, target)


class _KillingWriter:
    """Passes streams to the real writer; when the first data arrives, kills the backup's
    sessions, as an operator's KILL or a server restart would."""

    def __init__(self, inner: Any, server: Endpoint) -> None:
        self.inner = inner
        self.server = server
        self.killed: list[int] = []
        self.lock = threading.Lock()

    def add_stream(
        self, name: str, chunks: Iterable[bytes], boundaries: Boundaries = None
    ) -> StreamInfo:
        def watched() -> Iterator[bytes]:
            for piece in chunks:
                if name.startswith("data/"):
                    self._kill_readers()
                yield piece

        info: StreamInfo = self.inner.add_stream(name, watched(), boundaries)
        return info

    def _kill_readers(self) -> None:
        with self.lock:
            if self.killed:
                return
            # The private server serves only this backup: every other client session is one
            # of its (control or worker) sessions.
            ids = [
                int(r[0])
                for r in rows(
                    self.server,
                    "SELECT ID FROM information_schema.PROCESSLIST "
                    "WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Daemon', 'Binlog Dump') "
                    "AND USER = 'root'",
                )
            ]
            assert ids, "no backup session found to kill"
            execute(self.server, [f"KILL CONNECTION {i}" for i in ids])
            self.killed = ids


def test_connection_killed_mid_backup_fails_the_step_and_stores_nothing(
    server: PrivateServer, repository: Any
) -> None:
    endpoint = server.endpoint
    execute(
        endpoint,
        [
            "CREATE DATABASE IF NOT EXISTS killme",
            "CREATE TABLE IF NOT EXISTS killme.t (id INT PRIMARY KEY, v VARCHAR(200))",
            "INSERT IGNORE INTO killme.t SELECT seq, REPEAT(MD5(seq), 6) "
            "FROM killme.seq_1_to_200000",
            "ANALYZE TABLE killme.t",
        ],
    )  # fmt: skip
    engine = MySQLEngine(split_bytes=8 * 1024 * 1024)
    with pytest.raises(EngineError) as caught, repository.begin_backup() as writer:
        killer = _KillingWriter(writer, endpoint)
        engine.backup(endpoint, ObjectSelection.parse("killme"), killer, NullProgress())
    assert killer.killed
    assert caught.value.step == "copy table `killme`.`t`"
    assert "the backup was not stored" in caught.value.message
    assert repository.list_backup_sets() == []
