"""SQLite fidelity: every storage class and schema object survives backup and restore."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from dbs.engines.selection import ObjectSelection
from dbs.engines.sqlite import ENGINE
from dbs.streams import Boundaries, NullProgress, StreamInfo
from tests.engines.harness_sqlite import make_varied_database, sql_digest
from tests.engines.sqlite_fixtures import back_up, endpoint, restore


@pytest.mark.parametrize("wal", [True, False], ids=["wal", "rollback-journal"])
def test_round_trip_is_exact(tmp_path: Path, repository: Any, wal: bool) -> None:
    source = tmp_path / "app.db"
    make_varied_database(source, wal=wal)
    set_id, metadata = back_up(repository, source)
    assert metadata["integrity"] == "ok"
    assert metadata["journal_mode"] == ("wal" if wal else "delete")
    target = tmp_path / "restored.db"
    result = restore(repository, set_id, target)
    assert result.verified and not result.mismatches, result
    assert result.restored == {"main": str(target)}
    assert sql_digest(target) == sql_digest(source)
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == ("wal" if wal else "delete")
        # The FTS5 index works, not just its rows.
        hits = conn.execute("SELECT title FROM docs WHERE docs MATCH 'quick'").fetchall()
        assert hits == [("fox",)]
        # The trigger came back and fires.
        conn.execute("UPDATE accounts SET balance = 5 WHERE owner = 'ann'")
        assert conn.execute("SELECT what FROM audit ORDER BY rowid DESC").fetchone() == (
            "balance 5",
        )
    finally:
        conn.close()


def test_metadata_lists_objects_with_row_counts(tmp_path: Path, repository: Any) -> None:
    source = tmp_path / "app.db"
    make_varied_database(source)
    _, metadata = back_up(repository, source)
    objects = {o["name"]: o for o in metadata["objects"]}
    assert set(objects) == {
        "main.kinds",
        "main.accounts",
        "main.settings",
        "main.audit",
        "main.docs",
        "main.rich",
    }
    assert objects["main.accounts"]["rows"] == 3
    assert objects["main.rich"]["kind"] == "view"
    assert metadata["page_size"] > 0 and metadata["stream"] == "main.sqlite"


def test_chosen_tables_restore_into_a_new_file(tmp_path: Path, repository: Any) -> None:
    source = tmp_path / "app.db"
    make_varied_database(source)
    set_id, _ = back_up(repository, source)
    target = tmp_path / "some.db"
    result = restore(
        repository, set_id, target, objects=ObjectSelection.parse("main.accounts,main.rich")
    )
    assert result.verified, result
    restored, original = sql_digest(target), sql_digest(source)
    assert set(restored) == {"schema", "main.accounts"}
    assert restored["main.accounts"] == original["main.accounts"]
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("SELECT owner FROM rich").fetchall() == [("bob",)]
    finally:
        conn.close()


def test_excluded_tables_are_not_in_the_backup(tmp_path: Path, repository: Any) -> None:
    source = tmp_path / "app.db"
    make_varied_database(source)
    set_id, metadata = back_up(repository, source, ObjectSelection.parse("!main.docs"))
    assert "main.docs" not in {o["name"] for o in metadata["objects"]}
    reader = repository.open_backup_set(set_id)
    # Excluded rows must not linger in free pages: secure_delete zeroed them.
    image = b"".join(reader.open_stream("main.sqlite"))
    assert b"quick brown fox" not in image
    assert b"O'Reilly" in image  # a kept table's text is there, so the search is meaningful


class _RecordingWriter:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.boundaries: list[Boundaries] = []

    def add_stream(
        self, name: str, chunks: Iterable[bytes], boundaries: Boundaries = None
    ) -> StreamInfo:
        self.boundaries.append(boundaries)
        info: StreamInfo = self.inner.add_stream(name, chunks, boundaries)
        return info


def test_stream_is_cut_on_pages_so_unchanged_pages_deduplicate(
    tmp_path: Path, repository: Any
) -> None:
    source = tmp_path / "big.db"
    conn = sqlite3.connect(source, isolation_level=None)
    conn.execute("PRAGMA page_size = 8192")
    conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB)")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
        "INSERT INTO blobs SELECT i, randomblob(3000) FROM n"
    )
    conn.close()
    with repository.begin_backup() as writer:
        recorder = _RecordingWriter(writer)
        metadata = ENGINE.backup(
            endpoint(source), ObjectSelection.everything(), recorder, NullProgress()
        )
        first = writer.commit(metadata)
    assert recorder.boundaries == [8192]
    conn = sqlite3.connect(source, isolation_level=None)
    conn.execute("UPDATE blobs SET b = randomblob(3000) WHERE id = 1000")
    conn.close()
    set_id, _ = back_up(repository, source)
    second = next(s for s in repository.list_backup_sets() if s.id == set_id)
    # One changed row touches a page or two; most of the 6 MB must deduplicate.
    assert second.stored_size < first.stored_size / 4, (first, second)
