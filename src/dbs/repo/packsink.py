"""Fills packs with sealed blobs and uploads them in the background.

At most ``MAX_QUEUED`` sealed packs wait for upload; adding blobs blocks when
the uploaders fall behind, so memory stays at about
(1 + MAX_QUEUED + UPLOADERS) x pack target whatever the stream size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from dbs.repo.crypto import Crypto
from dbs.repo.errors import RepositoryError
from dbs.repo.index import PackRecord
from dbs.repo.layout import new_pack_id, pack_key
from dbs.repo.pack import Member, PackBuilder
from dbs.storage.base import ObjectStore

PACK_TARGET = 16 << 20
MAX_QUEUED = 1
UPLOADERS = 1  # S3Store parallelizes the parts of one pack itself

_STOP = None


class PackSink:
    """Not thread-safe for ``add``: callers serialize (the backup-set writer holds its lock)."""

    def __init__(
        self,
        store: ObjectStore,
        crypto: Crypto,
        *,
        target: int = PACK_TARGET,
        after_upload: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._crypto = crypto
        self._target = target
        self._after_upload = after_upload
        self._current: PackBuilder | None = None
        self._queue: queue.Queue[PackBuilder | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._error: BaseException | None = None
        self._uploaded: list[PackRecord] = []
        self._done_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._upload_loop, name="dbs-pack-upload", daemon=True)
            for _ in range(UPLOADERS)
        ]
        for thread in self._threads:
            thread.start()
        self._closed = False

    def add(self, chunk_id: bytes, kind: int, flags: int, payload: bytes, raw_length: int) -> None:
        self._raise_upload_error()
        if self._current is None:
            self._current = PackBuilder(self._crypto, new_pack_id())
        pack = self._current
        pack.add(chunk_id, kind, flags, payload, raw_length)
        if pack.size >= self._target:
            self._seal()

    def add_group(self, flags: int, payload: bytes, members: list[Member]) -> None:
        self._raise_upload_error()
        if self._current is None:
            self._current = PackBuilder(self._crypto, new_pack_id())
        pack = self._current
        pack.add_group(flags, payload, members)
        if pack.size >= self._target:
            self._seal()

    def _seal(self) -> None:
        if self._current is not None and self._current.count:
            self._queue.put(self._current)
        self._current = None

    def finish(self) -> list[PackRecord]:
        """Upload what is left and wait; the packs written, in order of completion."""
        self._seal()
        self._stop_threads()
        self._raise_upload_error()
        return list(self._uploaded)

    def abort(self) -> list[PackRecord]:
        """Stop without uploading the open pack; the packs already uploaded (now garbage)."""
        self._current = None
        self._stop_threads()
        return list(self._uploaded)

    def _stop_threads(self) -> None:
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join()

    def _raise_upload_error(self) -> None:
        if self._error is not None:
            raise RepositoryError(
                f"uploading a pack to {self._store.describe()} failed: {self._error}"
            ) from self._error

    def _upload_loop(self) -> None:
        while True:
            pack = self._queue.get()
            if pack is None:
                return
            if self._error is not None:
                continue  # drain after a failure
            try:
                pieces = pack.finish()
                # Pack names are random: a plain put (S3 multipart) suffices.
                self._store.put(pack_key(pack.pack_id), pieces)
                with self._done_lock:
                    self._uploaded.append(PackRecord(pack.pack_id, pack.size, bytes(pack.entries)))
                if self._after_upload is not None:
                    self._after_upload()
            except BaseException as exc:  # reported to the writer on its next call
                self._error = exc
