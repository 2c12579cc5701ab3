"""Which databases and tables exist, and which of them a selection covers."""

from __future__ import annotations

from dataclasses import dataclass

from dbs.engines.base import DatabaseObject
from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql.connection import Connection, close_quietly, connect, query_rows, text
from dbs.engines.selection import ObjectSelection

# Server-owned schemas: never backed up unless named explicitly in an include pattern.
SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})


@dataclass(frozen=True)
class TableRef:
    database: str
    name: str
    engine: str
    rows_estimate: int
    data_bytes: int

    @property
    def dotted(self) -> str:
        return f"{self.database}.{self.name}"


def list_databases(conn: Connection) -> list[str]:
    return [text(r[0]) for r in query_rows(conn, "SHOW DATABASES")]


def list_tables(conn: Connection, database: str) -> list[TableRef]:
    """Base tables (not views) of ``database`` with the server's size estimates."""
    rows = query_rows(
        conn,
        "SELECT TABLE_NAME, ENGINE, TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
        (database,),
    )
    return [
        TableRef(database, text(name), text(engine), int(trows or 0), int(length or 0))
        for name, engine, trows, length in rows
    ]


def _explicitly_included(selection: ObjectSelection, database: str) -> bool:
    return any(p.split(".")[0] == database for p in selection.includes)


def selected_databases(conn: Connection, selection: ObjectSelection) -> list[str]:
    out = []
    for db in list_databases(conn):
        if db in SYSTEM_SCHEMAS and not _explicitly_included(selection, db):
            continue
        if db == "information_schema" or db == "performance_schema":
            continue  # views over server state, nothing to back up
        if selection.may_select_database(db):
            out.append(db)
    return out


def selected_tables(
    conn: Connection, selection: ObjectSelection, only_database: str | None = None
) -> dict[str, list[TableRef]]:
    """database -> its selected base tables; a database selected as a whole may have none.

    ``only_database``: the database a source URL names; the selection then picks within it.
    """
    out: dict[str, list[TableRef]] = {}
    for db in selected_databases(conn, selection):
        if only_database and db != only_database:
            continue
        tables = [t for t in list_tables(conn, db) if selection.selects(db, t.name)]
        if tables or selection.selects(db):
            out[db] = tables
    return out


def list_objects(source: Endpoint) -> list[DatabaseObject]:
    """Every database (system schemas left out) and its base tables, with size estimates."""
    conn = connect(source, database="")
    try:
        selected = selected_tables(conn, ObjectSelection.everything())
    finally:
        close_quietly(conn)
    objects: list[DatabaseObject] = []
    for db, tables in selected.items():
        objects.append(
            DatabaseObject(
                kind="database",
                name=db,
                rows=sum(t.rows_estimate for t in tables),
                size_bytes=sum(t.data_bytes for t in tables),
            )
        )
        objects.extend(
            DatabaseObject(
                kind="table", name=t.dotted, rows=t.rows_estimate, size_bytes=t.data_bytes
            )
            for t in tables
        )
    return objects
