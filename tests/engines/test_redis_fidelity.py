"""Redis fidelity: every type, TTLs, several databases, functions; live and file restores."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testbed.redis_server import RedisServer, redis_server

from dbs.engines.selection import ObjectSelection
from tests.engines.harness_redis import FUNCTION_LIBRARY, populate_varied, redis_digest
from tests.engines.redis_fixtures import back_up, restore


@pytest.fixture
def source() -> Iterator[RedisServer]:
    with redis_server(password="s3cret") as server:
        populate_varied(server)
        server.client().execute_command("FUNCTION", "LOAD", FUNCTION_LIBRARY)
        yield server


@pytest.fixture
def target() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def test_round_trip_is_exact(source: RedisServer, target: RedisServer, repository: Any) -> None:
    set_id, metadata = back_up(repository, source.endpoint())
    assert metadata["keys_per_db"] == {str(db): source.client(db).dbsize() for db in (0, 1, 5)}
    assert metadata["expires_per_db"]["0"] == 2
    assert metadata["functions"] == 1
    assert metadata["redis_version"].startswith("7.")
    assert isinstance(metadata["replication_offset"], int) and metadata["replication_id"]
    assert metadata["rdb_checksum"] == "ok"
    result = restore(repository, set_id, target.endpoint())
    assert result.verified and not result.mismatches, result
    assert redis_digest(target.port) == redis_digest(source.port, source.password)
    # TTLs are absolute: the same expiry instant, not a fresh countdown.
    assert target.client().execute_command(
        "PEXPIRETIME", "ttl:hash"
    ) == source.client().execute_command("PEXPIRETIME", "ttl:hash")
    assert target.client().fcall("seven", 0) == 7


def test_keys_already_expired_are_not_restored(
    source: RedisServer, target: RedisServer, repository: Any
) -> None:
    # With active expiry off, a key past its time stays in memory and in the snapshot.
    source.client().execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    deadline = int(time.time() * 1000) + 50
    source.client().pexpireat("int", deadline)
    while int(time.time() * 1000) <= deadline + 5:
        time.sleep(0.01)
    set_id, metadata = back_up(repository, source.endpoint())
    assert metadata["expires_per_db"]["0"] == 3
    result = restore(repository, set_id, target.endpoint())
    assert result.verified, result
    assert target.client().exists("int") == 0
    assert target.client().exists("ttl:far") == 1


def test_rdb_file_restore_loads_in_a_stopped_server(
    source: RedisServer, repository: Any, tmp_path: Path
) -> None:
    set_id, _ = back_up(repository, source.endpoint())
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    result = restore(
        repository, set_id, source.endpoint(), extra={"rdb_file": str(data_dir / "dump.rdb")}
    )
    assert result.verified, result
    loaded = RedisServer("--dbfilename", "dump.rdb", directory=data_dir)
    try:
        assert redis_digest(loaded.port) == redis_digest(source.port, source.password)
    finally:
        loaded.stop()


def test_chosen_databases_and_key_patterns(
    source: RedisServer, target: RedisServer, repository: Any
) -> None:
    set_id, _ = back_up(repository, source.endpoint())
    result = restore(
        repository, set_id, target.endpoint(), objects=ObjectSelection.parse("0.hash:*,1")
    )
    assert result.verified, result
    assert sorted(target.client(0).keys()) == [b"hash:big", b"hash:small"]
    assert sorted(target.client(1).keys()) == [b"db1:key", b"db1:list"]
    assert target.client(5).dbsize() == 0


def test_rename_restores_a_database_under_another_number(
    source: RedisServer, target: RedisServer, repository: Any
) -> None:
    set_id, _ = back_up(repository, source.endpoint())
    result = restore(
        repository, set_id, target.endpoint(), objects=ObjectSelection.parse("1"), rename={"1": "9"}
    )
    assert result.restored == {"1": "9"} and result.verified
    assert sorted(target.client(9).keys()) == [b"db1:key", b"db1:list"]
    assert target.client(1).dbsize() == 0


def test_backup_of_a_selection_stores_only_that(
    source: RedisServer, target: RedisServer, repository: Any, tmp_path: Path
) -> None:
    set_id, metadata = back_up(repository, source.endpoint(), "0.zset:*,5")
    assert metadata["filtered"] and metadata["keys_per_db"] == {"0": 2, "5": 1}
    image = b"".join(repository.open_backup_set(set_id).open_stream("dump.rdb"))
    assert b"hash:big" not in image and b"zset:big" in image
    result = restore(repository, set_id, target.endpoint())
    assert result.verified, result
    assert sorted(target.client(0).keys()) == [b"zset:big", b"zset:small"]
    assert target.client(5).get("db5:key") == b"in db 5"
    checker = shutil.which("redis-check-rdb")
    if checker:
        import subprocess

        path = tmp_path / "filtered.rdb"
        path.write_bytes(image)
        report = subprocess.run([checker, str(path)], capture_output=True, text=True, check=False)
        assert "RDB looks OK" in report.stdout, report.stdout


def test_url_database_limits_the_backup(
    source: RedisServer, target: RedisServer, repository: Any
) -> None:
    set_id, metadata = back_up(repository, source.endpoint(db=1))
    assert metadata["keys_per_db"] == {"1": 2}
    # A target URL naming one database receives the single backed-up database.
    result = restore(repository, set_id, target.endpoint(db=3))
    assert result.restored == {"1": "3"} and result.verified
    assert sorted(target.client(3).keys()) == [b"db1:key", b"db1:list"]
