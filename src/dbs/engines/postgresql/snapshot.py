"""One exported snapshot per database, held open (with ACCESS SHARE locks) for the whole backup.

Every worker imports it with SET TRANSACTION SNAPSHOT, so all tables, the
schema dump and the sequence values are read as of the same instant, as
pg_dump -j does. The locks make concurrent DDL wait instead of breaking the dump.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.postgresql.connection import connect, describe, ident

LOCK_TIMEOUT = "30s"


@dataclass
class SnapshotInfo:
    name: str
    lsn: str
    time: str


class DatabaseSnapshot:
    """Context manager: an open REPEATABLE READ transaction that exported its snapshot."""

    def __init__(self, endpoint: Endpoint, database: str) -> None:
        self.endpoint = endpoint
        self.database = database
        self.conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self.info: SnapshotInfo | None = None

    def __enter__(self) -> DatabaseSnapshot:
        step = f"export snapshot of database {self.database}"
        try:
            self.conn = connect(self.endpoint, self.database, autocommit=False)
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            row = self.conn.execute(
                "SELECT pg_catalog.pg_export_snapshot(), "
                "CASE WHEN pg_catalog.pg_is_in_recovery() "
                "THEN pg_catalog.pg_last_wal_replay_lsn() "
                "ELSE pg_catalog.pg_current_wal_lsn() END::text, "
                "pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', "
                '\'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')'
            ).fetchone()
        except psycopg.Error as exc:
            self.close()
            raise EngineError(step, describe(exc)) from None
        assert row is not None
        self.info = SnapshotInfo(str(row[0]), str(row[1]), str(row[2]))
        return self

    @property
    def connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        assert self.conn is not None, "snapshot not open"
        return self.conn

    def lock(self, tables: Iterable[tuple[str, str]]) -> None:
        """ACCESS SHARE on every table to copy; waits at most LOCK_TIMEOUT for running DDL."""
        names = [ident(s, t) for s, t in tables]
        if not names:
            return
        step = f"lock tables in database {self.database}"
        try:
            self.connection.execute(
                sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT))
            )
            self.connection.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(sql.SQL(", ").join(names))
            )
        except psycopg.Error as exc:
            raise EngineError(
                step,
                f"{describe(exc)}; another session holds a conflicting lock (running DDL?). "
                "Retry when it has finished",
            ) from None

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.rollback()
            self.conn.close()
            self.conn = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
