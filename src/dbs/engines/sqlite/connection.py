"""Opening SQLite files named by endpoints."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

from dbs.engines.base import EngineError
from dbs.engines.endpoint import Endpoint
from dbs.engines.sqlite.format import SQLITE_HEADER

# A writer in another process may hold the lock briefly; wait rather than fail.
BUSY_TIMEOUT_SECONDS = 30.0


def endpoint_path(endpoint: Endpoint, step: str) -> Path:
    """The absolute file path of a sqlite endpoint."""
    if endpoint.engine != "sqlite":
        raise EngineError(step, f"expected a sqlite:/// endpoint, got {endpoint.display()}")
    path = Path(endpoint.path)
    if not path.is_absolute():
        raise EngineError(
            step, f"{endpoint.path!r} is not absolute; use sqlite:///absolute/path.db"
        )
    return path


def has_sqlite_header(path: Path) -> bool:
    """Whether the file starts with the SQLite 3 magic string."""
    with path.open("rb") as f:
        return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (we manage transactions explicitly)."""
    mode = "ro" if readonly else "rw"
    uri = f"file:{quote(str(path))}?mode={mode}"
    conn = sqlite3.connect(
        uri,
        uri=True,
        timeout=BUSY_TIMEOUT_SECONDS,
        isolation_level=None,
        check_same_thread=False,
    )
    # Text that is not valid UTF-8 must survive digests and copies untouched.
    conn.text_factory = bytes
    return conn


def pragma_value(conn: sqlite3.Connection, pragma: str) -> object:
    row = conn.execute(f"PRAGMA {pragma}").fetchone()
    return None if row is None else row[0]
