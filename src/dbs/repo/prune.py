"""`dbs prune`: remove what no backup set references.

Under an exclusive lock (writers and checks hold shared ones; locks of dead
processes are broken): find every chunk the manifests reference, then

* delete packs that hold no referenced chunk, and packs no index knows
  (left by interrupted backups);
* repack packs whose unreferenced share exceeds ``REPACK_WASTE``: their
  referenced lone chunks are copied (re-sealed, not recompressed) into new
  packs, and the referenced members of each group form a new, smaller group;
* write one new index for everything kept, then delete the old index objects,
  then the packs. A crash at any point leaves a readable repository: at worst
  duplicate index entries or unindexed packs, which the next prune removes.

Refuses to run if an index or manifest is damaged: deleting on partial
knowledge could destroy data that is still needed.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dbs.repo.blobs import BlobDamaged, choose_payload, member, open_group
from dbs.repo.crypto import IntegrityError
from dbs.repo.errors import RepositoryDamaged
from dbs.repo.index import ChunkIndex, PackRecord, read_index_object, write_index_object
from dbs.repo.layout import (
    FLAG_GROUP,
    INDEX_PREFIX,
    index_key,
    pack_id_from_key,
    pack_key,
)
from dbs.repo.locks import RepositoryLock
from dbs.repo.pack import BlobEntry, BlobLocation
from dbs.repo.packsink import PackSink
from dbs.repo.walk import ManifestProblem, iter_manifests, iter_set_refs

if TYPE_CHECKING:
    from dbs.repo.repository import Repository

REPACK_WASTE = 0.25  # repack a pack when more than this share of it is unreferenced


@dataclass
class PruneReport:
    dry_run: bool
    sets: int = 0
    referenced_chunks: int = 0
    packs_total: int = 0
    packs_deleted: list[str] = field(default_factory=list)  # unused or unindexed
    packs_repacked: list[str] = field(default_factory=list)
    packs_written: list[str] = field(default_factory=list)
    bytes_freed: int = 0  # bytes of deleted packs minus bytes of new packs
    bytes_repacked: int = 0
    index_objects_replaced: int = 0
    stale_locks_broken: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would" if self.dry_run else "did"
        return [
            f"{self.sets} backup sets reference {self.referenced_chunks} chunks "
            f"in {self.packs_total} packs",
            f"{verb} delete {len(self.packs_deleted)} packs",
            f"{verb} repack {len(self.packs_repacked)} packs "
            f"({self.bytes_repacked} bytes still referenced)",
            f"{verb} replace {self.index_objects_replaced} index objects with one",
            f"{verb} free {self.bytes_freed} bytes",
            *[f"{verb} break stale lock: {d}" for d in self.stale_locks_broken],
        ]


def prune_repository(repo: Repository, *, dry_run: bool = False) -> PruneReport:
    lock, stale = RepositoryLock.acquire(repo.store, "exclusive", "prune", break_stale=not dry_run)
    report = PruneReport(dry_run=dry_run, stale_locks_broken=[s.describe() for s in stale])
    try:
        _prune(repo, report)
    finally:
        lock.release()
    return report


def _prune(repo: Repository, report: PruneReport) -> None:
    store, crypto = repo.store, repo.crypto
    # Every index object, whole: entries per pack (a blob may be listed more than once).
    index_names = [info.key for info in store.list(INDEX_PREFIX)]
    pack_entries: dict[bytes, dict[bytes, BlobEntry]] = defaultdict(dict)
    pack_sizes: dict[bytes, int] = {}
    lookup = ChunkIndex()
    for name in index_names:
        try:
            packs = read_index_object(store, crypto, name)
        except IntegrityError as exc:
            raise RepositoryDamaged(
                f"prune stopped: index object {name} is damaged ({exc}); nothing was deleted. "
                "Run `dbs check` and repair the index first"
            ) from None
        lookup.add_packs(packs, source=name)
        for pack in packs:
            pack_sizes[pack.pack_id] = pack.size
            for e in pack.entries:
                pack_entries[pack.pack_id][e.chunk_id] = e

    referenced: set[bytes] = set()
    for item in iter_manifests(store, crypto):
        if isinstance(item, ManifestProblem):
            raise RepositoryDamaged(
                f"prune stopped: manifest of backup set {item.set_id} is damaged ({item.reason}); "
                "nothing was deleted. Run `dbs check`"
            )
        report.sets += 1
        for ref in iter_set_refs(store, crypto, lookup, item):
            if ref.problem is not None:
                raise RepositoryDamaged(
                    f"prune stopped: backup set {item.info.id} stream {ref.stream!r}: "
                    f"{ref.problem}; nothing was deleted. Run `dbs check`"
                )
            referenced.add(ref.chunk_id)
    report.referenced_chunks = len(referenced)

    present = {}
    for info in store.list("packs/"):
        pack_id = pack_id_from_key(info.key)
        if pack_id is not None:
            present[pack_id] = info.size
    report.packs_total = len(present)

    # Each referenced chunk is kept in one pack: the first (in index order) that exists.
    owner: dict[bytes, bytes] = {}
    for pack_id, entries in pack_entries.items():
        if pack_id not in present:
            continue
        for cid in entries:
            if cid in referenced and cid not in owner:
                owner[cid] = pack_id
    used: dict[bytes, list[BlobEntry]] = defaultdict(list)
    for cid, pack_id in owner.items():
        used[pack_id].append(pack_entries[pack_id][cid])

    keep: list[PackRecord] = []
    delete: list[bytes] = []
    repack: list[bytes] = []
    for pack_id, size in present.items():
        live = used.get(pack_id, [])
        if pack_id not in pack_sizes or not live:
            delete.append(pack_id)
            continue
        # Waste is unreferenced blob bytes; header and framing are not waste.
        every = pack_entries[pack_id].values()
        live_bytes = _stored_bytes(live, every)
        dead_bytes = _stored_bytes(every, every) - live_bytes
        if dead_bytes / size > REPACK_WASTE:
            repack.append(pack_id)
            report.bytes_repacked += live_bytes
        else:
            keep.append(PackRecord(pack_id, size, sorted(live, key=lambda e: e.offset)))
    report.packs_deleted = [pack_key(p) for p in delete]
    report.packs_repacked = [pack_key(p) for p in repack]
    report.index_objects_replaced = len(index_names)
    report.bytes_freed = sum(present[p] for p in delete + repack)
    if report.dry_run:
        report.bytes_freed -= report.bytes_repacked
        return
    if not delete and not repack:
        report.index_objects_replaced = 0
        return

    new_packs = _repack(repo, repack, used)
    report.packs_written = [pack_key(p.pack_id) for p in new_packs]
    report.bytes_freed -= sum(p.size for p in new_packs)
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}Z-prune-{secrets.token_hex(4)}"
    if keep or new_packs:
        write_index_object(store, crypto, index_key(stamp), keep + new_packs)
    for name in index_names:
        store.delete(name)
    for pack_id in delete + repack:
        store.delete(pack_key(pack_id))
    repo.chunk_index(refresh=True)


def _repack(
    repo: Repository, packs: list[bytes], used: dict[bytes, list[BlobEntry]]
) -> list[PackRecord]:
    if not packs:
        return []
    store, crypto = repo.store, repo.crypto
    sink = PackSink(store, crypto, target=repo.pack_target)
    try:
        for pack_id in packs:
            data = store.get(pack_key(pack_id))
            cipher = crypto.pack_cipher(pack_id)
            groups: dict[int, list[BlobEntry]] = defaultdict(list)
            for e in sorted(used[pack_id], key=lambda e: (e.offset, e.inner)):
                if e.flags & FLAG_GROUP:
                    groups[e.offset].append(e)
                    continue
                sealed = data[e.offset : e.offset + e.length]
                try:
                    payload = cipher.open_blob(e.offset, e.chunk_id, e.kind, e.flags, sealed)
                except IntegrityError:
                    raise _damaged(e.chunk_id, pack_id) from None
                sink.add(e.chunk_id, e.kind, e.flags, payload, e.raw_length)
            for members in groups.values():
                _regroup(repo, sink, pack_id, data, members)
        return sink.finish()
    except BaseException:
        for record in sink.abort():
            store.delete(pack_key(record.pack_id))
        raise


def _damaged(chunk_id: bytes, pack_id: bytes) -> RepositoryDamaged:
    return RepositoryDamaged(
        f"prune stopped: chunk {chunk_id.hex()[:16]} in {pack_key(pack_id)} "
        "is damaged; run `dbs check --read-data`. Old packs were kept"
    )


def _regroup(
    repo: Repository, sink: PackSink, pack_id: bytes, data: bytes, members: list[BlobEntry]
) -> None:
    """Store the referenced members of one group as a new group (or a lone chunk)."""
    crypto = repo.crypto
    first = members[0]
    loc = BlobLocation(pack_id, first.kind, first.flags, first.offset, first.length, 0)
    sealed = data[first.offset : first.offset + first.length]
    try:
        opened = open_group(crypto, first.chunk_id, loc, sealed)
        plains = [
            member(crypto, e.chunk_id, loc._replace(raw_length=e.raw_length, inner=e.inner), opened)
            for e in members
        ]
    except BlobDamaged as exc:
        raise _damaged(exc.chunk_id, pack_id) from None
    body = b"".join(plains)
    payload, flags = choose_payload(body, crypto.compressor().compress(body))
    if len(members) == 1:
        sink.add(first.chunk_id, first.kind, flags, payload, first.raw_length)
        return
    entries, inner = [], 0
    for e in members:
        entries.append((e.chunk_id, e.kind, inner, e.raw_length))
        inner += e.raw_length
    sink.add_group(flags | FLAG_GROUP, payload, entries)


def _stored_bytes(entries: Iterable[BlobEntry], every: Iterable[BlobEntry]) -> int:
    """Stored bytes of some of a pack's chunks (``every``: all of them): a lone chunk's
    whole blob, a group member its plaintext share of its group's blob."""
    group_plain: dict[int, int] = defaultdict(int)
    for e in every:
        if e.flags & FLAG_GROUP:
            group_plain[e.offset] += e.raw_length
    return round(
        sum(
            e.length * e.raw_length / max(1, group_plain[e.offset])
            if e.flags & FLAG_GROUP
            else e.length
            for e in entries
        )
    )
