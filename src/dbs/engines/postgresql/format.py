"""The streams a PostgreSQL backup set holds, and how they are named and framed.

Stream names are stable across backups (derived from the object's name), so
the repository can deduplicate a table's stream against its previous version:

    <db>/schema-pre.dump      pg_dump -Fc -Z0 --section=pre-data  (types, tables, functions...)
    <db>/schema-post.dump     pg_dump -Fc -Z0 --section=post-data (indexes, constraints, triggers)
    <db>/data/<schema>/<table>  COPY ... TO STDOUT text format, one row per line
    <db>/data/<schema>/<table>/part-<n>  the same, for a big table split by key range
    <db>/large-objects        large objects, framed as below
    globals.sql               pg_dumpall --globals-only (whole-instance backups)

Every name part is percent-encoded, so any identifier is safe in a name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

# Format 2 adds "parts" to a table entry (a big table read as several key ranges); format 1
# sets (no parts) restore unchanged. A reader that knows only format 1 refuses format 2,
# instead of restoring the first part of a split table alone.
FORMAT = "dbs-postgresql/2"
READABLE_FORMATS = ("dbs-postgresql/1", "dbs-postgresql/2")
GLOBALS_STREAM = "globals.sql"


def _q(part: str) -> str:
    return quote(part, safe="")


def schema_stream(database: str, section: str) -> str:
    return f"{_q(database)}/schema-{section}.dump"


def table_stream(database: str, schema: str, table: str) -> str:
    return f"{_q(database)}/data/{_q(schema)}/{_q(table)}"


def part_stream(database: str, schema: str, table: str, index: int) -> str:
    return f"{table_stream(database, schema, table)}/part-{index}"


def table_streams(entry: dict[str, Any]) -> list[str]:
    """The streams holding a table's rows, in key order: its parts, or its one stream."""
    return [p["stream"] for p in entry["parts"]] if entry.get("parts") else [entry["stream"]]


def large_objects_stream(database: str) -> str:
    return f"{_q(database)}/large-objects"


# Large-object framing: for each object "L <oid>\n", then pieces "<len>\n<bytes>",
# ending with "0\n". Plain enough to read without this program.


def encode_large_object_header(oid: int) -> bytes:
    return b"L %d\n" % oid


def encode_piece(data: bytes) -> bytes:
    return b"%d\n" % len(data) + data


END_OF_OBJECT = b"0\n"


class ByteReader:
    """Reads lines and exact byte counts from an iterator of blocks, holding one block at a time."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks: Iterator[bytes] = iter(blocks)
        self._buf = b""

    def _fill(self) -> bool:
        for block in self._blocks:
            if block:
                self._buf += block
                return True
        return False

    def readline(self) -> bytes:
        while b"\n" not in self._buf:
            if not self._fill():
                line, self._buf = self._buf, b""
                return line
        line, _, self._buf = self._buf.partition(b"\n")
        return line + b"\n"

    def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise ValueError(f"stream ended {n - len(self._buf)} bytes early")
        data, self._buf = self._buf[:n], self._buf[n:]
        return data


def iter_large_objects(blocks: Iterable[bytes]) -> Iterator[tuple[int, Iterator[bytes]]]:
    """Yield (oid, pieces) per large object; consume each object's pieces before the next."""
    reader = ByteReader(blocks)
    while True:
        header = reader.readline()
        if not header:
            return
        if not header.startswith(b"L ") or not header.endswith(b"\n"):
            raise ValueError(f"bad large-object header {header[:40]!r}")
        oid = int(header[2:-1])

        def pieces() -> Iterator[bytes]:
            while True:
                size = int(reader.readline())
                if size == 0:
                    return
                yield reader.read(size)

        yield oid, pieces()
