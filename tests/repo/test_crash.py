"""A writer SIGKILLed mid-stream: no visible set, a clean check, garbage that prune removes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbs.repo import KeySource, Repository
from dbs.storage.base import ObjectStore
from dbs.storage.local import LocalStore
from tests.repo.conftest import read_all

ROOT = Path(__file__).resolve().parents[2]


def _store_config(object_store: ObjectStore, request: pytest.FixtureRequest) -> dict[str, str]:
    if isinstance(object_store, LocalStore):
        return {"kind": "local", "root": str(object_store.root)}
    server = request.getfixturevalue("s3_server")
    return {
        "kind": "s3",
        "endpoint": server.endpoint,
        "bucket": request.getfixturevalue("s3_bucket"),
        "region": server.region,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
    }


def test_killed_writer_leaves_only_garbage(
    repo: Repository, object_store: ObjectStore, key_path: Path, request: pytest.FixtureRequest
) -> None:
    with repo.begin_backup() as w:
        w.add_stream("kept", [b"row\n" * 100_000], b"\n")
        kept = w.commit({}).id
    packs_before = {i.key for i in object_store.list("packs/")}
    env = dict(os.environ, DBS_TEST_STORE=json.dumps(_store_config(object_store, request)))
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.repo.crash_writer", str(key_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"writing\n"
        # Wait (bounded by the test timeout, not a clock threshold) until packs are stored.
        while len({i.key for i in object_store.list("packs/")} - packs_before) < 2:
            assert child.poll() is None, "the writer exited on its own"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    garbage = {i.key for i in object_store.list("packs/")} - packs_before
    assert len(garbage) >= 2
    assert len(list(object_store.list("locks/"))) == 1  # the dead writer's lock

    assert [s.id for s in repo.list_backup_sets()] == [kept]
    report = repo.check(read_data=True)
    assert report.ok, report.lines()
    assert any("not in any index" in w for w in report.warnings)

    # On S3 a request the writer sent just before dying may still complete after the
    # listing above, so the garbage is whatever is not from before.
    garbage = {i.key for i in object_store.list("packs/")} - packs_before
    dry = repo.prune(dry_run=True)
    assert set(dry.packs_deleted) == garbage and len(dry.stale_locks_broken) == 1
    assert dry.packs_repacked == []
    assert {i.key for i in object_store.list("packs/")} >= garbage  # dry run changed nothing
    assert len(list(object_store.list("locks/"))) == 1
    done = repo.prune()
    assert set(done.packs_deleted) == garbage and len(done.stale_locks_broken) == 1
    assert {i.key for i in object_store.list("packs/")} == packs_before
    assert list(object_store.list("locks/")) == []
    assert read_all(repo, kept, "kept") == b"row\n" * 100_000
    assert repo.check(read_data=True).ok
    reopened = Repository.open(object_store, KeySource.keyfile(key_path))
    assert read_all(reopened, kept, "kept") == b"row\n" * 100_000
