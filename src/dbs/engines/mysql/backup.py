"""A consistent full logical backup: schema streams, then table data in parallel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymysql

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql import format as fmt
from dbs.engines.mysql import schema
from dbs.engines.mysql.connection import (
    Connection,
    ServerInfo,
    close_quietly,
    connect,
    kill_sessions,
    query_rows,
    quote_ident,
    server_info,
)
from dbs.engines.mysql.objects import TableRef, selected_tables
from dbs.engines.mysql.reader import part_lines
from dbs.engines.mysql.snapshot import Snapshot, open_snapshot
from dbs.engines.parallel import Workers
from dbs.engines.selection import ObjectSelection
from dbs.streams import BackupWriter, Progress, closing_stream

# Target size of one primary-key range stream: a bigger table is read as several.
DEFAULT_SPLIT_BYTES = 64 * 1024 * 1024
TRANSACTIONAL_ENGINES = frozenset({"innodb", "xtradb", "rocksdb", "tokudb"})


@dataclass
class PartJob:
    table: TablePlan
    index: int
    part: fmt.Part
    stream: str
    rows: int = 0
    digest: str = ""
    size: int = 0


@dataclass
class TablePlan:
    ref: TableRef
    columns: list[fmt.Column]
    key: str | None
    order_by: list[str]
    parts: list[PartJob] = field(default_factory=list)

    @property
    def step(self) -> str:
        return f"copy table {quote_ident(self.ref.database)}.{quote_ident(self.ref.name)}"


def _split(conn: Connection, ref: TableRef, key: str | None, split_bytes: int) -> list[fmt.Part]:
    """Primary-key ranges of about ``split_bytes`` each (one range if the table is small)."""
    wanted = min(ref.data_bytes // max(1, split_bytes) + 1, 1000)
    if key is None or wanted < 2:
        return [fmt.Part(None, None)]
    rows = query_rows(
        conn,
        f"SELECT MIN({quote_ident(key)}), MAX({quote_ident(key)}) "
        f"FROM {quote_ident(ref.database)}.{quote_ident(ref.name)}",
    )
    low, high = rows[0]
    if low is None or int(high) - int(low) < wanted:
        return [fmt.Part(None, None)]
    low, high = int(low), int(high)
    bounds = [low + (high - low) * i // wanted for i in range(1, wanted)]
    edges: list[int | None] = [None, *bounds, None]
    return [fmt.Part(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _plan(
    conn: Connection, selected: dict[str, list[TableRef]], split_bytes: int
) -> list[list[TablePlan]]:
    plans: list[list[TablePlan]] = []
    for db_index, (db, tables) in enumerate(selected.items()):
        db_plans = []
        for table_index, ref in enumerate(tables):
            columns = fmt.stored_columns(conn, db, ref.name)
            key = fmt.integer_primary_key(conn, db, ref.name)
            plan = TablePlan(ref, columns, key, fmt.primary_key_columns(conn, db, ref.name))
            for part_index, part in enumerate(_split(conn, ref, key, split_bytes)):
                stream = fmt.data_stream_name(db_index, table_index, part_index)
                plan.parts.append(PartJob(plan, part_index, part, stream))
            db_plans.append(plan)
        plans.append(db_plans)
    return plans


def _schema_records(
    conn: Connection, database: str, tables: list[TableRef], selection: ObjectSelection
) -> list[schema.Record]:
    with conn.cursor() as cur:
        cur.execute(f"USE {quote_ident(database)}")
    records = [schema.database_record(conn, database)]
    records += [schema.table_record(conn, database, t.name) for t in tables]
    whole = selection.selects(database)
    for record in schema.post_data_records(conn, database, {t.name for t in tables}):
        kind = record["kind"]
        if (
            kind == "trigger"
            or (kind == "view" and selection.selects(database, record["name"]))
            or (kind in ("procedure", "function", "event") and whole)
        ):
            records.append(record)
    return records


def _rows(conn: Connection, job: PartJob, progress: Progress) -> Iterator[bytes]:
    """The part's stream bytes, counting rows as they pass (the writer hashes them)."""
    table = job.table
    pieces = part_lines(
        conn, table.ref.database, table.ref.name, table.columns, table.order_by, table.key,
        job.part,
    )  # fmt: skip
    try:
        for buf, rows in pieces:
            job.rows += rows
            job.size += len(buf)
            progress.advance(bytes_done=len(buf))
            yield buf
    except BaseException:
        # Closing the cursor would first read the rest of the result; drop the session instead.
        _abandon(conn)
        raise


def _abandon(conn: Connection) -> None:
    """Drop a session, possibly in the middle of an unbuffered result.

    PyMySQL's result finalizer would try to read the rest of the result from the dead
    socket (raising inside ``__del__``), so mark it finished before closing.
    """
    result = getattr(conn, "_result", None)
    if result is not None:
        result.unbuffered_active = False
    close_quietly(conn)


