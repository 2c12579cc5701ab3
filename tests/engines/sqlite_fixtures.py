"""Helpers shared by the SQLite engine tests: back up into and restore from the real repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbs.engines.base import RestoreOptions, RestoreResult
from dbs.engines.endpoint import Endpoint, parse_endpoint
from dbs.engines.selection import ObjectSelection
from dbs.engines.sqlite import ENGINE
from dbs.streams import NullProgress


def endpoint(path: Path) -> Endpoint:
    return parse_endpoint(f"sqlite://{path}")


def back_up(
    repository: Any, path: Path, selection: ObjectSelection | None = None
) -> tuple[str, dict[str, Any]]:
    """Back up ``path`` through the real repository; (backup set id, metadata)."""
    with repository.begin_backup() as writer:
        metadata = ENGINE.backup(
            endpoint(path), selection or ObjectSelection.everything(), writer, NullProgress()
        )
        info = writer.commit(metadata)
    return str(info.id), metadata


def restore(repository: Any, set_id: str, target: Path, **options: Any) -> RestoreResult:
    reader = repository.open_backup_set(set_id)
    return ENGINE.restore(reader, endpoint(target), RestoreOptions(**options), NullProgress())
