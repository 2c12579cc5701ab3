"""Keys: passphrase and key file, wrong keys, export/import from another home, rotation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dbs.errors import InvalidParameter
from dbs.repo import KeySource, Repository, RepositoryExists, RepositoryNotFound, WrongKeyError
from dbs.storage.base import ObjectStore
from tests.repo.conftest import read_all

SECRET = "correct horse battery staple"


def _backup(repo: Repository, data: bytes) -> str:
    with repo.begin_backup() as w:
        w.add_stream("s", [data])
        return w.commit({}).id


def _all_objects(store: ObjectStore) -> bytes:
    return b"".join(store.get(info.key) for info in store.list(""))


def test_passphrase_repository(object_store: ObjectStore) -> None:
    repo = Repository.create(object_store, KeySource.passphrase(SECRET))
    assert repo.encrypted
    data = b"secret row 42\n" * 5000
    set_id = _backup(repo, data)
    stored = _all_objects(object_store)
    assert b"secret row" not in stored and SECRET.encode() not in stored
    assert SECRET not in repr(KeySource.passphrase(SECRET))
    with pytest.raises(WrongKeyError, match="passphrase does not open"):
        Repository.open(object_store, KeySource.passphrase("wrong"))
    with pytest.raises(WrongKeyError, match="encrypted"):
        Repository.open(object_store, KeySource.unencrypted())
    with pytest.raises(RepositoryExists):
        Repository.create(object_store, KeySource.passphrase(SECRET))
    again = Repository.open(object_store, KeySource.passphrase(SECRET))
    assert again.id == repo.id
    assert read_all(again, set_id, "s") == data


def test_keyfile_and_clear_key_errors(object_store: ObjectStore, tmp_path: Path) -> None:
    key = KeySource.generate_keyfile(tmp_path / "k")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    with pytest.raises(InvalidParameter, match="already exists"):
        KeySource.generate_keyfile(tmp_path / "k")
    (tmp_path / "short").write_bytes(b"x" * 8)
    with pytest.raises(InvalidParameter, match="at least 32"):
        KeySource.keyfile(tmp_path / "short")
    with pytest.raises(InvalidParameter, match="cannot be read"):
        KeySource.keyfile(tmp_path / "missing")
    with pytest.raises(RepositoryNotFound):
        Repository.open(object_store, key)
    repo = Repository.create(object_store, key)
    set_id = _backup(repo, b"abc" * 1000)
    other = KeySource.generate_keyfile(tmp_path / "other")
    with pytest.raises(WrongKeyError, match="key file"):
        Repository.open(object_store, other)
    assert read_all(Repository.open(object_store, KeySource.keyfile(tmp_path / "k")), set_id, "s")


def test_unencrypted_only_on_request(object_store: ObjectStore, tmp_path: Path) -> None:
    repo = Repository.create(object_store, KeySource.unencrypted())
    assert not repo.encrypted
    data = os.urandom(100_000) + b"plain\n" * 1000
    set_id = _backup(repo, data)
    with pytest.raises(WrongKeyError, match="not encrypted"):
        Repository.open(object_store, KeySource.generate_keyfile(tmp_path / "k"))
    assert read_all(Repository.open(object_store, KeySource.unencrypted()), set_id, "s") == data
    with pytest.raises(InvalidParameter):
        repo.export_key()


def test_export_and_open_from_another_home(object_store: ObjectStore, tmp_path: Path) -> None:
    repo = Repository.create(object_store, KeySource.passphrase(SECRET))
    data = os.urandom(300_000)
    set_id = _backup(repo, data)
    exported = repo.export_key()
    assert SECRET not in exported and "instructions" in exported
    # Disaster: the key objects in the repository are lost; only the export survives.
    for info in list(object_store.list("keys/")):
        object_store.delete(info.key)
    with pytest.raises(WrongKeyError):
        Repository.open(object_store, KeySource.passphrase(SECRET))
    with pytest.raises(WrongKeyError):
        Repository.open(object_store, KeySource.passphrase("wrong"), exported_key=exported)
    home2 = Repository.open(object_store, KeySource.passphrase(SECRET), exported_key=exported)
    assert read_all(home2, set_id, "s") == data
    home2.import_key(exported)
    assert (
        read_all(Repository.open(object_store, KeySource.passphrase(SECRET)), set_id, "s") == data
    )


def test_rotate_rewraps_without_rewriting_data(object_store: ObjectStore, tmp_path: Path) -> None:
    repo = Repository.create(object_store, KeySource.passphrase(SECRET))
    data = os.urandom(500_000)
    set_id = _backup(repo, data)
    packs_before = {(i.key, i.size) for i in object_store.list("packs/")}
    new_key = KeySource.generate_keyfile(tmp_path / "new.key")
    repo.rotate_key(new_key)
    assert {(i.key, i.size) for i in object_store.list("packs/")} == packs_before
    assert len(list(object_store.list("keys/"))) == 1
    with pytest.raises(WrongKeyError):
        Repository.open(object_store, KeySource.passphrase(SECRET))
    rotated = Repository.open(object_store, KeySource.keyfile(tmp_path / "new.key"))
    assert read_all(rotated, set_id, "s") == data
    rotated.rotate_key(KeySource.passphrase("second passphrase"))
    final = Repository.open(object_store, KeySource.passphrase("second passphrase"))
    assert read_all(final, set_id, "s") == data
