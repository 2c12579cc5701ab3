"""Proof that a database is intact: integrity check and per-table content digests.

The digest is computed the same way at backup time (on the snapshot) and after
a restore (on the restored file), so any lost, reordered or altered value -- or
a changed storage class, e.g. TEXT '1' becoming INTEGER 1 -- changes it.
"""

from __future__ import annotations

import sqlite3
import struct

from blake3 import blake3

from dbs.engines.sqlite.objects import SchemaObject, quote_name

_FETCH = 1000


class _Text(bytes):
    """TEXT values as raw bytes, told apart from BLOBs (text_factory hook)."""


def integrity_problems(conn: sqlite3.Connection, limit: int = 20) -> list[str]:
    """``PRAGMA integrity_check`` findings; empty when the database is intact."""
    rows = conn.execute(f"PRAGMA main.integrity_check({limit})").fetchall()
    found = [r[0].decode() if isinstance(r[0], bytes) else str(r[0]) for r in rows]
    return [] if found == ["ok"] else found


def _encode(value: object) -> bytes:
    # One tag byte per storage class, lengths before variable-size values.
    if value is None:
        return b"n"
    if isinstance(value, int):
        return b"i" + value.to_bytes(8, "little", signed=True)
    if isinstance(value, float):
        return b"f" + struct.pack("<d", value)
    if isinstance(value, _Text):
        return b"t" + len(value).to_bytes(8, "little") + value
    if isinstance(value, bytes):
        return b"b" + len(value).to_bytes(8, "little") + value
    raise TypeError(f"unexpected SQLite value type {type(value).__name__}")


def _order_clause(conn: sqlite3.Connection, obj: SchemaObject) -> tuple[str, str]:
    """(extra leading column, ORDER BY) that fix a stable row order."""
    columns = [r[1] for r in conn.execute(f"PRAGMA main.table_info({quote_name(obj.name)})")]
    names = {c.decode() if isinstance(c, bytes) else str(c) for c in columns}
    if obj.without_rowid:
        pk = sorted(
            (r[5], r[1].decode() if isinstance(r[1], bytes) else str(r[1]))
            for r in conn.execute(f"PRAGMA main.table_info({quote_name(obj.name)})")
            if r[5]
        )
        return "", " ORDER BY " + ", ".join(quote_name(n) for _, n in pk)
    # The rowid is part of the data (it is what foreign keys and apps refer to).
    alias = next(a for a in ("rowid", "_rowid_", "oid") if a not in names)
    return f"{alias}, ", f" ORDER BY {alias}"


def table_digest(conn: sqlite3.Connection, obj: SchemaObject) -> tuple[int, str]:
    """(row count, hex BLAKE3 of every value in row order) for one table."""
    lead, order = _order_clause(conn, obj)
    previous = conn.text_factory
    conn.text_factory = _Text
    try:
        cursor = conn.execute(f"SELECT {lead}* FROM main.{quote_name(obj.name)}{order}")
        hasher = blake3()
        rows = 0
        while batch := cursor.fetchmany(_FETCH):
            rows += len(batch)
            hasher.update(b"".join(b"r" + b"".join(map(_encode, row)) for row in batch))
        return rows, hasher.hexdigest()
    finally:
        conn.text_factory = previous
