"""Precheck: can this account back up the selected objects? Each failing item says how to fix it."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import psycopg

from dbs.engines.base import EngineError, PrecheckItem
from dbs.engines.endpoint import Endpoint
from dbs.engines.postgresql.connection import connect, describe
from dbs.engines.postgresql.objects import (
    NOT_EXTENSION_MEMBER_SQL,
    SYSTEM_SCHEMAS_SQL,
    list_databases,
)
from dbs.engines.postgresql.tools import find_tool
from dbs.engines.precheck_items import (
    CHECK_BACKUP_OBJECTS,
    CHECK_CLIENT_TOOLS,
    CHECK_CONNECTIVITY,
    CHECK_DATABASE_PRIVILEGE,
    CHECK_PRIVILEGES,
    CHECK_SERVER_VERSION,
    CHECK_SNAPSHOT_EXPORT,
)
from dbs.engines.selection import ObjectSelection

MIN_VERSION = 120000
SHOW_AT_MOST = 5

Conn = psycopg.Connection[tuple[Any, ...]]


def _connect_fix(exc: psycopg.Error, endpoint: Endpoint) -> str:
    text = str(exc)
    user = endpoint.user or "the backup user"
    if "password authentication failed" in text or "no password supplied" in text:
        return (
            f"check the password of {user}, or set it on the server: "
            f"ALTER ROLE {user} PASSWORD '...'"
        )
    if "does not exist" in text and "role" in text:
        return f"create the account: CREATE ROLE {user} LOGIN PASSWORD '...'"
    if "does not exist" in text and "database" in text:
        return "check the database name in the source URL (psql -l lists them)"
    if "pg_hba.conf" in text and "no encryption" in text:
        return (
            "the server accepts only TLS connections from here: add ?sslmode=require to the "
            "source URL (or sslmode=verify-full&sslrootcert=/path/to/ca.pem to verify it)"
        )
    if "pg_hba.conf" in text:
        return (
            f"allow {user} in pg_hba.conf (e.g. 'host all {user} <dbs-host>/32 "
            "scram-sha-256') and reload the server"
        )
    return (
        "check host and port, that the server is running and listens there "
        "(listen_addresses), and that no firewall blocks it"
    )


def _shorten(names: list[str]) -> str:
    more = len(names) - SHOW_AT_MOST
    return ", ".join(names[:SHOW_AT_MOST]) + (f" and {more} more" if more > 0 else "")


def _client_tools(server_num: int) -> PrecheckItem:
    try:
        pg_dump = find_tool("pg_dump")
        find_tool("psql")
        find_tool("pg_restore")
    except EngineError as exc:
        return PrecheckItem(
            CHECK_CLIENT_TOOLS,
            "failed",
            exc.message,
            "install postgresql-client of the server's major version or newer",
        )
    out = subprocess.run([pg_dump, "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    major = int(match.group(1)) if match else 0
    if major < server_num // 10000:
        return PrecheckItem(
            CHECK_CLIENT_TOOLS,
            "failed",
            f"pg_dump {major} is older than the server ({server_num // 10000})",
            f"install postgresql-client-{server_num // 10000} or newer on the dbs host",
        )
    return PrecheckItem(CHECK_CLIENT_TOOLS, "finish", f"pg_dump {major}")


def _privileges(conn: Conn, database: str, objects: ObjectSelection, version: int) -> list[str]:
    """Selected tables and sequences the account cannot read."""
    rows = conn.execute(
        f"""
        SELECT n.nspname, c.relname, c.relkind,
               CASE WHEN c.relkind = 'S' THEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT')
                    ELSE pg_catalog.has_table_privilege(c.oid, 'SELECT') END,
               pg_catalog.has_schema_privilege(n.oid, 'USAGE')
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'S', 'm') AND {SYSTEM_SCHEMAS_SQL}
          AND {NOT_EXTENSION_MEMBER_SQL}
        ORDER BY 1, 2
        """
    ).fetchall()
    denied = []
    for schema, name, kind, can_select, can_use in rows:
        if kind != "S" and not objects.selects(database, schema, name):
            continue
        if not (can_select and can_use):
            denied.append(f"{database}.{schema}.{name}")
    return denied


def _snapshot_export(conn: Conn) -> None:
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    try:
        conn.execute("SELECT pg_catalog.pg_export_snapshot()")
    finally:
        conn.execute("ROLLBACK")


def precheck(source: Endpoint, objects: ObjectSelection) -> list[PrecheckItem]:
    items: list[PrecheckItem] = []
    try:
        conn = connect(source)
    except psycopg.Error as exc:
        return [
            PrecheckItem(
                CHECK_CONNECTIVITY,
                "failed",
                f"cannot connect to {source.display()}: {describe(exc)}",
                _connect_fix(exc, source),
            )
        ]
    with conn:
        items.append(PrecheckItem(CHECK_CONNECTIVITY, "finish", source.display()))
        row = conn.execute(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int,"
            " current_user"
        ).fetchone()
        assert row is not None
        version_text, version, user = str(row[0]), int(row[1]), str(row[2])
        if version < MIN_VERSION:
            items.append(
                PrecheckItem(
                    CHECK_SERVER_VERSION,
                    "failed",
                    f"PostgreSQL {version_text} is not supported",
                    "upgrade the server to PostgreSQL 12 or newer",
                )
            )
            return items
        items.append(PrecheckItem(CHECK_SERVER_VERSION, "finish", f"PostgreSQL {version_text}"))
        items.append(_client_tools(version))
        if source.database:
            databases = [source.database]
        else:
            databases = [n for n, _ in list_databases(conn) if objects.may_select_database(n)]
        if not databases:
            items.append(
                PrecheckItem(
                    CHECK_BACKUP_OBJECTS,
                    "failed",
                    f"no database matches {objects.to_spec()!r}",
                    "check the object selection against dbs list-objects",
                )
            )
            return items
        items.append(PrecheckItem(CHECK_BACKUP_OBJECTS, "finish", f"{len(databases)} database(s)"))
    denied: list[str] = []
    unreachable: list[str] = []
    snapshot_error = ""
    for database in databases:
        try:
            with connect(source, database) as dbconn:
                denied += _privileges(dbconn, database, objects, version)
                if not snapshot_error:
                    try:
                        _snapshot_export(dbconn)
                    except psycopg.Error as exc:
                        snapshot_error = describe(exc)
        except psycopg.Error as exc:
            unreachable.append(f"{database} ({describe(exc)})")
    if unreachable:
        items.append(
            PrecheckItem(
                CHECK_DATABASE_PRIVILEGE,
                "failed",
                f"cannot connect to {_shorten(unreachable)}",
                f"GRANT CONNECT ON DATABASE <name> TO {user} (and allow it in pg_hba.conf)",
            )
        )
    else:
        items.append(PrecheckItem(CHECK_DATABASE_PRIVILEGE, "finish"))
    if denied:
        fix = (
            f"GRANT pg_read_all_data TO {user}"
            if version >= 140000
            else f"GRANT USAGE ON SCHEMA <schema> TO {user}; "
            f"GRANT SELECT ON ALL TABLES IN SCHEMA <schema> TO {user}; "
            f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA <schema> TO {user}"
        )
        items.append(
            PrecheckItem(CHECK_PRIVILEGES, "failed", f"{user} cannot read {_shorten(denied)}", fix)
        )
    else:
        items.append(PrecheckItem(CHECK_PRIVILEGES, "finish"))
    if snapshot_error:
        items.append(
            PrecheckItem(
                CHECK_SNAPSHOT_EXPORT,
                "failed",
                f"pg_export_snapshot() failed: {snapshot_error}",
                "connect directly to the server (not through a transaction pooler such as "
                "pgbouncer); on a standby use PostgreSQL 10 or newer",
            )
        )
    else:
        items.append(PrecheckItem(CHECK_SNAPSHOT_EXPORT, "finish"))
    return items
