"""Restore a PostgreSQL backup set: schema before data, data in parallel, indexes after, verify.

Per database: decide the target name (conflict rule), prepare the schema
archive (as backed up, or cut down/renamed through a scratch database, see
schema.py), apply pre-data, COPY every table in parallel, set sequences, load
large objects, apply post-data (indexes, constraints, triggers), then verify
each table against the checksums in the manifest (or, at verify level "rows", its
row count).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from dbs.engines.base import EngineError, RestoreOptions, RestoreResult, raise_after_cleanup
from dbs.engines.endpoint import Endpoint
from dbs.engines.parallel import THREAD_PREFIX, Workers
from dbs.engines.postgresql import format as fmt
from dbs.engines.postgresql.connection import MAINTENANCE_DATABASE, describe, ident, session
from dbs.engines.postgresql.load import NEVER_SPLIT, SPLIT_AT_BYTES, load_table, splittable
from dbs.engines.postgresql.objects import selects_whole_database
from dbs.engines.postgresql.schema import (
    ScratchSchema,
    apply_archive,
    create_database,
    database_exists,
    drop_database,
    free_name,
)
from dbs.engines.postgresql.verify import compare, compare_rows, table_digest, table_rows
from dbs.streams import BackupReader, Progress


def _save(reader: BackupReader, stream: str, path: Path) -> Path:
    with path.open("wb") as out:
        for block in reader.open_stream(stream):
            out.write(block)
    return path


def _set_sequences(
    target: Endpoint, database: str, values: list[dict[str, Any]], names: dict[tuple[str, str], str]
) -> None:
    step = f"set sequences of database {database}"
    if not values:
        return
    with session(target, database, step) as conn:
        for seq in values:
            name = names.get((seq["schema"], seq["name"]), seq["name"])
            try:
                conn.execute(
                    "SELECT pg_catalog.setval(%s::regclass, %s, %s)",
                    (
                        ident(seq["schema"], name).as_string(conn),
                        seq["last_value"],
                        seq["is_called"],
                    ),
                )
            except psycopg.Error as exc:
                raise EngineError(f"{step}: {seq['schema']}.{name}", describe(exc)) from None


def _load_large_objects(reader: BackupReader, target: Endpoint, database: str, stream: str) -> None:
    step = f"load large objects of database {database}"
    with session(target, database, step) as conn:
        try:
            for oid, pieces in fmt.iter_large_objects(reader.open_stream(stream)):
                # pre-data already created the object (with its owner and grants) when it
                # came from pg_dump; create it here only if it did not.
                conn.execute(
                    "SELECT pg_catalog.lo_create(%s) WHERE NOT EXISTS (SELECT 1 FROM "
                    "pg_catalog.pg_largeobject_metadata WHERE oid = %s)",
                    (oid, oid),
                )
                offset = 0
                for piece in pieces:
                    conn.execute("SELECT pg_catalog.lo_put(%s, %s, %s)", (oid, offset, piece))
                    offset += len(piece)
        except (psycopg.Error, ValueError) as exc:
            raise EngineError(step, str(exc).splitlines()[0]) from None


class _Plan:
    """Where one backed-up database goes and which of its tables are restored."""

    def __init__(self, entry: dict[str, Any], tables: list[dict[str, Any]]) -> None:
        self.entry = entry
        self.source = str(entry["name"])
        self.tables = tables
        self.target = self.source
        self.existing = False  # restoring tables into a database that already exists
        self.created = False  # this restore created the target database
        # Tables this restore creates in an existing database (their names were free).
        self.new_tables: list[tuple[str, str]] = []
        self.reshape = False  # the schema archive must be cut down or renamed
        self.table_names: dict[tuple[str, str], str] = {}
        self.sequence_names: dict[tuple[str, str], str] = {}


def _existing_relations(target: Endpoint, database: str) -> dict[str, set[str]]:
    with session(target, database, f"list tables of database {database}") as conn:
        rows = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        ).fetchall()
    out: dict[str, set[str]] = {}
    for schema, name in rows:
        out.setdefault(str(schema), set()).add(str(name))
    return out


def _plan_target(
    plan: _Plan,
    target: Endpoint,
    options: RestoreOptions,
    whole: bool,
    suffix: str,
    result: RestoreResult,
) -> bool:
    """Choose the target database; False when the conflict rule says skip."""
    wanted = target.database or options.rename.get(plan.source, plan.source)
    with session(target, MAINTENANCE_DATABASE, f"check target database {wanted}") as conn:
        exists = database_exists(conn, wanted)
        taken = {
            str(r[0]) for r in conn.execute("SELECT datname FROM pg_catalog.pg_database").fetchall()
        }
    plan.target = wanted
    plan.reshape = not whole
    if not exists:
        return True
    if not whole:
        plan.existing = True
        plan.reshape = True
        return True
    if options.conflict == "renamenew":
        plan.target = free_name(taken, wanted, suffix)
    elif options.conflict == "overwrite":
        drop_database(target, wanted)
    elif options.conflict == "skip":
        return False  # not in result.restored: the caller sees it was skipped
    else:
        raise EngineError(
            f"restore database {plan.source}",
            f"database {wanted} exists on the target; choose conflict rule "
            "renamenew or overwrite, or rename the target",
        )
    return True


def _resolve_table_conflicts(
    plan: _Plan, target: Endpoint, scratch: ScratchSchema, options: RestoreOptions, suffix: str
) -> None:
    existing = _existing_relations(target, plan.target)
    keep: list[dict[str, Any]] = []
    for table in plan.tables:
        schema, name = table["schema"], table["name"]
        taken = existing.get(schema, set())
        if name not in taken:
            keep.append(table)
            continue
        if options.conflict == "renamenew":
            new = free_name(taken, name, suffix)
            taken.add(new)
            for old, fresh in scratch.rename_table(schema, name, new, suffix, taken).items():
                plan.sequence_names[(schema, old)] = fresh
            plan.table_names[(schema, name)] = new
            keep.append(table)
        elif options.conflict == "overwrite":
            step = f"drop table {plan.target}.{schema}.{name} to overwrite it"
            with session(target, plan.target, step) as conn:
                try:
                    conn.execute(sql.SQL("DROP TABLE {}").format(ident(schema, name)))
                except psycopg.Error as exc:
                    raise EngineError(
                        step,
                        f"{describe(exc)}; drop the dependent objects "
                        "first or restore with renamenew",
                    ) from None
            keep.append(table)
        elif options.conflict == "fail":
            raise EngineError(
                f"restore table {plan.source}.{schema}.{name}",
                f"table {schema}.{name} exists in {plan.target}; use renamenew or overwrite",
            )
    plan.tables = keep


def _prepare_schema(
    plan: _Plan,
    reader: BackupReader,
    target: Endpoint,
    options: RestoreOptions,
    suffix: str,
    tmp: Path,
) -> tuple[Path, Path]:
    """The (pre-data, post-data) archives to apply: as backed up, or reshaped."""
    pre = _save(reader, plan.entry["schema_pre"], tmp / "pre.dump")
    post = _save(reader, plan.entry["schema_post"], tmp / "post.dump")
    if not plan.reshape:
        return pre, post
    out = tmp / "selected.dump"  # one archive; pg_restore --section splits it
    with ScratchSchema(target, plan.entry["encoding"]) as scratch:
        scratch.load(pre, post)
        if not plan.existing:
            # Into an existing database, only the chosen tables are dumped from the scratch
            # copy (-t), so the others can stay and foreign keys to them are kept.
            scratch.keep_only({(t["schema"], t["name"]) for t in plan.tables})
        if plan.existing:
            _resolve_table_conflicts(plan, target, scratch, options, suffix)
            if not plan.tables:
                return pre, post
            renamed = [
                (t["schema"], plan.table_names.get((t["schema"], t["name"]), t["name"]))
                for t in plan.tables
            ]
            _create_schemas(target, plan.target, {s for s, _ in renamed})
            scratch.dump(out, renamed)
        else:
            scratch.dump(out, None)
    return out, out


def _create_schemas(target: Endpoint, database: str, schemas: set[str]) -> None:
    with session(target, database, f"create schemas in {database}") as conn:
        for schema in sorted(schemas):
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def _restore_database(
    plan: _Plan,
    reader: BackupReader,
    target: Endpoint,
    options: RestoreOptions,
    progress: Progress,
    suffix: str,
    result: RestoreResult,
) -> None:
    owners = bool(options.extra.get("owners", False))
    parallel = max(1, options.parallel)
    with tempfile.TemporaryDirectory(prefix="dbs-pg-restore-") as tmpdir:
        tmp = Path(tmpdir)
        if not plan.existing:
            create_database(target, plan.target, plan.entry["encoding"])
            plan.created = True
        progress.step(f"restore schema (pre-data) of {plan.source} into {plan.target}")
        pre, post = _prepare_schema(plan, reader, target, options, suffix, tmp)
        if plan.existing and not plan.tables:
            return
        if plan.existing:
            plan.new_tables = [
                (t["schema"], plan.table_names.get((t["schema"], t["name"]), t["name"]))
                for t in plan.tables
            ]
        apply_archive(target, plan.target, pre, "pre-data", owners=owners)
        restored = {(t["schema"], t["name"]) for t in plan.tables}
        content = options.verify == "content"
        # Each table is verified as soon as it is loaded, while other tables load and the
        # indexes build: on a few cores this hides part of the verification's read-back.
        # A table loaded by several sessions is read back in key order after post-data.
        pool = ThreadPoolExecutor(parallel, f"{THREAD_PREFIX}-postgresql-verify")
        try:
            checks: list[Future[str | None]] = []
            lock = threading.Lock()
            # Splitting loads a big table faster but forces its content check into a key-order
            # read after post-data, which costs more than it saves (benchmark, 1 GiB: restore
            # 1.24x pg_restore -j2 unsplit vs 1.33-1.39x split). A row count does not care
            # about order, so at level "rows" big tables split.
            default_split = NEVER_SPLIT if content else SPLIT_AT_BYTES
            split_at = int(options.extra.get("split_at_bytes", default_split))
            after_post_data: list[dict[str, Any]] = []
            loaders: Workers[Callable[[], None]] = Workers("postgresql-restore")
            watched = loaders.watch(progress)

            def load_then_check(t: dict[str, Any]) -> None:
                name = plan.table_names.get((t["schema"], t["name"]), t["name"])
                ways = parallel if splittable(t, parallel, split_at) else 1
                load_table(reader, target, plan.target, t, t["schema"], name, watched, ways)
                with lock:
                    if not content:
                        checks.append(pool.submit(_count_table, plan, target, t))
                    elif ways > 1:  # read back in key order, once post-data built the key index
                        after_post_data.append(t)
                    else:
                        checks.append(pool.submit(_check_table, plan, target, t, False))

            loads: list[Callable[[], Any]] = [partial(load_then_check, t) for t in plan.tables]
            if plan.entry.get("large_objects") and not plan.existing and not plan.reshape:
                stream = plan.entry["large_objects"]
                loads.append(partial(_load_large_objects, reader, target, plan.target, stream))
            loaders.run_tasks(loads, parallel)
            sequences = [
                s
                for s in plan.entry["sequences"]
                if (tuple(s["owned_by"]) in restored if s["owned_by"] else not plan.existing)
            ]
            _set_sequences(target, plan.target, sequences, plan.sequence_names)
            progress.step(f"restore indexes and constraints (post-data) of {plan.target}")
            apply_archive(target, plan.target, post, "post-data", owners=owners, parallel=parallel)
            checks += [pool.submit(_check_table, plan, target, t, True) for t in after_post_data]
            found = [m for m in (f.result() for f in checks) if m]
        except BaseException:  # the restore failed: no reading back of what is dropped next
            pool.shutdown(cancel_futures=True)
            raise
        finally:
            pool.shutdown()
    result.restored[plan.source] = plan.target
    for t in plan.tables:
        name = plan.table_names.get((t["schema"], t["name"]), t["name"])
        result.restored[f"{plan.source}.{t['schema']}.{t['name']}"] = (
            f"{plan.target}.{t['schema']}.{name}"
        )
    if found:
        result.mismatches.extend(found)
        raise EngineError("verify restored tables", "; ".join(found))


def _check_table(
    plan: _Plan, target: Endpoint, t: dict[str, Any], in_key_order: bool
) -> str | None:
    """A mismatch description naming the restored table, or None when it matches."""
    name = plan.table_names.get((t["schema"], t["name"]), t["name"])
    order_by = t.get("ordered_by") if in_key_order else None
    part_rows = [p["rows"] for p in t["parts"]] if t.get("parts") else None
    digests = table_digest(
        target, plan.target, t["schema"], name, t["columns"], order_by, part_rows
    )
    problem = compare(t, digests)
    return f"{plan.target}.{t['schema']}.{name}: {problem}" if problem else None


def _drop_partial(target: Endpoint, plan: _Plan) -> str:
    """Drop what this restore created but could not finish (its new database, or its new
    tables in an existing one); say what happened, "" when it created nothing."""
    if plan.created:
        what = f"the partly restored database {plan.target}"
    elif plan.new_tables:
        names = ", ".join(f"{s}.{n}" for s, n in plan.new_tables)
        what = f"the partly restored tables {names} of {plan.target}"
    else:
        return ""
    try:
        if plan.created:
            drop_database(target, plan.target)
        else:
            _drop_tables(target, plan.target, plan.new_tables)
    except EngineError as exc:
        return f"{what} could not be dropped ({exc.message})"
    return f"{what} {'was' if plan.created else 'were'} dropped"


def _drop_tables(target: Endpoint, database: str, tables: list[tuple[str, str]]) -> None:
    step = f"drop partly restored tables of {database}"
    with session(target, database, step) as conn:
        try:  # one statement: foreign keys among the new tables do not block it
            names = sql.SQL(", ").join(ident(schema, name) for schema, name in tables)
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(names))
        except psycopg.Error as exc:
            raise EngineError(step, describe(exc)) from None


def _count_table(plan: _Plan, target: Endpoint, t: dict[str, Any]) -> str | None:
    """Level "rows": a mismatch description when the restored row count differs."""
    name = plan.table_names.get((t["schema"], t["name"]), t["name"])
    problem = compare_rows(t, table_rows(target, plan.target, t["schema"], name))
    return f"{plan.target}.{t['schema']}.{name}: {problem}" if problem else None


def restore(
    reader: BackupReader, target: Endpoint, options: RestoreOptions, progress: Progress
) -> RestoreResult:
    meta = reader.metadata
    if meta.get("format") not in fmt.READABLE_FORMATS:
        raise EngineError(
            "read backup set",
            f"not a PostgreSQL backup set of format {' or '.join(fmt.READABLE_FORMATS)} "
            f"(found {meta.get('format')!r})",
        )
    selection = options.objects
    whole_selection = selects_whole_database(selection)
    plans: list[_Plan] = []
    for entry in meta["databases"]:
        name = str(entry["name"])
        if not selection.may_select_database(name):
            continue
        tables = [t for t in entry["tables"] if selection.selects(name, t["schema"], t["name"])]
        if not tables and not (whole_selection and selection.selects(name)):
            continue
        plans.append(_Plan(entry, tables))
    if not plans:
        raise EngineError(
            "select objects to restore",
            f"the backup set holds nothing matching {selection.to_spec()!r}",
        )
    if target.database and len(plans) > 1:
        raise EngineError(
            "choose target database",
            f"the selection covers {len(plans)} databases; restore into an "
            "instance (a URL without a database) or select one database",
        )
    suffix = "_restored_" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    result = RestoreResult()
    if options.extra.get("globals") and meta.get("globals"):
        _restore_globals(reader, target, str(meta["globals"]))
    progress.set_total(items_total=sum(len(p.tables) for p in plans))
    for plan in plans:
        whole = whole_selection and bool(plan.entry["complete"])
        if _plan_target(plan, target, options, whole, suffix, result):
            try:
                _restore_database(plan, reader, target, options, progress, suffix, result)
            except Exception as exc:
                if result.mismatches:
                    raise  # a restore that fails verification is complete: kept to inspect
                outcome = _drop_partial(target, plan)
                if not outcome:
                    raise
                raise_after_cleanup(exc, outcome, progress)
    result.verified = not result.mismatches
    return result


def _restore_globals(reader: BackupReader, target: Endpoint, stream: str) -> None:
    from dbs.engines.postgresql.connection import tool_env
    from dbs.engines.postgresql.tools import feed_stdin, find_tool

    # Without ON_ERROR_STOP: roles that already exist are reported and skipped.
    feed_stdin(
        [find_tool("psql"), "-X", "-q"],
        tool_env(target, None),
        "restore global objects",
        reader.open_stream(stream),
    )
