"""Selective restore, renames, the conflict rules and definer handling (shared server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from testbed.mariadb import execute, rows

from dbs.engines.base import EngineError, RestoreOptions
from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql import ENGINE
from dbs.engines.precheck_items import CHECK_BACKUP_OBJECTS
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress
from tests.engines.altered_reader import (
    AlteredReader,
    StoppingProgress,
    breaking_off,
    without_last_row,
)
from tests.engines.mysql_fixtures import (
    SHARED,
    drop_databases,
    q,
    schema_fingerprint,
    table_checksums,
    unique,
)


@pytest.fixture
def prefix() -> Iterator[str]:
    name = unique("dbs_sel")
    try:
        yield name
    finally:
        drop_databases(SHARED, name)


def _make_source(database: str) -> Endpoint:
    execute(
        SHARED,
        [
            f"CREATE DATABASE {q(database)}",
            f"USE {q(database)}",
            "CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20))",
            "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, "
            "FOREIGN KEY (parent_id) REFERENCES parent (id))",
            "CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT)",
            "INSERT INTO parent VALUES (1, 'a'), (2, 'b')",
            "INSERT INTO child VALUES (10, 1), (20, 2)",
            "INSERT INTO audit (note) VALUES ('x'), ('y')",
            "CREATE DEFINER = `dbs_ghost`@`%` VIEW v_names AS SELECT name FROM parent",
            "CREATE TRIGGER audit_bi BEFORE INSERT ON audit FOR EACH ROW "
            "SET NEW.note = UPPER(NEW.note)",
            "CREATE PROCEDURE count_parents() SELECT COUNT(*) FROM parent",
        ],
    )  # fmt: skip
    return SHARED.with_database(database)


@pytest.fixture
def backup_set(prefix: str, repository: Any) -> tuple[Endpoint, Any]:
    source = _make_source(prefix)
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(source, ObjectSelection.parse(prefix), writer, NullProgress())
        info = writer.commit(metadata)
    return source, repository.open_backup_set(info.id)


def _tables(database: str) -> set[str]:
    return {
        str(r[0])
        for r in rows(
            SHARED,
            f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{database}'",
        )
    }


def test_restore_one_table_into_a_new_database(prefix: str, backup_set: Any) -> None:
    _source, reader = backup_set
    target = f"{prefix}_one"
    options = RestoreOptions(objects=ObjectSelection.parse(f"{prefix}.parent,{prefix}.audit"))
    result = ENGINE.restore(reader, SHARED.with_database(target), options, NullProgress())
    assert result.verified, result
    assert result.restored == {
        prefix: target, f"{prefix}.parent": f"{target}.parent", f"{prefix}.audit": f"{target}.audit"
    }  # fmt: skip
    # Only the chosen tables (and the trigger of one of them), no view or routine.
    assert _tables(target) == {"parent", "audit"}
    fingerprint = schema_fingerprint(SHARED, target)
    assert "trigger audit_bi" in fingerprint and "procedure count_parents" not in fingerprint
    checksums = table_checksums(SHARED, prefix)
    assert table_checksums(SHARED, target) == {k: checksums[k] for k in ("parent", "audit")}


def test_default_rule_renames_the_new_copy(prefix: str, backup_set: Any) -> None:
    _source, reader = backup_set
    execute(SHARED, [f"UPDATE {q(prefix)}.parent SET name = 'changed' WHERE id = 1"])
    result = ENGINE.restore(reader, SHARED, RestoreOptions(), NullProgress())
    assert result.restored[prefix] == f"{prefix}_restored"
    # The existing database is untouched; the copy holds the backed-up data.
    assert rows(SHARED, f"SELECT name FROM {q(prefix)}.parent WHERE id = 1")[0][0] == "changed"
    assert (
        rows(SHARED, f"SELECT name FROM {q(prefix + '_restored')}.parent WHERE id = 1")[0][0] == "a"
    )
    again = ENGINE.restore(reader, SHARED, RestoreOptions(), NullProgress())
    assert again.restored[prefix] == f"{prefix}_restored_2" and again.verified


def test_overwrite_replaces_existing_objects(prefix: str, backup_set: Any) -> None:
    _source, reader = backup_set
    before = table_checksums(SHARED, prefix)
    execute(
        SHARED,
        [f"DELETE FROM {q(prefix)}.child", f"INSERT INTO {q(prefix)}.audit (note) VALUES ('z')"],
    )
    result = ENGINE.restore(reader, SHARED, RestoreOptions(conflict="overwrite"), NullProgress())
    assert result.restored[prefix] == prefix and result.verified
    assert table_checksums(SHARED, prefix) == before


def test_skip_keeps_existing_tables_and_fail_refuses(prefix: str, backup_set: Any) -> None:
    _source, reader = backup_set
    execute(SHARED, [f"DROP TABLE {q(prefix)}.child", f"DELETE FROM {q(prefix)}.audit"])
    result = ENGINE.restore(reader, SHARED, RestoreOptions(conflict="skip"), NullProgress())
    assert result.verified and f"{prefix}.child" in result.restored
    assert f"{prefix}.audit" not in result.restored
    assert rows(SHARED, f"SELECT COUNT(*) FROM {q(prefix)}.child")[0][0] == 2
    assert rows(SHARED, f"SELECT COUNT(*) FROM {q(prefix)}.audit")[0][0] == 0
    with pytest.raises(EngineError) as caught:
        ENGINE.restore(reader, SHARED, RestoreOptions(conflict="fail"), NullProgress())
    assert "already exist" in caught.value.message and "renamenew" in caught.value.message


def test_definers_are_kept_or_rewritten(prefix: str, backup_set: Any) -> None:
    _source, reader = backup_set
    kept = ENGINE.restore(
        reader, SHARED.with_database(f"{prefix}_keep"), RestoreOptions(), NullProgress()
    )
    current = ENGINE.restore(
        reader, SHARED.with_database(f"{prefix}_cur"),
        RestoreOptions(extra={"definer": "current"}), NullProgress(),
    )  # fmt: skip
    assert kept.verified and current.verified

    def definer(database: str) -> str:
        return str(
            rows(SHARED, "SELECT DEFINER FROM information_schema.VIEWS "
                 f"WHERE TABLE_SCHEMA = '{database}'")[0][0]
        )  # fmt: skip

    assert definer(f"{prefix}_keep") == "dbs_ghost@%"
    me = str(rows(SHARED, "SELECT CURRENT_USER()")[0][0])
    assert definer(f"{prefix}_cur") == me


def test_selection_matching_nothing_is_a_clear_error(prefix: str, backup_set: Any) -> None:
    _source, reader = backup_set
    options = RestoreOptions(objects=ObjectSelection.parse("no_such_db"))
    with pytest.raises(EngineError) as caught:
        ENGINE.restore(reader, SHARED, options, NullProgress())
    assert caught.value.step == "select objects" and prefix in caught.value.message


@pytest.mark.parametrize("level", ["content", "rows"])
def test_verify_levels_compare_row_counts(prefix: str, backup_set: Any, level: Any) -> None:
    """Both levels pass a faithful restore and name the table whose row count differs; the
    "rows" level only counts (COUNT(*) per part) instead of reading the rows back."""
    _source, reader = backup_set
    good = f"{prefix}_{level}"
    result = ENGINE.restore(reader, SHARED.with_database(good),
                            RestoreOptions(verify=level), NullProgress())
    assert result.verified and not result.mismatches
    assert table_checksums(SHARED, good) == table_checksums(SHARED, prefix)
    database = reader.metadata["databases"][0]
    parent = next(t for t in database["tables"] if t["name"] == "parent")
    short = AlteredReader(reader, parent["parts"][0]["stream"], without_last_row)
    bad = f"{prefix}_{level}_short"
    result = ENGINE.restore(short, SHARED.with_database(bad),
                            RestoreOptions(verify=level), NullProgress())
    assert not result.verified
    assert any(f"{bad}.parent" in m and "1 rows restored, the backup holds 2" in m
               for m in result.mismatches), result.mismatches


def test_a_source_url_naming_a_database_backs_up_that_database_only(
    prefix: str, repository: Any
) -> None:
    """As for PostgreSQL: mysql://host/db with no --objects means db, not the instance; a
    restore to mysql://host/other then lands in `other`."""
    source = _make_source(prefix)
    execute(SHARED, [f"CREATE DATABASE {q(prefix + '_bystander')}",
                     f"CREATE TABLE {q(prefix + '_bystander')}.t (id INT PRIMARY KEY)"])
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(source, ObjectSelection.everything(), writer, NullProgress())
        info = writer.commit(metadata)
    assert [d["name"] for d in metadata["databases"]] == [prefix]
    checked = {i.item: i for i in ENGINE.precheck(source, ObjectSelection.everything())}
    assert checked[CHECK_BACKUP_OBJECTS].message.startswith("1 databases"), checked
    target = f"{prefix}_into"
    result = ENGINE.restore(repository.open_backup_set(info.id), SHARED.with_database(target),
                            RestoreOptions(), NullProgress())
    assert result.restored[prefix] == target
    assert table_checksums(SHARED, target) == table_checksums(SHARED, prefix)
    with pytest.raises(EngineError) as caught, repository.begin_backup() as writer:
        ENGINE.backup(source, ObjectSelection.parse("other_db"), writer, NullProgress())
    assert f"in database {prefix!r}" in caught.value.message


