"""The SQLite engine: the `Engine` protocol over the modules of this package."""

from __future__ import annotations

import sqlite3
from typing import Any

from dbs.engines.base import (
    BackupReader,
    BackupWriter,
    DatabaseObject,
    EngineError,
    PrecheckItem,
    Progress,
    RestoreOptions,
    RestoreResult,
)
from dbs.engines.endpoint import Endpoint
from dbs.engines.selection import ObjectSelection
from dbs.engines.sqlite.backup import run_backup
from dbs.engines.sqlite.connection import connect, endpoint_path, has_sqlite_header
from dbs.engines.sqlite.format import SCHEMA_NAME
from dbs.engines.sqlite.objects import count_rows, schema_objects
from dbs.engines.sqlite.precheck import run_precheck
from dbs.engines.sqlite.restore import run_restore


class SqliteEngine:
    name = "sqlite"

    def precheck(self, source: Endpoint, objects: ObjectSelection) -> list[PrecheckItem]:
        return run_precheck(source, objects)

    def list_objects(self, source: Endpoint) -> list[DatabaseObject]:
        path = endpoint_path(source, "list objects")
        if not path.is_file() or not has_sqlite_header(path):
            raise EngineError("list objects", f"{path} is not a SQLite database file")
        try:
            conn = connect(path, readonly=True)
            try:
                tables = [o for o in schema_objects(conn) if o.has_rows]
                wal = path.with_name(path.name + "-wal")
                size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
                listed = [DatabaseObject("database", SCHEMA_NAME, size_bytes=size)]
                listed += [
                    DatabaseObject("table", t.dotted, rows=count_rows(conn, t)) for t in tables
                ]
                return listed
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise EngineError("list objects", f"SQLite cannot read {path}: {exc}") from exc

    def backup(
        self,
        source: Endpoint,
        objects: ObjectSelection,
        writer: BackupWriter,
        progress: Progress,
        *,
        parallel: int = 2,  # one file, one stream: nothing to parallelise
    ) -> dict[str, Any]:
        return run_backup(source, objects, writer, progress)

    def restore(
        self,
        reader: BackupReader,
        target: Endpoint,
        options: RestoreOptions,
        progress: Progress,
    ) -> RestoreResult:
        return run_restore(reader, target, options, progress)
