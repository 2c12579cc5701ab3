"""Precheck: reachable, authenticated, new enough, allowed to replicate, enough memory to fork."""

from __future__ import annotations

import redis

from dbs.engines.base import PrecheckItem
from dbs.engines.endpoint import Endpoint
from dbs.engines.precheck_items import (
    CHECK_AUTH,
    CHECK_BACKUP_OBJECTS,
    CHECK_CONNECTIVITY,
    CHECK_FORK,
    CHECK_MEMORY,
    CHECK_PRIVILEGES,
    CHECK_SERVER_VERSION,
)
from dbs.engines.redis.connection import ServerFacts, client, server_facts
from dbs.engines.redis.objects import KeyFilter
from dbs.engines.selection import ObjectSelection

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _connect(source: Endpoint) -> tuple[list[PrecheckItem], ServerFacts | None]:
    where = f"{source.host}:{source.port}"
    try:
        with client(source) as conn:
            facts = server_facts(conn)
    except redis.AuthenticationError as exc:
        why = "the server needs a password" if source.password is None else f"{exc}"
        return [
            PrecheckItem(CHECK_CONNECTIVITY, "finish", f"{where} reachable"),
            PrecheckItem(
                CHECK_AUTH,
                "failed",
                f"the server refused the credentials: {why}",
                "give the right user and password (redis://user:password@host:port); "
                "check ACL LIST / requirepass on the server",
            ),
        ], None
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "NOPERM" in str(exc):
            return [
                PrecheckItem(CHECK_CONNECTIVITY, "finish", f"{where} reachable"),
                PrecheckItem(
                    CHECK_AUTH,
                    "failed",
                    f"{exc}",
                    "give a password in the source URL, and an account allowed INFO and PSYNC",
                ),
            ], None
        raise
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        return [
            PrecheckItem(
                CHECK_CONNECTIVITY,
                "failed",
                f"cannot reach Redis at {where}: {exc}",
                "check host and port, that redis-server runs, and bind/protected-mode/firewall",
            )
        ], None
    return [
        PrecheckItem(CHECK_CONNECTIVITY, "finish", f"{where} reachable"),
        PrecheckItem(CHECK_AUTH, "finish", "authenticated" if source.password else "no AUTH"),
    ], facts


def _version_item(facts: ServerFacts) -> PrecheckItem:
    if facts.major_minor >= (7, 0):
        return PrecheckItem(
            CHECK_SERVER_VERSION, "finish", f"Redis {facts.version} (rdb-only sync)"
        )
    if facts.major_minor >= (2, 8):
        return PrecheckItem(
            CHECK_SERVER_VERSION,
            "warning",
            f"Redis {facts.version}: no REPLCONF rdb-only, so the server buffers writes for the "
            "backup connection while the snapshot transfers",
            "upgrade to Redis 7, or raise client-output-buffer-limit replica for large datasets",
        )
    return PrecheckItem(
        CHECK_SERVER_VERSION, "failed", f"Redis {facts.version} has no PSYNC", "upgrade Redis"
    )


def _sync_permission_item(source: Endpoint) -> PrecheckItem:
    with client(source) as conn:
        return _sync_permission(conn, source.user or "default")


def _sync_permission(conn: redis.Redis, user: str) -> PrecheckItem:
    """ACL DRYRUN answers exactly; without the right to ask, probe REPLCONF (same ACL class)."""
    try:
        verdict = conn.execute_command("ACL", "DRYRUN", user, "PSYNC", "?", "-1")  # type: ignore[no-untyped-call]
        if verdict in (b"OK", "OK", True):
            return PrecheckItem(CHECK_PRIVILEGES, "finish", f"user {user} may run PSYNC")
        return PrecheckItem(
            CHECK_PRIVILEGES,
            "failed",
            f"user {user} may not run PSYNC: {verdict!r}",
            f"ACL SETUSER {user} +psync +replconf +info +ping",
        )
    except redis.ResponseError:
        pass  # no right to ACL (or Redis < 7): fall back to a harmless probe
    try:
        conn.execute_command("REPLCONF", "capa", "eof")  # type: ignore[no-untyped-call]
    except redis.ResponseError as exc:
        return PrecheckItem(
            CHECK_PRIVILEGES,
            "failed",
            f"user {user} may not run REPLCONF: {exc}",
            f"ACL SETUSER {user} +psync +replconf +info +ping",
        )
    return PrecheckItem(
        CHECK_PRIVILEGES,
        "warning",
        "REPLCONF is allowed; PSYNC could not be checked without the ACL command",
        f"make sure user {user} may run PSYNC (ACL SETUSER {user} +psync)",
    )


def _memory_items(source: Endpoint, facts: ServerFacts) -> list[PrecheckItem]:
    info = facts.info
    items: list[PrecheckItem] = []
    used = int(info.get("used_memory", 0))
    total = int(info.get("total_system_memory", 0))
    # The snapshot is written by a forked child; pages changed meanwhile are copied.
    if total and used > total // 2:
        items.append(
            PrecheckItem(
                CHECK_MEMORY,
                "warning",
                f"Redis uses {used} of {total} bytes of system memory; the fork for the snapshot "
                "may need up to as much again under heavy writes",
                "back up at a quiet time, add memory, or set vm.overcommit_memory=1",
            )
        )
    else:
        items.append(PrecheckItem(CHECK_MEMORY, "finish", f"used_memory {used} bytes"))
    if source.host in _LOCAL_HOSTS:
        try:
            with open("/proc/sys/vm/overcommit_memory") as f:
                overcommit = f.read().strip()
        except OSError:
            overcommit = ""
        if overcommit == "0":
            items.append(
                PrecheckItem(
                    CHECK_FORK,
                    "warning",
                    "vm.overcommit_memory is 0: the fork for the snapshot can fail on a busy host",
                    "sysctl vm.overcommit_memory=1 (what Redis itself recommends)",
                )
            )
    if info.get("rdb_last_bgsave_status") == "err":
        items.append(
            PrecheckItem(
                CHECK_FORK,
                "warning",
                "the server's last background save failed (rdb_last_bgsave_status:err)",
                "read the Redis log: usually the fork failed for lack of memory",
            )
        )
    return items


def precheck(source: Endpoint, selection: ObjectSelection) -> list[PrecheckItem]:
    items, facts = _connect(source)
    if facts is None:
        return items
    items.append(_version_item(facts))
    items.append(_sync_permission_item(source))
    items += _memory_items(source, facts)
    keep = KeyFilter(selection, int(source.database) if source.database else None)
    dbs = [int(name[2:]) for name in facts.keyspace]
    chosen = [db for db in dbs if keep.wants_db(db) is not False]
    if chosen:
        items.append(PrecheckItem(CHECK_BACKUP_OBJECTS, "finish", f"databases {chosen} hold keys"))
    else:
        items.append(
            PrecheckItem(
                CHECK_BACKUP_OBJECTS,
                "warning",
                f"no selected database holds keys (databases with keys: {dbs})"
                if dbs
                else "the instance holds no keys: the backup will be empty",
                "Redis objects are named <db> and <db>.<key pattern>, e.g. 0 or 0.user:*",
            )
        )
    return items
