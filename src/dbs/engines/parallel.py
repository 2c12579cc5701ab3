"""Running an engine's work on several threads, where the first failure stops the rest.

A backup copies many tables at once and a restore loads many at once; every engine
needs the same discipline around that, so it is written once here:

- each *slot* (a database connection, or just a number) gets one thread, and the
  threads take items from one shared list, in the order given;
- when an item fails, no thread takes another, ``interrupt`` (if given) is called once
  to unblock threads stuck in a call (kill a child process, ``KILL`` a server-side
  statement), and work that calls `Workers.check` between pieces (or reports to the
  progress `Workers.watch` returns) leaves its item;
- every thread is joined before `Workers.run` returns or raises, so nothing runs on
  behind the caller's back;
- the first failure is raised, naming its step: an `EngineError` as it is, any other
  exception as ``explain(item, exc)`` turns it into one. What other threads raise
  after it (often *because* of it) is not reported.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from dbs.engines.base import EngineError
from dbs.streams import Progress

S = TypeVar("S")  # what a thread works with: a connection, a number
T = TypeVar("T")  # one item of work
R = TypeVar("R")  # what an item's work returns

# Every engine thread is named so; tests look for leftovers by this prefix.
THREAD_PREFIX = "dbs-engine"

Explain = Callable[[T, Exception], BaseException]


class Stopped(Exception):
    """Raised inside work to leave an item because another item failed; never reported."""


class Workers(Generic[T]):
    """One run of parallel work (see the module docstring). Not reusable."""

    def __init__(
        self,
        name: str,
        *,
        explain: Explain[T] | None = None,
        interrupt: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.stopping = threading.Event()
        self._explain = explain
        self.interrupt = interrupt  # may be set once the slots exist, before run()
        self._lock = threading.Lock()
        self._failure: BaseException | None = None
        self._started = False

    def check(self) -> None:
        """Call between pieces of work: raises `Stopped` once another item failed."""
        if self.stopping.is_set():
            raise Stopped(self.name)

    def watch(self, progress: Progress) -> Progress:
        """``progress`` whose ``advance`` first calls `check`: work that reports progress
        leaves its item soon after another one failed."""
        return _Watched(progress, self)

    def run(self, work: Callable[[S, T], R], items: Sequence[T], slots: Sequence[S]) -> list[R]:
        """``work(slot, item)`` for every item, one thread per slot; results in item order."""
        if self._started:
            raise RuntimeError(f"workers {self.name!r} already ran")
        self._started = True
        pending = deque(enumerate(items))
        results: dict[int, R] = {}

        def worker(slot: S) -> None:
            while not self.stopping.is_set():
                with self._lock:
                    if not pending:
                        return
                    index, item = pending.popleft()
                try:
                    results[index] = work(slot, item)
                except Stopped:
                    return
                except BaseException as exc:  # reported by run(), in the caller's thread
                    self.fail(item, exc)
                    return

        used = list(slots)[: max(1, len(items))]
        threads = [
            threading.Thread(
                target=worker, args=(slot,), name=f"{THREAD_PREFIX}-{self.name}-{n}", daemon=True
            )
            for n, slot in enumerate(used)
        ]
        try:
            for thread in threads:
                thread.start()
        finally:
            self._join(threads)
        if self._failure is not None:
            raise self._failure
        return [results[i] for i in range(len(items))]

    def run_tasks(
        self: Workers[Callable[[], R]], tasks: Sequence[Callable[[], R]], threads: int
    ) -> list[R]:
        """Run ``tasks`` (callables) on ``threads`` threads; their results in task order."""
        return self.run(lambda _slot, task: task(), tasks, range(max(1, threads)))

    def fail(self, item: T, exc: BaseException) -> None:
        """Record a failure (the first one wins), stop the others and interrupt them."""
        if isinstance(exc, Exception) and not isinstance(exc, EngineError) and self._explain:
            exc = self._explain(item, exc)
        with self._lock:
            first = self._failure is None
            if first:
                self._failure = exc
            self.stopping.set()
        if first and self.interrupt is not None:
            with contextlib.suppress(Exception):  # best effort: the failure is what matters
                self.interrupt()

    def _join(self, threads: list[threading.Thread]) -> None:
        try:
            for thread in threads:
                if thread.ident is not None:
                    thread.join()
        except BaseException as exc:  # e.g. KeyboardInterrupt in the caller: stop, then wait
            self.fail(None, exc)  # type: ignore[arg-type]
            for thread in threads:
                if thread.ident is not None:
                    thread.join()
            raise


class _Watched:
    def __init__(self, progress: Progress, workers: Workers[Any]) -> None:
        self.progress = progress
        self.workers = workers

    def set_total(self, *, bytes_total: int | None = None, items_total: int | None = None) -> None:
        self.progress.set_total(bytes_total=bytes_total, items_total=items_total)

    def advance(self, *, bytes_done: int = 0, items_done: int = 0) -> None:
        self.workers.check()
        self.progress.advance(bytes_done=bytes_done, items_done=items_done)

    def step(self, message: str) -> None:
        self.progress.step(message)
