"""What a server holds: databases, schemas, tables with their columns, sequences; listing
them as selections name them (dotted), and which of them a selection covers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from dbs.engines.base import DatabaseObject, EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.postgresql.connection import connect, describe, session
from dbs.engines.selection import ObjectSelection

SYSTEM_SCHEMAS_SQL = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
    "AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'"
)

# Tables owned by an extension are recreated by CREATE EXTENSION, not dumped.
NOT_EXTENSION_MEMBER_SQL = (
    "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = "
    "'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')"
)

Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass
class TableInfo:
    schema: str
    name: str
    columns: list[str] = field(default_factory=list)  # stored columns, in attnum order
    rows_estimate: int = 0
    size_bytes: int = 0
    primary_key: list[str] = field(default_factory=list)  # columns, in key order

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema, self.name)


@dataclass
class SequenceInfo:
    schema: str
    name: str
    owned_by: tuple[str, str] | None  # (schema, table) when the sequence belongs to a table


def list_databases(conn: Conn) -> list[tuple[str, int]]:
    """Connectable, non-template databases with their size."""
    rows = conn.execute(
        "SELECT datname, pg_catalog.pg_database_size(oid) FROM pg_catalog.pg_database "
        "WHERE datallowconn AND NOT datistemplate ORDER BY datname"
    ).fetchall()
    return [(str(r[0]), int(r[1])) for r in rows]


def list_schemas(conn: Conn) -> list[str]:
    rows = conn.execute(
        f"SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE {SYSTEM_SCHEMAS_SQL} ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def list_tables(conn: Conn) -> list[TableInfo]:
    """Tables that hold rows: plain tables and partitions (partitioned parents hold none)."""
    rows = conn.execute(
        f"""
        SELECT n.nspname, c.relname, GREATEST(c.reltuples, 0)::bigint,
               pg_catalog.pg_total_relation_size(c.oid),
               ARRAY(SELECT a.attname FROM pg_catalog.pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       AND a.attgenerated = ''
                     ORDER BY a.attnum),
               ARRAY(SELECT a.attname FROM pg_catalog.pg_index i,
                            unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord),
                            pg_catalog.pg_attribute a
                     WHERE i.indrelid = c.oid AND i.indisprimary AND a.attrelid = c.oid
                       AND a.attnum = k.attnum
                     ORDER BY k.ord)
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND {SYSTEM_SCHEMAS_SQL} AND {NOT_EXTENSION_MEMBER_SQL}
        ORDER BY pg_catalog.pg_total_relation_size(c.oid) DESC, 1, 2
        """
    ).fetchall()
    return [
        TableInfo(
            str(r[0]),
            str(r[1]),
            [str(c) for c in r[4]],
            int(r[2]),
            int(r[3]),
            [str(c) for c in r[5]],
        )
        for r in rows
    ]


def list_sequences(conn: Conn) -> list[SequenceInfo]:
    """Sequences not owned by an extension, with the table that owns each (serial/identity)."""
    rows = conn.execute(
        f"""
        SELECT n.nspname, c.relname, tn.nspname, t.relname
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass
             AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
             AND d.deptype IN ('a', 'i')
        LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
        LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
        WHERE c.relkind = 'S' AND {SYSTEM_SCHEMAS_SQL} AND {NOT_EXTENSION_MEMBER_SQL}
        ORDER BY 1, 2
        """
    ).fetchall()
    return [
        SequenceInfo(str(r[0]), str(r[1]), (str(r[2]), str(r[3])) if r[3] is not None else None)
        for r in rows
    ]


def selected_tables(
    database: str, tables: list[TableInfo], selection: ObjectSelection
) -> list[TableInfo]:
    return [t for t in tables if selection.selects(database, t.schema, t.name)]


def selects_whole_database(selection: ObjectSelection) -> bool:
    """True when the selection names databases only (no table or schema patterns)."""
    return selection.names_databases_only()


def list_objects(source: Endpoint) -> list[DatabaseObject]:
    out: list[DatabaseObject] = []
    with session(source, None, "list databases") as conn:
        databases = list_databases(conn)
    if source.database:
        databases = [(n, s) for n, s in databases if n == source.database]
    for name, size in databases:
        step = f"list tables of database {name}"
        try:
            dbconn = connect(source, name)
        except psycopg.errors.InvalidCatalogName:
            continue  # dropped since it was listed: it is not there to list
        except psycopg.Error as exc:
            raise EngineError(
                step, f"cannot connect to {source.display()}: {describe(exc)}"
            ) from None
        with dbconn:
            try:
                schemas = list_schemas(dbconn)
                tables = list_tables(dbconn)
            except psycopg.Error as exc:
                raise EngineError(step, describe(exc)) from None
        out.append(DatabaseObject("database", name, size_bytes=size))
        out += [DatabaseObject("schema", f"{name}.{s}") for s in schemas]
        out += [
            DatabaseObject(
                "table",
                f"{name}.{t.schema}.{t.name}",
                rows=t.rows_estimate,
                size_bytes=t.size_bytes,
            )
            for t in tables
        ]
    return out
