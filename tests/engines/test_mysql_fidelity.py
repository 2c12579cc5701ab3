"""Fidelity: every column type and schema object survives backup -> repository -> restore.

Compared without the engine: SHOW CREATE text of every table, view, routine, trigger and
event, and CHECKSUM TABLE of every table, source against restored copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from testbed.mariadb import rows

from dbs.engines.base import RestoreOptions
from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql.engine import MySQLEngine
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress
from tests.engines.mysql_fixtures import (
    SHARED,
    create_fidelity_database,
    drop_databases,
    schema_fingerprint,
    table_checksums,
    unique,
)

# ~60 000 rows of ~330 bytes: the "100 MB table" case at test scale (full scale runs in
# benchmarks/bench_mysql.py). A small split size makes it several primary-key ranges.
BIG_ROWS = 60_000
# 1 MiB rows: more than fit in one GROUP_CONCAT batch under the default 16 MiB packet limit.
WIDE_ROWS = 24
ENGINE = MySQLEngine(split_bytes=4 * 1024 * 1024)


@pytest.fixture(scope="module")
def source() -> Iterator[Endpoint]:
    name = unique("dbs_fid")
    try:
        create_fidelity_database(SHARED, name, big_rows=BIG_ROWS, wide_rows=WIDE_ROWS)
        yield SHARED.with_database(name)
    finally:
        drop_databases(SHARED, name)


def _backup(repository: Any, source: Endpoint, parallel: int = 2) -> tuple[Any, dict[str, Any]]:
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(
            source, ObjectSelection.parse(source.database), writer, NullProgress(),
            parallel=parallel,
        )  # fmt: skip
        info = writer.commit(metadata)
    return repository.open_backup_set(info.id), metadata


def test_every_type_and_object_round_trips(source: Endpoint, repository: Any) -> None:
    reader, _metadata = _backup(repository, source)
    result = ENGINE.restore(reader, SHARED, RestoreOptions(), NullProgress())
    restored = result.restored[source.database]
    try:
        assert result.verified and not result.mismatches, result
        # The source database still exists, so the default rule restored under a new name.
        assert restored != source.database
        before = schema_fingerprint(SHARED, source.database)
        after = schema_fingerprint(SHARED, restored)
        kinds = {key.split(" ", 1)[0] for key in before}
        assert kinds == {"table", "view", "procedure", "function", "trigger", "event"}
        assert after == before
        sums = table_checksums(SHARED, source.database)
        assert None not in sums.values()
        assert table_checksums(SHARED, restored) == sums
    finally:
        drop_databases(SHARED, restored)


def test_manifest_records_rows_parts_and_position(source: Endpoint, repository: Any) -> None:
    _, metadata = _backup(repository, source)
    assert metadata["engine"] == "mysql" and metadata["format_version"] == 1
    assert "MariaDB" in metadata["server"]["version"]
    tables = {t["name"]: t for t in metadata["databases"][0]["tables"]}
    big = tables["big"]
    assert big["rows"] == BIG_ROWS
    assert len(big["parts"]) > 2, "the big table should be split into key ranges"
    assert sum(p["rows"] for p in big["parts"]) == BIG_ROWS
    counted = rows(SHARED, f"SELECT COUNT(*) FROM `{source.database}`.`types`")[0][0]
    assert tables["types"]["rows"] == counted
    assert tables["wide"]["rows"] == WIDE_ROWS and tables["composite"]["rows"] == 3
    assert all(len(p["blake3"]) == 64 for t in tables.values() for p in t["parts"])
    # The shared server runs without a binary log: the manifest says so instead of guessing.
    snapshot = metadata["snapshot"]
    assert snapshot["binlog_file"] is None and snapshot["notes"]
    # ...so two workers can only share a snapshot by starting under the global read lock.
    assert snapshot["method"] == "flush-tables-with-read-lock" and snapshot["workers"] == 2
    assert "legacy_myisam" in " ".join(snapshot["notes"])


def test_single_worker_backup_restores_identically(source: Endpoint, repository: Any) -> None:
    reader, metadata = _backup(repository, source, parallel=1)
    assert metadata["snapshot"]["workers"] == 1
    target = unique("dbs_fid_one")
    try:
        result = ENGINE.restore(
            reader, SHARED.with_database(target), RestoreOptions(parallel=1), NullProgress()
        )
        assert result.verified and result.restored[source.database] == target
        assert table_checksums(SHARED, target) == table_checksums(SHARED, source.database)
    finally:
        drop_databases(SHARED, target)
