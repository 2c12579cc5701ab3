"""Object names and format constants of a repository (see docs/repository-format.md).

Every object carries a magic and a format version so that a reader can tell
what it holds without its name, and refuse a newer format clearly.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

# 2: packs hold compressed groups of chunks (entries carry an offset inside the group).
FORMAT_VERSION = 2
OLDEST_FORMAT_VERSION = 2

CONFIG_KEY = "config"
KEYS_PREFIX = "keys/"
PACKS_PREFIX = "packs/"
INDEX_PREFIX = "index/"
SETS_PREFIX = "sets/"
LOCKS_PREFIX = "locks/"

PACK_MAGIC = b"DBSPACK2"
OBJECT_MAGIC = b"DBSOBJ1\x00"

# Blob kinds stored in packs.
KIND_DATA = 0
KIND_CHUNK_LIST = 1

# Blob flags.
FLAG_ZSTD = 1
# The blob is a group: several chunks compressed and sealed together; each has its own
# entry pointing at the group, with its offset and length inside the group's plaintext.
FLAG_GROUP = 2

ID_SIZE = 32  # chunk id: keyed BLAKE3, 256 bits
PACK_ID_SIZE = 16


def new_pack_id() -> bytes:
    return secrets.token_bytes(PACK_ID_SIZE)


def pack_key(pack_id: bytes) -> str:
    hex_id = pack_id.hex()
    return f"{PACKS_PREFIX}{hex_id[:2]}/{hex_id}"


def pack_id_from_key(key: str) -> bytes | None:
    """The pack id a ``packs/..`` name encodes, or None for a name that is not a pack."""
    name = key.rsplit("/", 1)[-1]
    if not key.startswith(PACKS_PREFIX) or len(name) != 2 * PACK_ID_SIZE:
        return None
    try:
        return bytes.fromhex(name)
    except ValueError:
        return None


def new_set_id(now: datetime | None = None) -> str:
    """Sortable by creation time, unique without coordination."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S}{moment.microsecond:06d}Z-{secrets.token_hex(4)}"


def set_key(set_id: str) -> str:
    return f"{SETS_PREFIX}{set_id}"


def index_key(name: str) -> str:
    return f"{INDEX_PREFIX}{name}"
