"""Prune removes what no set references, repacks partly used packs, and keeps every set readable."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from dbs.repo import Repository, RepositoryLocked
from dbs.repo.locks import RepositoryLock
from dbs.storage.base import ObjectStore
from tests.repo.conftest import read_all


def _sizes(store: ObjectStore) -> dict[str, int]:
    return {i.key: i.size for i in store.list("packs/")}


def test_prune_after_delete_frees_space_and_keeps_shared_chunks(
    repo: Repository, object_store: ObjectStore
) -> None:
    shared = os.urandom(2 << 20)
    only_first = os.urandom(6 << 20)
    with repo.begin_backup() as w:
        w.add_stream("s", [shared, only_first])
        first = w.commit({}).id
    with repo.begin_backup() as w:
        w.add_stream("s", [shared])
        second = w.commit({}).id
    assert repo.prune().packs_deleted == []  # nothing unreferenced yet
    repo.delete_backup_set(first)
    before = sum(_sizes(object_store).values())
    dry = repo.prune(dry_run=True)
    assert dry.packs_repacked and dry.bytes_freed > 4 << 20
    assert sum(_sizes(object_store).values()) == before
    report = repo.prune()
    assert report.packs_repacked == dry.packs_repacked
    assert sum(_sizes(object_store).values()) < before - (4 << 20)
    assert len(list(object_store.list("index/"))) == 1
    assert read_all(repo, second, "s") == shared
    assert repo.check(read_data=True).ok
    # Deleting the last set leaves nothing but config and keys.
    repo.delete_backup_set(second)
    repo.prune()
    assert _sizes(object_store) == {} and list(object_store.list("index/")) == []


def test_prune_waits_for_live_writers_and_writers_for_prune(repo: Repository) -> None:
    writer = repo.begin_backup()
    writer.add_stream("s", [b"x" * 1000])
    with pytest.raises(RepositoryLocked, match="backup set"):
        repo.prune()
    writer.commit({})
    lock, _ = RepositoryLock.acquire(repo.store, "exclusive", "prune")
    try:
        with pytest.raises(RepositoryLocked, match="prune"):
            repo.begin_backup()
        with pytest.raises(RepositoryLocked):
            repo.check()
    finally:
        lock.release()
    assert repo.check().ok


def test_concurrent_writers_share_a_repository(repo: Repository) -> None:
    payloads = {i: os.urandom(1 << 20) + b"common\n" * 50_000 for i in range(3)}
    results: dict[int, str] = {}

    def backup(i: int) -> None:
        with repo.begin_backup(tags={"w": str(i)}) as w:
            w.add_stream("s", [payloads[i]], b"\n")
            results[i] = w.commit({}).id

    threads = [threading.Thread(target=backup, args=(i,)) for i in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(repo.list_backup_sets()) == 3
    for i, set_id in results.items():
        assert read_all(repo, set_id, "s") == payloads[i]
    repo.prune()
    assert repo.check(read_data=True).ok
    for i, set_id in results.items():
        assert read_all(repo, set_id, "s") == payloads[i]


def _fake_lock(store: ObjectStore, name: str, **fields: object) -> None:
    body = {"format": "dbs-lock", "version": 1, "kind": "shared", "purpose": "backup"}
    body.update(fields)
    store.put(f"locks/{name}", json.dumps(body).encode())


def test_only_stale_locks_are_broken(repo: Repository, object_store: ObjectStore) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    now = datetime.now(UTC)
    _fake_lock(
        object_store,
        "dead",
        host=socket.gethostname(),
        pid=int(dead.stdout),
        refreshed_at=now.isoformat(),
    )
    _fake_lock(
        object_store,
        "old",
        host="elsewhere",
        pid=1,
        refreshed_at=(now - timedelta(hours=2)).isoformat(),
    )
    report = repo.prune()
    assert len(report.stale_locks_broken) == 2
    assert list(object_store.list("locks/")) == []
    _fake_lock(
        object_store,
        "dead-again",
        host=socket.gethostname(),
        pid=int(dead.stdout),
        refreshed_at=now.isoformat(),
    )
    assert len(repo.break_stale_locks()) == 1
    _fake_lock(object_store, "live", host="elsewhere", pid=1, refreshed_at=now.isoformat())
    with pytest.raises(RepositoryLocked, match="elsewhere"):
        repo.prune()
    assert [i.key for i in object_store.list("locks/")] == ["locks/live"]
    assert repo.break_stale_locks() == []
    # Writers share: a live shared lock elsewhere does not stop a backup.
    with repo.begin_backup() as w:
        w.add_stream("s", [b"x"])
        w.commit({})


def test_long_running_writer_refreshes_its_lock(
    repo: Repository, object_store: ObjectStore
) -> None:
    with repo.begin_backup() as w:
        lock = w._repo_lock
        before = json.loads(object_store.get(lock.key))["refreshed_at"]
        lock.refresh_if_due()  # refreshed moments ago: nothing to do
        assert json.loads(object_store.get(lock.key))["refreshed_at"] == before
        lock._refreshed -= timedelta(minutes=10)  # as if the last refresh was long ago
        lock.refresh_if_due()  # what the pack uploader calls after each upload
        assert json.loads(object_store.get(lock.key))["refreshed_at"] > before
        w.add_stream("s", [os.urandom(1 << 20)])
        w.commit({})
    assert list(object_store.list("locks/")) == []
