"""Index objects and the in-memory chunk index.

Each backup set writes ``index/<set id>`` listing the blobs of the packs it
wrote; prune writes consolidated ones. An index is only a cache of the pack
headers: ``rebuild_index`` recreates it from packs alone.

Memory: the in-memory index holds one 58-byte record per stored chunk in a
compact hash table (~70 bytes per chunk with its slots, no Python object per
chunk), i.e. ~9 MB per GiB of unique data at 8 KiB chunks. It is loaded
lazily, once per process, and refreshed incrementally when new index objects
appear.
"""

from __future__ import annotations

import struct
import threading
from array import array
from collections.abc import Iterable, Iterator, Sequence

from dbs.repo.crypto import Crypto, IntegrityError
from dbs.repo.layout import ID_SIZE, INDEX_PREFIX
from dbs.repo.pack import ENTRY, BlobEntry, BlobLocation, decode_entries, encode_entries
from dbs.storage.base import ObjectNotFoundError, ObjectStore

_INDEX_VERSION = b"\x02"  # 2: entries carry the offset inside a group
_PACK_RECORD = struct.Struct("<16sQI")  # pack id, pack size, entry count
# In-memory index record: the index entry (as in pack headers), then the pack's slot.
_RECORD = struct.Struct("<32sBBQIIII")
_SLOT = struct.Struct("<I")
_MIN_SLOTS = 8


class PackRecord:
    """One pack and its blob entries, kept encoded (54 bytes each) to stay compact."""

    __slots__ = ("encoded", "pack_id", "size")

    def __init__(self, pack_id: bytes, size: int, entries: list[BlobEntry] | bytes) -> None:
        self.pack_id = pack_id
        self.size = size
        self.encoded = entries if isinstance(entries, bytes) else encode_entries(entries)

    @property
    def entries(self) -> list[BlobEntry]:
        return decode_entries(self.encoded)

    @property
    def count(self) -> int:
        return len(self.encoded) // ENTRY.size


def encode_index(packs: Iterable[PackRecord]) -> bytes:
    parts = [_INDEX_VERSION]
    for pack in packs:
        parts.append(_PACK_RECORD.pack(pack.pack_id, pack.size, pack.count))
        parts.append(pack.encoded)
    return b"".join(parts)


def decode_index(payload: bytes) -> list[PackRecord]:
    if not payload.startswith(_INDEX_VERSION):
        raise IntegrityError("unknown index version")
    view = memoryview(payload)
    pos = 1
    packs: list[PackRecord] = []
    while pos < len(view):
        if pos + _PACK_RECORD.size > len(view):
            raise IntegrityError("index ends inside a pack record")
        pack_id, size, count = _PACK_RECORD.unpack_from(view, pos)
        pos += _PACK_RECORD.size
        end = pos + count * ENTRY.size
        if end > len(view):
            raise IntegrityError("index ends inside an entry table")
        packs.append(PackRecord(pack_id, size, bytes(view[pos:end])))
        pos = end
    return packs


def read_index_object(store: ObjectStore, crypto: Crypto, key: str) -> list[PackRecord]:
    """Raises IntegrityError for a damaged object, ObjectNotFoundError if it is gone."""
    return decode_index(crypto.open_object(key, store.get(key)))


def write_index_object(
    store: ObjectStore, crypto: Crypto, key: str, packs: list[PackRecord]
) -> int:
    # Same bytes as seal_object, but the plaintext is freed before sealing (fewer copies).
    data = crypto.seal_compressed(key, crypto.compressor().compress(encode_index(packs)))
    store.put(key, data, create_only=True)
    return len(data)


