"""Which tables and views a database holds, and which of them a selection picks."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from dbs.engines.selection import ObjectSelection
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
