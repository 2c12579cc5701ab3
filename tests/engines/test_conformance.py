"""One conformance suite for every engine: precheck, listing, backup, restore, verify, failure,
and nothing left behind by a stopped or failed backup or restore.

Each engine's own fidelity tests (every column type, load, big tables) live
beside this in ``test_<engine>_*.py``.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psutil
import pytest

from dbs.engines.base import RestoreOptions
from dbs.engines.endpoint import Endpoint
from dbs.engines.parallel import THREAD_PREFIX
from dbs.streams import Boundaries, NullProgress, StreamInfo
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


# -- nothing left behind -------------------------------------------------------------------
#
# A job is stopped (`dbs plan stop`) by its progress raising from `advance`; storage that
# dies raises from the writer; damaged or unreachable storage raises from the reader. Each
# time the engine must end and reap every child process and close every connection it
# opened before the exception leaves it, so that the operator can drop the database at
# once (a leftover `psql ... COPY` blocked on a full pipe made every later DROP DATABASE
# on the cluster hang).

STOP_AT_ADVANCE = 3  # a large source is mid-stream after a few progress reports
FAIL_AFTER_BYTES = 4 << 20
SESSIONS_GONE_WITHIN = 5.0  # seconds for the server to notice closed connections


class _Stopped(Exception):
    """What a stop looks like to an engine (the job runner raises JobCancelled)."""


class _StoppingProgress(NullProgress):
    """Raises from the ``at``-th call of ``advance`` on, as a stopped job's progress does."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.calls = 0
        self.lock = threading.Lock()

    def advance(self, *, bytes_done: int = 0, items_done: int = 0) -> None:
        with self.lock:
            self.calls += 1
            if self.calls >= self.at:
                raise _Stopped(f"stopped at progress report {self.calls}")


class _FailingReader:
    """A backup set whose streams break once enough bytes were read, as storage that dies
    mid-restore would."""

    def __init__(self, inner: Any, fail_after: int) -> None:
        self.inner = inner
        self.fail_after = fail_after
        self.seen = 0
        self.lock = threading.Lock()

    @property
    def metadata(self) -> Any:
        return self.inner.metadata

    def list_streams(self) -> list[StreamInfo]:
        streams: list[StreamInfo] = self.inner.list_streams()
        return streams

    def open_stream(self, name: str) -> Iterator[bytes]:
        for piece in self.inner.open_stream(name):
            with self.lock:
                self.seen += len(piece)
                if self.seen > self.fail_after:
                    raise OSError("injected storage failure while reading")
            yield piece


@dataclass(frozen=True)
class _ProcessState:
    """What this test process has open that an engine could leave behind."""

    children: frozenset[tuple[int, float]]  # (pid, start time) of children, zombies too
    sockets: frozenset[tuple[Any, Any]]  # TCP (local, remote) addresses

    @classmethod
    def now(cls) -> _ProcessState:
        me = psutil.Process()
        children = set()
        # Direct children: what an engine starts (a server's own forks are its sessions).
        for child in me.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                children.add((child.pid, child.create_time()))
        sockets = {(c.laddr, c.raddr) for c in me.net_connections("tcp") if c.raddr}
        return cls(frozenset(children), frozenset(sockets))

    def new_since(self, before: _ProcessState, port: int | None) -> list[str]:
        found = [f"child process {pid}" for pid, _ in self.children - before.children]
        found += [
            f"socket {local} -> {remote}"
            for local, remote in self.sockets - before.sockets
            if port and remote.port == port
        ]
        found += [f"thread {t.name}" for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]
        return found


def _assert_nothing_left(harness: EngineHarness, before: _ProcessState, *endpoints: Endpoint) -> None:
    """No child, socket or engine thread of this process, no server session, and the
    databases drop at once."""
    port = endpoints[0].port or None
    assert _ProcessState.now().new_since(before, port) == []
    deadline = time.monotonic() + SESSIONS_GONE_WITHIN
    for endpoint in endpoints:
        while (open_sessions := harness.sessions(endpoint)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert open_sessions == [], f"{endpoint.display()}: {open_sessions}"
    for endpoint in endpoints:
        harness.drop(endpoint)


def _assert_reports(exc: BaseException, failure: str) -> None:
    """The error raised is the one injected (or names it), not one that cleanup caused."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = " | ".join(f"{type(e).__name__}: {e}" for e in chain)
    expected = "stopped at progress report" if failure == "stopped" else "injected storage failure"
    assert expected in text, text


def _back_up_large(harness: EngineHarness, repository: Any) -> tuple[Endpoint, str]:
    source = harness.make_large_source()
    with repository.begin_backup() as writer:
        metadata = harness.engine.backup(
            source, harness.source_selection(source), writer, NullProgress()
        )
        info = writer.commit(metadata)
    return source, str(info.id)


@pytest.mark.parametrize("failure", ["stopped", "writer fails"])
def test_a_stopped_or_failed_backup_leaves_nothing_behind(
    harness: EngineHarness, repository: Any, failure: str
) -> None:
    source = harness.make_large_source()
    before = _ProcessState.now()
    progress = _StoppingProgress(STOP_AT_ADVANCE) if failure == "stopped" else NullProgress()
    with pytest.raises(Exception) as raised, repository.begin_backup() as writer:
        target = writer if failure == "stopped" else _FailingWriter(writer, FAIL_AFTER_BYTES)
        harness.engine.backup(source, harness.source_selection(source), target, progress)
    _assert_reports(raised.value, failure)
    assert repository.list_backup_sets() == []
    _assert_nothing_left(harness, before, source)


@pytest.mark.parametrize("failure", ["stopped", "reader fails"])
def test_a_stopped_or_failed_restore_leaves_nothing_behind(
    harness: EngineHarness, repository: Any, failure: str
) -> None:
    source, set_id = _back_up_large(harness, repository)
    reader: Any = repository.open_backup_set(set_id)
    progress = _StoppingProgress(STOP_AT_ADVANCE) if failure == "stopped" else NullProgress()
    if failure != "stopped":
        reader = _FailingReader(reader, FAIL_AFTER_BYTES)
    target = harness.new_target()
    before = _ProcessState.now()
    with pytest.raises(Exception) as raised:
        harness.engine.restore(reader, target, RestoreOptions(parallel=2), progress)
    _assert_reports(raised.value, failure)
    _assert_nothing_left(harness, before, target, source)
