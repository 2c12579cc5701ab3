"""The Redis engine: the `Engine` protocol over the modules of this package."""

from __future__ import annotations

from typing import Any

import redis

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
from dbs.engines.redis.backup import run_backup
from dbs.engines.redis.connection import client
from dbs.engines.redis.objects import keyspace_objects
from dbs.engines.redis.precheck import run_precheck
from dbs.engines.redis.restore import run_restore
from dbs.engines.redis.server import server_facts
from dbs.engines.selection import ObjectSelection


class RedisEngine:
    name = "redis"

    def precheck(self, source: Endpoint, objects: ObjectSelection) -> list[PrecheckItem]:
        return run_precheck(source, objects)

    def list_objects(self, source: Endpoint) -> list[DatabaseObject]:
        try:
            return keyspace_objects(server_facts(client(source)).keyspace)
        except redis.RedisError as exc:
            raise EngineError("list objects", f"{exc}; run precheck") from exc

    def backup(
        self,
        source: Endpoint,
        objects: ObjectSelection,
        writer: BackupWriter,
        progress: Progress,
        *,
        parallel: int = 2,  # one snapshot, one stream
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
