"""The PostgreSQL engine object: the `Engine` protocol over this package's modules."""

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
from dbs.engines.postgresql import backup as backup_mod
from dbs.engines.postgresql import precheck as precheck_mod
from dbs.engines.postgresql import restore as restore_mod
from dbs.engines.postgresql.listing import list_objects
from dbs.engines.selection import ObjectSelection


class PostgresEngine:
    name = "postgresql"

    def __init__(self, split_bytes: int = backup_mod.DEFAULT_SPLIT_BYTES) -> None:
        self.split_bytes = split_bytes  # tables this big are read as several key ranges

    def precheck(self, source: Endpoint, objects: ObjectSelection) -> list[PrecheckItem]:
        return precheck_mod.precheck(source, objects)

    def list_objects(self, source: Endpoint) -> list[DatabaseObject]:
        return list_objects(source)

    def backup(
        self,
        source: Endpoint,
        objects: ObjectSelection,
        writer: BackupWriter,
        progress: Progress,
        *,
        parallel: int = 2,
    ) -> dict[str, Any]:
        return backup_mod.backup(source, objects, writer, progress, parallel, self.split_bytes)

    def restore(
        self,
        reader: BackupReader,
        target: Endpoint,
        options: RestoreOptions,
        progress: Progress,
    ) -> RestoreResult:
        return restore_mod.restore(reader, target, options, progress)


ENGINE = PostgresEngine()
