"""A plan class's throughput limit, enforced on the bytes an engine hands the repository."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator

from dbs.streams import BackupWriter, Boundaries, Progress, StreamInfo


class RateLimiter:
    """A token bucket shared by all streams of one job (bytes per second)."""

    def __init__(self, bytes_per_second: int, burst_seconds: float = 0.25) -> None:
        self.rate = float(bytes_per_second)
        self.capacity = max(self.rate * burst_seconds, 64 * 1024.0)
        self._tokens = self.capacity
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self, amount: int) -> None:
        """Block until ``amount`` bytes may pass."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= min(amount, self.capacity):
                    self._tokens -= amount  # may go negative: large pieces borrow from the future
                    return
                wait = (min(amount, self.capacity) - self._tokens) / self.rate
            time.sleep(min(wait, 0.5))


class MeteredWriter:
    """Wraps a BackupWriter: counts bytes for progress and applies the class limit."""

    def __init__(
        self, inner: BackupWriter, progress: Progress, limiter: RateLimiter | None
    ) -> None:
        self.inner = inner
        self.progress = progress
        self.limiter = limiter

    def add_stream(
        self, name: str, chunks: Iterable[bytes], boundaries: Boundaries = None
    ) -> StreamInfo:
        return self.inner.add_stream(name, self._metered(chunks), boundaries)

    def _metered(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for piece in chunks:
            if self.limiter is not None:
                self.limiter.take(len(piece))
            self.progress.advance(bytes_done=len(piece))
            yield piece
