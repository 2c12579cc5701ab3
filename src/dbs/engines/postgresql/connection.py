"""Connections to a PostgreSQL server, for psycopg and for the libpq command-line tools.

Every session the engine opens uses the same output settings, so the COPY
text of a table hashes the same at backup time and at verify time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint

# Settings that fix how values print as text (COPY output, hashes).
SESSION_SETTINGS: dict[str, str] = {
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "TimeZone": "UTC",
    "extra_float_digits": "3",
    "bytea_output": "hex",
    "client_encoding": "UTF8",
    # A backup may hold its snapshot for a long time; never let the server end it.
    "idle_in_transaction_session_timeout": "0",
    "statement_timeout": "0",
    "synchronize_seqscans": "off",
}

MAINTENANCE_DATABASE = "postgres"


def _options() -> str:
    return " ".join(f"-c {k}={v.replace(' ', chr(92) + ' ')}" for k, v in SESSION_SETTINGS.items())


def conninfo(endpoint: Endpoint, database: str | None = None) -> dict[str, str]:
    """Keyword arguments for psycopg.connect (the password is passed, never printed)."""
    kwargs = {
        "host": endpoint.host or "127.0.0.1",
        "port": str(endpoint.port or 5432),
        "dbname": database or endpoint.database or MAINTENANCE_DATABASE,
        "application_name": "dbs",
        "connect_timeout": "10",
    }
    if endpoint.user:
        kwargs["user"] = endpoint.user
    if endpoint.password is not None:
        kwargs["password"] = endpoint.password
    # TLS: sslmode as libpq spells it (require, verify-ca, verify-full ...); sslrootcert names
    # the CA file that verify-ca/verify-full check the server against.
    for name in ("sslmode", "sslrootcert"):
        if endpoint.params.get(name):
            kwargs[name] = endpoint.params[name]
    return kwargs


def tool_env(endpoint: Endpoint, database: str | None = None) -> dict[str, str]:
    """Environment for pg_dump/psql/pg_restore: the password travels in PGPASSWORD, not argv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    info = conninfo(endpoint, database)
    env.update(
        PGHOST=info["host"],
        PGPORT=info["port"],
        PGDATABASE=info["dbname"],
        PGAPPNAME="dbs",
        PGCONNECT_TIMEOUT="10",
        PGOPTIONS=_options(),
        PGCLIENTENCODING="UTF8",
    )
    if "user" in info:
        env["PGUSER"] = info["user"]
    if "password" in info:
        env["PGPASSWORD"] = info["password"]
    if "sslmode" in info:
        env["PGSSLMODE"] = info["sslmode"]
    if "sslrootcert" in info:
        env["PGSSLROOTCERT"] = info["sslrootcert"]
    return env


def connect(
    endpoint: Endpoint, database: str | None = None, *, autocommit: bool = True
) -> psycopg.Connection[tuple[Any, ...]]:
    """Open a session with the engine's output settings; raises psycopg errors unchanged."""
    dsn = make_conninfo("", **conninfo(endpoint, database))
    conn = psycopg.connect(dsn, autocommit=autocommit)
    with conn.cursor() as cur:
        for key, value in SESSION_SETTINGS.items():
            cur.execute("SELECT pg_catalog.set_config(%s, %s, false)", (key, value))
    if not autocommit:
        conn.commit()
    return conn


@contextmanager
def session(
    endpoint: Endpoint, database: str | None, step: str
) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A connection whose failures become EngineError naming ``step``."""
    try:
        conn = connect(endpoint, database)
    except psycopg.Error as exc:
        raise EngineError(
            step, f"cannot connect to {endpoint.display()}: {describe(exc)}"
        ) from None
    try:
        yield conn
    finally:
        conn.close()


def describe(exc: BaseException) -> str:
    """One line from a psycopg error, without the connection string."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def ident(*names: str) -> sql.Composed:
    """A (possibly qualified) identifier, quoted for any name: ``"Mixed Case"."a""b"``."""
    return sql.SQL(".").join(sql.Identifier(n) for n in names)


def quote_ident(name: str) -> str:
    """Always-quoted identifier as plain text (for psql command lines)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
