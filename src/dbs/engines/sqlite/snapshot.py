"""A consistent copy of a live database, and narrowing a copy to chosen objects.

The copy is taken with SQLite's online backup API in ONE step (``pages=-1``):
the whole database is copied inside a single read transaction, so the copy is
exactly the database as of one commit. A stepped backup (``pages=N``) restarts
whenever another connection writes and, under a steady writer, never finishes
(measured: research/engines.md section 4). In WAL mode writers keep going while
the copy runs; in rollback-journal mode they wait for it (busy timeout).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from dbs.engines.selection import ObjectSelection
from dbs.engines.sqlite.connection import connect
from dbs.engines.sqlite.objects import SchemaObject, is_selected, quote_name, schema_objects

RETRY_SLEEP_SECONDS = 0.005
# In rollback-journal mode a writer that never pauses can starve the read lock.
LOCK_WAIT_SECONDS = 600.0


class SnapshotLockTimeout(Exception):
    """The one-step copy never got its read lock."""


def _give_up_after() -> Callable[[int, int, int], None]:
    deadline = time.monotonic() + LOCK_WAIT_SECONDS

    def check(status: int, remaining: int, total: int) -> None:
        # Called after every attempt, including the ones that found the database busy.
        busy = status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        if busy and time.monotonic() > deadline:
            raise SnapshotLockTimeout

    return check


def copy_database(source: Path, target: Path) -> None:
    """Copy ``source`` into the new file ``target`` as of one point in time."""
    src = connect(source, readonly=True)
    try:
        dst = sqlite3.connect(target, isolation_level=None)
        try:
            # In rollback-journal mode a busy writer makes the read lock fail now and
            # then (SQLITE_BUSY); retry soon rather than after the default 250 ms.
            src.backup(dst, pages=-1, sleep=RETRY_SLEEP_SECONDS, progress=_give_up_after())
        finally:
            dst.close()  # closing the last connection checkpoints any -wal into the file
    finally:
        src.close()


def copy_into_live(source: Path, target: Path) -> None:
    """Replace the content of the existing database ``target`` through SQLite itself,
    so its locks are honoured and no reader ever sees a half-written file."""
    src = connect(source, readonly=True)
    try:
        dst = connect(target, readonly=False)
        try:
            src.backup(dst, pages=-1)
        finally:
            dst.close()
    finally:
        src.close()


def narrow_to(path: Path, selection: ObjectSelection) -> list[SchemaObject]:
    """Drop every table and view ``selection`` does not pick; return what is kept.

    ``secure_delete`` zeroes the freed pages, so excluded data does not linger
    in the file. No VACUUM: it may renumber rowids of tables without an INTEGER
    PRIMARY KEY, and an exact restore keeps them.
    """
    conn = connect(path, readonly=False)
    try:
        objects = schema_objects(conn)
        dropped = [o for o in objects if not is_selected(o, selection)]
        if dropped:
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute("BEGIN IMMEDIATE")
            for obj in dropped:
                verb = "VIEW" if obj.kind == "view" else "TABLE"
                conn.execute(f"DROP {verb} main.{quote_name(obj.name)}")
            conn.execute("COMMIT")
        return [o for o in objects if o not in dropped]
    finally:
        conn.close()
