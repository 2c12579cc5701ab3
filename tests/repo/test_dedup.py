"""A second backup of a slightly changed table shares most chunks with the first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dbs.repo import KeySource, Repository
from dbs.storage.local import LocalStore
from tests.repo.conftest import dump_rows, read_all

ROWS = 120_000


def _table(version: int) -> Iterator[bytes]:
    """Version 1 deletes every 5000th row, updates every 2000th and appends 1000 rows."""
    for piece in dump_rows(11, ROWS):
        if version == 1:
            lines = piece.split(b"\n")[:-1]
            out = []
            for line in lines:
                row_id = int(line.split(b"\t", 1)[0])
                if row_id % 5000 == 4999:
                    continue
                if row_id % 2000 == 1999:
                    line += b"-updated"
                out.append(line + b"\n")
            piece = b"".join(out)
        yield piece
    if version == 1:
        yield from dump_rows(12, 1_000, start_id=ROWS)


def _new_share(repo: Repository, boundaries: bytes | None) -> float:
    sizes = []
    for version in (0, 1):
        with repo.begin_backup() as w:
            w.add_stream("db.public.orders", _table(version), boundaries)
            info = w.commit({})
        sizes.append(info.stored_size)
        assert read_all(repo, info.id, "db.public.orders") == b"".join(_table(version))
    return sizes[1] / sizes[0]


def test_row_aligned_chunks_deduplicate_a_changed_table(repo: Repository, tmp_path: Path) -> None:
    aligned = _new_share(repo, b"\n")
    assert aligned < 0.2  # 8 KiB chunks: ~10 % (18 % at 16 KiB)
    # The same workload cut anywhere into large chunks stores far more again.
    other = Repository.create(LocalStore(tmp_path / "u"), KeySource.unencrypted())
    unaligned = _new_share(other, None)
    assert unaligned > 2 * aligned
