"""A streaming RDB reader that splits a snapshot into key records without decoding values.

Why our own parser: restoring key by key needs each value's *serialized* bytes
(a ``RESTORE`` payload is ``type + serialized value + RDB version + CRC64``),
and no maintained Python library exposes those -- they decode values into
Python objects, which is slower and loses encodings. This reader only walks
each value's structure far enough to find where it ends, so any value type the
server wrote (lists, hashes, streams with consumer groups, module values) is
carried as opaque bytes. Format reference: Redis ``src/rdb.h``/``rdb.c``
(RDB versions 1-11 as written by Redis 2.x-7.2); layout notes in
docs/engines/redis.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import anycrc

CRC64 = anycrc.Model("CRC64-REDIS")  # Jones polynomial, what Redis uses for RDB and DUMP

# Top-level opcodes (rdb.h)
OP_SLOT_INFO = 244
OP_FUNCTION2 = 245
OP_FUNCTION_PRE_GA = 246
OP_MODULE_AUX = 247
OP_IDLE = 248
OP_FREQ = 249
OP_AUX = 250
OP_RESIZEDB = 251
OP_EXPIRETIME_MS = 252
OP_EXPIRETIME = 253
OP_SELECTDB = 254
OP_EOF = 255

# Value types whose serialization is a single string (ziplist, listpack, intset ...).
_BLOB_TYPES = {0, 9, 10, 11, 12, 13, 16, 17, 20}
STREAM_TYPES = {15, 19, 21}
MODULE_TYPE = 7
TYPE_NAMES = {
    **dict.fromkeys((0,), "string"),
    **dict.fromkeys((1, 10, 14, 18), "list"),
    **dict.fromkeys((2, 11, 20), "set"),
    **dict.fromkeys((3, 5, 12, 17), "zset"),
    **dict.fromkeys((4, 9, 13, 16), "hash"),
    **dict.fromkeys(STREAM_TYPES, "stream"),
}
SUPPORTED_TYPES = set(TYPE_NAMES) | {MODULE_TYPE}


class RdbError(Exception):
    """The bytes are not an RDB this reader understands (truncated, damaged, newer)."""


@dataclass(frozen=True)
class KeyRecord:
    db: int
    key: bytes
    type: int
    value: bytes  # the serialized value exactly as in the RDB
    expire_ms: int | None = None  # absolute Unix time in ms
    idle: int | None = None  # LRU idle seconds
    freq: int | None = None  # LFU counter


@dataclass(frozen=True)
class FunctionRecord:
    code: bytes  # a function library's source, as given to FUNCTION LOAD


class ChunkReader:
    """Reads exact byte counts from an iterable of arbitrary pieces.

    Keeps a running CRC64 of what was consumed (for the RDB trailer) and can
    capture the raw bytes of a span (a value's serialization). ``on_pull`` sees
    every piece as it is taken from the source, so a caller can pass the
    original bytes on unchanged while parsing them.
    """

    def __init__(self, pieces: Iterable[bytes], on_pull: list[bytes] | None = None) -> None:
        self._source = iter(pieces)
        self._buf = b""
        self._pos = 0
        self._crc = 0
        self._crc_pos = 0
        self._capture: list[bytes] | None = None
        self._cap_pos = 0
        self._outbox = on_pull
        self.consumed_before_buffer = 0

    @property
    def offset(self) -> int:
        return self.consumed_before_buffer + self._pos

    def read(self, n: int) -> bytes:
        end = self._pos + n
        if end <= len(self._buf):
            out = self._buf[self._pos : end]
            self._pos = end
            return out
        return self._refill(n)

    def byte(self) -> int:
        if self._pos < len(self._buf):
            b = self._buf[self._pos]
            self._pos += 1
            return b
        return self._refill(1)[0]

    def _refill(self, n: int) -> bytes:
        # Settle CRC and capture for the part of the buffer about to be dropped.
        self._crc = CRC64.calc(self._buf[self._crc_pos : self._pos], self._crc)
        if self._capture is not None:
            self._capture.append(self._buf[self._cap_pos : self._pos])
        parts = [self._buf[self._pos :]]
        have = len(parts[0])
        self.consumed_before_buffer += self._pos
        while have < n:
            piece = next(self._source, None)
            if piece is None:
                raise RdbError(f"the RDB ends early, at byte {self.consumed_before_buffer + have}")
            if self._outbox is not None:
                self._outbox.append(piece)
            parts.append(piece)
            have += len(piece)
        self._buf = b"".join(parts) if len(parts) > 1 else parts[0]
        self._pos = n
        self._crc_pos = 0
        self._cap_pos = 0
        return self._buf[:n]

    def crc(self) -> int:
        """CRC64 of every byte consumed so far."""
        self._crc = CRC64.calc(self._buf[self._crc_pos : self._pos], self._crc)
        self._crc_pos = self._pos
        return self._crc

    def begin_capture(self) -> None:
        self._capture = []
        self._cap_pos = self._pos

    def end_capture(self) -> bytes:
        assert self._capture is not None
        parts = [*self._capture, self._buf[self._cap_pos : self._pos]]
        self._capture = None
        return b"".join(parts)

    def drain(self) -> None:
        """Pull the rest of the source (so an outbox sees every piece)."""
        for piece in self._source:
            if self._outbox is not None:
                self._outbox.append(piece)


def lzf_decompress(data: bytes, size: int) -> bytes:
    """LZF as used by Redis for compressed strings (only keys and aux are decoded)."""
    out = bytearray()
    i = 0
    while i < len(data):
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            out += data[i : i + ctrl + 1]
            i += ctrl + 1
            continue
        length = ctrl >> 5
        if length == 7:
            length += data[i]
            i += 1
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        for _ in range(length + 2):
            out.append(out[ref])
            ref += 1
    if len(out) != size:
        raise RdbError(f"LZF string decompressed to {len(out)} bytes, expected {size}")
    return bytes(out)


def read_length(r: ChunkReader) -> tuple[int, bool]:
    """(value, is_special_encoding) of an RDB length."""
    b = r.byte()
    kind = b >> 6
    if kind == 0:
        return b & 0x3F, False
    if kind == 1:
        return ((b & 0x3F) << 8) | r.byte(), False
    if kind == 2:
        if b == 0x80:
            return int.from_bytes(r.read(4), "big"), False
        if b == 0x81:
            return int.from_bytes(r.read(8), "big"), False
        raise RdbError(f"unknown length encoding 0x{b:02x} at byte {r.offset - 1}")
    return b & 0x3F, True


def read_int(r: ChunkReader) -> int:
    value, special = read_length(r)
    if special:
        raise RdbError(f"expected a length at byte {r.offset}, found an encoded string")
    return value


def read_string(r: ChunkReader) -> bytes:
    n, special = read_length(r)
    if not special:
        return r.read(n)
    if n == 0:
        return str(int.from_bytes(r.read(1), "little", signed=True)).encode()
    if n == 1:
        return str(int.from_bytes(r.read(2), "little", signed=True)).encode()
    if n == 2:
        return str(int.from_bytes(r.read(4), "little", signed=True)).encode()
    if n == 3:
        compressed_len = read_int(r)
        size = read_int(r)
        return lzf_decompress(r.read(compressed_len), size)
    raise RdbError(f"unknown string encoding {n} at byte {r.offset}")


def skip_string(r: ChunkReader) -> None:
    n, special = read_length(r)
    if not special:
        r.read(n)
    elif n in (0, 1, 2):
        r.read(1 << n)
    elif n == 3:
        compressed_len = read_int(r)
        read_int(r)
        r.read(compressed_len)
    else:
        raise RdbError(f"unknown string encoding {n} at byte {r.offset}")


def _skip_module_body(r: ChunkReader) -> None:
    """Module values are self-describing: typed opcodes until EOF (rdb.h RDB_MODULE_OPCODE_*)."""
    while True:
        opcode = read_int(r)
        if opcode == 0:
            return
        if opcode in (1, 2):
            read_int(r)
        elif opcode == 3:
            r.read(4)
        elif opcode == 4:
            r.read(8)
        elif opcode == 5:
            skip_string(r)
        else:
            raise RdbError(f"unknown module opcode {opcode} at byte {r.offset}")


def _skip_stream(r: ChunkReader, kind: int) -> None:
    for _ in range(read_int(r)):  # listpacks: master id + listpack
        skip_string(r)
        skip_string(r)
    read_int(r)  # length
    read_int(r)  # last id ms
    read_int(r)  # last id seq
    if kind >= 19:
        for _ in range(5):  # first id (2), max deleted id (2), entries added
            read_int(r)
    for _ in range(read_int(r)):  # consumer groups
        skip_string(r)  # name
        read_int(r)  # last delivered id ms
        read_int(r)  # seq
        if kind >= 19:
            read_int(r)  # entries read
        for _ in range(read_int(r)):  # group PEL: raw id, delivery time, count
            r.read(16 + 8)
            read_int(r)
        for _ in range(read_int(r)):  # consumers
            skip_string(r)
            r.read(8)  # seen time
            if kind >= 21:
                r.read(8)  # active time
            r.read(16 * read_int(r))  # consumer PEL ids


def skip_value(r: ChunkReader, kind: int) -> None:
    """Consume one serialized value of type ``kind``."""
    if kind in _BLOB_TYPES:
        skip_string(r)
    elif kind in (1, 2, 14):
        for _ in range(read_int(r)):
            skip_string(r)
    elif kind == 3:
        for _ in range(read_int(r)):
            skip_string(r)
            n = r.byte()
            if n < 253:  # 253/254/255 are NaN/+inf/-inf with no digits
                r.read(n)
    elif kind == 4:
        for _ in range(read_int(r) * 2):
            skip_string(r)
    elif kind == 5:
        for _ in range(read_int(r)):
            skip_string(r)
            r.read(8)
    elif kind == 18:
        for _ in range(read_int(r)):
            read_int(r)  # container kind
            skip_string(r)
    elif kind in STREAM_TYPES:
        _skip_stream(r, kind)
    elif kind == MODULE_TYPE:
        read_int(r)  # module id
        _skip_module_body(r)
    else:
        raise RdbError(
            f"value type {kind} at byte {r.offset} is not supported (written by a newer Redis?)"
        )


class RdbParser:
    """Walks an RDB: ``records()`` yields keys and functions; then ``aux``, ``checksum_ok``."""

    def __init__(self, reader: ChunkReader) -> None:
        self.reader = reader
        self.version = 0
        self.aux: list[tuple[bytes, bytes]] = []
        self.module_aux: list[bytes] = []  # raw, opcode included, for rebuilding
        self.checksum_ok: bool | None = None  # None: the writer disabled checksums

    def records(self) -> Iterator[KeyRecord | FunctionRecord]:
        r = self.reader
        magic = r.read(9)
        if magic[:5] != b"REDIS" or not magic[5:].isdigit():
            raise RdbError("not an RDB file (no REDISnnnn header)")
        self.version = int(magic[5:])
        db = 0
        expire: int | None = None
        idle: int | None = None
        freq: int | None = None
        while True:
            op = r.byte()
            if op == OP_EOF:
                break
            if op == OP_SELECTDB:
                db = read_int(r)
            elif op == OP_RESIZEDB:
                read_int(r)
                read_int(r)
            elif op == OP_AUX:
                self.aux.append((read_string(r), read_string(r)))
            elif op == OP_EXPIRETIME_MS:
                expire = int.from_bytes(r.read(8), "little", signed=True)
            elif op == OP_EXPIRETIME:
                expire = int.from_bytes(r.read(4), "little", signed=True) * 1000
            elif op == OP_IDLE:
                idle = read_int(r)
            elif op == OP_FREQ:
                freq = r.byte()
            elif op == OP_FUNCTION2:
                yield FunctionRecord(read_string(r))
            elif op == OP_MODULE_AUX:
                r.begin_capture()
                read_int(r)  # module id
                read_int(r)  # when-opcode
                read_int(r)  # when
                _skip_module_body(r)
                self.module_aux.append(bytes([op]) + r.end_capture())
            elif op == OP_SLOT_INFO:
                for _ in range(3):
                    read_int(r)
            elif op == OP_FUNCTION_PRE_GA:
                raise RdbError(
                    "functions in the Redis 7.0 release-candidate format are unsupported"
                )
            elif op in SUPPORTED_TYPES:
                key = read_string(r)
                r.begin_capture()
                skip_value(r, op)
                yield KeyRecord(db, key, op, r.end_capture(), expire, idle, freq)
                expire = idle = freq = None
            else:
                raise RdbError(f"unknown opcode or value type {op} at byte {r.offset - 1}")
        computed = r.crc()
        if self.version >= 5:
            stored = int.from_bytes(r.read(8), "little")
            self.checksum_ok = None if stored == 0 else stored == computed
        r.drain()


def dump_payload(record: KeyRecord, rdb_version: int) -> bytes:
    """The ``DUMP``/``RESTORE`` serialization of one key (cluster.c createDumpPayload)."""
    body = bytes([record.type]) + record.value + rdb_version.to_bytes(2, "little")
    return body + int(CRC64.calc(body)).to_bytes(8, "little")
