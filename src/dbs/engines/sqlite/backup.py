"""Full backup: snapshot the database, prove the snapshot, stream it page-aligned."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.selection import ObjectSelection
from dbs.engines.sqlite import snapshot as snapshot_module
from dbs.engines.sqlite.connection import connect, endpoint_path, has_sqlite_header, pragma_value
from dbs.engines.sqlite.format import DATABASE_STREAM, FORMAT_VERSION, READ_PIECE
from dbs.engines.sqlite.objects import SchemaObject
from dbs.engines.sqlite.snapshot import (
    SnapshotLockTimeout,
    copy_database,
    narrow_to,
)
from dbs.engines.sqlite.verify import integrity_problems, table_digest
from dbs.errors import DbsError
from dbs.streams import BackupWriter, Progress, closing_stream


def read_pieces(path: Path, progress: Progress) -> Iterator[bytes]:
    """The file in READ_PIECE pieces, never all of it in memory."""
    with path.open("rb") as f:
        while piece := f.read(READ_PIECE):
            progress.advance(bytes_done=len(piece))
            yield piece


def describe_objects(conn: sqlite3.Connection, kept: list[SchemaObject]) -> list[dict[str, Any]]:
    """Row count and content digest of each kept object (views: definition only)."""
    described: list[dict[str, Any]] = []
    for obj in kept:
        entry: dict[str, Any] = {"name": obj.dotted, "kind": obj.kind}
        if obj.has_rows:
            entry["rows"], entry["digest"] = table_digest(conn, obj)
        described.append(entry)
    return described


def backup(
    source: Endpoint,
    selection: ObjectSelection,
    writer: BackupWriter,
    progress: Progress,
    *,
    parallel: int = 1,  # one file, one stream: nothing to parallelise
) -> dict[str, Any]:
    path = endpoint_path(source, "open source")
    if not path.is_file() or not has_sqlite_header(path):
        raise EngineError("open source", f"{path} is not a SQLite database file; run precheck")
    with tempfile.TemporaryDirectory(prefix="dbs-sqlite-") as tmp:
        snapshot = Path(tmp) / "snapshot.sqlite"
        progress.step(f"snapshot {path} with the online backup API (one step)")
        try:
            copy_database(path, snapshot)
        except SnapshotLockTimeout as exc:
            raise EngineError(
                "snapshot database",
                f"no read lock on {path} within {snapshot_module.LOCK_WAIT_SECONDS:g} s: a writer "
                "holds it constantly; switch the database to WAL mode (PRAGMA journal_mode=WAL) so "
                "backups and writers run side by side",
            ) from exc
        except sqlite3.Error as exc:
            raise EngineError("snapshot database", f"{exc}; is {path} readable?") from exc
        if not selection.is_everything():
            progress.step(f"drop objects outside the selection {selection.to_spec()!r}")
        kept = narrow_to(snapshot, selection)
        if not kept:
            raise EngineError(
                "select objects",
                f"the selection {selection.to_spec()!r} matches no table or view; "
                "SQLite objects are named main.<table>",
            )
        conn = connect(snapshot, readonly=True)
        try:
            progress.step("check the snapshot (PRAGMA integrity_check) and digest every table")
            problems = integrity_problems(conn)
            if problems:
                progress.step(f"WARNING: integrity_check found problems: {problems[:3]}")
            metadata: dict[str, Any] = {
                "engine": "sqlite",
                "format_version": FORMAT_VERSION,
                "sqlite_version": sqlite3.sqlite_version,
                "source": source.display(),
                "file_name": path.name,
                "stream": DATABASE_STREAM,
                "snapshot_method": "backup-api-one-step",
                "page_size": int(pragma_value(conn, "page_size")),  # type: ignore[call-overload]
                "page_count": int(pragma_value(conn, "page_count")),  # type: ignore[call-overload]
                "journal_mode": _text(pragma_value(conn, "journal_mode")),
                "encoding": _text(pragma_value(conn, "encoding")),
                "user_version": pragma_value(conn, "user_version"),
                "application_id": pragma_value(conn, "application_id"),
                "selection": selection.to_spec(),
                "integrity": problems or "ok",
                "objects": describe_objects(conn, kept),
            }
        finally:
            conn.close()
        size = snapshot.stat().st_size
        progress.set_total(bytes_total=size)
        progress.step(f"store {size} bytes as stream {DATABASE_STREAM}")
        try:
            with closing_stream(read_pieces(snapshot, progress)) as pieces:
                info = writer.add_stream(DATABASE_STREAM, pieces, metadata["page_size"])
        except (EngineError, DbsError):
            raise
        except Exception as exc:
            raise EngineError(f"store stream {DATABASE_STREAM}", str(exc)) from exc
        metadata["size"] = info.size
        metadata["checksum"] = info.checksum
        return metadata


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