def test_a_restore_that_fails_while_loading_drops_the_database_it_created(
    prefix: str, backup_set: Any
) -> None:
    _source, reader = backup_set
    database = reader.metadata["databases"][0]
    parent = next(t for t in database["tables"] if t["name"] == "parent")
    broken = AlteredReader(reader, parent["parts"][0]["stream"], breaking_off)
    target = f"{prefix}_partial"
    with pytest.raises(Exception, match="failed its check"):
        ENGINE.restore(broken, SHARED.with_database(target), RestoreOptions(), NullProgress())
    assert target not in {str(r[0]) for r in rows(SHARED, "SHOW DATABASES")}
    # Into an existing database: the tables it created there go, the rest stays.
    execute(SHARED, [f"CREATE DATABASE {q(target)}", f"CREATE TABLE {q(target)}.keep_me (id INT)"])
    with pytest.raises(Exception, match="failed its check"):
        ENGINE.restore(broken, SHARED.with_database(target), RestoreOptions(), NullProgress())
    assert _tables(target) == {"keep_me"}


def test_a_restore_stopped_while_loading_drops_the_database_it_created(
    prefix: str, backup_set: Any
) -> None:
    from dbs.jobs.progress import JobCancelled

    _source, reader = backup_set
    target = f"{prefix}_stopped"
    progress = StoppingProgress()
    with pytest.raises(JobCancelled):
        ENGINE.restore(reader, SHARED.with_database(target), RestoreOptions(), progress)
    assert target not in {str(r[0]) for r in rows(SHARED, "SHOW DATABASES")}
    assert progress.last_step == f"dropped the partly restored database {target}"
