"""Precheck: is the source a readable, intact SQLite database with something to back up?"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from dbs.engines.base import EngineError, PrecheckItem
from dbs.engines.endpoint import Endpoint
from dbs.engines.precheck_items import (
    CHECK_BACKUP_OBJECTS,
    CHECK_CONNECTIVITY,
    CHECK_INTEGRITY,
    CHECK_PRIVILEGES,
    CHECK_SOURCE_FILE,
    CHECK_SQLITE_FORMAT,
    CHECK_TEMP_SPACE,
)
from dbs.engines.selection import ObjectSelection
from dbs.engines.sqlite.connection import connect, endpoint_path, has_sqlite_header
from dbs.engines.sqlite.objects import is_selected, schema_objects
from dbs.engines.sqlite.verify import integrity_problems


def _file_items(path: Path) -> list[PrecheckItem]:
    """Existence, readability and format; stops at the first failure."""
    if not path.is_file():
        return [
            PrecheckItem(
                CHECK_SOURCE_FILE,
                "failed",
                f"{path} does not exist or is not a regular file",
                "give the absolute path of the database file, e.g. sqlite:///var/data/app.db",
            )
        ]
    items = [PrecheckItem(CHECK_SOURCE_FILE, "finish", f"{path} exists")]
    if not os.access(path, os.R_OK):
        items.append(
            PrecheckItem(
                CHECK_PRIVILEGES,
                "failed",
                f"{path} is not readable by this process (uid {os.getuid()})",
                f"grant read access, e.g. chmod o+r {path}, or run the worker as the file's owner",
            )
        )
        return items
    items.append(PrecheckItem(CHECK_PRIVILEGES, "finish", "readable"))
    if not has_sqlite_header(path):
        items.append(
            PrecheckItem(
                CHECK_SQLITE_FORMAT,
                "failed",
                f"{path} is not a SQLite 3 database (no 'SQLite format 3' header)",
                "point the source at the database file itself, not a dump, -wal or encrypted file",
            )
        )
        return items
    items.append(PrecheckItem(CHECK_SQLITE_FORMAT, "finish", "SQLite 3 database"))
    return items


def _space_item(path: Path) -> PrecheckItem:
    """The snapshot is staged in the temp directory before it is streamed."""
    tmp = tempfile.gettempdir()
    free = shutil.disk_usage(tmp).free
    size = path.stat().st_size
    if free < size * 1.1:
        return PrecheckItem(
            CHECK_TEMP_SPACE,
            "warning",
            f"{tmp} has {free} bytes free; the snapshot needs about {size}",
            "free space there or point TMPDIR at a larger disk",
        )
    return PrecheckItem(CHECK_TEMP_SPACE, "finish", f"{free} bytes free in {tmp}")


def precheck(source: Endpoint, selection: ObjectSelection) -> list[PrecheckItem]:
    try:
        path = endpoint_path(source, CHECK_SOURCE_FILE)
    except EngineError as exc:
        return [PrecheckItem(CHECK_SOURCE_FILE, "failed", exc.message, "use sqlite:///abs/path.db")]
    items = _file_items(path)
    if any(i.state == "failed" for i in items):
        return items
    try:
        conn = connect(path, readonly=True)
        try:
            objects = schema_objects(conn)
            problems = integrity_problems(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        items.append(
            PrecheckItem(
                CHECK_CONNECTIVITY,
                "failed",
                f"SQLite cannot read {path}: {exc}",
                "check the file is a complete database and that its directory is accessible",
            )
        )
        return items
    items.append(PrecheckItem(CHECK_CONNECTIVITY, "finish", f"SQLite {sqlite3.sqlite_version}"))
    if problems:
        items.append(
            PrecheckItem(
                CHECK_INTEGRITY,
                "warning",
                "PRAGMA integrity_check: " + "; ".join(problems[:5]),
                "the backup will copy the damage as it is; repair the database "
                "(e.g. sqlite3 app.db .recover) and back up again",
            )
        )
    else:
        items.append(PrecheckItem(CHECK_INTEGRITY, "finish", "PRAGMA integrity_check: ok"))
    chosen = [o for o in objects if is_selected(o, selection)]
    if chosen:
        items.append(
            PrecheckItem(CHECK_BACKUP_OBJECTS, "finish", f"{len(chosen)} tables/views selected")
        )
    else:
        items.append(
            PrecheckItem(
                CHECK_BACKUP_OBJECTS,
                "failed",
                f"the selection {selection.to_spec() or '*'!r} matches no table or view",
                "name SQLite objects as main.<table> (e.g. main.orders, main.*)",
            )
        )
    items.append(_space_item(path))
    return items
