"""Reading a committed backup set back.

``open_stream`` walks the stream's chunk-list blobs, groups consecutive chunks
stored close together in one pack into a single ranged read (one request per
few MiB, not per chunk), and decodes those reads in the thread pool a few
ahead of the consumer. A group (several chunks sealed as one blob) is opened once
and kept in a small cache while its members are read, so a stream that returns to
a group between new chunks does not decode it again. Every blob is authenticated;
the whole stream is checked against its size and BLAKE3 checksum before the last
piece is handed over, so damage raises instead of ending quietly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import blake3

from dbs.repo.blobs import BlobDamaged, decode_blob, member, open_group, read_blob, read_range
from dbs.repo.errors import RepositoryDamaged, StreamNotFound
from dbs.repo.layout import FLAG_GROUP, ID_SIZE
from dbs.repo.manifest import BackupSetInfo, Manifest, StreamRecord
from dbs.repo.pack import BlobLocation
from dbs.streams import StreamInfo

if TYPE_CHECKING:
    from dbs.repo.repository import Repository

READ_SPAN = 4 << 20  # bytes covered by one ranged read at most
MAX_GAP = 1 << 20  # unread bytes tolerated between two blobs of one read
READ_AHEAD = 2
GROUP_CACHE = 32  # opened groups kept per reader (~128 KiB each)
PIECE_SIZE = 1 << 20  # plaintext bytes per yielded piece, about


@dataclass
class _ReadBatch:
    pack_id: bytes
    start: int
    end: int
    items: list[tuple[bytes, BlobLocation]] = field(default_factory=list)


class BackupSetReader:
    def __init__(self, repo: Repository, manifest: Manifest) -> None:
        self._repo = repo
        self._manifest = manifest
        self._streams = {s.info.name: s for s in manifest.streams}
        self._groups = _GroupCache(GROUP_CACHE)

    @property
    def info(self) -> BackupSetInfo:
        return self._manifest.info

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self._manifest.metadata

    def list_streams(self) -> list[StreamInfo]:
        return [s.info for s in self._manifest.streams]

    def open_stream(self, name: str) -> Iterator[bytes]:
        record = self._streams.get(name)
        if record is None:
            raise StreamNotFound(
                f"stream {name!r} is not in backup set {self.info.id}; "
                f"it has {len(self._streams)} streams (see list_streams())"
            )
        return self._read(record)

    def chunk_ids(self, record: StreamRecord) -> Iterator[bytes]:
        """The stream's chunk ids, in order (reads its chunk-list blobs one at a time)."""
        index = self._repo.chunk_index()
        for list_id in record.chunk_lists:
            loc = index.get(list_id)
            if loc is None:
                raise self._damaged(record, f"chunk list {list_id.hex()[:16]} is not in any index")
            try:
                blob = read_blob(self._repo.store, self._repo.crypto, list_id, loc)
            except BlobDamaged as exc:
                raise self._damaged(record, str(exc)) from None
            for pos in range(0, len(blob), ID_SIZE):
                yield blob[pos : pos + ID_SIZE]

    def _batches(self, record: StreamRecord) -> Iterator[_ReadBatch]:
        index = self._repo.chunk_index()
        batch: _ReadBatch | None = None
        for cid in self.chunk_ids(record):
            loc = index.get(cid)
            if loc is None:
                raise self._damaged(record, f"chunk {cid.hex()[:16]} is not in any index")
            end = loc.offset + loc.length
            if (
                batch is None
                or loc.pack_id != batch.pack_id
                or loc.offset < batch.start
                or end - batch.start > READ_SPAN
                or loc.offset - batch.end > MAX_GAP
            ):
                if batch is not None:
                    yield batch
                batch = _ReadBatch(loc.pack_id, loc.offset, end)
            batch.end = max(batch.end, end)
            batch.items.append((cid, loc))
        if batch is not None:
            yield batch

    def _fetch(self, batch: _ReadBatch) -> list[bytes]:
        """In a pool thread: one ranged read, every blob decoded, grouped into ~1 MiB pieces.

        Small groups rather than one piece per chunk (a yield and a hash call each) or one
        per read (a second copy of the whole read in memory).
        """
        repo = self._repo
        data = memoryview(
            read_range(repo.store, batch.pack_id, batch.start, batch.end - batch.start)
        )
        pieces: list[bytes] = []
        group: list[bytes] = []
        group_size = 0
        crypto = repo.crypto
        for cid, loc in batch.items:
            rel = loc.offset - batch.start
            if loc.flags & FLAG_GROUP:
                key = (loc.pack_id, loc.offset)
                opened = self._groups.get(key)
                if opened is None:
                    opened = open_group(crypto, cid, loc, data[rel : rel + loc.length])
                    self._groups.put(key, opened)
                plain = member(crypto, cid, loc, opened)
            else:
                plain = decode_blob(crypto, cid, loc, data[rel : rel + loc.length])
            group.append(plain)
            group_size += len(plain)
            if group_size >= PIECE_SIZE:
                pieces.append(group[0] if len(group) == 1 else b"".join(group))
                group, group_size = [], 0
        if group:
            pieces.append(group[0] if len(group) == 1 else b"".join(group))
        return pieces

    def _read(self, record: StreamRecord) -> Iterator[bytes]:
        hasher = blake3.blake3()
        size = 0
        pool = self._repo.pool()
        ahead: deque[Future[list[bytes]]] = deque()
        batches = self._batches(record)
        try:
            while True:
                while len(ahead) < READ_AHEAD:
                    batch = next(batches, None)
                    if batch is None:
                        break
                    ahead.append(pool.submit(self._fetch, batch))
                if not ahead:
                    break
                try:
                    pieces = ahead.popleft().result()
                except BlobDamaged as exc:
                    raise self._damaged(record, str(exc)) from None
                # Hold back the last pieces until the checksum has been verified.
                for piece in pieces:
                    hasher.update(piece)
                    size += len(piece)
                last_batch = not ahead
                if last_batch:
                    batch = next(batches, None)
                    if batch is not None:
                        ahead.append(pool.submit(self._fetch, batch))
                        last_batch = False
                if last_batch:
                    self._verify(record, size, hasher)
                yield from pieces
            self._verify(record, size, hasher)
        finally:
            for future in ahead:
                future.cancel()

    def _verify(self, record: StreamRecord, size: int, hasher: Any) -> None:
        if size != record.info.size or hasher.hexdigest() != record.info.checksum:
            raise self._damaged(
                record,
                f"read {size} bytes with checksum {hasher.hexdigest()[:16]}, expected "
                f"{record.info.size} bytes with checksum {record.info.checksum[:16]}",
            )

    def _damaged(self, record: StreamRecord, what: str) -> RepositoryDamaged:
        return RepositoryDamaged(
            f"backup set {self.info.id}, stream {record.info.name!r}: {what}; "
            "run `dbs check --read-data` to see all damage"
        )


class _GroupCache:
    """The plaintext of recently opened groups, least recently used out (thread-safe)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[tuple[bytes, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[bytes, int]) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[bytes, int], value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
