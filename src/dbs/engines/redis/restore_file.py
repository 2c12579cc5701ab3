"""Restore by placing an RDB file for a stopped server (``--rdb-file PATH``).

The whole snapshot is written byte for byte; a selection or a database rename
rebuilds the file from the selected records. Either way the file is written
under a temporary name, parsed back (CRC64 and key counts) and only then moved
to PATH.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

from dbs.engines.base import EngineError, RestoreResult
from dbs.engines.redis.format import RDB_STREAM
from dbs.engines.redis.objects import KeyFilter
from dbs.engines.redis.rdb import ChunkReader, KeyRecord, RdbParser
from dbs.engines.redis.rdb_writer import RdbWriter
from dbs.engines.redis.verify import rdb_file_mismatches
from dbs.streams import BackupReader, Progress


def _free_name(path: Path) -> Path:
    n = 1
    while (candidate := path.with_name(f"{path.stem}.restored-{n}{path.suffix}")).exists():
        n += 1
    return candidate


def _rebuilt(
    reader: BackupReader, keep: KeyFilter, db_map: Mapping[int, int], expected: Counter[int]
) -> Iterator[bytes]:
    parser = RdbParser(ChunkReader(reader.open_stream(RDB_STREAM)))
    writer: RdbWriter | None = None
    for record in parser.records():
        if writer is None:
            writer = RdbWriter(parser.version, parser.aux)
        if isinstance(record, KeyRecord):
            if not keep.wants(record.db, record.key):
                continue
            record = dataclasses.replace(record, db=db_map.get(record.db, record.db))
            expected[record.db] += 1
        elif not keep.everything:
            continue  # function libraries are instance-wide: only with everything
        yield from writer.add(record)
    yield (writer or RdbWriter(parser.version, parser.aux)).finish()


def restore_to_file(
    reader: BackupReader,
    path: Path,
    keep: KeyFilter,
    db_map: Mapping[int, int],
    conflict: str,
    progress: Progress,
) -> RestoreResult:
    if not path.parent.is_dir():
        raise EngineError("check --rdb-file", f"directory {path.parent} does not exist")
    if path.exists():
        if conflict == "skip":
            progress.step(f"{path} exists and the conflict rule is skip: nothing restored")
            return RestoreResult(verified=True)
        if conflict == "renamenew":
            path = _free_name(path)
        elif conflict != "overwrite":
            raise EngineError(
                "check --rdb-file",
                f"{path} exists; stop the server and use conflict rule overwrite, "
                "or give another path",
            )
    identity = all(s == t for s, t in db_map.items())
    expected: Counter[int] = Counter()
    if keep.everything and identity:
        pieces: Iterator[bytes] = reader.open_stream(RDB_STREAM)
        recorded = reader.metadata.get("keys_per_db", {})
        expected.update({int(db): int(n) for db, n in recorded.items()})
    else:
        pieces = _rebuilt(reader, keep, db_map, expected)
    fd, staged_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".dbs-restore", dir=path.parent
    )
    staged = Path(staged_name)
    try:
        with os.fdopen(fd, "wb") as f:
            for piece in pieces:
                f.write(piece)
                progress.advance(bytes_done=len(piece))
            f.flush()
            os.fsync(f.fileno())
        progress.step(f"verify {path.name}: parse it back, CRC64 and key counts")
        mismatches = rdb_file_mismatches(staged, expected)
        os.replace(staged, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
    return RestoreResult(
        restored={str(s): f"{path}#db{t}" for s, t in sorted(db_map.items())},
        verified=not mismatches,
        mismatches=mismatches,
    )
