"""Writing an RDB from parsed records: used when only some databases or keys are kept.

The output keeps the source's RDB version and aux fields, re-encodes keys as
plain strings, copies each value's serialized bytes unchanged and ends with a
fresh CRC64, so ``redis-server`` and ``redis-check-rdb`` accept it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dbs.engines.redis.format import PIECE
from dbs.engines.redis.rdb import (
    CRC64,
    OP_AUX,
    OP_EOF,
    OP_EXPIRETIME_MS,
    OP_FREQ,
    OP_FUNCTION2,
    OP_IDLE,
    OP_SELECTDB,
    FunctionRecord,
    KeyRecord,
)


def encode_length(n: int) -> bytes:
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n < 1 << 32:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def encode_string(s: bytes) -> bytes:
    return encode_length(len(s)) + s


def encode_record(record: KeyRecord) -> bytes:
    out = b""
    if record.expire_ms is not None:
        out += bytes([OP_EXPIRETIME_MS]) + record.expire_ms.to_bytes(8, "little", signed=True)
    if record.idle is not None:
        out += bytes([OP_IDLE]) + encode_length(record.idle)
    if record.freq is not None:
        out += bytes([OP_FREQ, record.freq])
    return out + bytes([record.type]) + encode_string(record.key) + record.value


class RdbWriter:
    """Feed header data and records in RDB order; iterate ``pieces()`` for the bytes."""

    def __init__(self, version: int, aux: Iterable[tuple[bytes, bytes]]) -> None:
        self.version = version
        self._pending = [b"REDIS%04d" % version]
        self._pending += [bytes([OP_AUX]) + encode_string(k) + encode_string(v) for k, v in aux]
        self._size = sum(map(len, self._pending))
        self._crc = 0
        self._db: int | None = None

    def _emit(self, data: bytes) -> Iterator[bytes]:
        self._pending.append(data)
        self._size += len(data)
        if self._size >= PIECE:
            yield self._flush()

    def _flush(self) -> bytes:
        data = b"".join(self._pending)
        self._pending, self._size = [], 0
        self._crc = CRC64.calc(data, self._crc)
        return data

    def add(self, record: KeyRecord | FunctionRecord) -> Iterator[bytes]:
        if isinstance(record, FunctionRecord):
            yield from self._emit(bytes([OP_FUNCTION2]) + encode_string(record.code))
            return
        if record.db != self._db:
            self._db = record.db
            yield from self._emit(bytes([OP_SELECTDB]) + encode_length(record.db))
        yield from self._emit(encode_record(record))

    def finish(self) -> bytes:
        """The last bytes: EOF opcode and the CRC64 of everything before it."""
        self._pending.append(bytes([OP_EOF]))
        data = self._flush()
        return data + self._crc.to_bytes(8, "little")
