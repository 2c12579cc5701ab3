"""Check restored tables against the manifest: row count and ordered content hash per part.

The restored table is read back with the very query the backup used (same columns, same
key range, same order), so equal hashes mean equal rows in equal order, byte for byte.
"""

from __future__ import annotations

from typing import Any

import blake3

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


def check_part(
    conn: Connection, database: str, table: dict[str, Any], part: dict[str, Any]
) -> str | None:
    """A mismatch description, or None when the part matches the manifest."""
    rows, digest = hash_part(conn, database, table, part)
    where = f"{database}.{table['name']} part {part['stream']}"
    if rows != part["rows"]:
        return f"{where}: {rows} rows restored, the backup holds {part['rows']}"
    if digest != part["blake3"]:
        return f"{where}: content differs from the backup (hash {digest} != {part['blake3']})"
    return None
