"""Loading one table's COPY stream into the target: in one session, or split over several.

One session: ``TRUNCATE ONLY t; COPY t FROM STDIN (FREEZE)`` in one transaction, so the
rows are written already frozen and their pages all-visible: the verification's read-back
and the index builds of post-data then find no hint bits to set and dirty no page, and no
freeze vacuum rewrites the table later. The table was created moments before by pre-data
(restore.py never loads into a table it did not create), so the TRUNCATE empties nothing;
it only gives the table a new relfilenode in this transaction, which FREEZE requires. When
the server refuses TRUNCATE ONLY or FREEZE for the relation (a partitioned or foreign
table, a missing TRUNCATE privilege), the table loads with a plain COPY instead.

Split (large tables with a primary key): one thread reads the stream and deals ~1 MiB
batches, cut at row ends, round-robin to ``ways`` sessions each running a COPY into the
same table. The server parses a COPY on one core, so a big table loaded by a single COPY
is the long pole of a restore; split, it uses every core. The rows then land interleaved,
so such a table is verified in primary-key order (the order the backup wrote it in), once
post-data has built its key index. (Physical order within one session is not insertion
order either: concurrent inserters hand each other pages through the free space map.)
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

import psycopg
from psycopg import sql

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.parallel import Workers
from dbs.engines.postgresql import format as fmt
from dbs.engines.postgresql.connection import describe, ident, session
from dbs.streams import BackupReader, Progress, closing_stream

WRITE_BATCH = 1 << 20
SPLIT_AT_BYTES = 128 << 20  # tables at least this big load over several sessions
NEVER_SPLIT = 1 << 62
QUEUE_DEPTH = 4  # batches waiting per session: bounds memory to ways x 4 MiB


def table_blocks(reader: BackupReader, entry: dict[str, Any]) -> Iterator[bytes]:
    """The table's rows in key order: its one stream, or its parts one after another."""
    for stream in fmt.table_streams(entry):
        yield from reader.open_stream(stream)


def batched(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Join the repository's small chunks into ~1 MiB writes: fewer libpq round trips."""
    pending: list[bytes] = []
    size = 0
    with closing_stream(blocks) as pieces:
        for block in pieces:
            pending.append(block)
            size += len(block)
            if size >= WRITE_BATCH:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)


def row_batches(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """~1 MiB batches that each end at a row end (a COPY may only receive whole rows)."""
    carry = b""
    with closing_stream(batched(blocks)) as batches:
        for batch in batches:
            data = carry + batch
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut]
            carry = data[cut:]
    if carry:
        yield carry


def _copy_sql(entry: dict[str, Any], schema: str, table: str, freeze: bool) -> sql.Composed:
    options = sql.SQL(" (FREEZE)" if freeze else "")
    if entry["columns"]:
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in entry["columns"])
        return sql.SQL("COPY {} ({}) FROM STDIN{}").format(ident(schema, table), cols, options)
    return sql.SQL("COPY {} FROM STDIN{}").format(ident(schema, table), options)


def splittable(entry: dict[str, Any], parallel: int, split_at: int = SPLIT_AT_BYTES) -> bool:
    return parallel > 1 and bool(entry.get("ordered_by")) and entry["bytes"] >= split_at


def load_table(
    reader: BackupReader,
    target: Endpoint,
    database: str,
    entry: dict[str, Any],
    schema: str,
    table: str,
    progress: Progress,
    ways: int = 1,
) -> None:
    step = f"load table {database}.{schema}.{table}"
    progress.step(step)
    if ways > 1:
        _load_split(reader, target, database, entry, schema, table, progress, ways, step)
    else:
        with session(target, database, step) as conn:
            try:
                try:
                    _copy_in(conn, reader, entry, schema, table, progress, freeze=True)
                except _FreezeRefused:
                    _copy_in(conn, reader, entry, schema, table, progress, freeze=False)
            except psycopg.Error as exc:
                raise EngineError(step, describe(exc)) from None
    progress.advance(items_done=1)


class _FreezeRefused(Exception):
    """The server refused TRUNCATE ONLY or COPY FREEZE before any row was sent."""


# What TRUNCATE ONLY / COPY FREEZE raise for relations they do not apply to: a partitioned
# table (42809, 0A000), a foreign table (42809), no TRUNCATE privilege (42501), a table not
# new in this transaction (55000) or a transaction with prior activity (25000).
_NO_FREEZE = (
    psycopg.errors.WrongObjectType,
    psycopg.errors.FeatureNotSupported,
    psycopg.errors.InsufficientPrivilege,
    psycopg.errors.ObjectNotInPrerequisiteState,
    psycopg.errors.InvalidTransactionState,
)


def _copy_in(
    conn: psycopg.Connection[tuple[Any, ...]],
    reader: BackupReader,
    entry: dict[str, Any],
    schema: str,
    table: str,
    progress: Progress,
    freeze: bool,
) -> None:
    """One transaction: (TRUNCATE ONLY and) COPY the table's stream in."""
    sent = False
    try:
        with conn.transaction(), conn.cursor() as cur:
            if freeze:
                cur.execute(sql.SQL("TRUNCATE ONLY {}").format(ident(schema, table)))
            with (
                cur.copy(_copy_sql(entry, schema, table, freeze)) as copier,
                closing_stream(batched(table_blocks(reader, entry))) as blocks,
            ):
                for block in blocks:
                    sent = True
                    copier.write(block)
                    progress.advance(bytes_done=len(block))
    except _NO_FREEZE as exc:
        if freeze and not sent:  # refused up front; the transaction rolled back
            raise _FreezeRefused(describe(exc)) from None
        raise


def _load_split(
    reader: BackupReader,
    target: Endpoint,
    database: str,
    entry: dict[str, Any],
    schema: str,
    table: str,
    progress: Progress,
    ways: int,
    step: str,
) -> None:
    queues: list[queue.Queue[bytes]] = [queue.Queue(QUEUE_DEPTH) for _ in range(ways)]
    copy = _copy_sql(entry, schema, table, freeze=False)
    workers: Workers[Callable[[], None]] = Workers(
        "postgresql-load", explain=lambda _task, exc: EngineError(step, describe(exc))
    )
    watched = workers.watch(progress)

    def sink(q: queue.Queue[bytes]) -> None:
        try:
            with (
                session(target, database, step) as conn,
                conn.cursor() as cur,
                cur.copy(copy) as copier,
            ):
                while batch := q.get():  # an empty batch ends the stream
                    copier.write(batch)
                    watched.advance(bytes_done=len(batch))
        except BaseException:  # keep draining so the dealer never blocks, then report it
            while q.get():
                pass
            raise

    def deal() -> None:
        try:
            with closing_stream(row_batches(table_blocks(reader, entry))) as batches:
                for n, batch in enumerate(batches):
                    workers.check()
                    queues[n % ways].put(batch)
        finally:
            for q in queues:
                q.put(b"")  # ends the session's COPY

    workers.run_tasks([deal, *(partial(sink, q) for q in queues)], ways + 1)