class _Table:
    """Open-addressing hash set/map over fixed-size records that start with a 32-byte id.

    Records live in one ``bytearray`` (``record_size`` bytes each, never moved or
    removed); ``slots`` is an ``array('I')`` of record number + 1 (0: empty), a power
    of two at most half full, probed linearly from ``hash(id)``. About
    ``record_size`` + 8 to 16 bytes per entry, against ~150 for a dict entry with a
    ``bytes`` key and an ``int`` value. A lookup always compares the full id.

    Readers need no lock (CPython's GIL makes each step atomic): a record is written
    before its slot, and a grown slot array replaces the old one in one assignment.
    Writers must be serialized by the caller.
    """

    __slots__ = ("count", "record_size", "records", "slots")

    def __init__(self, record_size: int) -> None:
        self.record_size = record_size
        self.records = bytearray()
        self.slots = array("I", bytes(4 * _MIN_SLOTS))
        self.count = 0

    def find(self, chunk_id: bytes) -> int:
        """Record number of ``chunk_id``, or -1."""
        slots = self.slots
        mask = len(slots) - 1
        records = self.records
        size = self.record_size
        i = hash(chunk_id) & mask
        while True:
            r = slots[i]
            if not r:
                return -1
            start = (r - 1) * size
            if records[start : start + ID_SIZE] == chunk_id:
                return r - 1
            i = (i + 1) & mask

    def __contains__(self, chunk_id: bytes) -> bool:
        # ``find`` inlined: this is the writer's hot path (twice per chunk).
        slots = self.slots
        mask = len(slots) - 1
        records = self.records
        size = self.record_size
        i = hash(chunk_id) & mask
        while True:
            r = slots[i]
            if not r:
                return False
            start = (r - 1) * size
            if records[start : start + ID_SIZE] == chunk_id:
                return True
            i = (i + 1) & mask

    def absent(self, ids: Sequence[bytes], positions: Iterable[int]) -> list[int]:
        """The positions ``i`` whose ``ids[i]`` is not in the table (a batch in one call)."""
        slots = self.slots
        mask = len(slots) - 1
        records = self.records
        size = self.record_size
        out = []
        for pos in positions:
            chunk_id = ids[pos]
            i = hash(chunk_id) & mask
            while True:
                r = slots[i]
                if not r:
                    out.append(pos)
                    break
                start = (r - 1) * size
                if records[start : start + ID_SIZE] == chunk_id:
                    break
                i = (i + 1) & mask
        return out

    def add(self, chunk_id: bytes, record: bytes) -> None:
        """Append a record for an id not in the table (the caller checked with ``find``)."""
        if 2 * (self.count + 1) > len(self.slots):
            self._grow()
        slots = self.slots
        mask = len(slots) - 1
        i = hash(chunk_id) & mask
        while slots[i]:
            i = (i + 1) & mask
        self.records += record
        self.count += 1
        slots[i] = self.count

    def _grow(self, entries: int | None = None) -> None:
        """Rehash into a slot array at most half full for ``entries`` (default: double)."""
        n = 2 * len(self.slots)
        if entries is not None:
            n = len(self.slots)
            while 2 * entries > n:
                n *= 2
            if n == len(self.slots):
                return
        slots = array("I", bytes(4 * n))
        mask = n - 1
        ids = struct.Struct(f"{ID_SIZE}s{self.record_size - ID_SIZE}x")
        for r, (chunk_id,) in enumerate(ids.iter_unpack(self.records), 1):
            i = hash(chunk_id) & mask
            while slots[i]:
                i = (i + 1) & mask
            slots[i] = r
        self.slots = slots

    def reserve(self, entries: int) -> None:
        """Make room for ``entries`` in all without growing one step at a time."""
        self._grow(entries)

    def add_all(self, chunk_id_records: Iterable[tuple[bytes, bytes]]) -> None:
        """Add each (id, record) whose id is not in the table yet (the first one wins).

        Call ``reserve`` first: this one probe per id does not grow the slot array.
        """
        slots = self.slots
        mask = len(slots) - 1
        records = self.records
        size = self.record_size
        count = self.count
        try:
            for chunk_id, record in chunk_id_records:
                i = hash(chunk_id) & mask
                while True:
                    r = slots[i]
                    if not r:
                        if 2 * (count + 1) > len(slots):
                            raise AssertionError("add_all without reserve")
                        records += record
                        count += 1
                        slots[i] = count
                        break
                    start = (r - 1) * size
                    if records[start : start + ID_SIZE] == chunk_id:
                        break
                    i = (i + 1) & mask
        finally:
            self.count = count


