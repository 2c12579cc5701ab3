"""Reading blobs back from packs: ranged reads, unsealing, decompression, verification."""

from __future__ import annotations

import zstandard

from dbs.repo.crypto import Crypto, IntegrityError
from dbs.repo.layout import FLAG_ZSTD, pack_key
from dbs.repo.pack import BlobLocation
from dbs.storage.base import ObjectNotFoundError, ObjectStore


class BlobDamaged(Exception):
    """One blob cannot be read back; ``pack_id`` and ``chunk_id`` name it."""

    def __init__(self, chunk_id: bytes, pack_id: bytes, reason: str) -> None:
        super().__init__(f"chunk {chunk_id.hex()[:16]} in pack {pack_key(pack_id)}: {reason}")
        self.chunk_id = chunk_id
        self.pack_id = pack_id
        self.reason = reason


def decode_blob(
    crypto: Crypto, chunk_id: bytes, loc: BlobLocation, sealed: bytes | memoryview
) -> bytes:
    """Plaintext of a blob, verified (authentication tag, or id for unencrypted repositories)."""
    if len(sealed) != loc.length:
        raise BlobDamaged(chunk_id, loc.pack_id, "pack is shorter than the index says (truncated)")
    try:
        payload = crypto.pack_cipher(loc.pack_id).open_blob(
            loc.offset, chunk_id, loc.kind, loc.flags, sealed
        )
    except IntegrityError as exc:
        raise BlobDamaged(chunk_id, loc.pack_id, str(exc)) from None
    if loc.flags & FLAG_ZSTD:
        try:
            plain = crypto.decompressor().decompress(payload, max_output_size=loc.raw_length)
        except zstandard.ZstdError as exc:
            raise BlobDamaged(chunk_id, loc.pack_id, f"does not decompress: {exc}") from None
    else:
        plain = payload
    if len(plain) != loc.raw_length:
        raise BlobDamaged(chunk_id, loc.pack_id, "plaintext length differs from the index")
    if not crypto.encrypted and crypto.chunk_id(plain) != chunk_id:
        raise BlobDamaged(chunk_id, loc.pack_id, "content does not match its id (altered)")
    return plain


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
