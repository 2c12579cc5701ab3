"""Check restored tables against the manifest: row count and ordered content hash per part.

At verify level "rows" only the part's row count is compared (one ``COUNT(*)`` per part).
The restored table is read back with the very query the backup used (same columns, same
key range, same order), so equal hashes mean equal rows in equal order, byte for byte.
"""

from __future__ import annotations

from typing import Any

import blake3

from dbs.engines.base import VerifyLevel
from dbs.engines.mysql import format as fmt
from dbs.engines.mysql.connection import Connection
from dbs.engines.mysql.reader import part_lines


def columns_of(table: dict[str, Any]) -> list[fmt.Column]:
    return [fmt.Column(name, dtype, bool(nullable)) for name, dtype, nullable in table["columns"]]


def hash_part(
    conn: Connection, database: str, table: dict[str, Any], part: dict[str, Any]
) -> tuple[int, str]:
    """(rows, hex BLAKE3) of one part of ``table`` as it now is in ``database``."""
    hasher = blake3.blake3()
    rows = 0
    for buf, count in part_lines(
        conn, database, table["name"], columns_of(table), list(table["order_by"]),
        table["split_key"], fmt.Part(part["lo"], part["hi"]),
    ):  # fmt: skip
        hasher.update(buf)
        rows += count
    return rows, hasher.hexdigest()


def count_part(conn: Connection, database: str, table: dict[str, Any], part: dict[str, Any]) -> int:
    """Rows of one part of ``table`` as it now is in ``database``."""
    sql, args = fmt.count_statement(
        database, table["name"], table["split_key"], fmt.Part(part["lo"], part["hi"])
    )
    with conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    return int(row[0]) if row else 0


def check_part(
    conn: Connection,
    database: str,
    table: dict[str, Any],
    part: dict[str, Any],
    level: VerifyLevel = "content",
) -> str | None:
    """A mismatch description, or None when the part matches the manifest."""
    where = f"{database}.{table['name']} part {part['stream']}"
    digest: str | None = None  # level "rows" only counts
    if level == "rows":
        rows = count_part(conn, database, table, part)
    else:
        rows, digest = hash_part(conn, database, table, part)
    if rows != part["rows"]:
        return f"{where}: {rows} rows restored, the backup holds {part['rows']}"
    if digest is not None and digest != part["blake3"]:
        return f"{where}: content differs from the backup (hash {digest} != {part['blake3']})"
    return None
