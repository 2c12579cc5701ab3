"""Fixtures for repository tests: a real repository on each storage backend."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from dbs.repo import KeySource, Repository
from dbs.storage.base import ObjectStore


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "repo.key"


@pytest.fixture
def repo(object_store: ObjectStore, key_path: Path) -> Iterator[Repository]:
    """An empty encrypted repository (key file: fast to open, unlike Argon2 passphrases)."""
    repository = Repository.create(object_store, KeySource.generate_keyfile(key_path))
    yield repository
    repository.close()


def dump_rows(seed: int, rows: int, *, start_id: int = 0) -> Iterator[bytes]:
    """Dump-like text rows (ids, numbers, dates, hashes, JSON), one piece per 1000 rows."""
    rnd = random.Random(seed)
    piece: list[str] = []
    for i in range(start_id, start_id + rows):
        digest = hashlib.md5(f"{seed}-{i}".encode()).hexdigest()
        piece.append(
            f"{i}\t{rnd.randint(0, 10**9)}\t2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
            f'\t{digest}\t{{"k": {rnd.randint(0, 999)}, "tag": "t{i % 17}"}}\n'
        )
        if len(piece) == 1000:
            yield "".join(piece).encode()
            piece = []
    if piece:
        yield "".join(piece).encode()


def rechunk(data: bytes, sizes: Iterable[int]) -> Iterator[bytes]:
    """``data`` in pieces of the given sizes (cycled), to vary how a caller splits a stream."""
    sizes = list(sizes)
    pos = 0
    i = 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        yield data[pos : pos + n]
        pos += n
        i += 1


def read_all(repository: Repository, set_id: str, name: str) -> bytes:
    return b"".join(repository.open_backup_set(set_id).open_stream(name))
