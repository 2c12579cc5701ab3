"""One conformance suite for every engine: precheck, listing, backup, restore, verify, failure.

Each engine's own fidelity tests (every column type, load, big tables) live
beside this in ``test_<engine>_*.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from dbs.engines.base import Boundaries, NullProgress, RestoreOptions, StreamInfo
from tests.engines.harness import EngineHarness

# engine name -> "module:Class" of its harness; an engine joins the suite by adding a line.
HARNESSES: dict[str, str] = {
    "mysql": "tests.engines.harness_mysql:MySQLHarness",
    "postgresql": "tests.engines.harness_postgresql:PostgresHarness",
    "redis": "tests.engines.harness_redis:RedisHarness",
    "sqlite": "tests.engines.harness_sqlite:SqliteHarness",
}


def _load(spec: str) -> EngineHarness:
    module, _, cls = spec.partition(":")
    harness: EngineHarness = getattr(importlib.import_module(module), cls)()
    return harness


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[EngineHarness]:
    h = _load(HARNESSES[request.param])
    try:
        yield h
    finally:
        h.cleanup()


def test_precheck_passes_on_a_good_source(harness: EngineHarness) -> None:
    source = harness.make_source()
    items = harness.engine.precheck(source, harness.source_selection(source))
    assert items, "precheck returned no items"
    failed = [i for i in items if i.state == "failed"]
    assert not failed, failed


def test_precheck_names_the_failing_item_and_fix(harness: EngineHarness) -> None:
    source = harness.make_source()
    items = harness.engine.precheck(
        harness.bad_credentials(source), harness.source_selection(source)
    )
    failed = [i for i in items if i.state == "failed"]
    assert failed, items
    assert all(i.message for i in failed)
    assert any(i.fix for i in failed), "a failed item must say how to fix it"


def test_list_objects_includes_the_source(harness: EngineHarness) -> None:
    source = harness.make_source()
    names = {o.name for o in harness.engine.list_objects(source)}
    missing = harness.expected_objects(source) - names
    assert not missing, missing


def test_backup_restore_verify_round_trip(harness: EngineHarness, repository: Any) -> None:
    source = harness.make_source()
    before = harness.digest(source)
    assert before, "the harness digest saw no objects"
    with repository.begin_backup() as writer:
        metadata = harness.engine.backup(
            source, harness.source_selection(source), writer, NullProgress()
        )
        info = writer.commit(metadata)
    reader = repository.open_backup_set(info.id)
    target = harness.new_target()
    result = harness.engine.restore(reader, target, RestoreOptions(), NullProgress())
    assert result.verified and not result.mismatches, result
    assert harness.digest(harness.restored_endpoint(target, source)) == before


class _FailingWriter:
    """Passes streams to the real writer but fails once enough bytes went through,
    as storage that dies mid-backup would."""

    def __init__(self, inner: Any, fail_after: int) -> None:
        self.inner = inner
        self.fail_after = fail_after
        self.seen = 0

    def add_stream(
        self, name: str, chunks: Iterable[bytes], boundaries: Boundaries = None
    ) -> StreamInfo:
        def guarded() -> Iterator[bytes]:
            for piece in chunks:
                self.seen += len(piece)
                if self.seen > self.fail_after:
                    raise OSError("injected storage failure")
                yield piece

        info: StreamInfo = self.inner.add_stream(name, guarded(), boundaries)
        return info


def test_failure_mid_stream_leaves_nothing_visible(harness: EngineHarness, repository: Any) -> None:
    source = harness.make_source()
    with pytest.raises(Exception), repository.begin_backup() as writer:  # noqa: B017
        metadata = harness.engine.backup(
            source, harness.source_selection(source), _FailingWriter(writer, 64), NullProgress()
        )
        writer.commit(metadata)
    assert repository.list_backup_sets() == []
