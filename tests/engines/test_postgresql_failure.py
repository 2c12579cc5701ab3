"""Failures: the source going away mid-backup, and prechecks that name the item and the fix."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.postgresql import ENGINE
from dbs.engines.precheck_items import CHECK_CONNECTIVITY, CHECK_PRIVILEGES
from dbs.engines.selection import ObjectSelection
from dbs.streams import Boundaries, NullProgress, StreamInfo
from tests.engines.harness_postgresql import (
    admin,
    create_database,
    drop_database,
    endpoint,
    unique_name,
)
from tests.engines.private_postgres import private_postgres


class _TerminatingWriter:
    """Passes streams to the real writer; when the watched table's stream starts, terminates
    the server backend running its COPY (as a DBA or a crash would) and keeps reading."""

    def __init__(self, inner: Any, database: str, table: str) -> None:
        self.inner = inner
        self.database = database
        self.table = table
        self.terminated = False

    def _terminate(self) -> None:
        with admin() as conn:
            for _ in range(200):
                row = conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND query LIKE %s AND pid <> pg_backend_pid()",
                    (self.database, f"COPY%{self.table}%TO STDOUT%")).fetchone()
                if row and row[0]:
                    self.terminated = True
                    return
                time.sleep(0.02)

    def add_stream(self, name: str, chunks: Iterable[bytes],
                   boundaries: Boundaries = None) -> StreamInfo:
        def watched() -> Iterator[bytes]:
            for n, piece in enumerate(chunks):
                if n == 0 and name.endswith(f"/data/public/{self.table}"):
                    self._terminate()
                yield piece

        info: StreamInfo = self.inner.add_stream(name, watched(), boundaries)
        return info


def test_backend_terminated_mid_backup_fails_naming_the_table(repository: Any) -> None:
    name = unique_name("dbs_kill")
    # ~40 MB of COPY text: far more than the socket buffers, so the COPY is still running
    # on the server when the first block arrives.
    create_database(name, "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 10) AS v "
                          "FROM generate_series(1, 120000) g; CREATE TABLE small (id int);")
    try:
        with pytest.raises(EngineError) as failure, repository.begin_backup() as writer:
            killer = _TerminatingWriter(writer, name, "big")
            writer.commit(ENGINE.backup(endpoint(name), ObjectSelection.parse(name), killer,
                                        NullProgress()))
        assert killer.terminated
        assert failure.value.step == f"copy table {name}.public.big"
        assert "terminat" in failure.value.message  # the server's reason is passed on
        assert repository.list_backup_sets() == []
    finally:
        drop_database(name)


def test_precheck_names_missing_privilege_and_fix_then_passes(repository: Any) -> None:
    name, role = unique_name("dbs_priv"), unique_name("dbs_backup_user")
    create_database(name, "CREATE SCHEMA app; CREATE TABLE app.secrets (id int, v text); "
                          "INSERT INTO app.secrets VALUES (1, 'x'); CREATE TABLE open (id int);")
    with admin() as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    source = Endpoint(engine="postgresql", host="127.0.0.1", port=5432, user=role,
                      database=name)
    try:
        items = {i.item: i for i in ENGINE.precheck(source, ObjectSelection.parse(name))}
        assert items[CHECK_CONNECTIVITY].state == "finish"
        denied = items[CHECK_PRIVILEGES]
        assert denied.state == "failed"
        assert f"{name}.app.secrets" in denied.message and f"{name}.public.open" in denied.message
        assert denied.fix == f"GRANT pg_read_all_data TO {role}"

        with admin() as conn:
            conn.execute(f'GRANT pg_read_all_data TO "{role}"')
        items = {i.item: i for i in ENGINE.precheck(source, ObjectSelection.parse(name))}
        assert all(i.state == "finish" for i in items.values()), items
        # ...and the least-privileged account can really take the backup.
        with repository.begin_backup() as writer:
            metadata = ENGINE.backup(source, ObjectSelection.parse(name), writer, NullProgress())
            writer.commit(metadata)
        assert {t["name"]: t["rows"] for t in metadata["databases"][0]["tables"]} == {
            "secrets": 1, "open": 0}
    finally:
        drop_database(name)
        with admin() as conn:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="module")
def password_server() -> Iterator[Endpoint]:
    """A private server that checks passwords (scram-sha-256); the shared one trusts loopback."""
    with private_postgres("right-" + unique_name("pw")) as server:
        yield server


def test_precheck_wrong_password_names_connectivity_and_fix(password_server: Endpoint) -> None:
    good = ENGINE.precheck(password_server, ObjectSelection.everything())
    assert [i for i in good if i.state == "failed"] == []

    items = ENGINE.precheck(password_server.with_password("wrong"), ObjectSelection.everything())
    assert len(items) == 1
    item = items[0]
    assert (item.item, item.state) == (CHECK_CONNECTIVITY, "failed")
    assert "password authentication failed" in item.message
    assert "password" in item.fix and "ALTER ROLE postgres PASSWORD" in item.fix
    assert "wrong" not in item.message + item.fix and password_server.password not in item.message


def test_backup_with_wrong_password_fails_at_connect(password_server: Endpoint,
                                                     repository: Any) -> None:
    with pytest.raises(EngineError) as failure, repository.begin_backup() as writer:
        ENGINE.backup(password_server.with_password("wrong"), ObjectSelection.everything(),
                      writer, NullProgress())
    assert failure.value.step == "connect to the source"
    assert repository.list_backup_sets() == []
