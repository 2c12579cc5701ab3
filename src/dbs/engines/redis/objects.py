"""Logical databases, key selection and database renames for Redis.

Objects are named ``<db>`` (a logical database, e.g. ``0``) and ``<db>.<key>``;
selections use the shared pattern syntax, so ``0``, ``1.user:*`` and
``!0.cache:*`` work. A key containing dots is quoted: ``0."a.b"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import redis

from dbs.engines.base import DatabaseObject, EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.redis.connection import client, server_facts
from dbs.engines.selection import ObjectSelection


def _names_keys(pattern: str) -> bool:
    """Whether a pattern goes below the database level (a dot outside double quotes)."""
    quoted = False
    for ch in pattern:
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            return True
    return False


def key_text(key: bytes) -> str:
    """Keys are bytes; patterns are text. Undecodable bytes match only ``*``/``?``."""
    return key.decode("utf-8", "surrogateescape")


def key_label(db: int, key: bytes) -> str:
    """``<db>.<key>`` for messages, the key cut to 80 characters."""
    return f"{db}.{key_text(key)[:80]}"


@dataclass
class KeyFilter:
    """Which (db, key) pairs a backup or restore covers."""

    selection: ObjectSelection = field(default_factory=ObjectSelection.everything)
    only_db: int | None = None  # from an endpoint URL such as redis://host/3
    _db_verdicts: dict[int, bool | None] = field(default_factory=dict)

    @property
    def everything(self) -> bool:
        return self.only_db is None and self.selection.is_everything()

    def _per_key(self) -> bool:
        return any(map(_names_keys, (*self.selection.includes, *self.selection.excludes)))

    def wants_db(self, db: int) -> bool | None:
        """True/False when the whole db is in or out; None when it depends on the key."""
        if db not in self._db_verdicts:
            verdict: bool | None
            outside_url_db = self.only_db is not None and db != self.only_db
            if outside_url_db or not self.selection.may_select_database(str(db)):
                verdict = False
            elif self._per_key():
                verdict = None
            else:
                verdict = self.selection.selects(str(db))
            self._db_verdicts[db] = verdict
        return self._db_verdicts[db]

    def wants(self, db: int, key: bytes) -> bool:
        verdict = self.wants_db(db)
        if verdict is not None:
            return verdict
        return self.selection.selects(str(db), key_text(key))


def database_map(
    rename: Mapping[str, str], target_db: int | None, source_dbs: list[int]
) -> dict[int, int]:
    """Source db -> target db. ``rename`` wins; a target URL with /N takes a single source db."""
    mapping = {db: db for db in source_dbs}
    for src, dst in rename.items():
        if not (src.isdigit() and dst.isdigit()):
            raise EngineError(
                "map databases", f"rename {src!r} -> {dst!r}: Redis databases are numbers"
            )
        mapping[int(src)] = int(dst)
    if target_db is not None and not rename:
        if len(source_dbs) > 1:
            raise EngineError(
                "map databases",
                f"the target names database {target_db} but the backup holds databases "
                f"{source_dbs}; choose one with the object selection (e.g. '{source_dbs[0]}') "
                "or map them with rename (e.g. 0 -> 5)",
            )
        mapping = {db: target_db for db in source_dbs}
    return mapping


def keyspace_objects(keyspace: Mapping[str, Mapping[str, int]]) -> list[DatabaseObject]:
    """INFO keyspace (``db0: {keys: 3, expires: 1}``) as listable objects."""
    out = []
    for name, stats in sorted(keyspace.items(), key=lambda kv: int(kv[0][2:])):
        out.append(DatabaseObject("keyspace", name[2:], rows=int(stats.get("keys", 0))))
    return out


def list_objects(source: Endpoint) -> list[DatabaseObject]:
    """The logical databases that hold keys, with their key counts."""
    try:
        with client(source) as conn:
            return keyspace_objects(server_facts(conn).keyspace)
    except redis.RedisError as exc:
        raise EngineError("list objects", f"{exc}; run precheck") from exc
