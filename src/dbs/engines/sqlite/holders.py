"""Which other processes have a database file open (so we never overwrite it under them)."""

from __future__ import annotations

import os
from pathlib import Path


def processes_holding(path: Path) -> list[int]:
    """PIDs (other than ours) with ``path`` or its -wal/-shm/-journal open.

    Reads /proc, so it sees processes this user may inspect (all of them as
    root); elsewhere it finds nothing and the exclusive lock taken by the
    restore is the remaining guard.
    """
    real = os.path.realpath(path)
    watched = {real, real + "-wal", real + "-shm", real + "-journal"}
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue  # gone, or not ours to inspect
        for fd in fds:
            try:
                if os.readlink(fd) in watched:
                    found.append(int(entry.name))
                    break
            except OSError:
                continue
    return sorted(found)
