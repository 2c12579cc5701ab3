"""Restore a backup set: databases and tables first, data in parallel, then views,
routines, triggers and events, then verification against the manifest."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from dbs.engines.base import EngineError, RestoreOptions, RestoreResult, raise_after_cleanup
from dbs.engines.endpoint import Endpoint
from dbs.engines.mysql import format as fmt
from dbs.engines.mysql import schema
from dbs.engines.mysql.connection import (
    Connection,
    close_quietly,
    connect,
    kill_sessions,
    qualified,
    query_rows,
    quote_ident,
    text,
)
from dbs.engines.mysql.load import load_stream
from dbs.engines.mysql.verify import check_part, columns_of
from dbs.engines.parallel import Workers
from dbs.streams import BackupReader, Progress

_POST_DATA_ORDER = ("view", "procedure", "function", "trigger", "event")
_MAX_NAME = 64


@dataclass
class DatabasePlan:
    source: str
    target: str
    meta: dict[str, Any]
    records: list[schema.Record]
    tables: list[dict[str, Any]]  # manifest entries of the tables to load
    post_data: list[schema.Record] = field(default_factory=list)
    create_database: bool = False
    created: bool = False  # this restore created the target database
    # What this restore created in a database that already existed: (kind, name).
    new_objects: list[tuple[str, str]] = field(default_factory=list)
    drop: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) to replace


def _existing(conn: Connection, database: str) -> dict[str, set[str]]:
    """Names already taken in ``database``: tables/views share one namespace, as do routines."""

    def names(sql: str, *args: Any) -> set[str]:
        return {text(r[0]) for r in query_rows(conn, sql, (database, *args))}

    return {
        "table": names("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s"),
        "procedure": names(
            "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s "
            "AND ROUTINE_TYPE=%s", "PROCEDURE"),
        "function": names(
            "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA=%s "
            "AND ROUTINE_TYPE=%s", "FUNCTION"),
        "trigger": names(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA=%s"),
        "event": names("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA=%s"),
    }  # fmt: skip


def _namespace(kind: str) -> str:
    return "table" if kind in ("table", "view") else kind


def _databases(conn: Connection) -> set[str]:
    return {text(r[0]) for r in query_rows(conn, "SHOW DATABASES")}


def _new_name(base: str, taken: set[str]) -> str:
    for n in range(1, 1000):
        suffix = "_restored" if n == 1 else f"_restored_{n}"
        name = base[: _MAX_NAME - len(suffix)] + suffix
        if name not in taken:
            return name
    raise EngineError("choose a database name", f"too many restored copies of {base!r}")


def _plan(
    conn: Connection, reader: BackupReader, target: Endpoint, options: RestoreOptions
) -> list[DatabasePlan]:
    meta_dbs = [
        d for d in reader.metadata["databases"] if options.objects.may_select_database(d["name"])
    ]
    chosen: list[DatabasePlan] = []
    for d in meta_dbs:
        db = d["name"]
        tables = [t for t in d["tables"] if options.objects.selects(db, t["name"])]
        whole = options.objects.selects(db)
        if not tables and not whole:
            continue
        records = list(schema.decode_stream(reader.open_stream(d["schema_stream"])))
        loaded = {t["name"] for t in tables}
        post = [
            r for r in records
            if (r["kind"] == "trigger" and r["table"] in loaded)
            or (r["kind"] == "view" and options.objects.selects(db, r["name"]))
            or (r["kind"] in ("procedure", "function", "event") and whole)
        ]  # fmt: skip
        chosen.append(DatabasePlan(db, db, d, records, tables, post))
    if not chosen:
        raise EngineError(
            "select objects",
            f"nothing in this backup set matches {options.objects.to_spec()!r}; "
            f"it holds: {', '.join(reader.metadata.get('objects', [])[:20])}",
        )
    taken = _databases(conn)
    for plan in chosen:
        if plan.source in options.rename:
            plan.target = options.rename[plan.source]
        elif target.database and len(chosen) == 1:
            plan.target = target.database
        _resolve_conflicts(conn, plan, options, taken)
        taken.add(plan.target)
    return chosen


def _resolve_conflicts(
    conn: Connection, plan: DatabasePlan, options: RestoreOptions, taken: set[str]
) -> None:
    if plan.target not in taken:
        plan.create_database = True
        return
    existing = _existing(conn, plan.target)
    wanted = [("table", t["name"]) for t in plan.tables] + [
        (r["kind"], r["name"]) for r in plan.post_data
    ]
    clashes = [(k, n) for k, n in wanted if n in existing[_namespace(k)]]
    if not clashes:
        return
    listed = ", ".join(f"{k} {n}" for k, n in clashes[:10])
    if options.conflict == "renamenew":
        plan.target = _new_name(plan.target, taken)
        plan.create_database = True
    elif options.conflict == "overwrite":
        plan.drop = clashes
    elif options.conflict == "skip":
        skipped = {n for k, n in clashes}
        plan.tables = [t for t in plan.tables if t["name"] not in skipped]
        plan.post_data = [r for r in plan.post_data if r["name"] not in skipped]
    else:
        raise EngineError(
            f"restore into {quote_ident(plan.target)}",
            f"these objects already exist: {listed}; choose conflict 'renamenew', "
            "'overwrite' or 'skip', or restore under another name",
        )


def _rename_create(create: str, kind: str, old: str, new: str) -> str:
    """``CREATE <KIND> `old` ...`` with the new name (the server prints the name unqualified)."""
    prefix = f"CREATE {kind} {quote_ident(old)}"
    if not create.startswith(prefix):
        raise EngineError(f"create {kind.lower()} {new}", "unexpected SHOW CREATE output")
    return f"CREATE {kind} {quote_ident(new)}" + create[len(prefix) :]


def _create_schema(conn: Connection, plan: DatabasePlan) -> None:
    db_record = next(r for r in plan.records if r["kind"] == "database")
    with conn.cursor() as cur:
        if plan.create_database:
            cur.execute(_rename_create(db_record["create"], "DATABASE", plan.source, plan.target))
            plan.created = True
        cur.execute(f"USE {quote_ident(plan.target)}")
        cur.execute("SET SESSION foreign_key_checks = 0")
        for kind, name in plan.drop:
            drop = {"table": "TABLE", "view": "VIEW"}.get(kind, kind.upper())
            if kind in ("table", "view"):
                # Whatever holds the name (table or view) must go.
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
                cur.execute(f"DROP VIEW IF EXISTS {quote_ident(name)}")
            else:
                cur.execute(f"DROP {drop} IF EXISTS {quote_ident(name)}")
        wanted = {t["name"] for t in plan.tables}
        for record in plan.records:
            if record["kind"] == "table" and record["name"] in wanted:
                cur.execute(record["create"])
                if not plan.created:
                    plan.new_objects.append(("table", record["name"]))
        cur.execute("SET SESSION foreign_key_checks = 1")


def _retarget_view(record: schema.Record, plan: DatabasePlan) -> schema.Record:
    """A view restored under another database name must read that database's tables.

    The server leaves its own database out of names when it prints a view, except where it
    could not resolve them (e.g. the definer does not exist); rewrite those qualifiers.
    """
    if plan.source == plan.target:
        return record
    old, new = quote_ident(plan.source) + ".", quote_ident(plan.target) + "."
    return {**record, "create": record["create"].replace(old, new)}


def _create_post_data(conn: Connection, plan: DatabasePlan, keep_definer: bool) -> None:
    with conn.cursor() as cur:
        cur.execute(f"USE {quote_ident(plan.target)}")
    views = [_retarget_view(r, plan) for r in plan.post_data if r["kind"] == "view"]
    # Views may read other views: create what can be created until nothing more can.
    while views:
        waiting = []
        last: Exception | None = None
        for record in views:
            try:
                schema.create_in(conn, record, keep_definer=keep_definer)
            except pymysql.err.MySQLError as exc:
                waiting.append(record)
                last = exc
                continue
            if not plan.created:
                plan.new_objects.append(("view", record["name"]))
        if len(waiting) == len(views):
            raise EngineError(f"create view {waiting[0]['name']}", str(last))
        views = waiting
    for kind in _POST_DATA_ORDER[1:]:
        for record in (r for r in plan.post_data if r["kind"] == kind):
            try:
                schema.create_in(conn, record, keep_definer=keep_definer)
            except pymysql.err.MySQLError as exc:
                hint = (
                    "; restore with definer 'current' to own it as the restoring user"
                    if "DEFINER" in record["create"] and keep_definer
                    else ""
                )
                raise EngineError(
                    f"create {kind} {record['name']}", f"{exc.args[-1]}{hint}"
                ) from None
            if not plan.created and kind in ("procedure", "function", "event"):
                plan.new_objects.append((kind, record["name"]))


@dataclass
class _Job:
    plan: DatabasePlan
    table: dict[str, Any]
    part: dict[str, Any]

    @property
    def step(self) -> str:
        return f"load table {quote_ident(self.plan.target)}.{quote_ident(self.table['name'])}"


def _in_parallel(
    workers: Workers[_Job],
    target: Endpoint,
    jobs: list[_Job],
    parallel: int,
    work: Callable[[Connection, _Job], None],
    session: str = "SET SESSION foreign_key_checks = 0, unique_checks = 0",
) -> None:
    """Run ``work`` over ``jobs`` on ``parallel`` connections; the first failure stops all."""
    pending = sorted(jobs, key=lambda j: -int(j.part.get("bytes", 0)))
    connections: list[Connection] = []
    try:
        for _ in range(max(1, min(parallel, len(pending)))):
            connections.append(_load_session(target, session))
        # A LOAD DATA or a read-back runs on the server until it ends: when another part
        # failed, end the sessions so that it stops now (and holds no table lock).
        workers.interrupt = lambda: kill_sessions(target, connections)
        workers.run(work, pending, connections)
    finally:
        for conn in connections:
            close_quietly(conn)


def _load_session(target: Endpoint, session: str) -> Connection:
    conn = connect(target, database="", local_infile=True, unbuffered=True)
    try:
        with conn.cursor() as cur:
            cur.execute(session)
    except pymysql.err.MySQLError as exc:
        close_quietly(conn)
        raise EngineError("prepare load sessions", _load_hint(exc)) from exc
    return conn


def _explain(job: _Job, exc: Exception) -> BaseException:
    if not isinstance(exc, pymysql.err.MySQLError):
        return exc
    error = EngineError(job.step, _load_hint(exc))
    error.__cause__ = exc
    return error


def _load_all(
    reader: BackupReader,
    target: Endpoint,
    jobs: list[_Job],
    parallel: int,
    session: str,
    progress: Progress,
) -> None:
    """LOAD DATA every part, ``parallel`` at a time, each through its own FIFO."""
    workers = Workers("mysql-restore", explain=_explain)
    watched = workers.watch(progress)
    with tempfile.TemporaryDirectory(prefix="dbs-mysql-load-") as fifo_dir:

        def load(conn: Connection, job: _Job) -> None:
            watched.step(job.step)
            statement = fmt.load_statement(
                job.plan.target, job.table["name"], columns_of(job.table)
            )
            fifo = str(Path(fifo_dir) / job.part["stream"].replace("/", "_"))
            load_stream(conn, statement, reader.open_stream(job.part["stream"]), fifo, watched)
            watched.advance(items_done=1)

        _in_parallel(workers, target, jobs, parallel, load, session)


def _drop_partial(conn: Connection, plans: list[DatabasePlan]) -> str:
    """Drop what this restore created but could not finish: its new databases, and its new
    tables, views, routines and events in databases that existed; say what happened."""
    statements: list[str] = []
    dropped: list[str] = []
    for plan in plans:
        if plan.created:
            statements.append(f"DROP DATABASE IF EXISTS {quote_ident(plan.target)}")
            dropped.append(f"database {plan.target}")
            continue
        for kind, name in reversed(plan.new_objects):
            statements.append(f"DROP {kind.upper()} IF EXISTS {qualified(plan.target, name)}")
            dropped.append(f"{kind} {plan.target}.{name}")
    if not statements:
        return ""
    what = "the partly restored " + ", ".join(dropped)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION foreign_key_checks = 0")
            for statement in statements:
                cur.execute(statement)
    except pymysql.err.MySQLError as exc:
        return f"{what}: could not drop them ({exc})"
    return f"dropped {what}"


def _load_hint(exc: pymysql.err.MySQLError) -> str:
    code = exc.args[0] if exc.args else 0
    reason = exc.args[-1] if exc.args else str(exc)
    if code in (1148, 3948, 2068):
        return f"{reason}; enable it on the target: SET GLOBAL local_infile = 1"
    if code in (1227, 1044):
        return f"{reason}; restore with binlog on (the default) or GRANT BINLOG ADMIN / SUPER"
    return str(reason)


def restore(
    reader: BackupReader, target: Endpoint, options: RestoreOptions, progress: Progress
) -> RestoreResult:
    meta = reader.metadata
    if meta.get("engine") != "mysql" or meta.get("format_version") != fmt.FORMAT_VERSION:
        raise EngineError(
            "read the backup set",
            f"this is not a MySQL backup set of format {fmt.FORMAT_VERSION} "
            f"(engine {meta.get('engine')!r}, format {meta.get('format_version')!r})",
        )
    definer = str(options.extra.get("definer", "keep"))
    if definer not in ("keep", "current"):
        raise EngineError("read restore options", "definer must be 'keep' or 'current'")
    # Whether loaded rows go to the target's binary log (replicas and PITR of the target
    # see them). Off is faster, as myloader's default; it needs SUPER or BINLOG ADMIN.
    write_binlog = bool(options.extra.get("binlog", True))
    session = "SET SESSION foreign_key_checks = 0, unique_checks = 0" + (
        "" if write_binlog else ", sql_log_bin = 0"
    )
    control = connect(target, database="")
    try:
        plans = _plan(control, reader, target, options)
        jobs = [_Job(p, t, part) for p in plans for t in p.tables for part in t["parts"]]
        progress.set_total(
            bytes_total=sum(int(j.part.get("bytes", 0)) for j in jobs), items_total=len(jobs)
        )
        try:
            for plan in plans:
                progress.step(f"create database {quote_ident(plan.target)} and its tables")
                _create_schema(control, plan)
            _load_all(reader, target, jobs, options.parallel, session, progress)
            for plan in plans:
                progress.step(f"create views, routines, triggers and events in {plan.target}")
                _create_post_data(control, plan, keep_definer=definer == "keep")
        except Exception as exc:
            outcome = _drop_partial(control, plans)
            if not outcome:
                raise
            raise_after_cleanup(exc, outcome, progress)

        progress.step(
            "verify row counts and content hashes"
            if options.verify == "content"
            else "verify row counts"
        )
        mismatches: list[str] = []

        def verify(conn: Connection, job: _Job) -> None:
            problem = check_part(conn, job.plan.target, job.table, job.part, options.verify)
            if problem:
                mismatches.append(problem)

        _in_parallel(
            Workers("mysql-verify", explain=_explain), target, jobs, options.parallel, verify
        )
    finally:
        close_quietly(control)
    restored: dict[str, str] = {}
    for plan in plans:
        restored[plan.source] = plan.target
        for t in plan.tables:
            restored[f"{plan.source}.{t['name']}"] = f"{plan.target}.{t['name']}"
    return RestoreResult(restored=restored, verified=not mismatches, mismatches=sorted(mismatches))
