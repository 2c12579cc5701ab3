"""What only the local backend has: files, directories, temp files and OS errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dbs.storage.base import ObjectExistsError, ObjectNotFoundError, StorageError
from dbs.storage.local import LocalStore


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


def test_objects_are_plain_files(store: LocalStore) -> None:
    store.put("packs/ab/abcdef", b"pack")
    assert (store.root / "packs" / "ab" / "abcdef").read_bytes() == b"pack"
    assert store.describe() == f"local:{store.root}"


def test_key_and_prefix_directory_conflict_is_a_storage_error(store: LocalStore) -> None:
    store.put("a", b"file")
    with pytest.raises(StorageError, match="cannot also be a prefix directory"):
        store.put("a/b", b"x")
    store.put("d/e", b"x")
    with pytest.raises(StorageError, match="cannot also be a prefix directory"):
        store.put("d", b"x")
    with pytest.raises(StorageError, match="cannot also be a prefix directory"):
        store.put("d", b"x", create_only=True)
    assert [i.key for i in store.list()] == ["a", "d/e"]
    assert not any(p.name.endswith(".tmp-dbs") for p in store.root.rglob("*"))


def test_directories_are_not_objects(store: LocalStore) -> None:
    store.put("dir/obj", b"x")
    store.put("file", b"x")
    for key in ("dir", "file/below"):
        with pytest.raises(ObjectNotFoundError):
            store.get(key)
        with pytest.raises(ObjectNotFoundError):
            store.stat(key)
        with pytest.raises(ObjectNotFoundError):
            store.get_range(key, 0, 1)
        with pytest.raises(ObjectNotFoundError):
            store.iter_get(key)
        store.delete(key)  # no such object: nothing to do
    assert [i.key for i in store.list()] == ["dir/obj", "file"]


def test_temp_names_are_reserved_and_unlisted(store: LocalStore) -> None:
    with pytest.raises(StorageError, match="reserved"):
        store.put("x.tmp-dbs", b"x")
    (store.root / ".leftover.123.tmp-dbs").write_bytes(b"crash leftover")
    assert list(store.list()) == []


def test_source_errors_pass_through_and_leave_nothing(store: LocalStore) -> None:
    def failing() -> Iterator[bytes]:
        yield b"partial"
        raise FileNotFoundError("the dump file vanished")

    with pytest.raises(FileNotFoundError, match="dump file vanished"):
        store.put("k", failing())
    with pytest.raises(ObjectNotFoundError):
        store.stat("k")
    assert list(store.root.rglob("*.tmp-dbs")) == []


def test_create_only_keeps_first(store: LocalStore) -> None:
    store.put("m", b"1", create_only=True)
    with pytest.raises(ObjectExistsError):
        store.put("m", b"2", create_only=True)
    assert store.get("m") == b"1"
    assert list(store.root.rglob("*.tmp-dbs")) == []


def test_root_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(StorageError, match="cannot create the storage directory"):
        LocalStore(tmp_path / "a-file" / "store")


def test_list_is_lazy_and_ordered(store: LocalStore) -> None:
    for key in ["a0", "a/x", "a-1", "b/c/d", "a/b/c"]:
        store.put(key, b"")
    listing = store.list()
    assert not isinstance(listing, list)
    assert [i.key for i in listing] == ["a-1", "a/b/c", "a/x", "a0", "b/c/d"]
