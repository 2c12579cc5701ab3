"""Pack objects: many sealed blobs in one write-once object, with a sealed header at the end.

Layout (docs/repository-format.md)::

    "DBSPACK1" | pack id (16) | blob ... | sealed header | header length (u32 LE) | "DBSPACK1"

The header lists every chunk (id, kind, flags, offset, length, plaintext length, offset
inside its group), so an index can be rebuilt from packs alone; it sits at the end so a
pack streams out while it is built and one ranged read fetches the header.

A blob is one chunk, or a *group* (``FLAG_GROUP``): several new chunks compressed and
sealed as one, so small chunks (good for deduplication) do not pay a zstd frame and an
AES-GCM call each, and compress as well as large ones. Every member has its own entry
with the group's offset and length and its own place inside the group's plaintext.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from dbs.repo.crypto import Crypto, IntegrityError, PackCipher
from dbs.repo.layout import PACK_ID_SIZE, PACK_MAGIC

# chunk id, kind, flags, blob offset, blob stored length, chunk plain length, offset in group
ENTRY = struct.Struct("<32sBBQIII")
# Groups are sealed under this id in place of a chunk id (the authenticated header binds
# member ids to the group).
GROUP_ID = bytes(32)
_TRAILER = struct.Struct("<I8s")
PACK_PREFIX_SIZE = len(PACK_MAGIC) + PACK_ID_SIZE
TRAILER_SIZE = _TRAILER.size


class BlobLocation(NamedTuple):
    pack_id: bytes
    kind: int
    flags: int
    offset: int
    length: int
    raw_length: int
    inner: int = 0  # offset of the chunk in its group's plaintext (0 for a lone chunk)


@dataclass(frozen=True)
class BlobEntry:
    chunk_id: bytes
    kind: int
    flags: int
    offset: int
    length: int
    raw_length: int
    inner: int = 0


def encode_entries(entries: list[BlobEntry]) -> bytes:
    return b"".join(
        ENTRY.pack(e.chunk_id, e.kind, e.flags, e.offset, e.length, e.raw_length, e.inner)
        for e in entries
    )


# A member of a group being written: chunk id, kind, offset inside the group, plain length.
Member = tuple[bytes, int, int, int]


def decode_entries(data: bytes | memoryview) -> list[BlobEntry]:
    if len(data) % ENTRY.size:
        raise IntegrityError("entry table has a partial entry")
    return [BlobEntry(*fields) for fields in ENTRY.iter_unpack(data)]


class PackBuilder:
    """Collects sealed blobs in memory (as pieces, never joined) until the pack is full."""

    def __init__(self, crypto: Crypto, pack_id: bytes) -> None:
        self.pack_id = pack_id
        self._cipher: PackCipher = crypto.pack_cipher(pack_id)
        self.pieces: list[bytes] = [PACK_MAGIC + pack_id]
        self.size = PACK_PREFIX_SIZE
        self.entries = bytearray()  # encoded header entries (no object per blob: hot path)
        self.count = 0

    def add(self, chunk_id: bytes, kind: int, flags: int, payload: bytes, raw_length: int) -> None:
        sealed = self._cipher.seal_blob(self.size, chunk_id, kind, flags, payload)
        self.entries += ENTRY.pack(chunk_id, kind, flags, self.size, len(sealed), raw_length, 0)
        self.pieces.append(sealed)
        self.size += len(sealed)
        self.count += 1

    def add_group(self, flags: int, payload: bytes, members: list[Member]) -> None:
        """One sealed blob holding ``members`` (``flags`` includes FLAG_GROUP)."""
        sealed = self._cipher.seal_blob(self.size, GROUP_ID, 0, flags, payload)
        for chunk_id, kind, inner, raw_length in members:
            self.entries += ENTRY.pack(
                chunk_id, kind, flags, self.size, len(sealed), raw_length, inner
            )
        self.pieces.append(sealed)
        self.size += len(sealed)
        self.count += len(members)

    def finish(self) -> list[bytes]:
        header = self._cipher.seal_header(self.pack_id, bytes(self.entries))
        self.pieces.append(header)
        self.pieces.append(_TRAILER.pack(len(header), PACK_MAGIC))
        self.size += len(header) + TRAILER_SIZE
        return self.pieces


def parse_pack(crypto: Crypto, pack_id: bytes, data: bytes) -> list[BlobEntry]:
    """The header of a whole pack held in memory (packs are bounded: tens of MiB)."""
    if len(data) < PACK_PREFIX_SIZE + TRAILER_SIZE or not data.startswith(PACK_MAGIC):
        raise IntegrityError("pack is truncated or has a bad magic")
    if data[len(PACK_MAGIC) : PACK_PREFIX_SIZE] != pack_id:
        raise IntegrityError("pack id inside the pack does not match its name")
    return parse_header(
        crypto, pack_id, data[-TRAILER_SIZE:], len(data), lambda o, n: data[o : o + n]
    )


def parse_header(
    crypto: Crypto,
    pack_id: bytes,
    trailer: bytes,
    pack_size: int,
    read: Callable[[int, int], bytes],
) -> list[BlobEntry]:
    """Parse a pack header given its trailer and a ``read(offset, length)`` callable."""
    if len(trailer) != TRAILER_SIZE:
        raise IntegrityError("pack trailer is truncated")
    header_len, magic = _TRAILER.unpack(trailer)
    if magic != PACK_MAGIC:
        raise IntegrityError("pack trailer has a bad magic (truncated or altered pack)")
    start = pack_size - TRAILER_SIZE - header_len
    if start < PACK_PREFIX_SIZE:
        raise IntegrityError("pack header length is out of range")
    sealed = read(start, header_len)
    entries = decode_entries(crypto.pack_cipher(pack_id).open_header(pack_id, sealed))
    for entry in entries:
        if entry.offset < PACK_PREFIX_SIZE or entry.offset + entry.length > start:
            raise IntegrityError("pack header lists a blob outside the pack body")
    return entries
