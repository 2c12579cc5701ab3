"""Backing up and restoring through the Redis engine in tests (servers: `testbed.redis_server`)."""

from __future__ import annotations

from typing import Any

from dbs.engines.base import RestoreOptions, RestoreResult
from dbs.engines.endpoint import Endpoint
from dbs.engines.redis import ENGINE
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress


def back_up(
    repository: Any, endpoint: Endpoint, selection: str | None = None
) -> tuple[str, dict[str, Any]]:
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(endpoint, ObjectSelection.parse(selection), writer, NullProgress())
        info = writer.commit(metadata)
    return str(info.id), metadata


def restore(repository: Any, set_id: str, endpoint: Endpoint, **options: Any) -> RestoreResult:
    reader = repository.open_backup_set(set_id)
    return ENGINE.restore(reader, endpoint, RestoreOptions(**options), NullProgress())