class ChunkIdSet(_Table):
    """A set of chunk ids, compact (~45 bytes per id): a writer's blobs until commit.

    ``add_new`` is for ids known to be absent; adds must be serialized by the caller,
    membership tests may run meanwhile.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(ID_SIZE)

    def __len__(self) -> int:
        return self.count

    def add_new(self, chunk_id: bytes) -> None:
        self.add(chunk_id, chunk_id)


class ChunkIndex:
    """Chunk id -> where its blob is stored. Safe to read while another thread adds.

    One 58-byte record per chunk (the 54-byte index entry and a u32 pack slot) in a
    compact hash table (``_Table``): about 70 bytes per chunk in CPython, against
    ~150 for a dict of ``bytes`` -> packed ``int``.
    """

    def __init__(self) -> None:
        # (table, pack ids by slot): replaced together, so a reader sees one consistent pair.
        self._state: tuple[_Table, list[bytes]] = (_Table(_RECORD.size), [])
        self._slots: dict[bytes, int] = {}
        self._pack_sizes: dict[bytes, int] = {}
        self._loaded: set[str] = set()
        self._lock = threading.Lock()
        self.damaged: dict[str, str] = {}  # index object -> what is wrong with it

    def __contains__(self, chunk_id: bytes) -> bool:
        return chunk_id in self._state[0]

    def __len__(self) -> int:
        return self._state[0].count

    def absent(self, ids: Sequence[bytes], positions: Iterable[int]) -> list[int]:
        """The positions ``i`` whose ``ids[i]`` is not indexed."""
        return self._state[0].absent(ids, positions)

    def get(self, chunk_id: bytes) -> BlobLocation | None:
        table, packs = self._state
        r = table.find(chunk_id)
        if r < 0:
            return None
        _, kind, flags, offset, length, raw, inner, slot = _RECORD.unpack_from(
            table.records, r * _RECORD.size
        )
        return BlobLocation(packs[slot], kind, flags, offset, length, raw, inner)

    def items(self) -> Iterator[tuple[bytes, BlobLocation]]:
        table, packs = self._state
        size = _RECORD.size
        for r in range(table.count):
            cid, kind, flags, offset, length, raw, inner, slot = _RECORD.unpack_from(
                table.records, r * size
            )
            yield cid, BlobLocation(packs[slot], kind, flags, offset, length, raw, inner)

    @property
    def pack_sizes(self) -> dict[bytes, int]:
        return dict(self._pack_sizes)

    def add_packs(self, packs: Iterable[PackRecord], source: str | None = None) -> None:
        with self._lock:
            table, pack_ids = self._state
            packs = list(packs)
            table.reserve(table.count + sum(p.count for p in packs))
            entry_size = ENTRY.size
            for pack in packs:
                pack_id = pack.pack_id
                slot = self._slots.get(pack_id)
                if slot is None:
                    slot = self._slots[pack_id] = len(pack_ids)
                    pack_ids.append(pack_id)
                self._pack_sizes[pack_id] = pack.size
                tail = _SLOT.pack(slot)
                encoded = pack.encoded
                # A duplicate blob keeps the first location seen.
                table.add_all(
                    (encoded[start : start + ID_SIZE], encoded[start : start + entry_size] + tail)
                    for start in range(0, len(encoded) - entry_size + 1, entry_size)
                )
            if source is not None:
                self._loaded.add(source)

    def refresh(self, store: ObjectStore, crypto: Crypto) -> None:
        """Load index objects not seen yet; start over if one we loaded has gone (prune)."""
        names = {info.key for info in store.list(INDEX_PREFIX)}
        if self._loaded - names:
            with self._lock:
                # New objects, not cleared ones: a reader may still hold the old table.
                self._state = (_Table(_RECORD.size), [])
                self._slots.clear()
                self._pack_sizes.clear()
                self._loaded.clear()
                self.damaged.clear()
        for name in sorted(names - self._loaded - set(self.damaged)):
            try:
                packs = read_index_object(store, crypto, name)
            except ObjectNotFoundError:
                continue  # removed by a concurrent prune; its content lives in a newer index
            except IntegrityError as exc:
                self.damaged[name] = str(exc)
                continue
            self.add_packs(packs, source=name)
