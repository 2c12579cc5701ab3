"""The byte format of table data streams, shared by backup, restore and verify.

A data stream is exactly what ``LOAD DATA ... CHARACTER SET binary`` reads with its
defaults: one row per line ending in ``\\n``, fields separated by ``\\t``, ``\\N`` for
NULL, and backslash, tab and newline inside a value escaped as ``\\\\``, ``\\t``, ``\\n``.
Values are the column's raw bytes in its own character set (numbers, dates and times
in their text form, BIT as an unsigned number). The server builds each line itself
(one SQL expression per row), so the client only moves bytes; restore hands the
stream to ``LOAD DATA LOCAL INFILE`` unchanged, and verify re-runs the same expression
on the restored table and compares hashes.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbs.engines.mysql.connection import Connection, query_rows, quote_ident, text

FORMAT_VERSION = 1
ROW_END = b"\n"

# Types whose text form can never contain a tab, newline or backslash: no escaping needed.
_PLAIN_TYPES = frozenset(
    {
        "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal",
        "numeric", "float", "double", "real", "date", "datetime", "timestamp", "time", "year",
    }
)  # fmt: skip
_INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # information_schema DATA_TYPE, lower case
    nullable: bool


def stored_columns(conn: Connection, database: str, table: str) -> list[Column]:
    """The columns that hold data, in table order: generated columns are recomputed on load."""
    rows = query_rows(
        conn,
        "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, GENERATION_EXPRESSION "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
        "ORDER BY ORDINAL_POSITION",
        (database, table),
    )
    return [
        Column(text(name), text(dtype).lower(), text(nullable) == "YES")
        for name, dtype, nullable, generated in rows
        if not text(generated)
    ]


def integer_primary_key(conn: Connection, database: str, table: str) -> str | None:
    """The primary key column if the key is one integer column (then the table can be split)."""
    rows = query_rows(
        conn,
        "SELECT k.COLUMN_NAME, c.DATA_TYPE FROM information_schema.KEY_COLUMN_USAGE k "
        "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA "
        "AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME "
        "WHERE k.TABLE_SCHEMA = %s AND k.TABLE_NAME = %s AND k.CONSTRAINT_NAME = 'PRIMARY'",
        (database, table),
    )
    if len(rows) == 1 and text(rows[0][1]).lower() in _INTEGER_TYPES:
        return text(rows[0][0])
    return None


def primary_key_columns(conn: Connection, database: str, table: str) -> list[str]:
    rows = query_rows(
        conn,
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
        (database, table),
    )
    return [text(r[0]) for r in rows]


def _field_expression(column: Column) -> str:
    ident = quote_ident(column.name)
    if column.data_type == "bit":
        value = f"CAST({ident} + 0 AS BINARY)"
    elif column.data_type in _PLAIN_TYPES:
        value = f"CAST({ident} AS BINARY)"
    else:
        value = (
            f"REPLACE(REPLACE(REPLACE(CAST({ident} AS BINARY),"
            "'\\\\','\\\\\\\\'),'\\t','\\\\t'),'\\n','\\\\n')"
        )
    return f"IFNULL({value},'\\\\N')" if column.nullable else value


def row_expression(columns: list[Column]) -> str:
    """One SQL expression yielding a whole escaped line (without its newline) per row."""
    return "CONCAT_WS('\\t'," + ",".join(_field_expression(c) for c in columns) + ")"


@dataclass(frozen=True)
class Part:
    """A slice of a table by primary-key range: ``lo < key <= hi`` (None = unbounded)."""

    lo: int | None
    hi: int | None


def _part_filter(key: str | None, part: Part) -> tuple[str, list[int]]:
    """`` WHERE lo < key <= hi`` for a part of a split table ("" for a whole table)."""
    conditions: list[str] = []
    args: list[int] = []
    if key is not None and part.lo is not None:
        conditions.append(f"{quote_ident(key)} > %s")
        args.append(part.lo)
    if key is not None and part.hi is not None:
        conditions.append(f"{quote_ident(key)} <= %s")
        args.append(part.hi)
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), args


def select_statement(
    database: str, table: str, columns: list[Column], order_by: list[str], key: str | None,
    part: Part,
) -> tuple[str, list[int]]:  # fmt: skip
    """The query that produces one part's lines, in primary-key order when there is one."""
    where, args = _part_filter(key, part)
    sql = f"SELECT {row_expression(columns)} FROM {quote_ident(database)}.{quote_ident(table)}"
    sql += where
    if order_by:
        sql += " ORDER BY " + ",".join(quote_ident(c) for c in order_by)
    return sql, args


def count_statement(
    database: str, table: str, key: str | None, part: Part
) -> tuple[str, list[int]]:
    """The query that counts one part's rows (verify level "rows")."""
    where, args = _part_filter(key, part)
    return f"SELECT COUNT(*) FROM {quote_ident(database)}.{quote_ident(table)}{where}", args


def load_statement(database: str, table: str, columns: list[Column]) -> str:
    """``LOAD DATA`` for a stream of ``columns`` (takes the file name as its one parameter)."""
    targets: list[str] = []
    assignments: list[str] = []
    for i, column in enumerate(columns):
        if column.data_type == "bit":
            # LOAD DATA would store the digits as bytes; convert the number explicitly.
            targets.append(f"@v{i}")
            assignments.append(f"{quote_ident(column.name)} = CAST(@v{i} AS UNSIGNED)")
        else:
            targets.append(quote_ident(column.name))
    sql = (
        f"LOAD DATA LOCAL INFILE %s INTO TABLE {quote_ident(database)}.{quote_ident(table)} "
        "CHARACTER SET binary FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
        "LINES TERMINATED BY '\\n' (" + ",".join(targets) + ")"
    )
    if assignments:
        sql += " SET " + ",".join(assignments)
    return sql


def schema_stream_name(db_index: int) -> str:
    return f"schema/{db_index:05d}"


def data_stream_name(db_index: int, table_index: int, part_index: int) -> str:
    # Names by position, not by identifier: identifiers may hold any character.
    return f"data/{db_index:05d}/{table_index:06d}/{part_index:05d}"
