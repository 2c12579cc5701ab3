"""Index objects and the in-memory chunk index.

Each backup set writes ``index/<set id>`` listing the blobs of the packs it
wrote; prune writes consolidated ones. An index is only a cache of the pack
headers: ``rebuild_index`` recreates it from packs alone.

Memory: the in-memory index holds one entry per stored blob (about 200 bytes
in CPython), i.e. ~13 MB per GiB of unique data at 16 KiB chunks. It is loaded
lazily, once per process, and refreshed incrementally when new index objects
appear.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Iterator

from dbs.repo.crypto import Crypto, IntegrityError
from dbs.repo.layout import INDEX_PREFIX
from dbs.repo.pack import ENTRY, BlobEntry, BlobLocation, decode_entries, encode_entries
from dbs.storage.base import ObjectNotFoundError, ObjectStore

_INDEX_VERSION = b"\x01"
_PACK_RECORD = struct.Struct("<16sQI")  # pack id, pack size, entry count
_OFFSET_BITS = 48  # packs up to 256 TiB
_OFFSET_MASK = (1 << _OFFSET_BITS) - 1


class PackRecord:
    """One pack and its blob entries, kept encoded (50 bytes each) to stay compact."""

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
    data = crypto.seal_object(key, encode_index(packs))
    store.put(key, data, create_only=True)
    return len(data)


class ChunkIndex:
    """Chunk id -> where its blob is stored. Safe to read while another thread adds.

    Each location is packed into one int (pack slot, kind, flags, offset, lengths):
    about 150 bytes per blob in CPython instead of ~300 for a tuple of six.
    """

    def __init__(self) -> None:
        self._blobs: dict[bytes, int] = {}
        self._packs: list[bytes] = []
        self._slots: dict[bytes, int] = {}
        self._pack_sizes: dict[bytes, int] = {}
        self._loaded: set[str] = set()
        self._lock = threading.Lock()
        self.damaged: dict[str, str] = {}  # index object -> what is wrong with it

    def __contains__(self, chunk_id: bytes) -> bool:
        return chunk_id in self._blobs

    def __len__(self) -> int:
        return len(self._blobs)

    def _decode(self, value: int) -> BlobLocation:
        raw_length = value & 0xFFFFFFFF
        length = (value >> 32) & 0xFFFFFFFF
        offset = (value >> 64) & _OFFSET_MASK
        flags = (value >> (64 + _OFFSET_BITS)) & 0xFF
        kind = (value >> (72 + _OFFSET_BITS)) & 0xFF
        slot = value >> (80 + _OFFSET_BITS)
        return BlobLocation(self._packs[slot], kind, flags, offset, length, raw_length)

    def get(self, chunk_id: bytes) -> BlobLocation | None:
        value = self._blobs.get(chunk_id)
        return None if value is None else self._decode(value)

    def items(self) -> Iterator[tuple[bytes, BlobLocation]]:
        for cid, value in list(self._blobs.items()):
            yield cid, self._decode(value)

    @property
    def pack_sizes(self) -> dict[bytes, int]:
        return dict(self._pack_sizes)

    def add_packs(self, packs: Iterable[PackRecord], source: str | None = None) -> None:
        with self._lock:
            for pack in packs:
                pack_id = pack.pack_id
                slot = self._slots.get(pack_id)
                if slot is None:
                    slot = self._slots[pack_id] = len(self._packs)
                    self._packs.append(pack_id)
                self._pack_sizes[pack_id] = pack.size
                base = slot << (80 + _OFFSET_BITS)
                blobs = self._blobs
                for cid, kind, flags, offset, length, raw in ENTRY.iter_unpack(pack.encoded):
                    if cid not in blobs:  # a duplicate blob keeps the first location seen
                        blobs[cid] = (
                            base
                            | kind << (72 + _OFFSET_BITS)
                            | flags << (64 + _OFFSET_BITS)
                            | offset << 64
                            | length << 32
                            | raw
                        )
            if source is not None:
                self._loaded.add(source)

    def refresh(self, store: ObjectStore, crypto: Crypto) -> None:
        """Load index objects not seen yet; start over if one we loaded has gone (prune)."""
        names = {info.key for info in store.list(INDEX_PREFIX)}
        if self._loaded - names:
            with self._lock:
                self._blobs.clear()
                self._packs.clear()
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
