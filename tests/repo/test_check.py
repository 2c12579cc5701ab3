"""`check` finds and names damage: a flipped byte, a deleted pack, a truncated index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dbs.repo import KeySource, Repository, RepositoryDamaged
from dbs.storage.base import ObjectStore
from tests.repo.conftest import dump_rows


def _two_sets(repo: Repository) -> tuple[str, str]:
    with repo.begin_backup() as w:
        w.add_stream("a", [os.urandom(3 << 20)])
        first = w.commit({}).id
    with repo.begin_backup() as w:
        w.add_stream("b", dump_rows(5, 20_000), b"\n")
        second = w.commit({}).id
    return first, second


def _packs_of(store: ObjectStore) -> list[str]:
    return [info.key for info in store.list("packs/")]


def _rewrite(store: ObjectStore, key: str, data: bytes) -> None:
    store.delete(key)
    store.put(key, data)


def test_clean_repository_checks_clean(repo: Repository) -> None:
    _two_sets(repo)
    for read_data in (False, True):
        report = repo.check(read_data=read_data)
        assert report.ok, report.lines()
        assert report.sets_checked == 2 and report.chunks_checked > 0
    assert report.bytes_read > 3 << 20


def test_flipped_byte_in_pack_is_found_with_read_data(
    repo: Repository, object_store: ObjectStore
) -> None:
    first, second = _two_sets(repo)
    before = set(_packs_of(object_store))
    # The first set's data sits in the pack it wrote alone.
    with repo.begin_backup() as w:
        w.add_stream("c", [os.urandom(1 << 20)])
        third = w.commit({}).id
    (victim,) = set(_packs_of(object_store)) - before
    data = bytearray(object_store.get(victim))
    data[len(data) // 3] ^= 0x01
    _rewrite(object_store, victim, bytes(data))
    assert repo.check().ok  # sizes and index still agree
    report = repo.check(read_data=True)
    assert not report.ok
    (problem,) = report.problems
    assert problem.kind == "chunk-damaged" and problem.object == victim
    assert problem.affected_sets == {third}
    assert victim in "\n".join(report.lines())
    with pytest.raises(RepositoryDamaged, match=third):
        b"".join(repo.open_backup_set(third).open_stream("c"))
    assert b"".join(repo.open_backup_set(first).open_stream("a"))  # others stay readable
    assert second


def test_deleted_pack_is_found_and_named(repo: Repository, object_store: ObjectStore) -> None:
    first, second = _two_sets(repo)
    victim = _packs_of(object_store)[0]
    object_store.delete(victim)
    report = repo.check()
    assert not report.ok
    missing = [p for p in report.problems if p.kind == "pack-missing"]
    assert [p.object for p in missing] == [victim]
    assert missing[0].affected_sets and missing[0].affected_sets <= {first, second}


def test_truncated_index_is_found_and_named(
    repo: Repository, object_store: ObjectStore, key_path: Path
) -> None:
    first, _second = _two_sets(repo)
    victim = f"index/{first}"
    data = object_store.get(victim)
    _rewrite(object_store, victim, data[: len(data) // 2])
    fresh = Repository.open(object_store, KeySource.keyfile(key_path))
    report = fresh.check()
    kinds = {p.kind: p for p in report.problems}
    assert kinds["index-damaged"].object == victim
    assert kinds["index-damaged"].affected_sets == {first}
    assert kinds["chunk-not-indexed"].affected_sets == {first}
    with pytest.raises(RepositoryDamaged):
        fresh.prune()
    # The index is only a cache of the pack headers: rebuild it from packs alone.
    rebuilt = fresh.rebuild_index()
    assert rebuilt.damaged_packs == [] and rebuilt.index_objects_replaced == 2
    assert fresh.check(read_data=True).ok
    assert b"".join(fresh.open_backup_set(first).open_stream("a"))


def test_damaged_manifest_is_named(repo: Repository, object_store: ObjectStore) -> None:
    first, _ = _two_sets(repo)
    key = f"sets/{first}"
    data = bytearray(object_store.get(key))
    data[-1] ^= 0xFF
    _rewrite(object_store, key, bytes(data))
    report = repo.check()
    assert [(p.kind, p.object) for p in report.problems] == [("manifest-damaged", key)]
