"""SQLite precheck findings and restore conflict rules."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dbs.engines.base import EngineError
from dbs.engines.precheck_items import CHECK_BACKUP_OBJECTS, CHECK_INTEGRITY, CHECK_SOURCE_FILE
from dbs.engines.selection import ObjectSelection
from dbs.engines.sqlite import ENGINE, connection, snapshot
from tests.engines.harness_sqlite import make_varied_database, sql_digest
from tests.engines.sqlite_fixtures import back_up, endpoint, restore


def _states(path: Path, selection: str | None = None) -> dict[str, Any]:
    items = ENGINE.precheck(endpoint(path), ObjectSelection.parse(selection))
    return {i.item: i for i in items}


def test_precheck_fails_on_a_missing_file_and_says_what_to_do(tmp_path: Path) -> None:
    item = _states(tmp_path / "nope.db")[CHECK_SOURCE_FILE]
    assert item.state == "failed" and "does not exist" in item.message and item.fix


def test_precheck_fails_when_the_selection_matches_nothing(tmp_path: Path) -> None:
    source = tmp_path / "app.db"
    make_varied_database(source)
    item = _states(source, "orders")[CHECK_BACKUP_OBJECTS]
    assert item.state == "failed" and "main.<table>" in item.fix
    assert _states(source, "main.acc*")[CHECK_BACKUP_OBJECTS].state == "finish"


def _corrupt_index(path: Path) -> None:
    """Swap the root pages of two indexes: a classic, deterministic corruption."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(
        """
        CREATE TABLE t (a INTEGER, b TEXT);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
        INSERT INTO t SELECT i, 'v' || (i * 7) FROM n;
        CREATE INDEX ta ON t(a);
        CREATE INDEX tb ON t(b);
        """
    )
    roots = dict(conn.execute("SELECT name, rootpage FROM sqlite_schema WHERE type='index'"))
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_schema SET rootpage = ? WHERE name = 'ta'", (roots["tb"],))
    conn.execute("UPDATE sqlite_schema SET rootpage = ? WHERE name = 'tb'", (roots["ta"],))
    conn.close()


def test_precheck_warns_about_a_damaged_database_and_backup_records_it(
    tmp_path: Path, repository: Any
) -> None:
    source = tmp_path / "broken.db"
    _corrupt_index(source)
    item = _states(source)[CHECK_INTEGRITY]
    assert item.state == "warning" and "integrity_check" in item.message and item.fix
    set_id, metadata = back_up(repository, source)
    assert metadata["integrity"] != "ok"
    # The restore reproduces the damage faithfully and does not call that a mismatch.
    result = restore(repository, set_id, tmp_path / "copy.db")
    assert result.verified, result


def test_a_writer_that_never_lets_go_fails_the_backup_with_advice(
    tmp_path: Path, repository: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "locked.db"
    make_varied_database(source, wal=False)
    holder = sqlite3.connect(source, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # rollback-journal mode: readers are shut out
    monkeypatch.setattr(snapshot, "LOCK_WAIT_SECONDS", 0.3)
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_SECONDS", 0.1)
    try:
        with pytest.raises(EngineError, match="WAL mode"):
            back_up(repository, source)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert repository.list_backup_sets() == []


def test_list_objects_names_tables_under_main(tmp_path: Path) -> None:
    source = tmp_path / "app.db"
    make_varied_database(source)
    listed = {o.name: o for o in ENGINE.list_objects(endpoint(source))}
    assert listed["main"].kind == "database"
    assert listed["main.accounts"].rows == 3
    assert not any(name.startswith("main.docs_") for name in listed), "FTS5 shadow tables leaked"


@pytest.fixture
def backed_up(tmp_path: Path, repository: Any) -> tuple[Path, str]:
    source = tmp_path / "app.db"
    make_varied_database(source)
    set_id, _ = back_up(repository, source)
    return source, set_id


def _occupied(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE other (x)")
    conn.execute("INSERT INTO other VALUES ('still here')")
    conn.commit()
    conn.close()


def test_existing_target_fails_by_default_rule_fail(
    tmp_path: Path, repository: Any, backed_up: tuple[Path, str]
) -> None:
    target = tmp_path / "taken.db"
    _occupied(target)
    with pytest.raises(EngineError, match="already exists"):
        restore(repository, backed_up[1], target, conflict="fail")
    assert "main.other" in sql_digest(target)


def test_existing_target_renamenew_puts_the_copy_beside_it(
    tmp_path: Path, repository: Any, backed_up: tuple[Path, str]
) -> None:
    target = tmp_path / "taken.db"
    _occupied(target)
    result = restore(repository, backed_up[1], target, conflict="renamenew")
    assert result.restored == {"main": str(tmp_path / "taken.restored-1.db")}
    assert sql_digest(tmp_path / "taken.restored-1.db") == sql_digest(backed_up[0])
    assert "main.other" in sql_digest(target)


def test_existing_target_skip_leaves_it_alone(
    tmp_path: Path, repository: Any, backed_up: tuple[Path, str]
) -> None:
    target = tmp_path / "taken.db"
    _occupied(target)
    before = sql_digest(target)
    result = restore(repository, backed_up[1], target, conflict="skip")
    assert result.restored == {}
    assert sql_digest(target) == before


def test_overwrite_replaces_an_idle_database(
    tmp_path: Path, repository: Any, backed_up: tuple[Path, str]
) -> None:
    target = tmp_path / "taken.db"
    _occupied(target)
    result = restore(repository, backed_up[1], target, conflict="overwrite")
    assert result.verified, result
    assert sql_digest(target) == sql_digest(backed_up[0])


def test_overwrite_refuses_a_database_another_process_holds(
    tmp_path: Path, repository: Any, backed_up: tuple[Path, str]
) -> None:
    target = tmp_path / "taken.db"
    _occupied(target)
    before = sql_digest(target)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('SELECT * FROM other').fetchall(); print('open', flush=True); "
            "sys.stdin.read()",
            str(target),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(EngineError, match="is open in process"):
            restore(repository, backed_up[1], target, conflict="overwrite")
    finally:
        holder.communicate("")
    assert sql_digest(target) == before


def test_restore_into_a_directory_uses_the_source_file_name(
    tmp_path: Path, repository: Any, backed_up: tuple[Path, str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = restore(repository, backed_up[1], out)
    assert result.restored == {"main": str(out / "app.db")}
    assert sql_digest(out / "app.db") == sql_digest(backed_up[0])
