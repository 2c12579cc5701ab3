"""A directory as an object store.

Writes go to a temporary file in the same directory, are fsynced, then
renamed into place (atomic on POSIX). Create-only puts use ``os.link`` of the
temp file onto the final name, which fails if the name exists: an atomic
"create if absent" that plain ``rename`` cannot give. Directories created for
a key are fsynced into their parents too, so a completed put survives a crash.

A key is a file, so one key cannot also be a "directory" of other keys
(``a`` and ``a/b``); such a put is refused with a StorageError.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dbs.storage.base import ObjectExistsError, ObjectInfo, ObjectNotFoundError, StorageError
from dbs.storage.keys import check_key, check_prefix

_TMP_SUFFIX = ".tmp-dbs"
# Not found, or a path component is a file / the key is a directory: no such object.
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the storage directory {self.root}: {exc.strerror}; "
                "choose a directory this user may write"
            ) from None

    def describe(self) -> str:
        return f"local:{self.root}"

    def __repr__(self) -> str:
        return f"LocalStore({self.root})"

    def _path(self, key: str) -> Path:
        check_key(key)
        if key.endswith(_TMP_SUFFIX):
            raise StorageError(
                f"invalid object key {key!r}: names ending in {_TMP_SUFFIX!r} are reserved "
                "for temporary files of the local store"
            )
        return self.root / key

    def put(self, key: str, data: bytes | Iterable[bytes], *, create_only: bool = False) -> None:
        path = self._path(key)
        self._make_parents(key, path.parent)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_TMP_SUFFIX}")
        pieces = [data] if isinstance(data, bytes | bytearray | memoryview) else data
        try:
            with self._os_errors("put", key):
                f = open(tmp, "wb")  # noqa: SIM115 - closed by the with below
            with f:
                # Only our own file operations become StorageErrors: an exception
                # raised by the caller's iterable passes through unchanged.
                for piece in pieces:
                    with self._os_errors("put", key):
                        f.write(piece)
                with self._os_errors("put", key):
                    f.flush()
                    os.fsync(f.fileno())
            with self._os_errors("put", key):
                self._commit(key, tmp, path, create_only=create_only)
        finally:
            tmp.unlink(missing_ok=True)

    def _commit(self, key: str, tmp: Path, path: Path, *, create_only: bool) -> None:
        if path.is_dir():
            raise self._conflict(key)
        if create_only:
            try:
                os.link(tmp, path)
            except FileExistsError:
                if path.is_dir():  # created concurrently as a "directory" of other keys
                    raise self._conflict(key) from None
                raise ObjectExistsError(f"object {key!r} already exists") from None
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)

    @contextmanager
    def _os_errors(self, operation: str, key: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise self._os_error(operation, key, exc) from None

    def _make_parents(self, key: str, parent: Path) -> None:
        missing: list[Path] = []
        probe = parent
        while probe != self.root and not probe.is_dir():
            missing.append(probe)
            probe = probe.parent
        for directory in reversed(missing):
            try:
                directory.mkdir(exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise self._conflict(key) from None
            except OSError as exc:
                raise self._os_error("put", key, exc) from None
            _fsync_dir(directory.parent)  # make the new directory entry durable

    def _conflict(self, key: str) -> StorageError:
        return StorageError(
            f"object {key!r} conflicts with existing keys in {self.describe()}: on local "
            "storage a key cannot also be a prefix directory of other keys (like 'a' and 'a/b')"
        )

    def _os_error(self, operation: str, key: str, exc: OSError) -> StorageError:
        hint = {
            errno.ENOSPC: "free space on the disk",
            errno.EDQUOT: "raise the disk quota",
            errno.EACCES: "give this user write access",
            errno.EROFS: "the file system is read-only; mount it read-write",
        }.get(exc.errno or 0, "check the directory")
        return StorageError(
            f"{operation} of {key!r} in {self.describe()} failed: {exc.strerror}; {hint}"
        )

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except _MISSING:
            raise self._not_found(key) from None

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise StorageError(f"get_range of {key!r}: offset and length must be >= 0")
        try:
            with open(self._path(key), "rb") as f:
                f.seek(offset)
                return f.read(length)
        except _MISSING:
            raise self._not_found(key) from None

    def iter_get(self, key: str, piece_size: int = 8 << 20) -> Iterator[bytes]:
        try:
            f = open(self._path(key), "rb")  # noqa: SIM115 - closed by the generator
        except _MISSING:
            raise self._not_found(key) from None
        return _read_pieces(f, piece_size)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        # Walk only below the deepest directory the prefix names.
        directory, _, _ = prefix.rpartition("/")
        start = self.root.joinpath(*directory.split("/")) if directory else self.root
        base = f"{directory}/" if directory else ""
        return (info for info in self._walk(start, base) if info.key.startswith(prefix))

    def _walk(self, directory: Path, base: str) -> Iterator[ObjectInfo]:
        """Objects below ``directory`` in key order, lazily (no full listing in memory).

        Sorting a directory's entries with sub-directories named ``name/`` yields
        keys in the same order as sorting the full keys would (``a-1``, ``a/x``, ``a0``).
        """
        try:
            with os.scandir(directory) as scan:
                entries = [(e.name + "/" if e.is_dir() else e.name, e) for e in scan]
        except _MISSING:
            return
        for name, entry in sorted(entries, key=lambda item: item[0]):
            if name.endswith("/"):
                yield from self._walk(Path(entry.path), base + name)
            elif not name.endswith(_TMP_SUFFIX):
                try:
                    size = entry.stat().st_size
                except FileNotFoundError:
                    continue  # deleted while listing
                yield ObjectInfo(base + name, size)

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            if path.is_file():
                return ObjectInfo(key, path.stat().st_size)
        except _MISSING:
            pass
        raise self._not_found(key)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except (NotADirectoryError, IsADirectoryError):
            return  # no such object: a parent is a file, or the key is a directory
        except OSError as exc:
            if path.is_dir():  # some systems answer EPERM for unlink() on a directory
                return
            raise self._os_error("delete", key, exc) from None

    def _not_found(self, key: str) -> ObjectNotFoundError:
        return ObjectNotFoundError(f"object {key!r} not found in {self.describe()}")


def _read_pieces(handle: BinaryIO, piece_size: int) -> Iterator[bytes]:
    with handle:
        while piece := handle.read(piece_size):
            yield piece


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
