"""Restore dispatch: into a running server, or as an RDB file for a stopped one."""

from __future__ import annotations

from pathlib import Path

from dbs.engines.base import EngineError, RestoreOptions, RestoreResult
from dbs.engines.endpoint import Endpoint
from dbs.engines.redis.connection import db_number
from dbs.engines.redis.format import FORMAT_VERSION
from dbs.engines.redis.objects import KeyFilter, database_map
from dbs.engines.redis.restore_file import restore_to_file
from dbs.engines.redis.restore_live import LiveRestore
from dbs.streams import BackupReader, Progress


def restore(
    reader: BackupReader, target: Endpoint, options: RestoreOptions, progress: Progress
) -> RestoreResult:
    metadata = reader.metadata
    if metadata.get("engine") != "redis":
        raise EngineError("read backup set", f"it was made by engine {metadata.get('engine')!r}")
    if int(metadata.get("format_version", 0)) > FORMAT_VERSION:
        raise EngineError("read backup set", "its stream format is newer than this dbs; upgrade")
    keep = KeyFilter(options.objects)
    source_dbs = [
        int(db) for db in metadata.get("keys_per_db", {}) if keep.wants_db(int(db)) is not False
    ]
    rdb_file = options.extra.get("rdb_file")
    db_map = database_map(options.rename, None if rdb_file else db_number(target), source_dbs)
    progress.set_total(items_total=sum(int(metadata["keys_per_db"][str(d)]) for d in source_dbs))
    if rdb_file:
        return restore_to_file(
            reader, Path(str(rdb_file)), keep, db_map, options.conflict, progress
        )
    return LiveRestore(reader, target, keep, db_map, options.conflict, progress).run()
