"""Large streams, generated on the fly and verified by a streaming checksum (never held whole)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest

from dbs.repo import Repository
from dbs.storage.base import ObjectStore
from dbs.storage.local import LocalStore
from tests.repo.conftest import dump_rows

TEXT = b"".join(dump_rows(9, 7_000))[: 768 << 10]


def _mixed(total: int, digest: hashlib._Hash) -> Iterator[bytes]:
    """1 MiB pieces: 256 KiB of fresh random bytes + a recurring 768 KiB text block."""
    sent = 0
    while sent < total:
        piece = (os.urandom(256 << 10) + TEXT)[: total - sent]
        digest.update(piece)
        sent += len(piece)
        yield piece


def _round_trip(repo: Repository, total: int, boundaries: bytes | None) -> None:
    source = hashlib.sha256()
    with repo.begin_backup() as w:
        info = w.add_stream("big", _mixed(total, source), boundaries)
        set_id = w.commit({}).id
    assert info.size == total
    restored = hashlib.sha256()
    size = 0
    for piece in repo.open_backup_set(set_id).open_stream("big"):
        restored.update(piece)
        size += len(piece)
    assert size == total and restored.digest() == source.digest()


@pytest.mark.slow
def test_two_gib_stream_local(repo: Repository, object_store: ObjectStore) -> None:
    if not isinstance(object_store, LocalStore):
        pytest.skip("the multi-GiB case runs on local storage; S3 gets the 64 MiB case")
    _round_trip(repo, (2 << 30) + 12345, None)


def test_64_mib_stream_every_backend(repo: Repository) -> None:
    _round_trip(repo, (64 << 20) + 1, b"\n")
