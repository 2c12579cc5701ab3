"""The ObjectStore protocol, run against every backend (local directory and S3 on moto_server)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator

import pytest

from dbs.storage.base import (
    ObjectExistsError,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectStore,
    StorageError,
)

MiB = 1 << 20


def _pieces(total: int, piece: int, seed: int = 0) -> Iterator[bytes]:
    """``total`` deterministic pseudo-random bytes in pieces, generated as they are consumed."""
    counter = 0
    produced = 0
    while produced < total:
        block = hashlib.shake_256(f"{seed}:{counter}".encode()).digest(min(piece, total - produced))
        counter += 1
        produced += len(block)
        yield block


def _blob(total: int, seed: int = 0) -> bytes:
    return b"".join(_pieces(total, 1 << 16, seed))


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_put_get_small_bytes(object_store: ObjectStore, size: int) -> None:
    data = os.urandom(size)
    object_store.put("small/object", data)
    assert object_store.get("small/object") == data
    assert object_store.stat("small/object") == ObjectInfo("small/object", size)


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_put_small_iterables(object_store: ObjectStore, size: int) -> None:
    data = os.urandom(size)
    object_store.put("it/object", iter([data[: size // 2], b"", data[size // 2 :]]))
    assert object_store.get("it/object") == data
    object_store.put("it/empty", iter([]))
    assert object_store.get("it/empty") == b""


def test_multi_mib_bytes_roundtrip(object_store: ObjectStore) -> None:
    # 12 MiB with the fixture's 5 MiB parts: a three-part parallel multipart upload on S3.
    data = _blob(12 * MiB + 17, seed=1)
    object_store.put("big/bytes", data)
    assert object_store.stat("big/bytes").size == len(data)
    assert hashlib.sha256(object_store.get("big/bytes")).digest() == hashlib.sha256(data).digest()


def test_multi_mib_stream_roundtrip_without_holding_it(object_store: ObjectStore) -> None:
    size = 13 * MiB + 5
    expected = hashlib.sha256()
    for piece in _pieces(size, 300_001, seed=2):
        expected.update(piece)
    object_store.put("big/stream", _pieces(size, 300_001, seed=2))

    got = hashlib.sha256()
    largest = 0
    for piece in object_store.iter_get("big/stream", piece_size=MiB):
        got.update(piece)
        largest = max(largest, len(piece))
    assert got.digest() == expected.digest()
    assert object_store.stat("big/stream").size == size
    # Streaming really streams: no single piece is anywhere near the whole object.
    assert largest < 4 * MiB


def test_overwrite_replaces(object_store: ObjectStore) -> None:
    object_store.put("k", b"one")
    object_store.put("k", b"two, longer")
    assert object_store.get("k") == b"two, longer"


def test_failed_stream_leaves_nothing(object_store: ObjectStore) -> None:
    class SourceBroke(Exception):
        pass

    def broken() -> Iterator[bytes]:
        yield from _pieces(11 * MiB, MiB, seed=3)
        raise SourceBroke("the database connection dropped")

    with pytest.raises(SourceBroke):
        object_store.put("half/written", broken())
    with pytest.raises(ObjectNotFoundError):
        object_store.stat("half/written")
    assert list(object_store.list("half")) == []


def test_create_only_refuses_existing(object_store: ObjectStore) -> None:
    object_store.put("manifests/1", b"first", create_only=True)
    with pytest.raises(ObjectExistsError):
        object_store.put("manifests/1", b"second", create_only=True)
    with pytest.raises(ObjectExistsError):
        object_store.put("manifests/1", iter([b"sec", b"ond"]), create_only=True)
    assert object_store.get("manifests/1") == b"first"
    # Create-only also refuses a key written by a plain put.
    object_store.put("manifests/2", b"plain")
    with pytest.raises(ObjectExistsError):
        object_store.put("manifests/2", b"x", create_only=True)
    assert object_store.get("manifests/2") == b"plain"


def test_create_only_from_iterable(object_store: ObjectStore) -> None:
    data = _blob(6 * MiB, seed=4)
    object_store.put("locks/a", _pieces(6 * MiB, 1 << 16, seed=4), create_only=True)
    assert object_store.get("locks/a") == data


def test_concurrent_create_only_exactly_one_wins(object_store: ObjectStore) -> None:
    contenders = 8
    barrier = threading.Barrier(contenders)
    outcomes: list[str] = []
    lock = threading.Lock()

    def contend(n: int) -> None:
        barrier.wait()
        try:
            object_store.put("manifests/race", f"writer {n}".encode(), create_only=True)
            result = f"won {n}"
        except ObjectExistsError:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(outcomes) == contenders
    assert len(winners) == 1, outcomes
    assert object_store.get("manifests/race") == f"writer {winners[0].split()[1]}".encode()


def test_get_range(object_store: ObjectStore) -> None:
    data = bytes(range(256)) * 4
    object_store.put("r", data)
    assert object_store.get_range("r", 0, 10) == data[:10]
    assert object_store.get_range("r", 100, 50) == data[100:150]
    assert object_store.get_range("r", 1000, 100) == data[1000:]  # short only at the end
    assert object_store.get_range("r", len(data), 10) == b""  # at the end
    assert object_store.get_range("r", len(data) + 500, 10) == b""  # past the end
    assert object_store.get_range("r", 5, 0) == b""
    with pytest.raises(ObjectNotFoundError):
        object_store.get_range("missing", 0, 10)
    with pytest.raises(StorageError):
        object_store.get_range("r", -1, 10)


def test_get_range_across_multipart_boundary(object_store: ObjectStore) -> None:
    data = _blob(11 * MiB, seed=5)
    object_store.put("parts", data)
    start = 5 * MiB - 100
    assert object_store.get_range("parts", start, 300) == data[start : start + 300]


def test_iter_get_small_and_empty(object_store: ObjectStore) -> None:
    object_store.put("e", b"")
    assert b"".join(object_store.iter_get("e")) == b""
    object_store.put("s", b"abc")
    assert b"".join(object_store.iter_get("s", piece_size=1)) == b"abc"


def test_missing_objects(object_store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        object_store.get("nope")
    with pytest.raises(ObjectNotFoundError):
        object_store.stat("no/such/key")
    with pytest.raises(ObjectNotFoundError):
        object_store.iter_get("nope")  # fails on the call, not on the first next()
    object_store.delete("nope")  # deleting a missing key is fine
    object_store.delete("no/such/key")


def test_delete(object_store: ObjectStore) -> None:
    object_store.put("d/1", b"1")
    object_store.put("d/2", b"2")
    object_store.delete("d/1")
    with pytest.raises(ObjectNotFoundError):
        object_store.get("d/1")
    assert [i.key for i in object_store.list("d/")] == ["d/2"]


def test_list_order_and_sizes(object_store: ObjectStore) -> None:
    # '-' < '/' < '0' in byte order: "a-1" < "a/..." < "a0", as S3 sorts.
    keys = ["b", "a/z", "a/b/c", "a/b/d", "a-1", "a0", "packs/ff/x", "packs/00/y", "Z", "a/bc"]
    for n, key in enumerate(keys):
        object_store.put(key, b"x" * n)
    listed = list(object_store.list())
    assert [i.key for i in listed] == sorted(keys)
    assert {i.key: i.size for i in listed} == {k: n for n, k in enumerate(keys)}
    assert list(object_store.list("zzz")) == []
    assert list(object_store.list("nothing/here/")) == []


def test_list_prefixes_inside_and_at_segments(object_store: ObjectStore) -> None:
    # (A key cannot also be a "directory" of other keys on every backend, so "packs/a"
    # and "packs/a/1" do not both appear; see docs/storage.md.)
    for key in ["packs/a.idx", "packs/ab/1", "packs/abc", "packs/b/1", "packsx", "packs/a/1", "pa"]:
        object_store.put(key, b"x")

    def keys(prefix: str) -> list[str]:
        return [i.key for i in object_store.list(prefix)]

    in_packs = ["packs/a.idx", "packs/a/1", "packs/ab/1", "packs/abc", "packs/b/1"]
    assert keys("packs/a") == in_packs[:4]
    assert keys("packs/a/") == ["packs/a/1"]
    assert keys("packs/ab") == ["packs/ab/1", "packs/abc"]
    assert keys("packs/") == in_packs
    assert keys("packs") == [*in_packs, "packsx"]
    assert keys("p") == ["pa", *in_packs, "packsx"]
    assert keys("packs/abc") == ["packs/abc"]  # a prefix equal to a whole key
    assert keys("packs/a.idx") == ["packs/a.idx"]
    assert keys("packs/c") == []


def test_list_many_keys_across_pages(object_store: ObjectStore) -> None:
    # More keys than one S3 list page of the backend (1000) to cross a continuation token.
    keys = [f"idx/{n:05d}" for n in range(1100)]
    for key in keys:
        object_store.put(key, b"")
    assert [i.key for i in object_store.list("idx/")] == keys
    assert [i.key for i in object_store.list("idx/001")] == keys[100:200]


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "a/../b", "..", "a//b", "a/", "./a", "a/./b", "a\\b", "a\x00b", "x" * 1025],
)
def test_invalid_keys_refused(object_store: ObjectStore, key: str) -> None:
    with pytest.raises(StorageError, match="invalid object key"):
        object_store.put(key, b"x")
    with pytest.raises(StorageError, match="invalid object key"):
        object_store.get(key)
    with pytest.raises(StorageError, match="invalid object key"):
        object_store.delete(key)


@pytest.mark.parametrize("prefix", ["/abs", "../", "a/../", "a//"])
def test_invalid_list_prefixes_refused(object_store: ObjectStore, prefix: str) -> None:
    with pytest.raises(StorageError, match="invalid list prefix"):
        list(object_store.list(prefix))


def test_unusual_but_valid_keys(object_store: ObjectStore) -> None:
    keys = [
        "with space/x", "with space/y z", "ünïcødé/ключ", "a+b=c", ".hidden/x", "a.b/c-d_e~f",
        "til~de/a", "st*r/b", "pct%20/q?x=1#h", "col:on",
    ]
    for key in keys:
        object_store.put(key, key.encode())
    for key in keys:
        assert object_store.get(key) == key.encode()
    assert [i.key for i in object_store.list()] == sorted(keys)
    # Listing by prefixes holding those characters, at and inside segments.
    for key in keys:
        directory = key.rpartition("/")[0]
        expected = sorted(k for k in keys if k.startswith(key[:-1]))
        assert [i.key for i in object_store.list(key[:-1])] == expected
        if directory:
            expected = sorted(k for k in keys if k.startswith(directory + "/"))
            assert [i.key for i in object_store.list(directory + "/")] == expected


def test_describe_names_the_store(object_store: ObjectStore) -> None:
    text = object_store.describe()
    assert text.startswith(("local:", "s3://"))
