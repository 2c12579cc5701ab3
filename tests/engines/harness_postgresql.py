"""PostgreSQL test support: the conformance harness and helpers shared by test_postgresql_*.

Everything talks to the real server on 127.0.0.1:5432 (trust auth, user
postgres). Digests are computed in SQL, independently of the engine: per
table, md5 over the md5 of every row's text, in row-text order.
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
from psycopg import sql

from dbs.engines.endpoint import Endpoint, parse_endpoint
from dbs.engines.postgresql import ENGINE
from dbs.engines.selection import ObjectSelection

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432"


def unique_name(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def endpoint(database: str = "", user: str = "postgres") -> Endpoint:
    ep = parse_endpoint(ADMIN_URL + (f"/{database}" if database else ""))
    if user != "postgres":
        ep = Endpoint(engine="postgresql", host=ep.host, port=ep.port, user=user,
                      database=database)
    return ep


def admin(database: str = "postgres") -> psycopg.Connection[tuple[Any, ...]]:
    conn = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=database,
                           autocommit=True)
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET extra_float_digits = 3")
    return conn


def create_database(name: str, script: str = "") -> Endpoint:
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    if script:
        with admin(name) as conn:
            conn.execute(script)
    return endpoint(name)


def drop_database(name: str) -> None:
    with admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))


def databases_like(prefix: str) -> list[str]:
    with admin() as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                            (prefix.replace("_", r"\_") + "%",)).fetchall()
    return [str(r[0]) for r in rows]


def table_digests(database: str, schemas: tuple[str, ...] | None = None) -> dict[str, str]:
    """{"schema.table": "<rows>:<md5>"} for every user table, computed in SQL."""
    out: dict[str, str] = {}
    with admin(database) as conn:
        tables = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid "
            "AND d.deptype = 'e') ORDER BY 1, 2").fetchall()
        for schema, table in tables:
            if schemas is not None and schema not in schemas:
                continue
            row = conn.execute(sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) "
                "FROM (SELECT md5(t::text) AS h FROM ONLY {} t) s").format(
                    sql.Identifier(schema, table))).fetchone()
            assert row is not None
            out[f"{schema}.{table}"] = f"{row[0]}:{row[1]}"
    return out


VARIED_DATA = '''
CREATE TABLE public.items (id int PRIMARY KEY, label text, blob bytea, price numeric,
                           tags text[], created timestamptz);
INSERT INTO public.items
SELECT g, CASE WHEN g % 7 = 0 THEN NULL WHEN g % 11 = 0 THEN '' ELSE 'item ' || g || ' ü😀' END,
       CASE WHEN g % 5 = 0 THEN '\\x00ff00'::bytea ELSE decode(md5(g::text), 'hex') END,
       g * 1.25, ARRAY['a', NULL, 'tab\tq'], '2026-01-01'::timestamptz + g * interval '1 min'
FROM generate_series(1, 500) g;
CREATE SCHEMA "Other Schema";
CREATE TABLE "Other Schema"."odd ""name""" ("select" serial PRIMARY KEY, "from" text);
INSERT INTO "Other Schema"."odd ""name""" ("from") SELECT 'line' || E'\\n' || g
FROM generate_series(1, 50) g;
'''

# One table big enough (~16 MB of COPY text) that a backup or a restore is mid-stream after
# a few progress reports (1 MiB blocks).
LARGE_TABLE = """
CREATE TABLE public.big (id int PRIMARY KEY, pad text);
INSERT INTO public.big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 120000) g;
"""


class PostgresHarness:
    """The conformance-suite harness (tests/engines/harness.py) for the PostgreSQL engine."""

    engine = ENGINE

    def __init__(self) -> None:
        self.created: list[str] = []

    def make_source(self) -> Endpoint:
        name = unique_name("dbs_src")
        self.created.append(name)
        return create_database(name, VARIED_DATA)

    def source_selection(self, source: Endpoint) -> ObjectSelection:
        return ObjectSelection.parse(source.database)

    def expected_objects(self, source: Endpoint) -> set[str]:
        db = source.database
        return {db, f"{db}.public", f"{db}.public.items", f"{db}.Other Schema",
                f'{db}.Other Schema.odd "name"'}

    def new_target(self) -> Endpoint:
        name = unique_name("dbs_dst")
        self.created.append(name)
        return endpoint(name)

    def digest(self, ep: Endpoint) -> dict[str, str]:
        return table_digests(ep.database)

    def restored_endpoint(self, target: Endpoint, source: Endpoint) -> Endpoint:
        return target

    def bad_credentials(self, source: Endpoint) -> Endpoint:
        # The shared server trusts loopback, so a role that does not exist is what it refuses;
        # test_postgresql_failure.py covers a wrong password on a private scram server.
        return Endpoint(engine="postgresql", host=source.host, port=source.port,
                        user=unique_name("no_such_role"), password="wrong",
                        database=source.database)

    def make_large_source(self) -> Endpoint:
        name = unique_name("dbs_src")
        self.created.append(name)
        return create_database(name, VARIED_DATA + LARGE_TABLE)

    def sessions(self, ep: Endpoint) -> list[str]:
        with admin() as conn:
            rows = conn.execute(
                "SELECT pid, application_name, state, wait_event FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", (ep.database,)).fetchall()
        return [" ".join(str(v) for v in row) for row in rows]

    def drop(self, ep: Endpoint) -> None:
        # No FORCE: a session left open would make it fail, and one stuck writing to a dead
        # client (ClientWrite) would make it hang; statement_timeout turns a hang into an error.
        with admin() as conn:
            conn.execute("SET statement_timeout = '60s'")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(ep.database)))

    def cleanup(self) -> None:
        for name in self.created:
            drop_database(name)
            for leftover in databases_like(name + "_restored_"):
                drop_database(leftover)
