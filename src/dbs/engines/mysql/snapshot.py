"""One consistent snapshot shared by several worker connections, with its binlog position.

MariaDB (and Percona Server) report, for ``START TRANSACTION WITH CONSISTENT SNAPSHOT``,
the binlog file and position the snapshot corresponds to (``Binlog_snapshot_file`` /
``Binlog_snapshot_position``): a binlogged transaction is visible in the snapshot exactly
when it lies before that position. So workers whose snapshots report the same position
see the same data, and no lock is needed: start them all, compare, retry if a commit
slipped between them. Only if that keeps failing (a busy server), or when there is no
binlog to compare against, or on MySQL (which has no such status), the workers start
their snapshots under the briefest ``FLUSH TABLES WITH READ LOCK`` the server allows.
Without RELOAD for that lock, one worker reads everything from a single snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pymysql

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql.connection import (
    Connection,
    ServerInfo,
    close_quietly,
    connect,
    query_rows,
    text,
    variable,
)

LOCK_FREE_ATTEMPTS = 8
# Seconds FLUSH TABLES WITH READ LOCK may wait behind running queries before giving up,
# rather than blocking every writer behind it for as long as a slow query runs.
LOCK_WAIT_SECONDS = 30


@dataclass
class Snapshot:
    connections: list[Connection]
    method: str  # "lock-free" | "single" | "flush-tables-with-read-lock"
    binlog_file: str | None = None
    binlog_position: int | None = None
    gtid: str | None = None
    notes: list[str] = field(default_factory=list)

    def position(self) -> dict[str, object]:
        return {
            "method": self.method,
            "workers": len(self.connections),
            "binlog_file": self.binlog_file,
            "binlog_position": self.binlog_position,
            "gtid": self.gtid,
            "notes": self.notes,
        }

    def close(self) -> None:
        for conn in self.connections:
            close_quietly(conn)


def _start(conn: Connection) -> None:
    with conn.cursor() as cur:
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")


def _mariadb_snapshot_position(conn: Connection) -> tuple[str, int] | None:
    rows = dict(
        (text(k).lower(), text(v))
        for k, v in query_rows(conn, "SHOW SESSION STATUS LIKE 'binlog_snapshot_%'")
    )
    name = rows.get("binlog_snapshot_file", "")
    position = rows.get("binlog_snapshot_position", "")
    if not name or not position.isdigit():
        return None
    return name, int(position)


def _master_status(conn: Connection, server: ServerInfo) -> tuple[str, int] | None:
    # MySQL 8.4 renamed SHOW MASTER STATUS; MariaDB keeps it (and BINLOG STATUS in 10.5.2+).
    statement = (
        "SHOW BINARY LOG STATUS"
        if (not server.is_mariadb and (server.major, server.minor) >= (8, 4))
        else "SHOW MASTER STATUS"
    )
    rows = query_rows(conn, statement)
    if not rows:
        return None
    return text(rows[0][0]), int(rows[0][1])


def _gtid_for(conn: Connection, server: ServerInfo, position: tuple[str, int]) -> str | None:
    try:
        if server.is_mariadb:
            rows = query_rows(conn, "SELECT BINLOG_GTID_POS(%s, %s)", position)
        else:
            rows = query_rows(conn, "SELECT @@GLOBAL.gtid_executed")
    except pymysql.err.MySQLError:
        return None
    value = text(rows[0][0]) if rows else ""
    return value or None


def _try_lock_free(connections: list[Connection]) -> tuple[str, int] | None:
    for _ in range(LOCK_FREE_ATTEMPTS):
        positions = []
        for conn in connections:
            _start(conn)
            positions.append(_mariadb_snapshot_position(conn))
        if positions[0] is not None and all(p == positions[0] for p in positions):
            return positions[0]
        for conn in connections:
            conn.rollback()
        if positions[0] is None:
            return None  # no binlog: nothing to compare snapshots by
    return None


def _with_read_lock(
    connections: list[Connection], server: ServerInfo, binlog_on: bool
) -> tuple[str, int] | None:
    lock = connections[0]
    with lock.cursor() as cur:
        cur.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}")
        try:
            cur.execute("FLUSH TABLES WITH READ LOCK")
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] == 1205:
                raise EngineError(
                    "lock tables for a consistent start",
                    f"FLUSH TABLES WITH READ LOCK waited {LOCK_WAIT_SECONDS}s behind a running "
                    "query; retry when long queries have finished (SHOW PROCESSLIST)",
                ) from None
            raise
        try:
            position = _master_status(lock, server) if binlog_on else None
            for conn in connections:
                _start(conn)
        finally:
            cur.execute("UNLOCK TABLES")
    return position


def open_snapshot(endpoint: Endpoint, server: ServerInfo, workers: int) -> Snapshot:
    """``workers`` connections inside one consistent snapshot (fewer if the server forbids)."""
    connections = [connect(endpoint, database="", unbuffered=True) for _ in range(max(1, workers))]
    try:
        binlog_on = (variable(connections[0], "log_bin") or "OFF").upper() == "ON"
        if server.is_mariadb:
            position = _try_lock_free(connections)
            if position is not None:
                method = "lock-free" if len(connections) > 1 else "single"
                return _finish(connections, method, position, server)
            if len(connections) == 1:
                _start(connections[0])
                return _finish(
                    connections, "single", _mariadb_snapshot_position(connections[0]), server
                )
        try:
            position = _with_read_lock(connections, server, binlog_on)
            return _finish(connections, "flush-tables-with-read-lock", position, server)
        except pymysql.err.OperationalError as exc:
            if not exc.args or exc.args[0] not in (1227, 1044, 1045):  # access denied
                raise
        # No RELOAD: one snapshot, one worker; the data is still consistent.
        for conn in connections[1:]:
            close_quietly(conn)
        connections = connections[:1]
        connections[0].rollback()
        _start(connections[0])
        position = _mariadb_snapshot_position(connections[0]) if server.is_mariadb else None
        snap = _finish(connections, "single", position, server)
        snap.notes.append("no RELOAD privilege: read with one worker instead of several")
        return snap
    except pymysql.err.MySQLError as exc:
        for conn in connections:
            close_quietly(conn)
        raise EngineError("start a consistent snapshot", str(exc)) from None
    except BaseException:
        for conn in connections:
            close_quietly(conn)
        raise


def _finish(
    connections: list[Connection],
    method: str,
    position: tuple[str, int] | None,
    server: ServerInfo,
) -> Snapshot:
    snap = Snapshot(connections, method)
    if position is not None:
        snap.binlog_file, snap.binlog_position = position
        snap.gtid = _gtid_for(connections[0], server, position)
    else:
        snap.notes.append("binary log is off: no position recorded (no point-in-time recovery)")
    return snap
