"""Redis at scale and under load: a million keys, and a backup taken during redis-benchmark."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testbed.redis_server import RedisServer, redis_server

from tests.engines.harness_redis import populate_varied
from tests.engines.redis_fixtures import back_up, restore


@pytest.fixture
def target() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.mark.slow
def test_a_million_small_keys_round_trip(target: RedisServer, repository: Any) -> None:
    with redis_server() as source:
        source.client().execute_command("DEBUG", "POPULATE", 1_000_000, "key", 16)
        source.client(2).execute_command("DEBUG", "POPULATE", 1000, "other", 100)
        set_id, metadata = back_up(repository, source.endpoint())
        assert metadata["keys_per_db"] == {"0": 1_000_000, "2": 1000}
        result = restore(repository, set_id, target.endpoint())
        assert result.verified, result
        assert target.client().execute_command(
            "DEBUG", "DIGEST"
        ) == source.client().execute_command("DEBUG", "DIGEST")


def _commands_processed(server: RedisServer) -> int:
    return int(server.client().info("stats")["total_commands_processed"])


@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="needs redis-benchmark")
def test_backup_under_redis_benchmark_load_restores_the_snapshot(
    target: RedisServer, repository: Any, tmp_path: Path
) -> None:
    with redis_server() as source:
        source.client().execute_command("DEBUG", "POPULATE", 100_000, "base", 32)
        populate_varied(source)
        load = subprocess.Popen(
            [
                str(shutil.which("redis-benchmark")),
                "-p",
                str(source.port),
                "-c",
                "4",
                "-P",
                "16",
                "-r",
                "200000",
                "-l",
                "-q",
                "-t",
                "set,incr,lpush,hset,sadd",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            start = _commands_processed(source)
            while _commands_processed(source) < start + 10_000:  # the load is on
                assert load.poll() is None, "redis-benchmark exited"
                time.sleep(0.05)
            before = _commands_processed(source)
            set_id, metadata = back_up(repository, source.endpoint())
            after = _commands_processed(source)
        finally:
            load.terminate()
            load.wait()
    assert after > before, "no writes happened while the backup ran"
    assert metadata["replication_offset"] >= 0
    result = restore(repository, set_id, target.endpoint())
    assert result.verified, result
    assert {str(db): target.client(db).dbsize() for db in (0, 1, 5)} == metadata["keys_per_db"]
    # The same snapshot placed as a file for a fresh server must hold exactly what the
    # key-by-key restore wrote: both paths agree on every value.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    assert restore(
        repository, set_id, target.endpoint(), extra={"rdb_file": str(data_dir / "dump.rdb")}
    ).verified
    loaded = RedisServer("--dbfilename", "dump.rdb", directory=data_dir)
    try:
        assert loaded.client().execute_command(
            "DEBUG", "DIGEST"
        ) == target.client().execute_command("DEBUG", "DIGEST")
    finally:
        loaded.stop()
