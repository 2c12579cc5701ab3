"""Schema objects as records: read them from a source, and re-create them in a target.

The schema stream of a database is JSON Lines, one object per line, in creation order:
``database``, then ``table`` records, then ``view``, ``procedure``, ``function``,
``trigger`` and ``event`` records. Each holds the server's own ``SHOW CREATE`` text and
the session settings it must run under (``sql_mode``, client character set), so a
restore runs exactly what the source server would print.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from dbs.engines.mysql.connection import Connection, query_rows, quote_ident, text

Record = dict[str, Any]


def _show_create(conn: Connection, statement: str) -> tuple[str, ...]:
    rows = query_rows(conn, statement)
    return tuple(text(v) for v in rows[0])


def database_record(conn: Connection, database: str) -> Record:
    create = _show_create(conn, f"SHOW CREATE DATABASE {quote_ident(database)}")[1]
    return {"kind": "database", "name": database, "create": create}


def table_record(conn: Connection, database: str, table: str) -> Record:
    create = _show_create(conn, f"SHOW CREATE TABLE {quote_ident(database)}.{quote_ident(table)}")
    return {"kind": "table", "name": table, "create": create[1]}


def post_data_records(conn: Connection, database: str, tables: set[str]) -> Iterator[Record]:
    """Views, routines, triggers (of ``tables``) and events, as SHOW CREATE prints them.

    The connection's default database must be ``database``: the server then omits it from
    names inside view definitions, so they follow the database when it is renamed.
    """
    q = quote_ident(database)
    for (name,) in query_rows(
        conn,
        "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s "
        "ORDER BY TABLE_NAME",
        (database,),
    ):
        row = _show_create(conn, f"SHOW CREATE VIEW {q}.{quote_ident(text(name))}")
        yield {
            "kind": "view", "name": text(name), "create": row[1],
            "character_set_client": row[2], "collation_connection": row[3],
        }  # fmt: skip
    for kind in ("PROCEDURE", "FUNCTION"):
        for (name,) in query_rows(
            conn,
            "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s "
            "AND ROUTINE_TYPE = %s ORDER BY ROUTINE_NAME",
            (database, kind),
        ):
            row = _show_create(conn, f"SHOW CREATE {kind} {q}.{quote_ident(text(name))}")
            yield {
                "kind": kind.lower(), "name": text(name), "sql_mode": row[1], "create": row[2],
                "character_set_client": row[3], "collation_connection": row[4],
            }  # fmt: skip
    for name, table in query_rows(
        conn,
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
        "WHERE TRIGGER_SCHEMA = %s ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER",
        (database,),
    ):
        if text(table) not in tables:
            continue
        row = _show_create(conn, f"SHOW CREATE TRIGGER {q}.{quote_ident(text(name))}")
        yield {
            "kind": "trigger", "name": text(name), "table": text(table), "sql_mode": row[1],
            "create": row[2], "character_set_client": row[3], "collation_connection": row[4],
        }  # fmt: skip
    for (name,) in query_rows(
        conn,
        "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s "
        "ORDER BY EVENT_NAME",
        (database,),
    ):
        row = _show_create(conn, f"SHOW CREATE EVENT {q}.{quote_ident(text(name))}")
        yield {
            "kind": "event", "name": text(name), "sql_mode": row[1], "time_zone": row[2],
            "create": row[3], "character_set_client": row[4], "collation_connection": row[5],
        }  # fmt: skip


def encode(record: Record) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


def decode_stream(chunks: Iterator[bytes]) -> Iterator[Record]:
    """Records from a schema stream, one line at a time (the stream is never held whole)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line:
                yield json.loads(line)
    if pending.strip():
        yield json.loads(pending)


# DEFINER=`user`@`host` in the header of a view, routine, trigger or event.
_DEFINER = re.compile(
    r"\sDEFINER\s*=\s*(?:`(?:[^`]|``)*`|'[^']*'|\S+)@(?:`(?:[^`]|``)*`|'[^']*'|\S+)"
)


def drop_definer(create: str) -> str:
    """The statement without its DEFINER clause: the object then belongs to the restoring user."""
    return _DEFINER.sub("", create, count=1)


def create_in(conn: Connection, record: Record, *, keep_definer: bool) -> None:
    """Run a post-data record's CREATE in the connection's current database."""
    create = record["create"] if keep_definer else drop_definer(record["create"])
    settings = []
    if "sql_mode" in record:
        settings.append(("sql_mode", record["sql_mode"]))
    if record.get("time_zone"):
        settings.append(("time_zone", record["time_zone"]))
    # Statements travel as utf8mb4; a utf8mb4 collation is kept as recorded (it decides how
    # string literals in the body compare), another client character set cannot be replayed.
    if str(record.get("collation_connection", "")).startswith("utf8mb4"):
        settings.append(("collation_connection", record["collation_connection"]))
    with conn.cursor() as cur:
        cur.execute(
            "SELECT @@SESSION.sql_mode, @@SESSION.time_zone, @@SESSION.character_set_client, "
            "@@SESSION.collation_connection"
        )
        saved = cur.fetchone()
        for name, value in settings:
            cur.execute(f"SET SESSION {name} = %s", (value,))
        try:
            cur.execute(create)
        finally:
            cur.execute(
                "SET SESSION sql_mode = %s, time_zone = %s, character_set_client = %s, "
                "collation_connection = %s",
                tuple(saved),
            )
