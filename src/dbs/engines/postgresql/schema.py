"""Schema archives at restore time: apply pre/post-data, and cut an archive down to a selection.

Cutting down (selected tables only, or restored tables renamed because the
name is taken) is done by PostgreSQL itself rather than by editing SQL text:
the backup's schema is restored into an empty scratch database on the target
server, unwanted tables are dropped there (CASCADE takes their views along),
conflicting tables and their indexes and sequences are renamed, and pg_dump
then produces the archive to apply. Schema only: no data goes to the scratch
database, so this costs a second or two whatever the size of the tables.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.postgresql.connection import (
    MAINTENANCE_DATABASE,
    describe,
    ident,
    session,
    tool_env,
)
from dbs.engines.postgresql.objects import NOT_EXTENSION_MEMBER_SQL, SYSTEM_SCHEMAS_SQL
from dbs.engines.postgresql.tools import find_tool, run

Conn = psycopg.Connection[tuple[Any, ...]]


def _conninfo_dbname(database: str) -> str:
    escaped = database.replace("\\", "\\\\").replace("'", "\\'")
    return f"dbname='{escaped}'"


def apply_archive(
    target: Endpoint,
    database: str,
    archive: Path,
    section: str | None,
    *,
    owners: bool,
    parallel: int = 1,
) -> None:
    """pg_restore one section of a schema archive into ``database``; stop at the first error."""
    step = f"restore {section or 'schema'} of database {database}"
    argv = [find_tool("pg_restore"), "--exit-on-error", "-d", _conninfo_dbname(database)]
    if section:
        argv.append(f"--section={section}")
    if not owners:
        argv += ["--no-owner", "--no-privileges"]
    if parallel > 1:
        argv += ["-j", str(parallel)]
    argv.append(str(archive))
    run(argv, tool_env(target, database), step)


def database_exists(conn: Conn, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (name,)).fetchone()
        is not None
    )


def create_database(target: Endpoint, name: str, encoding: str) -> None:
    with session(target, MAINTENANCE_DATABASE, f"create database {name}") as conn:
        try:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {}").format(
                    sql.Identifier(name), sql.Literal(encoding)
                )
            )
        except psycopg.Error as exc:
            raise EngineError(
                f"create database {name}", f"{describe(exc)}; the restore account needs CREATEDB"
            ) from None


def drop_database(target: Endpoint, name: str) -> None:
    with session(target, MAINTENANCE_DATABASE, f"drop database {name}") as conn:
        try:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        except psycopg.Error as exc:
            raise EngineError(f"drop database {name}", describe(exc)) from None


def free_name(taken: set[str], base: str, suffix: str) -> str:
    """``base`` + suffix, cut to PostgreSQL's 63-byte limit, not in ``taken``."""
    for n in range(1000):
        tail = suffix if n == 0 else f"{suffix}_{n}"
        name = base.encode()[: 63 - len(tail.encode())].decode("utf-8", "ignore") + tail
        if name not in taken:
            return name
    raise EngineError("choose a new name", f"no free name for {base}")


