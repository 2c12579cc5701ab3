"""`dbs check`: is every backup set complete and readable?

Without ``read_data``: every index object opens, every chunk a manifest
references is indexed and its pack exists with the size the index records.
With ``read_data``: every pack is read whole, its header authenticated and
compared with the index, and every blob decrypted, decompressed and verified.
Each problem names the damaged object (pack, index, manifest), the chunks
involved and the backup sets it affects.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from dbs.repo.blobs import BlobDamaged, decode_blob, member, open_group
from dbs.repo.crypto import IntegrityError
from dbs.repo.index import ChunkIndex
from dbs.repo.layout import FLAG_GROUP, pack_id_from_key, pack_key
from dbs.repo.pack import BlobLocation, parse_pack
from dbs.repo.walk import ManifestProblem, iter_manifests, iter_set_refs
from dbs.storage.base import ObjectNotFoundError

if TYPE_CHECKING:
    from dbs.repo.repository import Repository

ProblemKind = Literal[
    "index-damaged",
    "manifest-damaged",
    "pack-missing",
    "pack-damaged",
    "chunk-damaged",
    "chunk-not-indexed",
]


@dataclass
class Problem:
    kind: ProblemKind
    object: str  # the damaged object's key
    message: str
    chunks: set[str] = field(default_factory=set)  # hex chunk ids (first 16 digits)
    affected_sets: set[str] = field(default_factory=set)

    def line(self) -> str:
        parts = [f"{self.kind}: {self.object}: {self.message}"]
        if self.chunks:
            shown = sorted(self.chunks)[:5]
            more = f" (+{len(self.chunks) - 5} more)" if len(self.chunks) > 5 else ""
            parts.append(f"chunks {', '.join(shown)}{more}")
        if self.affected_sets:
            parts.append(f"affects backup sets {', '.join(sorted(self.affected_sets))}")
        return "; ".join(parts)


@dataclass
class CheckReport:
    read_data: bool
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sets_checked: int = 0
    packs_checked: int = 0
    chunks_checked: int = 0
    bytes_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def damaged_sets(self) -> set[str]:
        return {s for p in self.problems for s in p.affected_sets}

    def lines(self) -> list[str]:
        head = (
            f"checked {self.sets_checked} backup sets, {self.packs_checked} packs, "
            f"{self.chunks_checked} chunk references"
            + (f", read {self.bytes_read} bytes" if self.read_data else "")
        )
        out = [head]
        out += [f"warning: {w}" for w in self.warnings]
        out += [p.line() for p in self.problems]
        out.append("no problems found" if self.ok else f"{len(self.problems)} problems found")
        return out


def check_repository(repo: Repository, *, read_data: bool = False) -> CheckReport:
    lock = repo.lock_shared("check")
    try:
        return _Checker(repo, read_data).run()
    finally:
        lock.release()


class _Checker:
    def __init__(self, repo: Repository, read_data: bool) -> None:
        self.repo = repo
        self.store = repo.store
        self.crypto = repo.crypto
        self.report = CheckReport(read_data=read_data)
        self.problems: dict[tuple[str, str], Problem] = {}

    def problem(self, kind: ProblemKind, obj: str, message: str) -> Problem:
        found = self.problems.get((kind, obj))
        if found is None:
            found = Problem(kind, obj, message)
            self.problems[(kind, obj)] = found
        return found

    def run(self) -> CheckReport:
        index = ChunkIndex()
        index.refresh(self.store, self.crypto)
        for name, reason in index.damaged.items():
            self.problem("index-damaged", name, reason)
        present = {}
        for info in self.store.list("packs/"):
            pack_id = pack_id_from_key(info.key)
            if pack_id is not None:
                present[pack_id] = info.size
        indexed_sizes = index.pack_sizes
        for pack_id, size in indexed_sizes.items():
            if pack_id not in present:
                self.problem("pack-missing", pack_key(pack_id), "pack is indexed but missing")
            elif present[pack_id] != size:
                self.problem(
                    "pack-damaged",
                    pack_key(pack_id),
                    f"size is {present[pack_id]} bytes, index says {size} (truncated or replaced)",
                )
        garbage = [p for p in present if p not in indexed_sizes]
        if garbage:
            self.report.warnings.append(
                f"{len(garbage)} packs are not in any index (left by interrupted backups "
                "or a backup in progress); prune removes them"
            )
        # Which sets use which pack, to name the sets a damaged pack affects.
        pack_sets: dict[bytes, set[str]] = defaultdict(set)
        for item in iter_manifests(self.store, self.crypto):
            if isinstance(item, ManifestProblem):
                p = self.problem("manifest-damaged", f"sets/{item.set_id}", item.reason)
                p.affected_sets.add(item.set_id)
                continue
            self.report.sets_checked += 1
            set_id = item.info.id
            for ref in iter_set_refs(self.store, self.crypto, index, item):
                self.report.chunks_checked += 1
                loc = index.get(ref.chunk_id)
                if loc is None:
                    p = self.problem(
                        "chunk-not-indexed",
                        f"sets/{set_id}",
                        "chunks referenced by the set are in no readable index",
                    )
                    p.chunks.add(ref.chunk_id.hex()[:16])
                    p.affected_sets.add(set_id)
                    continue
                pack_sets[loc.pack_id].add(set_id)
                if ref.problem is not None:
                    p = self.problem("chunk-damaged", pack_key(loc.pack_id), ref.problem)
                    p.chunks.add(ref.chunk_id.hex()[:16])
                    p.affected_sets.add(set_id)
        for (kind, obj), p in self.problems.items():
            if kind in ("pack-missing", "pack-damaged"):
                pack_id = pack_id_from_key(obj)
                if pack_id is not None:
                    p.affected_sets |= pack_sets.get(pack_id, set())
        # A damaged index is why chunks are not indexed: name the sets on it too.
        unindexed = {
            s
            for (k, _), p in self.problems.items()
            if k == "chunk-not-indexed"
            for s in p.affected_sets
        }
        for (kind, _), p in self.problems.items():
            if kind == "index-damaged":
                p.affected_sets |= unindexed
        self.report.packs_checked = len(present)
        if self.report.read_data:
            self.read_packs(index, present, pack_sets)
        self.report.problems = list(self.problems.values())
        return self.report

    def read_packs(
        self, index: ChunkIndex, present: dict[bytes, int], pack_sets: dict[bytes, set[str]]
    ) -> None:
        by_pack: dict[bytes, list[tuple[bytes, BlobLocation]]] = defaultdict(list)
        for cid, loc in index.items():
            by_pack[loc.pack_id].append((cid, loc))
        pool = self.repo.pool()
        futures: list[tuple[bytes, Future[list[tuple[str, str]]]]] = []
        for pack_id in present:
            futures.append((pack_id, pool.submit(self._verify_pack, pack_id, by_pack[pack_id])))
            if len(futures) >= 4:  # bounded: a few whole packs in memory
                self._collect(*futures.pop(0), pack_sets)
        while futures:
            self._collect(*futures.pop(0), pack_sets)

    def _collect(
        self,
        pack_id: bytes,
        future: Future[list[tuple[str, str]]],
        pack_sets: dict[bytes, set[str]],
    ) -> None:
        for chunk_hex, reason in future.result():
            kind: ProblemKind = "chunk-damaged" if chunk_hex else "pack-damaged"
            p = self.problem(kind, pack_key(pack_id), reason)
            if chunk_hex:
                p.chunks.add(chunk_hex)
            p.affected_sets |= pack_sets.get(pack_id, set())

    def _verify_pack(
        self, pack_id: bytes, entries: list[tuple[bytes, BlobLocation]]
    ) -> list[tuple[str, str]]:
        """Problems in one pack as (chunk id hex or "", reason)."""
        try:
            data = self.store.get(pack_key(pack_id))
        except ObjectNotFoundError:
            return [("", "pack disappeared while checking")]
        self.report.bytes_read += len(data)
        found: list[tuple[str, str]] = []
        try:
            header = {e.chunk_id: e for e in parse_pack(self.crypto, pack_id, data)}
        except IntegrityError as exc:
            found.append(("", f"pack header unreadable: {exc}"))
            header = {}
        groups: dict[int, bytes | BlobDamaged] = {}  # offset -> opened group, or why not
        for cid, loc in entries:
            entry = header.get(cid)
            if header and (entry is None or (entry.offset, entry.inner) != (loc.offset, loc.inner)):
                found.append((cid.hex()[:16], "index and pack header disagree"))
            sealed = data[loc.offset : loc.offset + loc.length]
            try:
                if loc.flags & FLAG_GROUP:
                    opened = groups.get(loc.offset)
                    if opened is None:
                        try:
                            opened = open_group(self.crypto, cid, loc, sealed)
                        except BlobDamaged as exc:
                            opened = exc
                        groups[loc.offset] = opened
                    if isinstance(opened, BlobDamaged):
                        raise opened
                    plain = member(self.crypto, cid, loc, opened)
                else:
                    plain = decode_blob(self.crypto, cid, loc, sealed)
                # Encrypted chunks are authenticated as a blob; this proves each id too.
                if self.crypto.encrypted and self.crypto.chunk_id(plain) != cid:
                    raise BlobDamaged(cid, pack_id, "content does not match its id")
            except BlobDamaged as exc:
                found.append((cid.hex()[:16], exc.reason))
        return found
