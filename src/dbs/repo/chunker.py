"""Cutting a stream into content-defined chunks, optionally on record boundaries.

FastCDC (``pyfastcdc``, Cython, releases the GIL, ~2 GiB/s) finds cut points
from content, so an insertion shifts only nearby cuts. When the engine gives
record boundaries, each cut is moved forward to the next boundary: a changed
row then disturbs only its own chunk, which is what makes a second logical
dump share most chunks with the first (docs/repository-format.md, dedup.md).

The stream is cut in buffers of ``BUFFER_SIZE``; the tail after the last cut
of a buffer is carried into the next, so no chunk depends on how the caller
split its pieces. The gear table is seeded from the repository key, so cut
points do not leak content to someone who sees only chunk sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pyfastcdc import FastCDC

from dbs.repo.errors import InvalidStream

BUFFER_SIZE = 4 << 20


@dataclass(frozen=True)
class ChunkerParams:
    avg_size: int
    min_size: int
    max_size: int


# Record-aligned streams: small chunks dedup across backups (test_dedup.py: 18 % new bytes at
# 16 KiB, 10 % at 8 KiB, 7 % at 4 KiB). New chunks are stored in ~128 KiB groups, so their size
# costs neither compression nor a zstd/AES call each; 4 KiB was measured too and read back
# ~35 % slower with ~2 % more stored bytes (ids and index entries): docs/benchmarks.md.
ALIGNED = ChunkerParams(avg_size=8 << 10, min_size=2 << 10, max_size=32 << 10)
# Streams without boundaries (page files, RDB): larger chunks keep the index small.
UNALIGNED = ChunkerParams(avg_size=256 << 10, min_size=64 << 10, max_size=1 << 20)


def params_for(boundaries: bytes | int | None) -> ChunkerParams:
    return UNALIGNED if boundaries is None else ALIGNED


def validate_boundaries(boundaries: object) -> None:
    if boundaries is None:
        return
    if isinstance(boundaries, bool) or not isinstance(boundaries, bytes | int):
        raise InvalidStream(
            f"boundaries: got {type(boundaries).__name__}; use None, a bytes delimiter such as "
            "b'\\n', or a positive record size in bytes"
        )
    if isinstance(boundaries, bytes) and not 1 <= len(boundaries) <= 64:
        raise InvalidStream("boundaries: a delimiter must be 1 to 64 bytes long")
    if isinstance(boundaries, int) and not 1 <= boundaries <= 64 << 20:
        raise InvalidStream("boundaries: a record size must be between 1 byte and 64 MiB")


class Chunker:
    """Splits one stream; yields batches of chunks (memoryviews into immutable buffers)."""

    def __init__(self, boundaries: bytes | int | None, seed: int) -> None:
        validate_boundaries(boundaries)
        self.boundaries = boundaries
        self.params = params_for(boundaries)
        self._cdc = FastCDC(
            self.params.avg_size,
            min_size=self.params.min_size,
            max_size=self.params.max_size,
            seed=seed,
        )

    def batches(self, pieces: Iterable[bytes]) -> Iterator[list[memoryview]]:
        pending: list[bytes] = []
        pending_size = 0
        stream_offset = 0  # stream position of pending[0]
        for piece in pieces:
            if not piece:
                continue
            pending.append(piece)
            pending_size += len(piece)
            if pending_size >= BUFFER_SIZE:
                data = b"".join(pending)
                cuts = self._cuts(data, stream_offset, final=False)
                consumed = cuts[-1] if cuts else 0
                if cuts:
                    yield _slices(data, cuts)
                rest = data[consumed:]
                pending = [rest] if rest else []
                pending_size = len(rest)
                stream_offset += consumed
        if pending_size:
            data = b"".join(pending)
            yield _slices(data, self._cuts(data, stream_offset, final=True))

    def _cuts(self, data: bytes, stream_offset: int, *, final: bool) -> list[int]:
        cuts: list[int] = []
        start = 0
        size = len(data)
        max_size = self.params.max_size
        for chunk in self._cdc.cut_buf(data):
            end = chunk.offset + chunk.length
            if end <= start:
                continue  # already covered by a cut moved forward to a boundary
            if end == size and not final:
                break  # the last piece is cut by the buffer end, not by content: carry it
            aligned = self._align(data, end, stream_offset, max_size)
            if aligned is None or aligned > size:
                if not final:
                    break  # the boundary lies beyond this buffer: carry
                aligned = size
            cuts.append(aligned)
            start = aligned
        if final and start < size:
            cuts.append(size)
        return cuts

    def _align(self, data: bytes, end: int, stream_offset: int, max_size: int) -> int | None:
        bounds = self.boundaries
        if bounds is None:
            return end
        if isinstance(bounds, int):
            absolute = stream_offset + end
            return end + (-absolute) % bounds
        found = data.find(bounds, end - len(bounds), end + max_size)
        if found >= 0:
            return found + len(bounds)
        if end + max_size <= len(data):
            return end  # no boundary within a max-size chunk (a huge record): cut anyway
        return None


def _slices(data: bytes, cuts: list[int]) -> list[memoryview]:
    view = memoryview(data)
    out: list[memoryview] = []
    start = 0
    for cut in cuts:
        out.append(view[start:cut])
        start = cut
    return out
