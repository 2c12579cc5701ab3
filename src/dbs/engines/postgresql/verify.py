"""Verification: re-read each restored table and compare row count and ordered checksum.

At level "rows" only the row count is compared (``table_rows``): a count per table instead
of the server rendering every row as text again.

The checksum is BLAKE3 over the table's COPY text, in the session settings of
connection.py, exactly as the backup computed it over the same bytes. A table
loaded by a single COPY into a new table reads back in load order.

The read-back is psql's ``COPY … TO STDOUT`` through a pipe: libpq hands a COPY to
Python one row per message, so reading it in-process costs several times the CPU
(measured on the benchmark's 4 M-row table: ~6-8 s of Python vs ~2.3 s for psql and
the pipe reader together).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from typing import Any

import blake3
import psycopg
from psycopg import sql

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.postgresql.connection import describe, ident, quote_ident, session, tool_env
from dbs.engines.postgresql.tools import find_tool, stream_stdout
from dbs.streams import closing_stream


def _psql() -> list[str]:
    """psql with a 1 MiB stdout buffer when coreutils' stdbuf is there.

    psql writes COPY rows through stdio, which buffers 4 KiB for a pipe: one write and one
    reader wake-up per 4 KiB. With 1 MiB the read-back of a 514 MB table took psql ~1.0 s
    instead of ~1.2 s and the Python reader ~0.8 s instead of ~1.15 s of CPU; the bytes
    are the same.
    """
    argv = [find_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    stdbuf = shutil.which("stdbuf")
    return [stdbuf, "-o1M", *argv] if stdbuf else argv


def table_digest(
    endpoint: Endpoint,
    database: str,
    schema: str,
    table: str,
    columns: list[str],
    order_by: list[str] | None = None,
    part_rows: list[int] | None = None,
) -> list[tuple[int, str]]:
    """(rows, BLAKE3 hex) of the table's COPY text as it is now: in physical order (a table
    loaded by one COPY), or in ``order_by`` key order (a table loaded by several). For a
    table backed up in parts, one pair per part: the text is cut after each part's row count
    (the last part takes the rest)."""
    cols = ", ".join(quote_ident(c) for c in columns)
    target = f"{quote_ident(schema)}.{quote_ident(table)}"
    if order_by and cols:
        key = ", ".join(quote_ident(c) for c in order_by)
        copy = f"COPY (SELECT {cols} FROM ONLY {target} ORDER BY {key}) TO STDOUT"
    else:
        copy = f"COPY {target} ({cols}) TO STDOUT" if cols else f"COPY {target} TO STDOUT"
    argv = _psql()
    if order_by:
        # Walk the primary-key index: the heap is key-ordered in long runs, so this reads
        # nearly sequentially, where a seq scan + sort of a big table would spill to disk.
        argv += ["-c", "SET enable_seqscan = off", "-c", "SET enable_sort = off"]
    argv += ["-c", copy]
    step = f"verify table {database}.{schema}.{table}"
    with closing_stream(stream_stdout(argv, tool_env(endpoint, database), step, "psql")) as blocks:
        return digest_parts(blocks, part_rows or [])


def digest_parts(blocks: Iterable[bytes], part_rows: list[int]) -> list[tuple[int, str]]:
    """(rows, BLAKE3 hex) per part of a row stream; parts end after ``part_rows[i]`` rows,
    the last one at the end of the stream (with no counts: one part, the whole stream).
    A stream that ends early yields fewer pairs."""
    out: list[tuple[int, str]] = []
    digest, rows = blake3.blake3(), 0
    limits = list(part_rows[:-1])  # the last part runs to the end
    for block in blocks:
        start = 0
        while True:
            newlines = block.count(b"\n", start)
            if not limits or newlines < limits[0] - rows:
                digest.update(memoryview(block)[start:])
                rows += newlines
                break
            cut = _after_newlines(block, start, limits[0] - rows)
            digest.update(memoryview(block)[start:cut])
            out.append((limits.pop(0), digest.hexdigest()))
            digest, rows, start = blake3.blake3(), 0, cut
    out.append((rows, digest.hexdigest()))
    return out


def _after_newlines(block: bytes, start: int, count: int) -> int:
    """The offset just past the ``count``-th newline at or after ``start`` (which exists)."""
    end = start
    for _ in range(count):
        end = block.index(b"\n", end) + 1
    return end


def table_rows(endpoint: Endpoint, database: str, schema: str, table: str) -> int:
    """The table's row count as it is now (its own rows, not its children's)."""
    step = f"count rows of table {database}.{schema}.{table}"
    with session(endpoint, database, step) as conn:
        try:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM ONLY {}").format(ident(schema, table))
            ).fetchone()
        except psycopg.Error as exc:
            raise EngineError(step, describe(exc)) from None
    return int(row[0]) if row else 0


def compare_rows(entry: dict[str, Any], rows: int) -> str | None:
    if rows != entry["rows"]:
        return f"{rows} rows, the backup has {entry['rows']}"
    return None


def compare(entry: dict[str, Any], digests: list[tuple[int, str]]) -> str | None:
    """A mismatch description, or None when the table (each of its parts) matches the backup."""
    if problem := compare_rows(entry, sum(rows for rows, _ in digests)):
        return problem
    parts = entry.get("parts") or [entry]
    for n, (part, (rows, checksum)) in enumerate(zip(parts, digests, strict=False), 1):
        if rows != part["rows"] or checksum != part["checksum"] or len(digests) != len(parts):
            where = f" (part {n} of {len(parts)})" if len(parts) > 1 else ""
            return f"content checksum differs from the backup's{where}"
    return None
