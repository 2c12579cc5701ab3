"""Which objects a backup or restore covers (DBS ``BackupObjects``).

A selection is a list of include patterns and a list of exclude patterns.
Each pattern is dotted: ``db``, ``db.table`` or ``db.schema.table`` (engines
without schemas use two parts). ``*`` and ``?`` are wildcards within a part.
An empty include list means everything. Excludes win over includes.

CLI form: ``--objects "db1,db2.orders,db3.*,!db1.audit_*"`` (``!`` excludes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from dbs.errors import InvalidParameter


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _split(pattern: str) -> list[str]:
    """Split on dots outside double quotes: ``"my.db".t`` is two parts."""
    parts, cur, quoted = [], "", False
    for ch in pattern:
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _matches(pattern: str, names: tuple[str, ...]) -> bool:
    parts = _split(pattern)
    # db.table against (db, schema, table) means the table in any schema.
    if len(parts) == 2 and len(names) == 3:
        parts = [parts[0], "*", parts[1]]
    if len(parts) > len(names):
        return False
    # A pattern shorter than the name selects the whole container (db selects its tables).
    return all(_glob(p).fullmatch(n) for p, n in zip(parts, names, strict=False))


@dataclass(frozen=True)
class ObjectSelection:
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = field(default=())

    @classmethod
    def everything(cls) -> ObjectSelection:
        return cls()

    @classmethod
    def parse(cls, spec: str | None, *, field_name: str = "--objects") -> ObjectSelection:
        if spec is None or not spec.strip() or spec.strip() == "*":
            return cls()
        includes: list[str] = []
        excludes: list[str] = []
        for raw in spec.split(","):
            item = raw.strip()
            if not item:
                continue
            target = excludes if item.startswith("!") else includes
            item = item.lstrip("!")
            if not item or any(not p for p in _split(item)) or len(_split(item)) > 3:
                raise InvalidParameter(
                    f"{field_name}: {raw.strip()!r} is not a valid object pattern; use db, "
                    "db.table or db.schema.table (wildcards * and ?, '!' to exclude)",
                    code="InvalidParameter.BackupObjects",
                )
            target.append(item)
        return cls(tuple(includes), tuple(excludes))

    def is_everything(self) -> bool:
        return not self.includes and not self.excludes

    def selects(self, *names: str) -> bool:
        """Whether the object named by ``names`` (db[, schema], table) is selected."""
        if any(_matches(p, names) for p in self.excludes):
            return False
        if not self.includes:
            return True
        return any(_matches(p, names) or _matches(p, names[:1]) for p in self.includes)

    def may_select_database(self, database: str) -> bool:
        """Whether any object in ``database`` could be selected (to skip whole databases)."""
        if any(len(_split(p)) == 1 and _glob(p).fullmatch(database) for p in self.excludes):
            return False
        if not self.includes:
            return True
        return any(_glob(_split(p)[0]).fullmatch(database) for p in self.includes)

    def names_databases_only(self) -> bool:
        """True when every pattern names a whole database (no table or schema parts)."""
        return all(len(_split(p)) == 1 for p in (*self.includes, *self.excludes))

    def to_spec(self) -> str:
        return ",".join([*self.includes, *(f"!{p}" for p in self.excludes)])
