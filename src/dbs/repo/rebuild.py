"""Rebuilding the index from pack headers alone (after an index object was lost or damaged).

Reads only each pack's trailer and header (two ranged reads), writes one new
index object listing every blob found, then removes the old index objects.
Runs under the exclusive lock, like prune.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from dbs.repo.crypto import IntegrityError
from dbs.repo.index import PackRecord, write_index_object
from dbs.repo.layout import INDEX_PREFIX, PACKS_PREFIX, index_key, pack_id_from_key
from dbs.repo.locks import RepositoryLock
from dbs.repo.pack import TRAILER_SIZE, parse_header

if TYPE_CHECKING:
    from dbs.repo.repository import Repository


@dataclass
class RebuildReport:
    packs_read: int = 0
    blobs_indexed: int = 0
    damaged_packs: list[str] = field(default_factory=list)  # headers unreadable: not indexed
    index_objects_replaced: int = 0

    def lines(self) -> list[str]:
        out = [
            f"read {self.packs_read} pack headers, indexed {self.blobs_indexed} blobs, "
            f"replaced {self.index_objects_replaced} index objects"
        ]
        out += [f"damaged pack (not indexed): {key}" for key in self.damaged_packs]
        return out


def rebuild_index(repo: Repository) -> RebuildReport:
    store, crypto = repo.store, repo.crypto
    lock, _ = RepositoryLock.acquire(store, "exclusive", "rebuild index", break_stale=True)
    report = RebuildReport()
    try:
        old = [info.key for info in store.list(INDEX_PREFIX)]
        packs: list[PackRecord] = []
        for info in store.list(PACKS_PREFIX):
            pack_id = pack_id_from_key(info.key)
            if pack_id is None:
                continue
            report.packs_read += 1
            try:
                trailer = store.get_range(info.key, info.size - TRAILER_SIZE, TRAILER_SIZE)
                key = info.key
                entries = parse_header(
                    crypto, pack_id, trailer, info.size, partial(store.get_range, key)
                )
            except (IntegrityError, ValueError):
                report.damaged_packs.append(info.key)
                continue
            packs.append(PackRecord(pack_id, info.size, entries))
            report.blobs_indexed += len(entries)
        stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}Z-rebuild-{secrets.token_hex(4)}"
        if packs:
            write_index_object(store, crypto, index_key(stamp), packs)
        for name in old:
            store.delete(name)
        report.index_objects_replaced = len(old)
    finally:
        lock.release()
    repo.chunk_index(refresh=True)
    return report
