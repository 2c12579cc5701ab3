"""The PostgreSQL stream format: names and large-object framing (no server needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dbs.engines.postgresql import format as fmt


def _frame(objects: dict[int, list[bytes]]) -> Iterator[bytes]:
    for oid, pieces in objects.items():
        yield fmt.encode_large_object_header(oid)
        for piece in pieces:
            yield fmt.encode_piece(piece)
        yield fmt.END_OF_OBJECT


@pytest.mark.parametrize("split", [1, 3, 7, 4096])
def test_large_objects_round_trip_whatever_the_block_size(split: int) -> None:
    objects = {16385: [b"\x00\n0\n", b"L 1\n" * 3], 16386: [], 99: [bytes(range(256)) * 5]}
    wire = b"".join(_frame(objects))
    blocks = [wire[i:i + split] for i in range(0, len(wire), split)]
    got = {oid: b"".join(pieces) for oid, pieces in fmt.iter_large_objects(blocks)}
    assert got == {oid: b"".join(p) for oid, p in objects.items()}


def test_truncated_large_object_stream_is_an_error() -> None:
    wire = b"".join(_frame({1: [b"abcdef"]}))[:-5]
    with pytest.raises(ValueError, match="early"):
        for _oid, pieces in fmt.iter_large_objects([wire]):
            list(pieces)


def test_stream_names_are_stable_and_safe_for_any_identifier() -> None:
    name = fmt.table_stream("shop db", 'Mixed "Case"', "a/b.c")
    assert name == "shop%20db/data/Mixed%20%22Case%22/a%2Fb.c"
    assert name == fmt.table_stream("shop db", 'Mixed "Case"', "a/b.c")
    assert fmt.schema_stream("x", "pre-data") == "x/schema-pre-data.dump"
