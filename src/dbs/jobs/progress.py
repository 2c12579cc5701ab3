"""Progress of a running job, kept in the catalog so any process can show it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from dbs.catalog import Catalog
from dbs.catalog.models import Job

_FLUSH_EVERY = 0.5  # seconds between catalog writes
_MAX_LOG_LINES = 500


class JobCancelled(Exception):
    """The job was asked to stop."""


class CatalogProgress:
    """Implements `dbs.streams.Progress`; thread-safe; also the job's cancel flag."""

    def __init__(self, catalog: Catalog, job_id: str) -> None:
        self._catalog = catalog
        self._job_id = job_id
        self._lock = threading.Lock()
        self._bytes_done = 0
        self._items_done = 0
        self._bytes_total: int | None = None
        self._items_total: int | None = None
        self._phase = ""
        self._new_lines: list[str] = []
        self._last_flush = 0.0
        self.cancelled = threading.Event()

    def set_total(self, *, bytes_total: int | None = None, items_total: int | None = None) -> None:
        with self._lock:
            if bytes_total is not None:
                self._bytes_total = bytes_total
            if items_total is not None:
                self._items_total = items_total
        self._maybe_flush()

    def advance(self, *, bytes_done: int = 0, items_done: int = 0) -> None:
        if self.cancelled.is_set():
            raise JobCancelled("the job was stopped")
        with self._lock:
            self._bytes_done += bytes_done
            self._items_done += items_done
        self._maybe_flush()

    def step(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        with self._lock:
            self._new_lines.append(f"{stamp} {message}")
        self.flush()

    def phase(self, name: str) -> None:
        with self._lock:
            self._phase = name
        self.step(f"phase: {name}")

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush >= _FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._new_lines = self._new_lines, []
            snapshot = (
                self._bytes_done,
                self._items_done,
                self._bytes_total,
                self._items_total,
                self._phase,
            )
            self._last_flush = time.monotonic()
        with self._catalog.session() as session:
            job = session.get(Job, self._job_id)
            if job is None:
                return
            job.bytes_done, job.items_done, job.bytes_total, job.items_total, job.phase = snapshot
            if job.stop_requested:  # StopBackupPlan, possibly from another process
                self.cancelled.set()
            if lines:
                job.log = (list(job.log or []) + lines)[-_MAX_LOG_LINES:]


class EngineProgress:
    """What the engine sees during a backup: its item counts and totals pass through, its
    byte counts do not, because the metered writer counts the bytes that really reach
    the repository."""

    def __init__(self, job: CatalogProgress) -> None:
        self.job = job

    def set_total(self, *, bytes_total: int | None = None, items_total: int | None = None) -> None:
        self.job.set_total(bytes_total=bytes_total, items_total=items_total)

    def advance(self, *, bytes_done: int = 0, items_done: int = 0) -> None:
        self.job.advance(items_done=items_done)

    def step(self, message: str) -> None:
        self.job.step(message)
