"""Reading blobs back from packs: ranged reads, unsealing, decompression, verification."""

from __future__ import annotations

import zstandard

from dbs.repo.crypto import Crypto, IntegrityError
from dbs.repo.layout import FLAG_GROUP, FLAG_ZSTD, pack_key
from dbs.repo.pack import GROUP_ID, BlobLocation
from dbs.storage.base import ObjectNotFoundError, ObjectStore

# Store a blob uncompressed unless zstd saves at least this share.
MIN_SAVING = 0.03

# Largest group plaintext a reader accepts (writers stay far below: GROUP_TARGET + one chunk).
MAX_GROUP_SIZE = 4 << 20


class BlobDamaged(Exception):
    """One blob cannot be read back; ``pack_id`` and ``chunk_id`` name it."""

    def __init__(self, chunk_id: bytes, pack_id: bytes, reason: str) -> None:
        super().__init__(f"chunk {chunk_id.hex()[:16]} in pack {pack_key(pack_id)}: {reason}")
        self.chunk_id = chunk_id
        self.pack_id = pack_id
        self.reason = reason


def choose_payload(plain: bytes | memoryview, compressed: bytes) -> tuple[bytes, int]:
    """(payload, flags) to store: the zstd frame if it saves enough, else the plaintext."""
    if len(compressed) <= len(plain) * (1 - MIN_SAVING):
        return compressed, FLAG_ZSTD
    return bytes(plain), 0


def decode_blob(
    crypto: Crypto, chunk_id: bytes, loc: BlobLocation, sealed: bytes | memoryview
) -> bytes:
    """Plaintext of a chunk, verified (authentication tag, or id for unencrypted repositories).

    For a member of a group the whole group is opened; callers reading many members
    use ``open_group`` once and ``member`` per chunk.
    """
    if loc.flags & FLAG_GROUP:
        return member(crypto, chunk_id, loc, open_group(crypto, chunk_id, loc, sealed))
    payload = _unseal(crypto, chunk_id, chunk_id, loc, sealed)
    plain = _decompress(crypto, chunk_id, loc, payload, loc.raw_length)
    if len(plain) != loc.raw_length:
        raise BlobDamaged(chunk_id, loc.pack_id, "plaintext length differs from the index")
    if not crypto.encrypted and crypto.chunk_id(plain) != chunk_id:
        raise BlobDamaged(chunk_id, loc.pack_id, "content does not match its id (altered)")
    return plain


def open_group(
    crypto: Crypto, chunk_id: bytes, loc: BlobLocation, sealed: bytes | memoryview
) -> bytes:
    """The whole plaintext of the group holding ``chunk_id`` (named in errors)."""
    payload = _unseal(crypto, chunk_id, GROUP_ID, loc, sealed)
    return _decompress(crypto, chunk_id, loc, payload, MAX_GROUP_SIZE)


def member(crypto: Crypto, chunk_id: bytes, loc: BlobLocation, group: bytes) -> bytes:
    """One chunk cut from its group's plaintext, checked against the index."""
    end = loc.inner + loc.raw_length
    if end > len(group):
        raise BlobDamaged(chunk_id, loc.pack_id, "chunk lies outside its group (altered)")
    plain = group[loc.inner : end]
    if not crypto.encrypted and crypto.chunk_id(plain) != chunk_id:
        raise BlobDamaged(chunk_id, loc.pack_id, "content does not match its id (altered)")
    return plain


def _unseal(
    crypto: Crypto, chunk_id: bytes, sealed_as: bytes, loc: BlobLocation, sealed: bytes | memoryview
) -> bytes:
    if len(sealed) != loc.length:
        raise BlobDamaged(chunk_id, loc.pack_id, "pack is shorter than the index says (truncated)")
    kind = 0 if loc.flags & FLAG_GROUP else loc.kind
    try:
        return crypto.pack_cipher(loc.pack_id).open_blob(
            loc.offset, sealed_as, kind, loc.flags, sealed
        )
    except IntegrityError as exc:
        raise BlobDamaged(chunk_id, loc.pack_id, str(exc)) from None


def _decompress(
    crypto: Crypto, chunk_id: bytes, loc: BlobLocation, payload: bytes, limit: int
) -> bytes:
    if not loc.flags & FLAG_ZSTD:
        return payload
    try:
        return crypto.decompressor().decompress(payload, max_output_size=limit)
    except zstandard.ZstdError as exc:
        raise BlobDamaged(chunk_id, loc.pack_id, f"does not decompress: {exc}") from None


def read_range(store: ObjectStore, pack_id: bytes, offset: int, length: int) -> bytes:
    try:
        return store.get_range(pack_key(pack_id), offset, length)
    except ObjectNotFoundError:
        raise BlobDamaged(b"\x00" * 32, pack_id, "pack is missing") from None


def read_blob(store: ObjectStore, crypto: Crypto, chunk_id: bytes, loc: BlobLocation) -> bytes:
    try:
        sealed = store.get_range(pack_key(loc.pack_id), loc.offset, loc.length)
    except ObjectNotFoundError:
        raise BlobDamaged(chunk_id, loc.pack_id, "pack is missing") from None
    return decode_blob(crypto, chunk_id, loc, sealed)
