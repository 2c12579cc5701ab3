"""Connections to a MySQL or MariaDB server, and what the engine needs to know about it.

PyMySQL is used because it is pure Python (no client library to build) and supports
``LOAD DATA LOCAL INFILE``; every session is set to UTC and a binary-safe character
set so dumped bytes never depend on the client's or server's locale.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

import pymysql
import pymysql.cursors

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint

# Codes the operator can act on, with the fix to show.
_ACCESS_DENIED = (1045, 1698)  # wrong password; unix_socket/auth plugin refused
_UNKNOWN_DB = 1049
_CANT_CONNECT = (2002, 2003, 2005, 2006, 2013)

Connection = Any  # pymysql ships no type information


def quote_ident(name: str) -> str:
    """A MySQL identifier in backticks, safe for any name (backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def qualified(database: str, table: str) -> str:
    return f"{quote_ident(database)}.{quote_ident(table)}"


@dataclass(frozen=True)
class ServerInfo:
    version: str  # as the server reports it, e.g. "10.11.19-MariaDB-0+deb12u1"
    flavor: str  # "mariadb" | "mysql"
    major: int
    minor: int

    @property
    def is_mariadb(self) -> bool:
        return self.flavor == "mariadb"

    def describe(self) -> str:
        return f"{'MariaDB' if self.is_mariadb else 'MySQL'} {self.major}.{self.minor}"


def connect_error(endpoint: Endpoint, exc: Exception) -> EngineError:
    """Turn a connection failure into an error that says what to fix (never the password)."""
    where = f"{endpoint.host or 'localhost'}:{endpoint.port}"
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    step = f"connect to {where}"
    if code in _ACCESS_DENIED:
        return EngineError(
            step,
            f"the server refused user {endpoint.user!r} (wrong password, no such account, or "
            "an account that requires TLS); check the credentials, or CREATE USER and GRANT "
            "the privileges listed in the docs; for an account that requires TLS add ?ssl=1 "
            "(or ?ssl_ca=/path/to/ca.pem to verify the server) to the URL",
        )
    if code == _UNKNOWN_DB:
        return EngineError(step, f"database {endpoint.database!r} does not exist on the server")
    if code in _CANT_CONNECT:
        return EngineError(
            step,
            f"cannot reach the server ({exc.args[-1]}); check host, port and that mysqld runs",
        )
    return EngineError(step, str(exc))


def connect(
    endpoint: Endpoint,
    *,
    database: str | None = None,
    local_infile: bool = False,
    unbuffered: bool = False,
) -> Connection:
    """Open a session in UTC with ``sql_mode`` that accepts every value a server may hold."""
    params = endpoint.params
    ssl: dict[str, Any] | None = None
    # Without ssl parameters PyMySQL encrypts whenever the server offers TLS (unverified, as
    # the mysql client's PREFERRED mode); ssl=1 requires it, ssl_ca also verifies the server,
    # ssl=0 turns it off.
    if endpoint.tls or params.get("ssl") in ("1", "true", "required") or "ssl_ca" in params:
        ssl = {"ca": params["ssl_ca"]} if "ssl_ca" in params else {"check_hostname": False}
    ssl_disabled = params.get("ssl") in ("0", "false", "disabled")
    try:
        conn = pymysql.connect(
            host=endpoint.host or "localhost",
            port=endpoint.port or 3306,
            unix_socket=params.get("socket") or None,
            user=endpoint.user or "root",
            password=endpoint.password or "",
            database=database if database is not None else (endpoint.database or None),
            charset="utf8mb4",
            autocommit=True,
            local_infile=local_infile,
            ssl=ssl,
            ssl_disabled=ssl_disabled or None,
            connect_timeout=int(params.get("connect_timeout", "10")),
            cursorclass=pymysql.cursors.SSCursor if unbuffered else pymysql.cursors.Cursor,
        )
    except pymysql.err.MySQLError as exc:
        raise connect_error(endpoint, exc) from None
    with conn.cursor() as cur:
        # UTC so TIMESTAMP values are dumped and loaded unchanged; NO_AUTO_VALUE_ON_ZERO so an
        # AUTO_INCREMENT column holding 0 keeps it; no strict/zero-date rules so every stored
        # value (zero dates included) loads back as it was.
        cur.execute("SET time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
    return conn


def server_info(conn: Connection) -> ServerInfo:
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        version = str(cur.fetchone()[0])
    match = re.match(r"(\d+)\.(\d+)", version)
    major, minor = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    flavor = "mariadb" if "mariadb" in version.lower() else "mysql"
    return ServerInfo(version=version, flavor=flavor, major=major, minor=minor)


def variable(conn: Connection, name: str) -> str | None:
    """A global server variable as text, or None if the server has no such variable."""
    with conn.cursor() as cur:
        cur.execute("SHOW GLOBAL VARIABLES LIKE %s", (name,))
        row = cur.fetchone()
    return None if row is None else str(row[1])


def query_rows(conn: Connection, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return [tuple(r) for r in cur.fetchall()]


def text(value: Any) -> str:
    """information_schema values come back as str or bytes depending on the server."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "surrogateescape")
    return "" if value is None else str(value)


def close_quietly(conn: Connection | None) -> None:
    if conn is None:
        return
    # Closing a dead connection must not hide the error that killed it.
    with contextlib.suppress(Exception):
        conn.close()


def kill_sessions(endpoint: Endpoint, connections: list[Connection]) -> None:
    """End the server side of ``connections`` (``KILL CONNECTION``, from a new session).

    A thread blocked in a statement on one of them then fails at once instead of running
    on after its work was given up; the server drops the session's snapshot and locks.
    An account may always kill its own sessions."""
    ids = []
    for conn in connections:
        with contextlib.suppress(Exception):  # already closed: nothing left to end
            ids.append(int(conn.thread_id()))
    if not ids:
        return
    killer = connect(endpoint, database="")
    try:
        with killer.cursor() as cur:
            for thread_id in ids:
                with contextlib.suppress(pymysql.err.MySQLError):  # gone meanwhile
                    cur.execute("KILL CONNECTION %s", (thread_id,))
    finally:
        close_quietly(killer)
