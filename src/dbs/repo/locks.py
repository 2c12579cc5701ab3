"""Repository locks: objects under ``locks/``.

Backup writers and ``check`` take shared locks, ``prune`` an exclusive one.
Each side creates its lock first and then lists the others, so of two racing
parties at least one sees the other and backs off. A lock records its owner
(host, pid, process start time); it is stale when that process is gone (same
host) or when it has not been refreshed for ``STALE_AFTER`` (another host).
Only stale locks are ever broken.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from dbs.repo.errors import RepositoryLocked
from dbs.repo.layout import LOCKS_PREFIX
from dbs.storage.base import ObjectNotFoundError, ObjectStore

LockKind = Literal["shared", "exclusive"]

STALE_AFTER = timedelta(hours=1)
REFRESH_EVERY = timedelta(minutes=5)


def _process_start(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (tells a reused pid apart)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


@dataclass(frozen=True)
class LockInfo:
    key: str
    kind: LockKind
    host: str
    pid: int
    process_start: str | None
    purpose: str
    refreshed_at: datetime

    def is_stale(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        if self.host == socket.gethostname():
            if _process_start(self.pid) is None:
                return True  # the owner process is gone
            return self.process_start is not None and _process_start(self.pid) != self.process_start
        return now - self.refreshed_at > STALE_AFTER

    def describe(self) -> str:
        return (
            f"{self.kind} lock {self.key} held by pid {self.pid} on {self.host} for "
            f"{self.purpose!r} (last refreshed {self.refreshed_at:%Y-%m-%d %H:%M:%S} UTC)"
        )


def read_locks(store: ObjectStore) -> list[LockInfo]:
    locks: list[LockInfo] = []
    for info in store.list(LOCKS_PREFIX):
        try:
            raw: dict[str, Any] = json.loads(store.get(info.key))
            locks.append(
                LockInfo(
                    key=info.key,
                    kind=raw["kind"],
                    host=raw["host"],
                    pid=int(raw["pid"]),
                    process_start=raw.get("process_start"),
                    purpose=str(raw.get("purpose", "")),
                    refreshed_at=datetime.fromisoformat(raw["refreshed_at"]),
                )
            )
        except ObjectNotFoundError:
            continue  # released while we listed
        except (ValueError, KeyError, TypeError):
            # Unreadable lock: treat as held, refreshed now, so it is never broken by accident.
            locks.append(
                LockInfo(info.key, "exclusive", "?", -1, None, "unreadable lock", datetime.now(UTC))
            )
    return locks


class RepositoryLock:
    """A lock this process holds; ``release`` removes it."""

    def __init__(self, store: ObjectStore, kind: LockKind, purpose: str) -> None:
        self.store = store
        self.kind = kind
        self.purpose = purpose
        self.key = f"{LOCKS_PREFIX}{secrets.token_hex(16)}"
        self._refreshed = datetime.now(UTC)
        self._lock = threading.Lock()
        self.released = False

    def _body(self) -> bytes:
        pid = os.getpid()
        return json.dumps(
            {
                "format": "dbs-lock",
                "version": 1,
                "kind": self.kind,
                "host": socket.gethostname(),
                "pid": pid,
                "process_start": _process_start(pid),
                "purpose": self.purpose,
                "refreshed_at": self._refreshed.isoformat(),
            }
        ).encode()

    @classmethod
    def acquire(
        cls, store: ObjectStore, kind: LockKind, purpose: str, *, break_stale: bool = False
    ) -> tuple[RepositoryLock, list[LockInfo]]:
        """Take a lock or raise RepositoryLocked naming the holder; returns the stale locks seen.

        Stale locks never block; with ``break_stale`` they are also deleted.
        """
        lock = cls(store, kind, purpose)
        store.put(lock.key, lock._body(), create_only=True)
        stale: list[LockInfo] = []
        for other in read_locks(store):
            if other.key == lock.key:
                continue
            if kind == "shared" and other.kind == "shared":
                continue
            if other.is_stale():
                if break_stale:
                    store.delete(other.key)
                stale.append(other)
                continue
            lock.release()
            hint = (
                "wait for it to finish and try again"
                if other.host != "?"
                else "inspect the object and delete it if no process uses the repository"
            )
            raise RepositoryLocked(f"repository is locked: {other.describe()}; {hint}")
        return lock, stale

    def refresh_if_due(self) -> None:
        now = datetime.now(UTC)
        with self._lock:
            if self.released or now - self._refreshed < REFRESH_EVERY:
                return
            self._refreshed = now
            self.store.put(self.key, self._body())

    def release(self) -> None:
        with self._lock:
            if not self.released:
                self.released = True
                self.store.delete(self.key)
