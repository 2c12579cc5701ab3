"""Which tables and views a database holds, and which of them a selection picks."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from dbs.engines.base import DatabaseObject, EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.selection import ObjectSelection
from dbs.engines.sqlite.connection import connect, endpoint_path, has_sqlite_header
from dbs.engines.sqlite.format import SCHEMA_NAME


@dataclass(frozen=True)
class SchemaObject:
    name: str
    kind: Literal["table", "virtual", "view"]
    without_rowid: bool = False

    @property
    def dotted(self) -> str:
        return f"{SCHEMA_NAME}.{self.name}"

    @property
    def has_rows(self) -> bool:
        return self.kind != "view"


def _text(value: object) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


def schema_objects(conn: sqlite3.Connection) -> list[SchemaObject]:
    """User tables, virtual tables (FTS5 ...) and views; internal and shadow tables left out."""
    out: list[SchemaObject] = []
    for _schema, raw_name, kind, _ncol, without_rowid, _strict in conn.execute(
        "PRAGMA main.table_list"
    ):
        name = _text(raw_name)
        kind_s = _text(kind)
        # shadow = the hidden storage of a virtual table, sqlite_* = SQLite's own bookkeeping.
        if kind_s not in ("table", "virtual", "view") or name.startswith("sqlite_"):
            continue
        out.append(SchemaObject(name, kind_s, bool(without_rowid)))  # type: ignore[arg-type]
    return sorted(out, key=lambda o: o.name)


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_selected(obj: SchemaObject, selection: ObjectSelection) -> bool:
    return selection.selects(SCHEMA_NAME, obj.name)


def count_rows(conn: sqlite3.Connection, obj: SchemaObject) -> int:
    row = conn.execute(f"SELECT count(*) FROM main.{quote_name(obj.name)}").fetchone()
    return int(row[0])


def list_objects(source: Endpoint) -> list[DatabaseObject]:
    """The database (its size with the -wal) and every table with its row count."""
    path = endpoint_path(source, "list objects")
    if not path.is_file() or not has_sqlite_header(path):
        raise EngineError("list objects", f"{path} is not a SQLite database file")
    try:
        conn = connect(path, readonly=True)
        try:
            tables = [o for o in schema_objects(conn) if o.has_rows]
            wal = path.with_name(path.name + "-wal")
            size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
            listed = [DatabaseObject("database", SCHEMA_NAME, size_bytes=size)]
            listed += [DatabaseObject("table", t.dotted, rows=count_rows(conn, t)) for t in tables]
            return listed
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise EngineError("list objects", f"SQLite cannot read {path}: {exc}") from exc