class ScratchSchema:
    """An empty database on the target server holding the backup's schema, to be reshaped."""

    def __init__(self, target: Endpoint, encoding: str) -> None:
        self.target = target
        self.name = f"dbs_scratch_{secrets.token_hex(6)}"
        self.encoding = encoding

    def __enter__(self) -> ScratchSchema:
        create_database(self.target, self.name, self.encoding)
        return self

    def __exit__(self, *exc: object) -> None:
        drop_database(self.target, self.name)

    def load(self, pre: Path, post: Path) -> None:
        apply_archive(self.target, self.name, pre, None, owners=False)
        apply_archive(self.target, self.name, post, None, owners=False)

    def keep_only(self, keep: set[tuple[str, str]]) -> None:
        """Drop every table not in ``keep`` (and what depends on it, e.g. views).

        An inheritance or partition parent of a kept table stays (empty); other
        tables go leaves first, until nothing more can be dropped.
        """
        step = "select tables to restore"
        with session(self.target, self.name, step) as conn:
            try:
                while True:
                    rows = conn.execute(
                        "SELECT n.nspname, c.relname, c.relkind, EXISTS (SELECT 1 FROM "
                        "pg_catalog.pg_inherits i WHERE i.inhparent = c.oid) "
                        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                        "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
                        f"AND {SYSTEM_SCHEMAS_SQL} AND {NOT_EXTENSION_MEMBER_SQL}"
                    ).fetchall()
                    doomed = [
                        (str(schema), str(name))
                        for schema, name, kind, has_children in rows
                        if (str(schema), str(name)) not in keep
                        and (
                            not has_children
                            or (
                                kind == "p"
                                and not self._has_kept_descendant(
                                    conn, str(schema), str(name), keep
                                )
                            )
                        )
                    ]
                    if not doomed:
                        return
                    for schema, name in doomed:
                        conn.execute(
                            sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(ident(schema, name))
                        )
            except psycopg.Error as exc:
                raise EngineError(step, describe(exc)) from None

    @staticmethod
    def _has_kept_descendant(
        conn: Conn, schema: str, name: str, keep: set[tuple[str, str]]
    ) -> bool:
        rows = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_partition_tree(%s::regclass) t "
            "JOIN pg_catalog.pg_class c ON c.oid = t.relid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
            (ident(schema, name).as_string(conn),),
        ).fetchall()
        return any((str(s), str(t)) in keep for s, t in rows)

    def rename_table(
        self, schema: str, table: str, new: str, suffix: str, taken_relations: set[str]
    ) -> dict[str, str]:
        """Rename a table and its indexes and owned sequences; return old -> new sequence names."""
        step = f"rename restored table {schema}.{table}"
        with session(self.target, self.name, step) as conn:
            try:
                qualified = ident(schema, table).as_string(conn)
                indexes = [
                    str(r[0])
                    for r in conn.execute(
                        "SELECT c.relname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c "
                        "ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
                        (qualified,),
                    ).fetchall()
                ]
                sequences = [
                    str(r[0])
                    for r in conn.execute(
                        "SELECT s.relname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class s "
                        "ON s.oid = d.objid WHERE d.classid = 'pg_catalog.pg_class'::regclass "
                        "AND d.refobjid = %s::regclass AND s.relkind = 'S' "
                        "AND d.deptype IN ('a', 'i')",
                        (qualified,),
                    ).fetchall()
                ]
                conn.execute(
                    sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                        ident(schema, table), sql.Identifier(new)
                    )
                )
                _rename_each(conn, "INDEX", schema, indexes, taken_relations, suffix)
                seq_names = _rename_each(
                    conn, "SEQUENCE", schema, sequences, taken_relations, suffix
                )
            except psycopg.Error as exc:
                raise EngineError(step, describe(exc)) from None
        return seq_names

    def dump(self, out: Path, tables: list[tuple[str, str]] | None) -> None:
        """pg_dump the reshaped schema: everything, or just ``tables`` (with their indexes...)."""
        argv = [find_tool("pg_dump"), "-Fc", "-Z0", "--schema-only", "-f", str(out)]
        for schema, table in tables or []:
            argv += ["-t", f"{_pattern(schema)}.{_pattern(table)}"]
        if tables == []:
            raise EngineError("dump selected schema", "no table selected")
        run(argv, tool_env(self.target, self.name), "dump selected schema")


def _rename_each(
    conn: Conn, kind: str, schema: str, names: list[str], taken: set[str], suffix: str
) -> dict[str, str]:
    """``ALTER <kind> … RENAME TO`` a free name for each of ``names``; old -> new name."""
    renamed: dict[str, str] = {}
    for name in names:
        fresh = free_name(taken, name, suffix)
        taken.add(fresh)
        statement = sql.SQL("ALTER {} {} RENAME TO {}").format(
            sql.SQL(kind), ident(schema, name), sql.Identifier(fresh)
        )
        conn.execute(statement)
        renamed[name] = fresh
    return renamed


def _pattern(name: str) -> str:
    """A psql-style pattern matching exactly ``name`` (quotes make * ? . literal)."""
    return '"' + name.replace('"', '""') + '"'
