"""MySQL / MariaDB engine: consistent, parallel logical backup and restore.

``ENGINE`` implements `dbs.engines.base.Engine`. See docs/engines/mysql.md for the
stream format, how consistency is obtained and what is untested.
"""

from __future__ import annotations

from typing import Any

from dbs.engines.base import (
    BackupReader,
    BackupWriter,
    DatabaseObject,
    PrecheckItem,
    Progress,
    RestoreOptions,
    RestoreResult,
)
from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql import backup as _backup
from dbs.engines.mysql import precheck as _precheck
from dbs.engines.mysql import restore as _restore
from dbs.engines.mysql.connection import close_quietly, connect
from dbs.engines.mysql.objects import list_objects as _list_objects
from dbs.engines.selection import ObjectSelection

DEFAULT_SPLIT_BYTES = 64 * 1024 * 1024


class MySQLEngine:
    """The engine; ``split_bytes`` is the target size of one primary-key range stream."""

    name = "mysql"

    def __init__(self, *, split_bytes: int = DEFAULT_SPLIT_BYTES) -> None:
        self.split_bytes = split_bytes

    def precheck(self, source: Endpoint, objects: ObjectSelection) -> list[PrecheckItem]:
        return _precheck.precheck(source, objects)

    def list_objects(self, source: Endpoint) -> list[DatabaseObject]:
        conn = connect(source, database="")
        try:
            return _list_objects(conn)
        finally:
            close_quietly(conn)

    def backup(
        self,
        source: Endpoint,
        objects: ObjectSelection,
        writer: BackupWriter,
        progress: Progress,
        *,
        parallel: int = 2,
    ) -> dict[str, Any]:
        return _backup.backup(
            source, objects, writer, progress, parallel=parallel, split_bytes=self.split_bytes
        )

    def restore(
        self,
        reader: BackupReader,
        target: Endpoint,
        options: RestoreOptions,
        progress: Progress,
    ) -> RestoreResult:
        return _restore.restore(reader, target, options, progress)


ENGINE = MySQLEngine()

__all__ = ["DEFAULT_SPLIT_BYTES", "ENGINE", "MySQLEngine"]
