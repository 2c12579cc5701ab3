"""Read one part of a table as stream bytes (lines in the format of `format.py`).

Python's cost per row (PyMySQL parses every row packet) dominates a logical dump, so
tables with an integer key are read in key-range batches the server joins into one
value (``GROUP_CONCAT(line ORDER BY key SEPARATOR '\\n')``): the client then handles
one packet per ~1 MiB instead of one per row. A batch the server had to cut short
(``group_concat_max_len``) is detected by its line count and re-read row by row, so
the bytes are always the same as the row-by-row query gives.
"""

from __future__ import annotations

from collections.abc import Iterator

import pymysql.cursors

from dbs.engines.base import EngineError
from dbs.engines.mysql import format as fmt
from dbs.engines.mysql.connection import Connection, qualified, query_rows, quote_ident

FETCH_ROWS = 2000  # most rows per piece on the row-by-row path
BATCH_BYTES = 1 << 20  # aim of one GROUP_CONCAT batch
_MAX_WIDTH = 1 << 40


def part_lines(
    conn: Connection,
    database: str,
    table: str,
    columns: list[fmt.Column],
    order_by: list[str],
    key: str | None,
    part: fmt.Part,
) -> Iterator[tuple[bytes, int]]:
    """(buffer, rows) pieces of the part, in key order; each buffer ends with a newline."""
    if key is None:
        yield from _row_by_row(conn, database, table, columns, order_by, key, part)
    else:
        yield from _batched(conn, database, table, columns, key, part)


def _row_by_row(
    conn: Connection,
    database: str,
    table: str,
    columns: list[fmt.Column],
    order_by: list[str],
    key: str | None,
    part: fmt.Part,
) -> Iterator[tuple[bytes, int]]:
    sql, args = fmt.select_statement(database, table, columns, order_by, key, part)
    cur = conn.cursor(pymysql.cursors.SSCursor)  # unbuffered: rows arrive one at a time
    cur.execute(sql, args)
    lines: list[bytes] = []
    size = 0
    for (line,) in cur:
        if line is None:
            raise EngineError(
                f"copy table {qualified(database, table)}",
                "a row is longer than the server's max_allowed_packet; raise it "
                "(SET GLOBAL max_allowed_packet = 1073741824) and retry",
            )
        lines.append(line)
        size += len(line) + 1
        # Bounded by bytes as well as rows, so huge rows never pile up in memory.
        if size >= BATCH_BYTES or len(lines) >= FETCH_ROWS:
            yield b"\n".join(lines) + b"\n", len(lines)
            lines, size = [], 0
    if lines:
        yield b"\n".join(lines) + b"\n", len(lines)
    cur.close()


def _batched(
    conn: Connection,
    database: str,
    table: str,
    columns: list[fmt.Column],
    key: str,
    part: fmt.Part,
) -> Iterator[tuple[bytes, int]]:
    k, name = quote_ident(key), qualified(database, table)
    where, args = _range(k, part.lo, part.hi)
    low, high = query_rows(conn, f"SELECT MIN({k}), MAX({k}) FROM {name}{where}", args)[0]
    if low is None:
        return
    query_rows(conn, "SET SESSION group_concat_max_len = @@max_allowed_packet - 4096")
    sql = (
        f"SELECT COUNT(*), GROUP_CONCAT({fmt.row_expression(columns)} ORDER BY {k} "
        f"SEPARATOR '\\n') FROM {name} WHERE {k} > %s AND {k} <= %s"
    )
    start, high, width = int(low) - 1, int(high), 4096
    while start < high:
        end = min(start + width, high)
        count, value = query_rows(conn, sql, (start, end))[0]
        count = int(count)
        if count and (value is None or value.count(b"\n") != count - 1):
            # Cut short by group_concat_max_len (or a row too long): read it row by row.
            yield from _row_by_row(conn, database, table, columns, [key], key, fmt.Part(start, end))
            width = max(1, width // 4)
        elif count:
            yield bytes(value) + b"\n", count
            if len(value) > 2 * BATCH_BYTES:
                width = max(1, width // 2)
            elif len(value) < BATCH_BYTES // 2:
                width = min(width * 2, _MAX_WIDTH)
        else:
            width = min(width * 2, _MAX_WIDTH)
        start = end


def _range(key: str, lo: int | None, hi: int | None) -> tuple[str, list[int]]:
    conditions, args = [], []
    if lo is not None:
        conditions.append(f"{key} > %s")
        args.append(lo)
    if hi is not None:
        conditions.append(f"{key} <= %s")
        args.append(hi)
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), args
