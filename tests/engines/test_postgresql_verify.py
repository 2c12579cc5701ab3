"""Verification after restore catches data that differs from what was backed up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dbs.engines.base import EngineError, RestoreOptions, VerifyLevel
from dbs.engines.postgresql import ENGINE
from dbs.engines.selection import ObjectSelection
from dbs.streams import NullProgress
from tests.engines.altered_reader import AlteredReader, StoppingProgress, replace
from tests.engines.harness_postgresql import (
    admin,
    create_database,
    databases_like,
    drop_database,
    endpoint,
    unique_name,
)


def _back_up(repository: Any, source: str) -> Any:
    with repository.begin_backup() as writer:
        return writer.commit(ENGINE.backup(endpoint(source), ObjectSelection.parse(source),
                                           writer, NullProgress()))


@pytest.mark.parametrize(("level", "old", "new", "problem"), [
    ("content", b"\tapple\n", b"\tapplE\n", "content checksum differs"),
    ("content", b"2\tpear\n", b"", "1 rows, the backup has 2"),
    ("rows", b"2\tpear\n", b"", "1 rows, the backup has 2"),
])
def test_restore_fails_naming_the_table_that_differs(repository: Any, level: VerifyLevel,
                                                     old: bytes, new: bytes, problem: str) -> None:
    source = unique_name("dbs_verify")
    create_database(source, "CREATE TABLE fruit (id int, name text); "
                            "INSERT INTO fruit VALUES (1, 'apple'), (2, 'pear'); "
                            "CREATE TABLE other (id int); INSERT INTO other VALUES (1);")
    target = unique_name("dbs_verify_dst")
    try:
        info = _back_up(repository, source)
        reader = AlteredReader(repository.open_backup_set(info.id),
                               f"{source}/data/public/fruit", replace(old, new))
        with pytest.raises(EngineError) as failure:
            ENGINE.restore(reader, endpoint(target), RestoreOptions(verify=level), NullProgress())
        assert failure.value.step == "verify restored tables"
        assert f"{target}.public.fruit: {problem}" in failure.value.message
        assert "other" not in failure.value.message
        assert databases_like(target) == [target]  # complete but different: kept to inspect
    finally:
        drop_database(source)
        drop_database(target)


def test_a_restore_that_fails_while_loading_drops_the_database_it_created(
    repository: Any,
) -> None:
    """A row the server rejects stops the load; the half-restored database does not stay
    behind, and the error says so. A database the restore did not create is left alone."""
    source = unique_name("dbs_partial")
    create_database(source, "CREATE TABLE fruit (id int, name text); "
                            "INSERT INTO fruit VALUES (1, 'apple'), (2, 'pear');")
    target = unique_name("dbs_partial_dst")
    try:
        info = _back_up(repository, source)
        broken = AlteredReader(repository.open_backup_set(info.id),
                               f"{source}/data/public/fruit", replace(b"2\tpear\n", b"two\tpear\n"))
        with pytest.raises(EngineError) as failure:
            ENGINE.restore(broken, endpoint(target), RestoreOptions(), NullProgress())
        assert failure.value.step == f"load table {target}.public.fruit"
        assert f"the partly restored database {target} was dropped" in failure.value.message
        assert databases_like(target) == []
        # Into an existing database (tables only): the new table goes, the database stays.
        create_database(target, "CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (1);")
        options = RestoreOptions(objects=ObjectSelection.parse(f"{source}.public.fruit"))
        with pytest.raises(EngineError) as failure:
            ENGINE.restore(broken, endpoint(target), options, NullProgress())
        assert f"the partly restored tables public.fruit of {target} were dropped" in (
            failure.value.message)
        with admin(target) as conn:
            assert conn.execute("SELECT count(*) FROM keep_me").fetchone() == (1,)
            assert conn.execute("SELECT to_regclass('public.fruit')").fetchone() == (None,)
    finally:
        drop_database(source)
        drop_database(target)


def test_a_restore_stopped_while_loading_drops_the_database_it_created(repository: Any) -> None:
    from dbs.jobs.progress import JobCancelled

    source = unique_name("dbs_stop")
    create_database(source, "CREATE TABLE fruit (id int PRIMARY KEY, name text); "
                            "INSERT INTO fruit SELECT g, 'f' || g FROM generate_series(1, 999) g;")
    target = unique_name("dbs_stop_dst")
    try:
        info = _back_up(repository, source)
        progress = StoppingProgress()
        with pytest.raises(JobCancelled):
            ENGINE.restore(repository.open_backup_set(info.id), endpoint(target),
                           RestoreOptions(), progress)
        assert databases_like(target) == []
        assert progress.last_step == f"the partly restored database {target} was dropped"
    finally:
        drop_database(source)
        drop_database(target)


def test_row_count_level_counts_rows_but_does_not_read_values(repository: Any) -> None:
    """Level "rows" is what it says: a changed value with the right row count passes it (the
    content level above catches that), and a big table may load over several sessions."""
    from tests.engines.harness_postgresql import admin

    source = unique_name("dbs_rows")
    create_database(source, "CREATE TABLE fruit (id int PRIMARY KEY, name text); "
                            "INSERT INTO fruit SELECT g, 'apple' || g "
                            "FROM generate_series(1, 30000) g;")
    target = unique_name("dbs_rows_dst")
    try:
        info = _back_up(repository, source)
        reader = AlteredReader(repository.open_backup_set(info.id),
                               f"{source}/data/public/fruit", replace(b"\tapple7\n", b"\tpear7\n"))
        options = RestoreOptions(verify="rows", parallel=2, extra={"split_at_bytes": 1 << 16})
        result = ENGINE.restore(reader, endpoint(target), options, NullProgress())
        assert result.verified and not result.mismatches
        with admin(target) as conn:
            row = conn.execute("SELECT count(*), max(name) FILTER (WHERE id = 7) "
                               "FROM fruit").fetchone()
        assert row == (30000, "pear7")
    finally:
        drop_database(source)
        drop_database(target)


def test_large_table_loaded_over_several_sessions_verifies_in_key_order(repository: Any) -> None:
    """Above split_at_bytes a table loads through several COPY sessions at once; its rows land
    interleaved, and verification reads it back in primary-key order."""
    from tests.engines.harness_postgresql import admin, table_digests

    source = unique_name("dbs_split")
    create_database(source, "CREATE TABLE wide (id int PRIMARY KEY, v text, n numeric); "
                            "INSERT INTO wide SELECT g, md5(g::text), g / 3.0 "
                            "FROM generate_series(1, 60000) g; "
                            "CREATE TABLE heap_only (v text); "
                            "INSERT INTO heap_only SELECT 'x' || g FROM generate_series(1, 9000) g;")
    target = unique_name("dbs_split_dst")
    try:
        with repository.begin_backup() as writer:
            meta = ENGINE.backup(endpoint(source), ObjectSelection.parse(source), writer,
                                 NullProgress())
            info = writer.commit(meta)
        by_name = {t["name"]: t for t in meta["databases"][0]["tables"]}
        assert by_name["wide"]["ordered_by"] == ["id"] and by_name["heap_only"]["ordered_by"] == []
        assert by_name["wide"]["bytes"] > 1 << 20
        result = ENGINE.restore(repository.open_backup_set(info.id), endpoint(target),
                                RestoreOptions(parallel=3, extra={"split_at_bytes": 1 << 20}),
                                NullProgress())
        assert result.verified
        assert table_digests(target) == table_digests(source)
        with admin(target) as conn:  # really loaded by several sessions: not in key order
            out_of_order = conn.execute(
                "SELECT count(*) FROM (SELECT id < lag(id) OVER (ORDER BY ctid) AS back "
                "FROM wide) s WHERE back").fetchone()
        assert out_of_order is not None and out_of_order[0] > 0
    finally:
        drop_database(source)
        drop_database(target)


def test_restored_tables_are_loaded_frozen_and_partitions_verify(repository: Any) -> None:
    """Each table loads with TRUNCATE ONLY + COPY FREEZE, so the verification's read-back finds
    every page all-frozen (no hint bits to set); partitions, an inheritance parent and its
    child restore and verify the same way."""
    from tests.engines.harness_postgresql import admin, table_digests

    source = unique_name("dbs_freeze")
    create_database(source, "CREATE TABLE plain (id int PRIMARY KEY, v text); "
                            "INSERT INTO plain SELECT g, md5(g::text) FROM generate_series(1, 5000) g; "
                            "CREATE TABLE parted (id int, at date) PARTITION BY RANGE (at); "
                            "CREATE TABLE parted_a PARTITION OF parted "
                            "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01'); "
                            "CREATE TABLE parted_b PARTITION OF parted "
                            "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01'); "
                            "INSERT INTO parted SELECT g, '2025-01-01'::date + g % 700 "
                            "FROM generate_series(1, 3000) g; "
                            "CREATE TABLE base (id int); CREATE TABLE child (x text) INHERITS (base); "
                            "INSERT INTO base VALUES (1), (2); INSERT INTO child VALUES (3, 'c');")
    target = unique_name("dbs_freeze_dst")
    try:
        info = _back_up(repository, source)
        result = ENGINE.restore(repository.open_backup_set(info.id), endpoint(target),
                                RestoreOptions(), NullProgress())
        assert result.verified
        assert table_digests(target) == table_digests(source)
        with admin(target) as conn:
            conn.execute("CREATE EXTENSION pg_visibility")
            for table in ("plain", "parted_a", "parted_b", "base", "child"):
                row = conn.execute("SELECT bool_and(all_frozen), count(*) "
                                   "FROM pg_visibility_map(%s::regclass)", (table,)).fetchone()
                assert row is not None and row[0] is True and row[1] > 0, table
    finally:
        drop_database(source)
        drop_database(target)


class _OneStream:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def open_stream(self, name: str) -> Iterator[bytes]:
        yield self.data


def test_load_falls_back_to_plain_copy_where_freeze_is_refused() -> None:
    """TRUNCATE ONLY and COPY FREEZE are refused for a partitioned table: the load then runs a
    plain COPY (rows routed to the partitions) instead of failing."""
    from dbs.engines.postgresql.load import load_table
    from tests.engines.harness_postgresql import admin

    database = unique_name("dbs_nofreeze")
    create_database(database, "CREATE TABLE parted (id int, v text) PARTITION BY RANGE (id); "
                              "CREATE TABLE parted_low PARTITION OF parted "
                              "FOR VALUES FROM (0) TO (100); "
                              "CREATE TABLE parted_high PARTITION OF parted "
                              "FOR VALUES FROM (100) TO (1000);")
    try:
        entry = {"stream": "s", "columns": ["id", "v"]}
        rows = b"".join(b"%d\tv%d\n" % (n, n) for n in range(0, 1000, 7))
        load_table(_OneStream(rows), endpoint(database), database,  # type: ignore[arg-type]
                   entry, "public", "parted", NullProgress())
        with admin(database) as conn:
            counts = conn.execute("SELECT (SELECT count(*) FROM parted_low), "
                                  "(SELECT count(*) FROM parted_high)").fetchone()
        assert counts == (15, 128)
    finally:
        drop_database(database)


def _naive_parts(data: bytes, part_rows: list[int]) -> list[tuple[int, str]]:
    import blake3

    lines = data.splitlines(keepends=True)
    out, start = [], 0
    for rows in part_rows[:-1]:
        if start + rows > len(lines):
            break
        out.append((rows, blake3.blake3(b"".join(lines[start:start + rows])).hexdigest()))
        start += rows
    rest = lines[start:]
    out.append((len(rest), blake3.blake3(b"".join(rest)).hexdigest()))
    return out


@pytest.mark.parametrize("part_rows", [[], [7], [3, 4], [0, 7], [2, 0, 5], [7, 0], [3, 3, 1],
                                       [5, 9], [1, 1, 1, 1, 1, 1, 1]])
@pytest.mark.parametrize("block_size", [1, 3, 8, 1000])
def test_digest_parts_cuts_a_row_stream_after_each_parts_rows(part_rows: list[int],
                                                              block_size: int) -> None:
    """However the read-back arrives in blocks, each part hashes exactly its rows; a stream
    shorter than the parts yields fewer pairs (which compare() reports)."""
    from dbs.engines.postgresql.verify import digest_parts

    data = b"".join(b"%d\trow %d\n" % (n, n) for n in range(7))
    blocks = [data[i:i + block_size] for i in range(0, len(data), block_size)]
    assert digest_parts(blocks, part_rows) == _naive_parts(data, part_rows)


def test_a_big_table_backed_up_in_key_ranges_restores_and_verifies(repository: Any) -> None:
    """A table above split_bytes with an integer key is read as several key ranges at once
    (one stream each); restore loads the parts in order into one table and verifies each."""
    from dbs.engines.postgresql.engine import PostgresEngine
    from tests.engines.harness_postgresql import table_digests

    source = unique_name("dbs_parts")
    create_database(source, "CREATE TABLE wide (id bigint PRIMARY KEY, v text, n numeric); "
                            "INSERT INTO wide SELECT g * 3, md5(g::text), g / 3.0 "
                            "FROM generate_series(1, 40000) g; "
                            "CREATE TABLE small (id int PRIMARY KEY, v text); "
                            "INSERT INTO small VALUES (1, 'one');"
                            "CREATE TABLE textkey (k text PRIMARY KEY); "
                            "INSERT INTO textkey SELECT md5(g::text) FROM generate_series(1, 9000) g;")
    engine = PostgresEngine(split_bytes=1 << 20)
    targets = [unique_name("dbs_parts_dst") for _ in range(3)]
    try:
        with repository.begin_backup() as writer:
            meta = engine.backup(endpoint(source), ObjectSelection.parse(source), writer,
                                 NullProgress(), parallel=2)
            info = writer.commit(meta)
        assert meta["format"] == "dbs-postgresql/2"
        by_name = {t["name"]: t for t in meta["databases"][0]["tables"]}
        parts = by_name["wide"]["parts"]
        assert len(parts) >= 2 and sum(p["rows"] for p in parts) == 40000 == by_name["wide"]["rows"]
        assert all(p["rows"] > 0 for p in parts)
        assert "parts" not in by_name["small"] and "parts" not in by_name["textkey"]
        streams = {s.name for s in repository.open_backup_set(info.id).list_streams()}
        assert {p["stream"] for p in parts} <= streams
        # Whole, split over two loading sessions (rows level), and with one value changed.
        result = engine.restore(repository.open_backup_set(info.id), endpoint(targets[0]),
                                RestoreOptions(), NullProgress())
        assert result.verified and table_digests(targets[0]) == table_digests(source)
        options = RestoreOptions(verify="rows", extra={"split_at_bytes": 1 << 16})
        result = engine.restore(repository.open_backup_set(info.id), endpoint(targets[1]),
                                options, NullProgress())
        assert result.verified and table_digests(targets[1]) == table_digests(source)
        last = parts[-1]["stream"]
        altered = AlteredReader(repository.open_backup_set(info.id), last,
                                replace(b"\n120000\t", b"\n120001\t"))  # the last row's key
        with pytest.raises(EngineError) as failure:
            engine.restore(altered, endpoint(targets[2]), RestoreOptions(), NullProgress())
        assert f"(part {len(parts)} of {len(parts)})" in failure.value.message
    finally:
        drop_database(source)
        for target in targets:
            drop_database(target)
