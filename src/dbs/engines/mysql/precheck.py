"""Precheck: can DBS back up this server, and if not, which GRANT or setting fixes it."""

from __future__ import annotations

import re

import pymysql

from dbs.engines.base import EngineError, PrecheckItem
from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql.connection import (
    Connection,
    ServerInfo,
    close_quietly,
    connect,
    query_rows,
    server_info,
    text,
    variable,
)
from dbs.engines.mysql.objects import selected_tables
from dbs.engines.precheck_items import (
    CHECK_BACKUP_OBJECTS,
    CHECK_BINLOG,
    CHECK_BINLOG_FORMAT,
    CHECK_CONNECTIVITY,
    CHECK_PRIVILEGES,
    CHECK_SERVER_VERSION,
    CHECK_TRANSACTIONAL_ENGINE,
)
from dbs.engines.selection import ObjectSelection

# DBS's documented minimum for a backup account. RELOAD (or BACKUP_ADMIN on MySQL) allows
# the short global read lock; REPLICATION CLIENT reads the binlog position.
PER_DATABASE = ("SELECT", "SHOW VIEW", "TRIGGER", "EVENT", "LOCK TABLES")
GLOBAL_ONLY = ("RELOAD", "REPLICATION CLIENT")
# Newer names for the same rights (MariaDB 10.5 split REPLICATION CLIENT into BINLOG MONITOR).
_EQUIVALENT = {"RELOAD": {"BACKUP_ADMIN"}, "REPLICATION CLIENT": {"BINLOG MONITOR"}}
_GRANT = re.compile(r"^GRANT (.+?) ON (\S+) TO ", re.IGNORECASE)


def _grants(conn: Connection) -> dict[str, set[str]]:
    """Object pattern (``*.*``, ```db`.*``) -> privileges held by the current user."""
    held: dict[str, set[str]] = {}
    for (line,) in query_rows(conn, "SHOW GRANTS"):
        match = _GRANT.match(text(line))
        if not match:
            continue
        privileges = {p.strip().upper() for p in match.group(1).split(",")}
        held.setdefault(match.group(2), set()).update(privileges)
    return held


def _pattern_matches(pattern: str, database: str) -> bool:
    """Whether a GRANT's database part (```db\\_x`.*``) covers ``database``."""
    name = pattern.rsplit(".", 1)[0].strip("`")
    regex = ""
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "\\" and i + 1 < len(name):
            regex += re.escape(name[i + 1])
            i += 2
            continue
        regex += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.fullmatch(regex, database) is not None


def _has(privilege: str, privileges: set[str]) -> bool:
    names = {privilege, *_EQUIVALENT.get(privilege, set())}
    return "ALL PRIVILEGES" in privileges or "ALL" in privileges or bool(names & privileges)


def _missing_privileges(conn: Connection, databases: list[str]) -> list[str]:
    held = _grants(conn)
    global_privs = held.get("*.*", set())
    missing = [p for p in GLOBAL_ONLY if not _has(p, global_privs)]
    for privilege in PER_DATABASE:
        if _has(privilege, global_privs):
            continue
        for db in databases:
            if not any(
                _pattern_matches(pattern, db) and _has(privilege, privs)
                for pattern, privs in held.items()
                if pattern != "*.*"
            ):
                missing.append(privilege)
                break
    return missing


def _current_user(conn: Connection) -> str:
    rows = query_rows(conn, "SELECT CURRENT_USER()")
    user, _, host = text(rows[0][0]).rpartition("@")
    return f"'{user}'@'{host}'"


def _version_item(server: ServerInfo) -> PrecheckItem:
    supported = (server.is_mariadb and server.major >= 10) or (
        not server.is_mariadb and server.major >= 8
    )
    if supported:
        return PrecheckItem(
            CHECK_SERVER_VERSION, "finish", f"{server.describe()} ({server.version})"
        )
    return PrecheckItem(
        CHECK_SERVER_VERSION,
        "warning",
        f"{server.describe()} is older than DBS supports (MariaDB 10.x/11.x, MySQL 8.x)",
        "upgrade the server; older versions may work but are untested",
    )


def _binlog_items(conn: Connection) -> list[PrecheckItem]:
    log_bin = (variable(conn, "log_bin") or "OFF").upper()
    binlog_format = (variable(conn, "binlog_format") or "").upper()
    items = []
    if log_bin == "ON":
        items.append(PrecheckItem(CHECK_BINLOG, "finish", "binary log is on"))
    else:
        items.append(
            PrecheckItem(
                CHECK_BINLOG,
                "warning",
                "binary log is off: full backups work, point-in-time recovery will not",
                "start mysqld with log_bin (log-bin = mysql-bin in my.cnf) and restart it",
            )
        )
    if binlog_format == "ROW":
        items.append(PrecheckItem(CHECK_BINLOG_FORMAT, "finish", "binlog_format=ROW"))
    else:
        items.append(
            PrecheckItem(
                CHECK_BINLOG_FORMAT,
                "warning",
                f"binlog_format={binlog_format or 'unknown'}; log backup will need ROW",
                "SET GLOBAL binlog_format = 'ROW', and binlog_format = ROW in my.cnf",
            )
        )
    return items


def precheck(source: Endpoint, objects: ObjectSelection) -> list[PrecheckItem]:
    try:
        conn = connect(source, database="")
    except EngineError as exc:
        return [
            PrecheckItem(
                CHECK_CONNECTIVITY,
                "failed",
                exc.message,
                "check host, port, user and password; the account needs: GRANT "
                + ", ".join(PER_DATABASE + GLOBAL_ONLY)
                + " ON *.* TO 'dbs'@'%'",
            )
        ]
    try:
        items = [PrecheckItem(CHECK_CONNECTIVITY, "finish", f"connected to {source.display()}")]
        server = server_info(conn)
        items.append(_version_item(server))
        selected = selected_tables(conn, objects, source.database)
        if selected:
            count = sum(len(t) for t in selected.values())
            items.append(
                PrecheckItem(
                    CHECK_BACKUP_OBJECTS, "finish", f"{len(selected)} databases, {count} tables"
                )
            )
        else:
            items.append(
                PrecheckItem(
                    CHECK_BACKUP_OBJECTS,
                    "failed",
                    f"no database or table matches {objects.to_spec() or '*'!r}",
                    "fix the object selection (list the server's objects to see the names)",
                )
            )
        missing = _missing_privileges(conn, list(selected))
        if missing:
            items.append(
                PrecheckItem(
                    CHECK_PRIVILEGES,
                    "failed",
                    "the account lacks " + ", ".join(missing),
                    f"GRANT {', '.join(missing)} ON *.* TO {_current_user(conn)}",
                )
            )
        else:
            items.append(PrecheckItem(CHECK_PRIVILEGES, "finish", "all required privileges"))
        other = sorted(
            t.dotted
            for ts in selected.values()
            for t in ts
            if t.engine.lower() not in ("innodb", "xtradb", "rocksdb", "tokudb")
        )
        if other:
            items.append(
                PrecheckItem(
                    CHECK_TRANSACTIONAL_ENGINE,
                    "warning",
                    "not covered by the consistent snapshot: " + ", ".join(other[:20]),
                    "ALTER TABLE ... ENGINE=InnoDB for tables that change during backups",
                )
            )
        items.extend(_binlog_items(conn))
        return items
    except pymysql.err.MySQLError as exc:
        return [
            PrecheckItem(
                CHECK_CONNECTIVITY,
                "failed",
                f"the server failed a metadata query: {exc.args[-1]}",
                "check that the account can read information_schema and SHOW GRANTS",
            )
        ]
    finally:
        close_quietly(conn)
