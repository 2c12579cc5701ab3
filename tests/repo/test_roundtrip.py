"""Streams go in and come back identical, whatever their shape, on every backend."""

from __future__ import annotations

import os
import random
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbs.errors import InvalidParameter
from dbs.repo import (
    BackupSetNotFound,
    Repository,
    RepositoryError,
    StreamNotFound,
)
from dbs.repo.errors import InvalidStream
from dbs.storage.base import ObjectStore
from tests.repo.conftest import dump_rows, read_all, rechunk


def _commit(repo: Repository, streams: dict[str, tuple[bytes, object]]) -> str:
    with repo.begin_backup() as writer:
        for name, (data, bounds) in streams.items():
            info = writer.add_stream(name, rechunk(data, [65_536, 1, 777_777]), bounds)  # type: ignore[arg-type]
            assert info.size == len(data)
        return writer.commit({"engine": "test"}).id


@pytest.mark.parametrize("boundaries", [None, b"\n", 4096, b"\r\n"])
def test_random_and_text_streams_round_trip(repo: Repository, boundaries: object) -> None:
    rnd = random.Random(7)
    text = b"".join(dump_rows(1, 40_000))
    binary = rnd.randbytes(3 << 20)
    set_id = _commit(repo, {"text": (text, boundaries), "binary": (binary, boundaries)})
    assert read_all(repo, set_id, "text") == text
    assert read_all(repo, set_id, "binary") == binary


def test_adversarial_streams(repo: Repository) -> None:
    streams: dict[str, tuple[bytes, object]] = {
        "empty": (b"", None),
        "empty-aligned": (b"", b"\n"),
        "one-byte": (b"x", None),
        "one-byte-record": (b"\n", 4096),
        "all-zero": (b"\x00" * (9 << 20), None),
        "all-one-value-aligned": (b"\xff" * (5 << 20), b"\n"),
        "all-delimiters": (b"\n" * (3 << 20), b"\n"),
        "no-delimiter": (os.urandom(2 << 20), b"\n"),
        "odd-records": (os.urandom(1_000_003), 4096),
        "huge-record": (os.urandom(300_000), 1 << 20),
    }
    set_id = _commit(repo, streams)
    reader = repo.open_backup_set(set_id)
    assert {s.name for s in reader.list_streams()} == set(streams)
    for name, (data, _) in streams.items():
        assert b"".join(reader.open_stream(name)) == data, name
    # A run of one byte value is one chunk repeated: stored once.
    infos = {s.name: s for s in reader.list_streams()}
    assert infos["all-zero"].chunk_count > 1
    assert reader.info.stored_size < 5 << 20


def test_many_tiny_streams(repo: Repository) -> None:
    streams = {f"db.t{i}": (f"row {i}\n".encode() * (i % 5), b"\n") for i in range(500)}
    set_id = _commit(repo, streams)  # type: ignore[arg-type]
    reader = repo.open_backup_set(set_id)
    assert reader.info.stream_count == 500
    for name, (data, _) in streams.items():
        assert b"".join(reader.open_stream(name)) == data


def test_parallel_add_stream_from_threads(repo: Repository) -> None:
    data = {f"s{i}": b"".join(dump_rows(i, 8_000)) for i in range(4)}
    errors: list[BaseException] = []
    with repo.begin_backup(tags={"plan": "p1"}) as writer:

        def add(name: str) -> None:
            try:
                writer.add_stream(name, rechunk(data[name], [10_000]), b"\n")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=add, args=(n,)) for n in data]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        info = writer.commit({"n": 4})
    assert info.tags == {"plan": "p1"} and info.stream_count == 4
    assert info.original_size == sum(len(d) for d in data.values())
    for name, payload in data.items():
        assert read_all(repo, info.id, name) == payload


def test_same_content_any_piece_sizes_deduplicates(repo: Repository) -> None:
    text = b"".join(dump_rows(3, 50_000))
    with repo.begin_backup() as w1:
        w1.add_stream("t", rechunk(text, [1 << 20]), b"\n")
        first = w1.commit({})
    with repo.begin_backup() as w2:
        w2.add_stream("t", rechunk(text, [4093, 17]), b"\n")
        second = w2.commit({})
    assert first.stored_size > len(text) // 4
    # Same content split differently by the caller: nothing but the index is new.
    assert second.stored_size < 64 << 10
    assert read_all(repo, second.id, "t") == text


def test_uncommitted_and_failed_sets_are_invisible(
    repo: Repository, object_store: ObjectStore
) -> None:
    writer = repo.begin_backup()
    writer.add_stream("t", [os.urandom(1 << 20)])
    writer.abort()
    with pytest.raises(RuntimeError), repo.begin_backup() as w:
        w.add_stream("t", [os.urandom(1 << 20)])
        raise RuntimeError("engine failed")

    def failing() -> object:
        yield b"abc" * 1000
        raise OSError("connection lost")

    with repo.begin_backup() as w, pytest.raises(OSError):
        w.add_stream("t", failing())  # type: ignore[arg-type]
    assert repo.list_backup_sets() == []
    assert list(object_store.list("sets/")) == []
    assert list(object_store.list("locks/")) == []
    # Aborted writers clean up the packs they had uploaded.
    assert list(object_store.list("packs/")) == []


def test_list_backup_sets_oldest_first_with_info(repo: Repository) -> None:
    ids = []
    for i in range(3):
        with repo.begin_backup(tags={"plan": "nightly", "n": str(i)}) as w:
            w.add_stream("s", [b"%d" % i * 100])
            ids.append(w.commit({"i": i}).id)
    sets = repo.list_backup_sets()
    assert [s.id for s in sets] == ids
    assert all(s.created_at.tzinfo is not None for s in sets)
    assert sets[0].original_size == 100 and sets[0].stream_count == 1
    assert repo.open_backup_set(ids[1]).metadata == {"i": 1}


def test_clear_errors(repo: Repository) -> None:
    with repo.begin_backup() as w:
        w.add_stream("a", [b"1"])
        with pytest.raises(InvalidStream, match="already added"):
            w.add_stream("a", [b"2"])
        with pytest.raises(InvalidStream, match="yield bytes"):
            w.add_stream("b", ["text"])  # type: ignore[list-item]
        with pytest.raises(InvalidStream, match="boundaries"):
            w.add_stream("c", [b"x"], 0)
        with pytest.raises(InvalidParameter, match="metadata"):
            w.commit({"when": object()})
        info = w.commit({})
        with pytest.raises(RepositoryError, match="committed"):
            w.add_stream("late", [b"x"])
    with pytest.raises(BackupSetNotFound):
        repo.open_backup_set("20990101T000000000000Z-00000000")
    with pytest.raises(StreamNotFound, match="'nope'"):
        repo.open_backup_set(info.id).open_stream("nope")
    repo.delete_backup_set(info.id)
    assert repo.list_backup_sets() == []


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    pieces=st.lists(st.binary(max_size=3000), max_size=20),
    repeat=st.integers(min_value=1, max_value=300),
    boundaries=st.sampled_from([None, b"\n", b"ab", 1, 7, 4096]),
)
def test_property_any_pieces_any_boundaries_round_trip(
    repo: Repository, pieces: list[bytes], repeat: int, boundaries: bytes | int | None
) -> None:
    # Repeating the pieces makes streams long enough to span several chunks and buffers.
    stream = pieces * repeat
    with repo.begin_backup() as w:
        info = w.add_stream("s", stream, boundaries)
        set_id = w.commit({}).id
    data = b"".join(stream)
    assert info.size == len(data)
    assert read_all(repo, set_id, "s") == data
