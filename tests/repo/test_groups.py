"""Small record-aligned chunks are stored in groups: read back, checked, pruned member by member."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dbs.repo import Repository, RepositoryDamaged, RepositoryError
from dbs.repo.layout import CONFIG_KEY, FLAG_GROUP
from dbs.repo.repository import read_config
from dbs.storage.base import ObjectStore
from tests.repo.conftest import dump_rows, read_all

ROWS = 40_000


def _changed(every: int) -> Iterator[bytes]:
    """The dump with every ``every``-th row altered (a new version of its chunk)."""
    for piece in dump_rows(3, ROWS):
        lines = piece.split(b"\n")[:-1]
        yield b"".join(
            line + (b"-x" if int(line.split(b"\t", 1)[0]) % every == 0 else b"") + b"\n"
            for line in lines
        )


def _backup(repo: Repository, pieces: Iterator[bytes]) -> str:
    with repo.begin_backup() as w:
        w.add_stream("t", pieces, b"\n")
        return w.commit({}).id


def _blobs(repo: Repository) -> tuple[int, int, int]:
    """(chunks indexed, of which group members, distinct blobs)."""
    items = list(repo.chunk_index(refresh=True).items())
    members = sum(1 for _, loc in items if loc.flags & FLAG_GROUP)
    return len(items), members, len({(loc.pack_id, loc.offset) for _, loc in items})


def test_small_chunks_share_groups_and_read_back(repo: Repository) -> None:
    first = _backup(repo, dump_rows(3, ROWS))
    chunks, members, blobs = _blobs(repo)
    assert members > 0.9 * chunks  # data chunks are members; chunk lists stay alone
    assert blobs < chunks / 5  # ~16 chunks of 8 KiB per 128 KiB group
    assert read_all(repo, first, "t") == b"".join(dump_rows(3, ROWS))
    # A second version re-uses most chunks; its new ones form groups of their own.
    second = _backup(repo, _changed(700))
    assert read_all(repo, second, "t") == b"".join(_changed(700))
    assert read_all(repo, first, "t") == b"".join(dump_rows(3, ROWS))
    assert repo.check(read_data=True).ok


def test_prune_keeps_only_the_referenced_members_of_a_group(
    repo: Repository, object_store: ObjectStore
) -> None:
    first = _backup(repo, dump_rows(3, ROWS))
    second = _backup(repo, _changed(150))  # most groups of the first set lose members
    repo.delete_backup_set(first)
    before = sum(i.size for i in object_store.list("packs/"))
    report = repo.prune()
    assert report.packs_repacked
    after = sum(i.size for i in object_store.list("packs/"))
    assert after < before * 0.85
    assert read_all(repo, second, "t") == b"".join(_changed(150))
    check = repo.check(read_data=True)
    assert check.ok, check.lines()
    # Every indexed member is referenced: the dropped ones are gone from the new groups.
    chunks, members, blobs = _blobs(repo)
    assert members > 0 and blobs < chunks
    assert chunks == report.referenced_chunks


def test_damage_in_a_group_names_its_chunks(repo: Repository, object_store: ObjectStore) -> None:
    first = _backup(repo, dump_rows(3, ROWS))
    (pack,) = [i.key for i in object_store.list("packs/")]
    data = bytearray(object_store.get(pack))
    data[len(data) // 2] ^= 0x40
    object_store.delete(pack)
    object_store.put(pack, bytes(data))
    report = repo.check(read_data=True)
    assert not report.ok
    (problem,) = report.problems
    assert problem.kind == "chunk-damaged" and len(problem.chunks) > 1  # every member
    assert problem.affected_sets == {first}
    with pytest.raises(RepositoryDamaged, match=first):
        read_all(repo, first, "t")


def test_repository_of_an_older_development_format_is_refused(
    repo: Repository, object_store: ObjectStore
) -> None:
    config = read_config(object_store)
    object_store.delete(CONFIG_KEY)
    object_store.put(CONFIG_KEY, json.dumps({**config, "version": 1}).encode())
    with pytest.raises(RepositoryError, match=r"format version 1 .*create a new repository"):
        read_config(object_store)
