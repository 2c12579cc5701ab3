"""The contract between the service and each database engine, and the engine vocabulary.

An engine reads a database as byte streams and writes them back. It never
touches the catalog or storage: a backup hands streams to a `BackupWriter`
(implemented by the repository), a restore reads them from a `BackupReader`
(both in `dbs.streams`, which engines and the repository share).
Every engine package (`engines/postgresql`, `engines/mysql`, `engines/sqlite`,
`engines/redis`) exposes one object implementing `Engine`, registered in
`dbs.engines.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, Protocol

from dbs.engines.endpoint import Endpoint
from dbs.engines.selection import ObjectSelection
from dbs.streams import BackupReader, BackupWriter, Progress

PrecheckState = Literal["finish", "warning", "failed"]


@dataclass(frozen=True)
class PrecheckItem:
    """One precheck result, named as DBS names them (``CHECK_CONNECTIVITY`` ...)."""

    item: str
    state: PrecheckState
    message: str = ""
    fix: str = ""  # what the operator should do, e.g. "GRANT pg_read_all_data TO backup"


@dataclass(frozen=True)
class DatabaseObject:
    """One listable object: a database, a schema or a table (dotted ``name``)."""

    kind: Literal["database", "schema", "table", "keyspace"]
    name: str
    rows: int | None = None
    size_bytes: int | None = None


ConflictRule = Literal["renamenew", "overwrite", "skip", "fail"]
# How a restore proves what it loaded: "content" reads every restored table back and compares
# row count and ordered content hash with the manifest; "rows" compares row counts only,
# which costs a count per table instead of a full read-back (docs/engines/postgresql.md).
VerifyLevel = Literal["content", "rows"]
VERIFY_LEVELS: tuple[VerifyLevel, ...] = ("content", "rows")


@dataclass
class RestoreOptions:
    objects: ObjectSelection = field(default_factory=ObjectSelection.everything)
    conflict: ConflictRule = "renamenew"
    # Explicit renames: source database (or db.table) -> target name.
    rename: dict[str, str] = field(default_factory=dict)
    parallel: int = 2
    verify: VerifyLevel = "content"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RestoreResult:
    """What a restore created and what verification found."""

    restored: dict[str, str] = field(default_factory=dict)  # source name -> target name
    verified: bool = False
    mismatches: list[str] = field(default_factory=list)


class EngineError(Exception):
    """A failed engine step; ``step`` names it for the job log (e.g. ``copy table public.t``)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message


def raise_after_cleanup(exc: Exception, outcome: str, progress: Progress) -> NoReturn:
    """Re-raise a restore's failure once it has removed what it created: the job log gets
    ``outcome`` ("the partly restored database x was dropped"), and so does an EngineError's
    message."""
    progress.step(outcome)
    if isinstance(exc, EngineError):
        raise EngineError(exc.step, f"{exc.message}; {outcome}") from None
    raise exc


class Engine(Protocol):
    name: str  # "postgresql", "mysql", "sqlite", "redis"

    def precheck(self, source: Endpoint, objects: ObjectSelection) -> list[PrecheckItem]: ...

    def list_objects(self, source: Endpoint) -> list[DatabaseObject]: ...

    def backup(
        self,
        source: Endpoint,
        objects: ObjectSelection,
        writer: BackupWriter,
        progress: Progress,
        *,
        parallel: int = 2,
    ) -> dict[str, Any]:
        """Write a consistent full backup; return metadata for the manifest."""
        ...

    def restore(
        self,
        reader: BackupReader,
        target: Endpoint,
        options: RestoreOptions,
        progress: Progress,
    ) -> RestoreResult:
        """Restore (and verify) what ``reader`` holds into ``target``."""
        ...


class BackupFunction(Protocol):
    """An engine package's ``backup.backup``."""

    def __call__(
        self,
        source: Endpoint,
        objects: ObjectSelection,
        writer: BackupWriter,
        progress: Progress,
        /,
        *,
        parallel: int,
    ) -> dict[str, Any]: ...


class EngineBase:
    """The `Engine` protocol over the functions of one engine package.

    Every package has the same modules (docs/engines/README.md); its ``engine.py`` builds
    the engine from them, e.g. ``EngineBase("redis", precheck=precheck.precheck, ...)``,
    or subclasses this where the engine takes options (``split_bytes``).
    """

    def __init__(
        self,
        name: str,
        *,
        precheck: Callable[[Endpoint, ObjectSelection], list[PrecheckItem]],
        list_objects: Callable[[Endpoint], list[DatabaseObject]],
        backup: BackupFunction,
        restore: Callable[[BackupReader, Endpoint, RestoreOptions, Progress], RestoreResult],
    ) -> None:
        self.name = name
        self._precheck = precheck
        self._list_objects = list_objects
        self._backup = backup
        self._restore = restore

    def precheck(self, source: Endpoint, objects: ObjectSelection) -> list[PrecheckItem]:
        return self._precheck(source, objects)

    def list_objects(self, source: Endpoint) -> list[DatabaseObject]:
        return self._list_objects(source)

    def backup(
        self,
        source: Endpoint,
        objects: ObjectSelection,
        writer: BackupWriter,
        progress: Progress,
        *,
        parallel: int = 2,
    ) -> dict[str, Any]:
        return self._backup(source, objects, writer, progress, parallel=parallel)

    def restore(
        self,
        reader: BackupReader,
        target: Endpoint,
        options: RestoreOptions,
        progress: Progress,
    ) -> RestoreResult:
        return self._restore(reader, target, options, progress)
