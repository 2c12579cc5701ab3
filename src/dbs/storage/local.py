"""A directory as an object store.

Writes go to a temporary file in the same directory, are fsynced, then
renamed into place (atomic on POSIX). Create-only puts use ``os.link`` of the
temp file onto the final name, which fails if the name exists: an atomic
"create if absent" that plain ``rename`` cannot give.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from dbs.storage.base import ObjectExistsError, ObjectInfo, ObjectNotFoundError, StorageError

_TMP_SUFFIX = ".tmp-dbs"


class LocalStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return f"local:{self.root}"

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/") or key.endswith("/"):
            raise StorageError(f"invalid object key {key!r}: use a relative path without '..'")
        return self.root / key

    def put(self, key: str, data: bytes | Iterable[bytes], *, create_only: bool = False) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_TMP_SUFFIX}")
        try:
            with open(tmp, "wb") as f:
                if isinstance(data, bytes | bytearray | memoryview):
                    f.write(data)
                else:
                    for piece in data:
                        f.write(piece)
                f.flush()
                os.fsync(f.fileno())
            if create_only:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    raise ObjectExistsError(f"object {key!r} already exists") from None
            else:
                os.replace(tmp, path)
            _fsync_dir(path.parent)
        finally:
            tmp.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"object {key!r} not found in {self.describe()}") from None

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                f.seek(offset)
                return f.read(length)
        except FileNotFoundError:
            raise ObjectNotFoundError(f"object {key!r} not found in {self.describe()}") from None

    def iter_get(self, key: str, piece_size: int = 8 << 20) -> Iterator[bytes]:
        try:
            f = open(self._path(key), "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise ObjectNotFoundError(f"object {key!r} not found in {self.describe()}") from None
        return _read_pieces(f, piece_size)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        found: list[ObjectInfo] = []
        # Walk only below the deepest directory the prefix names.
        start = self.root.joinpath(*prefix.split("/")[:-1]) if "/" in prefix else self.root
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in filenames:
                if name.endswith(_TMP_SUFFIX):
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
                if key.startswith(prefix):
                    try:
                        size = os.stat(os.path.join(dirpath, name)).st_size
                    except FileNotFoundError:
                        continue  # deleted while listing
                    found.append(ObjectInfo(key, size))
        found.sort(key=lambda info: info.key)
        return iter(found)

    def stat(self, key: str) -> ObjectInfo:
        try:
            return ObjectInfo(key, self._path(key).stat().st_size)
        except FileNotFoundError:
            raise ObjectNotFoundError(f"object {key!r} not found in {self.describe()}") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


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
