"""Proof that a Redis restore holds what the snapshot recorded.

Into a running server: after every batch the restored keys are read back (``TYPE``,
``PEXPIRETIME``) and compared with the snapshot's records; values are not read back
(a ``RESTORE`` either stores the payload whole, CRC64-checked by the server, or fails).
Into an RDB file: the written file is parsed back (CRC64) and its keys counted per
database against the expected counts.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from dbs.engines.redis.connection import encode_command
from dbs.engines.redis.objects import key_label
from dbs.engines.redis.rdb import MODULE_TYPE, TYPE_NAMES, ChunkReader, KeyRecord, RdbParser


def now_ms() -> int:
    return int(time.time() * 1000)


def readback_commands(written: list[KeyRecord]) -> list[bytes]:
    """``TYPE`` and ``PEXPIRETIME`` of every key, in order (one-line replies each)."""
    commands: list[bytes] = []
    for record in written:
        commands.append(encode_command(b"TYPE", record.key))
        commands.append(encode_command(b"PEXPIRETIME", record.key))
    return commands


def readback_mismatches(db: int, written: list[KeyRecord], replies: list[bytes]) -> Iterator[str]:
    """What differs between the snapshot's records and the replies to `readback_commands`."""
    now = now_ms()
    for i, record in enumerate(written):
        kind, expire = replies[2 * i], replies[2 * i + 1]
        label = key_label(db, record.key)
        if record.expire_ms is not None and record.expire_ms <= now:
            continue  # expired since it was written: nothing left to compare
        expected = TYPE_NAMES.get(record.type)
        if record.type != MODULE_TYPE and kind != b"+%s" % (expected or "").encode():
            yield f"{label}: type {kind!r}, snapshot had {expected}"
        want_expire = -1 if record.expire_ms is None else record.expire_ms
        if expire != b":%d" % want_expire:
            yield f"{label}: expires at {expire!r}, snapshot had {want_expire}"


def rdb_file_mismatches(path: Path, expected: Counter[int]) -> list[str]:
    """Parse a written RDB file back: its CRC64, and its keys per database."""
    with path.open("rb") as f:
        parser = RdbParser(ChunkReader(iter(lambda: f.read(1 << 20), b"")))
        counts: Counter[int] = Counter()
        for record in parser.records():
            if isinstance(record, KeyRecord):
                counts[record.db] += 1
    mismatches = []
    if parser.checksum_ok is False:
        mismatches.append("the written RDB's CRC64 does not match")
    if counts != expected:
        mismatches.append(f"keys per db {dict(counts)}, expected {dict(expected)}")
    return mismatches
