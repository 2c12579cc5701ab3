"""Executors run queued jobs. The interface is small so a distributed executor on an
existing task queue (Celery on RabbitMQ, say) can replace the in-process one without
touching plans or engines."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from dbs.jobs.progress import CatalogProgress
from dbs.jobs.runner import run_job
from dbs.service.context import ServiceContext


class Executor(Protocol):
    def submit(self, job_id: str) -> None:
        """Run the queued job eventually; submitting one already running or done is a no-op."""
        ...

    def cancel(self, job_id: str) -> None:
        """Ask a running job to stop; it ends in state ``stop``."""
        ...


class InProcessExecutor:
    """A thread pool in the server process."""

    def __init__(self, ctx: ServiceContext, workers: int = 2) -> None:
        self._ctx = ctx
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._lock = threading.Lock()
        self._submitted: dict[str, Future[bool]] = {}
        self._progress: dict[str, CatalogProgress] = {}

    def submit(self, job_id: str) -> None:
        with self._lock:
            if job_id in self._submitted and not self._submitted[job_id].done():
                return
            self._submitted[job_id] = self._pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> bool:
        def remember(progress: CatalogProgress) -> None:
            with self._lock:
                self._progress[job_id] = progress

        try:
            return run_job(self._ctx, job_id, on_progress=remember)
        finally:
            with self._lock:
                self._progress.pop(job_id, None)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            progress = self._progress.get(job_id)
        if progress is not None:
            progress.cancelled.set()

    def busy(self) -> bool:
        with self._lock:
            return any(not f.done() for f in self._submitted.values())

    def shutdown(self) -> None:
        with self._lock:
            progresses = list(self._progress.values())
        for progress in progresses:
            progress.cancelled.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
