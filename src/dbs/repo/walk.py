"""Walking what backup sets reference: manifests, chunk-list blobs, chunk ids."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from dbs.repo.blobs import BlobDamaged, read_blob
from dbs.repo.crypto import Crypto, IntegrityError
from dbs.repo.index import ChunkIndex
from dbs.repo.layout import ID_SIZE, SETS_PREFIX
from dbs.repo.manifest import Manifest, read_manifest
from dbs.storage.base import ObjectNotFoundError, ObjectStore


@dataclass(frozen=True)
class ManifestProblem:
    set_id: str
    reason: str


def iter_manifests(store: ObjectStore, crypto: Crypto) -> Iterator[Manifest | ManifestProblem]:
    for info in store.list(SETS_PREFIX):
        set_id = info.key[len(SETS_PREFIX) :]
        try:
            yield read_manifest(crypto, set_id, store.get(info.key))
        except ObjectNotFoundError:
            continue  # deleted while we listed
        except IntegrityError as exc:
            yield ManifestProblem(set_id, str(exc))


@dataclass(frozen=True)
class Ref:
    """One chunk id a set references; ``problem`` is set when it cannot be resolved."""

    chunk_id: bytes
    stream: str
    problem: str | None = None


def iter_set_refs(
    store: ObjectStore, crypto: Crypto, index: ChunkIndex, manifest: Manifest
) -> Iterator[Ref]:
    """Every chunk-list blob id and chunk id of a set (chunk-list blobs are read)."""
    for stream in manifest.streams:
        name = stream.info.name
        for list_id in stream.chunk_lists:
            loc = index.get(list_id)
            if loc is None:
                yield Ref(list_id, name, "chunk list is not in any index")
                continue
            try:
                blob = read_blob(store, crypto, list_id, loc)
            except BlobDamaged as exc:
                yield Ref(list_id, name, f"chunk list unreadable: {exc.reason}")
                continue
            yield Ref(list_id, name)
            for pos in range(0, len(blob), ID_SIZE):
                yield Ref(blob[pos : pos + ID_SIZE], name)
