"""list_objects: databases, schemas and tables of a server, dotted as selections name them."""

from __future__ import annotations

import psycopg

from dbs.engines.base import DatabaseObject, EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.postgresql.connection import describe, session
from dbs.engines.postgresql.objects import list_databases, list_schemas, list_tables


def list_objects(source: Endpoint) -> list[DatabaseObject]:
    out: list[DatabaseObject] = []
    with session(source, None, "list databases") as conn:
        databases = list_databases(conn)
    if source.database:
        databases = [(n, s) for n, s in databases if n == source.database]
    for name, size in databases:
        out.append(DatabaseObject("database", name, size_bytes=size))
        with session(source, name, f"list tables of database {name}") as conn:
            try:
                schemas = list_schemas(conn)
                tables = list_tables(conn)
            except psycopg.Error as exc:
                raise EngineError(f"list tables of database {name}", describe(exc)) from None
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
