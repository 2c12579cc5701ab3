"""The object-store protocol every backend implements.

Keys are ``/``-separated relative paths (``packs/ab/abcdef...``). Objects are
written whole and never modified in place; ``put(..., create_only=True)`` is
the primitive the repository builds write-once semantics on (a manifest or a
lock is created only if nobody created it first).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from dbs.errors import DbsError


class StorageError(DbsError):
    code = "StorageError"


class ObjectExistsError(StorageError):
    """A create-only put found the key already present."""

    code = "ObjectAlreadyExists"


class ObjectNotFoundError(StorageError):
    code = "ObjectNotFound"
    http_status = 404


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


@runtime_checkable
class ObjectStore(Protocol):
    """What the repository needs from storage, and nothing more."""

    def put(self, key: str, data: bytes | Iterable[bytes], *, create_only: bool = False) -> None:
        """Store an object. With ``create_only`` raise ObjectExistsError if the key exists.

        ``data`` may be an iterable of byte pieces so that large objects stream
        (the S3 backend turns them into a parallel multipart upload).
        """
        ...

    def get(self, key: str) -> bytes:
        """The whole object (callers use this only for objects of bounded size)."""
        ...

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset``; fewer only at the end of the object."""
        ...

    def iter_get(self, key: str, piece_size: int = 8 << 20) -> Iterator[bytes]:
        """The object as a stream of pieces, for objects too large to hold whole."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Size of one object; ObjectNotFoundError if absent."""
        ...

    def delete(self, key: str) -> None:
        """Remove an object; deleting a missing key is not an error."""
        ...

    def describe(self) -> str:
        """Where this store is, for people (never includes a secret)."""
        ...
