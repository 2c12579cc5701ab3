"""Test doubles around real parts: a backup set with one stream changed on the way out (a
loader bug, a damaged chunk), and a job that is stopped once data flows."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dbs.streams import StreamInfo

Change = Callable[[Iterator[bytes]], Iterator[bytes]]


class AlteredReader:
    def __init__(self, inner: Any, stream: str, change: Change) -> None:
        self.inner, self.stream, self.change = inner, stream, change

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta: Mapping[str, Any] = self.inner.metadata
        return meta

    def list_streams(self) -> list[StreamInfo]:
        streams: list[StreamInfo] = self.inner.list_streams()
        return streams

    def open_stream(self, name: str) -> Iterator[bytes]:
        blocks: Iterator[bytes] = self.inner.open_stream(name)
        return self.change(blocks) if name == self.stream else blocks


def replace(old: bytes, new: bytes) -> Change:
    """The stream (a small test table's) with ``old`` replaced by ``new``."""

    def change(blocks: Iterator[bytes]) -> Iterator[bytes]:
        yield b"".join(blocks).replace(old, new)

    return change


def without_last_row(blocks: Iterator[bytes]) -> Iterator[bytes]:
    data = b"".join(blocks)  # small test table
    yield data[: data.rstrip(b"\n").rfind(b"\n") + 1]


def breaking_off(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """All the stream's data, then the error a damaged chunk raises."""
    from dbs.repo.errors import RepositoryDamaged

    yield from blocks
    raise RepositoryDamaged("a chunk of this stream failed its check")


class StoppingProgress:
    """A Progress that is asked to stop once data starts to flow, as StopBackupPlan does."""

    def set_total(self, *, bytes_total: int | None = None, items_total: int | None = None) -> None:
        pass

    def advance(self, *, bytes_done: int = 0, items_done: int = 0) -> None:
        from dbs.jobs.progress import JobCancelled

        if bytes_done:
            raise JobCancelled("the job was stopped")

    def step(self, message: str) -> None:
        self.last_step = message
