"""The contract between the service and each database engine.

An engine reads a database as byte streams and writes them back. It never
touches the catalog or storage: a backup hands streams to a `BackupWriter`
(implemented by the repository), a restore reads them from a `BackupReader`.
Every engine package (`engines/postgresql`, `engines/mysql`, `engines/sqlite`,
`engines/redis`) exposes one object implementing `Engine`, registered in
`dbs.engines.registry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, Protocol

from dbs.engines.endpoint import Endpoint
from dbs.engines.selection import ObjectSelection

# Where a chunk cut may fall inside a stream, so that an unchanged record
# deduplicates between backups:
#   None        anywhere (content-defined only)
#   bytes       right after this delimiter, e.g. b"\n" after each COPY text row
#   int         on multiples of this record size, e.g. a 4096-byte database page
Boundaries = bytes | int | None


@dataclass(frozen=True)
class StreamInfo:
    """What the repository recorded for one stream."""

    name: str
    size: int
    checksum: str  # hex BLAKE3 of the plaintext stream
    chunk_count: int


class BackupWriter(Protocol):
    """Receives a backup set's streams. Thread-safe: engines add streams in parallel."""

    def add_stream(
        self, name: str, chunks: Iterable[bytes], boundaries: Boundaries = None
    ) -> StreamInfo:
        """Consume ``chunks`` (pieces of any size) and store them as stream ``name``."""
        ...


class BackupReader(Protocol):
    """A committed backup set, read back."""

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The engine metadata recorded in the manifest."""
        ...

    def list_streams(self) -> list[StreamInfo]: ...

    def open_stream(self, name: str) -> Iterator[bytes]:
        """The stream's bytes in order, verified against its checksum as they are read."""
        ...


class Progress(Protocol):
    """Where an engine reports long work. Implementations must be thread-safe."""

    def set_total(
        self, *, bytes_total: int | None = None, items_total: int | None = None
    ) -> None: ...

    def advance(self, *, bytes_done: int = 0, items_done: int = 0) -> None: ...

    def step(self, message: str) -> None:
        """One line in the job's log: which step is running now."""
        ...


class NullProgress:
    """Progress that goes nowhere, for callers that do not show it."""

    def set_total(self, *, bytes_total: int | None = None, items_total: int | None = None) -> None:
        pass

    def advance(self, *, bytes_done: int = 0, items_done: int = 0) -> None:
        pass

    def step(self, message: str) -> None:
        pass


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
