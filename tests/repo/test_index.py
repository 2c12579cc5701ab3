"""The compact in-memory chunk index and id set: exact lookups, growth, first location wins."""

from __future__ import annotations

import os
import random

from dbs.repo.index import ChunkIdSet, ChunkIndex, PackRecord, decode_index, encode_index
from dbs.repo.pack import BlobEntry, BlobLocation


def _near(cid: bytes, i: int) -> bytes:
    """An id sharing the first 31 bytes of ``cid`` (a truncated-prefix collision)."""
    return cid[:31] + bytes([cid[31] ^ (1 + i % 255)])


def test_index_lookups_are_exact_across_growth_and_prefix_collisions() -> None:
    rng = random.Random(7)
    ids = [rng.randbytes(32) for _ in range(3000)]
    twins = [_near(cid, i) for i, cid in enumerate(ids[:1000])]
    stored = ids + twins
    packs = []
    expected: dict[bytes, BlobLocation] = {}
    for p in range(0, len(stored), 500):
        pack_id = rng.randbytes(16)
        entries = []
        for j, cid in enumerate(stored[p : p + 500]):
            e = BlobEntry(cid, j % 2, j % 3, 24 + 100 * j, 100 + j, 2**32 - 1 - j)
            entries.append(e)
            expected[cid] = BlobLocation(pack_id, e.kind, e.flags, e.offset, e.length, e.raw_length)
        packs.append(PackRecord(pack_id, 12345 + p, entries))
    index = ChunkIndex()
    for pack in packs:  # one pack at a time: the table grows many times
        index.add_packs([pack])
    assert len(index) == len(stored)
    for cid, loc in expected.items():
        assert cid in index
        assert index.get(cid) == loc
    absent = [_near(cid, 300) for cid in ids[1000:2000]] + [os.urandom(32) for _ in range(500)]
    for cid in absent:
        assert cid not in index and index.get(cid) is None
    assert dict(index.items()) == expected
    assert index.pack_sizes == {p.pack_id: p.size for p in packs}


def test_index_keeps_the_first_location_of_a_duplicate_blob() -> None:
    cid = b"\x01" * 32
    first = PackRecord(b"A" * 16, 100, [BlobEntry(cid, 0, 1, 24, 50, 60)])
    second = PackRecord(b"B" * 16, 100, [BlobEntry(cid, 0, 1, 24, 70, 80)])
    index = ChunkIndex()
    index.add_packs([first, second])
    assert len(index) == 1
    assert index.get(cid) == BlobLocation(b"A" * 16, 0, 1, 24, 50, 60)
    # Round trip of the on-storage encoding is unchanged.
    assert [p.entries for p in decode_index(encode_index([first, second]))] == [
        first.entries,
        second.entries,
    ]


def test_id_set_is_exact() -> None:
    rng = random.Random(3)
    ids = [rng.randbytes(32) for _ in range(5000)]
    seen = ChunkIdSet()
    for cid in ids[:2500]:
        seen.add_new(cid)
    assert len(seen) == 2500
    assert all(cid in seen for cid in ids[:2500])
    assert not any(cid in seen for cid in ids[2500:])
    assert not any(_near(cid, 1) in seen for cid in ids[:2500])


def test_absent_matches_membership() -> None:
    rng = random.Random(5)
    ids = [rng.randbytes(32) for _ in range(2000)]
    seen = ChunkIdSet()
    for cid in ids[::3]:
        seen.add_new(cid)
    probe = [*ids, *(_near(cid, 2) for cid in ids[::3])]
    assert seen.absent(probe, range(len(probe))) == [
        i for i, cid in enumerate(probe) if cid not in seen
    ]
    index = ChunkIndex()
    index.add_packs([PackRecord(b"P" * 16, 1, [BlobEntry(ids[0], 0, 0, 24, 1, 1)])])
    assert index.absent(probe, [0, 1, 2]) == [1, 2]
