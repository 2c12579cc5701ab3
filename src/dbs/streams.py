"""The stream contract engines and the repository both speak, and the progress they report.

A backup is a set of named byte streams: an engine hands each one to a
`BackupWriter` (implemented by the repository) and a restore reads them back
from a `BackupReader`. Neither side knows the other: the repository never
learns which engine made a stream, and an engine never touches storage. Long
work is reported to a `Progress` (implemented by the job runner), which may
also stop the work by raising from one of its calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

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
    """Where long work is reported. Implementations must be thread-safe.

    Any call may raise to stop the work (the job runner raises ``JobCancelled`` from
    ``advance`` once a stop was requested); whoever does the work must then end and
    reap what it started before the exception leaves it.
    """

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


@contextmanager
def closing_stream(pieces: Iterable[T]) -> Iterator[Iterator[T]]:
    """``pieces`` as an iterator that is closed when the block is left, however it is left.

    A ``for`` loop left by an exception does not close what it iterates, and a generator
    left suspended keeps what it holds (a child process, a cursor, a file) until the
    garbage collector gets to it, if ever. Whoever iterates a stream closes it."""
    iterator = iter(pieces)
    try:
        yield iterator
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
