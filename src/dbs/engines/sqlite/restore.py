"""Restore: write the database image to a new file, narrow it, verify it, put it in place.

The image is written beside the target under a temporary name and only linked
to the target name once it passed ``PRAGMA integrity_check`` and the per-table
digests, so a failed restore never leaves a half-written database behind.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dbs.engines.base import EngineError, RestoreOptions, RestoreResult
from dbs.engines.endpoint import Endpoint
from dbs.engines.sqlite.connection import connect, endpoint_path
from dbs.engines.sqlite.format import DATABASE_STREAM, FORMAT_VERSION, SCHEMA_NAME
from dbs.engines.sqlite.holders import processes_holding
from dbs.engines.sqlite.objects import SchemaObject
from dbs.engines.sqlite.snapshot import copy_into_live, narrow_to
from dbs.engines.sqlite.verify import integrity_problems, table_digest
from dbs.streams import BackupReader, Progress, closing_stream

_SIDE_FILES = ("-wal", "-shm", "-journal")


def _check_metadata(metadata: Mapping[str, Any]) -> None:
    if metadata.get("engine") != "sqlite":
        raise EngineError("read backup set", f"it was made by engine {metadata.get('engine')!r}")
    if int(metadata.get("format_version", 0)) > FORMAT_VERSION:
        raise EngineError(
            "read backup set",
            f"stream format {metadata.get('format_version')} is newer than this dbs "
            f"understands ({FORMAT_VERSION}); upgrade dbs",
        )


def _free_name(path: Path) -> Path:
    """``app.restored-1.db``, ``app.restored-2.db`` ... the first that does not exist."""
    n = 1
    while True:
        candidate = path.with_name(f"{path.stem}.restored-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
        n += 1


def choose_target(
    target: Path, metadata: Mapping[str, Any], conflict: str
) -> tuple[Path, bool] | None:
    """(final path, whether it is an existing database to overwrite), or None to skip."""
    if target.is_dir():
        target = target / str(metadata.get("file_name") or "restored.db")
    if not target.parent.is_dir():
        raise EngineError("check target", f"directory {target.parent} does not exist; create it")
    if not target.exists():
        stale = [s for s in _SIDE_FILES if Path(f"{target}{s}").exists()]
        if stale:
            raise EngineError(
                "check target",
                f"{target} does not exist but {target}{stale[0]} does (left from an older "
                "database); remove it or restore to another path",
            )
        return target, False
    if conflict == "renamenew":
        return _free_name(target), False
    if conflict == "overwrite":
        return target, True
    if conflict == "skip":
        return None
    raise EngineError(
        "check target",
        f"{target} already exists; restore to a new path, or use conflict rule "
        "renamenew (new name beside it) or overwrite",
    )


def _write_stream(reader: BackupReader, path: Path, progress: Progress) -> None:
    with path.open("wb") as f, closing_stream(reader.open_stream(DATABASE_STREAM)) as pieces:
        for piece in pieces:
            f.write(piece)
            progress.advance(bytes_done=len(piece))
        f.flush()
        os.fsync(f.fileno())


def verify_database(path: Path, kept: list[SchemaObject], metadata: Mapping[str, Any]) -> list[str]:
    """Mismatches between the restored file and what the backup recorded."""
    expected = {o["name"]: o for o in metadata.get("objects", [])}
    mismatches: list[str] = []
    conn = connect(path, readonly=False)
    try:
        problems = integrity_problems(conn)
        if problems and metadata.get("integrity") == "ok":
            mismatches.append(f"integrity_check: {'; '.join(problems[:5])}")
        for obj in kept:
            want = expected.get(obj.dotted)
            if want is None:
                mismatches.append(f"{obj.dotted}: not in the backup's object list")
            elif obj.has_rows:
                rows, digest = table_digest(conn, obj)
                if (rows, digest) != (want.get("rows"), want.get("digest")):
                    mismatches.append(
                        f"{obj.dotted}: {rows} rows digest {digest[:16]}, "
                        f"backup had {want.get('rows')} rows digest {str(want.get('digest'))[:16]}"
                    )
    finally:
        conn.close()
    return mismatches


def _remove(path: Path) -> None:
    for suffix in ("", *_SIDE_FILES):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _overwrite(staged: Path, final: Path) -> None:
    holders = processes_holding(final)
    if holders:
        raise EngineError(
            "overwrite target",
            f"{final} is open in process(es) {holders}; stop them first, or restore to a new path",
        )
    try:
        copy_into_live(staged, final)
    except sqlite3.Error as exc:
        raise EngineError(
            "overwrite target", f"{exc}; another connection may hold {final}"
        ) from exc


def restore(
    reader: BackupReader, target: Endpoint, options: RestoreOptions, progress: Progress
) -> RestoreResult:
    metadata = reader.metadata
    _check_metadata(metadata)
    requested = endpoint_path(target, "check target")
    chosen = choose_target(requested, metadata, options.conflict)
    if chosen is None:
        progress.step(f"{requested} exists and the conflict rule is skip: nothing restored")
        return RestoreResult(verified=True)
    final, existing = chosen
    progress.set_total(bytes_total=int(metadata.get("size", 0)) or None)
    fd, staged_name = tempfile.mkstemp(
        prefix=f".{final.name}.", suffix=".dbs-restore", dir=final.parent
    )
    os.close(fd)
    staged = Path(staged_name)
    try:
        progress.step(f"write stream {DATABASE_STREAM} to {staged}")
        _write_stream(reader, staged, progress)
        if not options.objects.is_everything():
            progress.step(f"keep only {options.objects.to_spec()!r}")
        kept = narrow_to(staged, options.objects)
        if not kept:
            raise EngineError(
                "select objects",
                f"{options.objects.to_spec()!r} matches nothing in the backup; "
                "SQLite objects are named main.<table>",
            )
        progress.step("verify: PRAGMA integrity_check and per-table digests")
        mismatches = verify_database(staged, kept, metadata)
        if existing:
            progress.step(f"overwrite {final} through SQLite (exclusive lock)")
            _overwrite(staged, final)
            mismatches += verify_database(final, kept, metadata)
        else:
            try:
                os.link(staged, final)  # fails instead of replacing a file that appeared meanwhile
            except FileExistsError as exc:
                raise EngineError("place restored file", f"{final} appeared meanwhile") from exc
        for m in mismatches:
            progress.step(f"MISMATCH {m}")
        return RestoreResult(
            restored={SCHEMA_NAME: str(final)}, verified=not mismatches, mismatches=mismatches
        )
    finally:
        _remove(staged)