def _run_parts(
    source: Endpoint,
    snapshot: Snapshot,
    jobs: list[PartJob],
    writer: BackupWriter,
    progress: Progress,
) -> None:
    """Each snapshot connection drains the shared job list (largest parts first)."""
    pending = sorted(jobs, key=lambda j: -j.table.ref.data_bytes // len(j.table.parts))
    # A worker blocked in a statement (a long key-range batch) notices no stop: end its
    # session on the server, so the read fails at once.
    workers = Workers(
        "mysql-backup",
        explain=_explain,
        interrupt=lambda: kill_sessions(source, snapshot.connections),
    )
    watched = workers.watch(progress)

    def copy(conn: Connection, job: PartJob) -> None:
        watched.step(f"{job.table.step} part {job.index + 1}/{len(job.table.parts)}")
        with closing_stream(_rows(conn, job, watched)) as rows:  # abandons conn if cut short
            info = writer.add_stream(job.stream, rows, fmt.ROW_END)
        job.digest = info.checksum  # BLAKE3 of the part's bytes, as the manifest records
        watched.advance(items_done=1)

    workers.run(copy, pending, snapshot.connections)


def _explain(job: PartJob, exc: Exception) -> BaseException:
    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, pymysql.err.MySQLError):
        reason = exc.args[-1] if exc.args else str(exc)
        error = EngineError(
            job.table.step,
            f"the server ended the read ({reason}); the backup was not stored. Check the server "
            "log, and that no one killed the session or altered the table, then retry",
        )
    else:
        error = EngineError(job.table.step, f"storing the data failed: {exc}")
    error.__cause__ = exc
    return error


def backup(
    source: Endpoint,
    selection: ObjectSelection,
    writer: BackupWriter,
    progress: Progress,
    *,
    parallel: int,
    split_bytes: int = DEFAULT_SPLIT_BYTES,
) -> dict[str, Any]:
    control = connect(source, database="")
    snapshot: Snapshot | None = None
    try:
        server = server_info(control)
        # A source URL that names a database backs up that database only (as for PostgreSQL).
        selected = selected_tables(control, selection, source.database)
        if not selected:
            raise EngineError(
                "select objects",
                f"no database or table matches {selection.to_spec() or '*'!r}"
                + (f" in database {source.database!r}" if source.database else "")
                + "; "
                "list them with list_objects and fix the selection",
            )
        progress.step(f"start a consistent snapshot with {parallel} workers")
        snapshot = open_snapshot(source, server, parallel)
        taken_at = datetime.now(UTC)
        main = snapshot.connections[0]
        plans = _plan(main, selected, split_bytes)
        jobs = [job for db_plans in plans for plan in db_plans for job in plan.parts]
        progress.set_total(
            bytes_total=sum(t.data_bytes for ts in selected.values() for t in ts),
            items_total=len(jobs),
        )
        databases = []
        for db_index, (db, tables) in enumerate(selected.items()):
            progress.step(f"read the schema of {quote_ident(db)}")
            records = _schema_records(main, db, tables, selection)
            name = fmt.schema_stream_name(db_index)
            try:
                writer.add_stream(name, (schema.encode(r) for r in records), b"\n")
            except Exception as exc:
                raise EngineError(
                    f"store the schema of {quote_ident(db)}", f"storing the stream failed: {exc}"
                ) from exc
            databases.append((db, name, records))
        _run_parts(source, snapshot, jobs, writer, progress)
        return _metadata(server, snapshot, taken_at, plans, databases)
    finally:
        if snapshot is not None:
            snapshot.close()
        close_quietly(control)


def _metadata(
    server: ServerInfo,
    snapshot: Snapshot,
    taken_at: datetime,
    plans: list[list[TablePlan]],
    databases: list[tuple[str, str, list[schema.Record]]],
) -> dict[str, Any]:
    out_dbs = []
    objects: list[str] = []
    non_transactional: list[str] = []
    for (db, stream, records), db_plans in zip(databases, plans, strict=True):
        objects.append(db)
        tables = []
        for plan in db_plans:
            objects.append(plan.ref.dotted)
            if plan.ref.engine.lower() not in TRANSACTIONAL_ENGINES:
                non_transactional.append(plan.ref.dotted)
            tables.append(
                {
                    "name": plan.ref.name,
                    "engine": plan.ref.engine,
                    "columns": [[c.name, c.data_type, c.nullable] for c in plan.columns],
                    "split_key": plan.key,
                    "order_by": plan.order_by,
                    "rows": sum(j.rows for j in plan.parts),
                    "parts": [
                        {"stream": j.stream, "lo": j.part.lo, "hi": j.part.hi, "rows": j.rows,
                         "bytes": j.size, "blake3": j.digest}
                        for j in plan.parts
                    ],
                }
            )  # fmt: skip
        others = [
            {"kind": r["kind"], "name": r["name"]}
            for r in records
            if r["kind"] not in ("database", "table")
        ]
        out_dbs.append({"name": db, "schema_stream": stream, "tables": tables, "objects": others})
    notes = list(snapshot.notes)
    if non_transactional:
        notes.append(
            "not covered by the snapshot (non-transactional engine): "
            + ", ".join(non_transactional)
        )
    position = snapshot.position()
    position["notes"] = notes
    return {
        "engine": "mysql",
        "format_version": fmt.FORMAT_VERSION,
        "server": {"version": server.version, "flavor": server.flavor},
        "taken_at": taken_at.isoformat(),
        "snapshot": position,
        "databases": out_dbs,
        "objects": objects,
    }
