"""Pulling an RDB snapshot over the replication protocol (what ``redis-cli --rdb`` does).

Handshake: ``REPLCONF rdb-only 1`` (Redis 7.0+: the master will not buffer the
replication stream for us, so a long transfer cannot hit the replica output
buffer limit), ``REPLCONF capa eof`` (allows diskless transfer), then
``PSYNC ? -1`` whose ``+FULLRESYNC <replid> <offset>`` names the position the
snapshot is consistent with. While the master forks it sends bare ``\\n``
keepalives; then the payload comes either sized (``$<len>\\r\\n<bytes>``) or,
diskless, delimited (``$EOF:<40-byte mark>\\r\\n<bytes><mark>``).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import redis

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.redis.connection import RawConnection
from dbs.streams import Progress

_MARK_LEN = 40


@dataclass
class SyncInfo:
    replid: str
    offset: int
    size: int | None  # None for the diskless EOF-mark framing
    rdb_only: bool
    framing: str = ""


def _handshake(conn: RawConnection) -> tuple[SyncInfo, bytes]:
    rdb_only = True
    try:
        conn.call("REPLCONF", "rdb-only", "1")
    except redis.ResponseError:
        rdb_only = False  # before 7.0: works, the master just buffers writes for us
    conn.call("REPLCONF", "capa", "eof")
    conn.call("REPLCONF", "capa", "psync2")
    reply = conn.call("PSYNC", "?", "-1")
    parts = reply.split()
    if not parts or parts[0] != b"+FULLRESYNC" or len(parts) < 3:
        raise EngineError("start replication", f"unexpected PSYNC reply {reply[:80]!r}")
    info = SyncInfo(parts[1].decode(), int(parts[2]), None, rdb_only)
    # Skip the keepalive newlines sent while the master forks and writes.
    while True:
        if not conn.buffer:
            conn.read_some_into_buffer()
        if conn.buffer.startswith(b"\n"):
            conn.buffer = conn.buffer.lstrip(b"\n")
            continue
        return info, conn.read_line()


def _sized(conn: RawConnection, size: int, progress: Progress) -> Generator[bytes, None, None]:
    left = size
    while left > 0:
        data = conn.read_some()
        if len(data) > left:
            data, conn.buffer = data[:left], data[left:]
        left -= len(data)
        progress.advance(bytes_done=len(data))
        yield data


def _until_mark(
    conn: RawConnection, mark: bytes, progress: Progress
) -> Generator[bytes, None, None]:
    tail = b""
    while True:
        data = tail + conn.read_some()
        at = data.find(mark)
        if at >= 0:
            progress.advance(bytes_done=at)
            yield data[:at]
            return
        # Hold back what could be the start of the mark split across reads.
        cut = max(0, len(data) - _MARK_LEN)
        tail = data[cut:]
        if cut:
            progress.advance(bytes_done=cut)
            yield data[:cut]


def pull_rdb(endpoint: Endpoint, progress: Progress) -> tuple[SyncInfo, RdbBody]:
    """Start a full sync; return where it stands and the RDB bytes (close them when done)."""
    try:
        conn = RawConnection(endpoint)
    except (OSError, redis.ResponseError) as exc:
        raise EngineError("connect for replication", str(exc)) from exc
    try:
        info, header = _handshake(conn)
    except redis.ResponseError as exc:
        conn.close()
        raise EngineError(
            "start replication",
            f"{exc}; the account needs the PSYNC and REPLCONF commands "
            "(e.g. ACL SETUSER backup +psync +replconf +ping +info)",
        ) from exc
    except BaseException:
        conn.close()
        raise
    if header.startswith(b"$EOF:"):
        mark = header[5:]
        if len(mark) != _MARK_LEN:
            conn.close()
            raise EngineError("read snapshot", f"bad EOF mark in {header[:60]!r}")
        info.framing = "eof-mark"
        body = _until_mark(conn, mark, progress)
    elif header.startswith(b"$"):
        info.size = int(header[1:])
        info.framing = "sized"
        progress.set_total(bytes_total=info.size)
        body = _sized(conn, info.size, progress)
    else:
        conn.close()
        raise EngineError("read snapshot", f"unexpected reply {header[:60]!r}")

    return info, RdbBody(conn, body)


class RdbBody:
    """The RDB bytes of a transfer, read off its connection as they are iterated.

    ``close()`` ends the transfer and closes the connection, whether or not iteration
    began (a generator closed before its first step would run none of its cleanup); the
    end of the bytes, or an error reading them, closes it too. The master then drops us
    as a replica and, for a diskless transfer, kills the child it forked for us."""

    def __init__(self, conn: RawConnection, blocks: Generator[bytes, None, None]) -> None:
        self._conn = conn
        self._blocks = blocks

    def __iter__(self) -> RdbBody:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._blocks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._blocks.close()
        self._conn.close()
