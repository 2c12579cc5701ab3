"""Conformance harness for the SQLite engine: real database files in a temp directory.

The digest is computed with SQL alone (``quote()``/``typeof()`` of every value,
rows in rowid/primary-key order, plus the schema text), independently of the
engine's own digest code.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path

from dbs.engines.endpoint import Endpoint, parse_endpoint
from dbs.engines.selection import ObjectSelection
from dbs.engines.sqlite import ENGINE

# Every storage class, zero-length and zero-byte BLOBs, unicode, WITHOUT ROWID,
# views, triggers, indexes, FTS5, AUTOINCREMENT, rowid gaps, a generated column.
VARIED_SCHEMA = """
CREATE TABLE kinds (i INTEGER, r REAL, t TEXT, b BLOB, n, any_value);
INSERT INTO kinds VALUES
  (0, 0.0, '', x'', NULL, 1),
  (-9223372036854775808, -0.0, 'héllo wörld ✓ 日本語 🐍', x'00', NULL, 'text'),
  (9223372036854775807, 1.7976931348623157e308, 'line1
line2', x'0000000000', NULL, x'ff00ff'),
  (42, 2.2250738585072014e-308, 'O''Reilly "quoted"', zeroblob(4096), NULL, 3.25),
  (7, 1e-5, '7', x'00ff7f80', NULL, NULL);
INSERT INTO kinds(rowid, i, t) VALUES (1000, 1, 'after a gap');
DELETE FROM kinds WHERE i = 7;
INSERT INTO kinds(i, t) VALUES (8, CAST(x'c328' AS TEXT));
CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL UNIQUE,
  balance INTEGER NOT NULL CHECK (balance >= 0), doubled INTEGER AS (balance * 2));
INSERT INTO accounts(owner, balance) VALUES ('ann', 100), ('bob', 250), ('čeněk', 0);
CREATE TABLE settings (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
INSERT INTO settings VALUES ('z', x'00'), ('a', 'first'), ('m', 3.5);
CREATE INDEX kinds_t ON kinds(t);
CREATE VIEW rich AS SELECT owner, balance FROM accounts WHERE balance > 100;
CREATE TABLE audit (at INTEGER, what TEXT);
CREATE TRIGGER accounts_audit AFTER UPDATE ON accounts
  BEGIN INSERT INTO audit VALUES (new.id, 'balance ' || new.balance); END;
UPDATE accounts SET balance = balance + 1 WHERE owner = 'bob';
CREATE VIRTUAL TABLE docs USING fts5(title, body);
INSERT INTO docs VALUES ('fox', 'the quick brown fox'), ('dog', 'the lazy dog ünïcödé');
"""

# ~17 MB in one table, so that a backup or a restore of it is mid-stream after a few pieces.
LARGE_TABLE = """
CREATE TABLE big (id INTEGER PRIMARY KEY, pad BLOB);
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 40000)
INSERT INTO big SELECT x, randomblob(400) FROM n;
"""


def make_varied_database(path: Path, *, wal: bool = True) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if wal:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(VARIED_SCHEMA)
    finally:
        conn.close()


def sql_digest(path: Path) -> dict[str, str]:
    """{"schema": ..., "main.<table>": ...} computed from SQL text values only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.text_factory = bytes
    try:
        out: dict[str, str] = {}
        schema = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name"
        ).fetchall()
        out["schema"] = hashlib.sha256(repr(schema).encode()).hexdigest()
        tables = [
            r[1].decode()
            for r in conn.execute("PRAGMA table_list")
            if r[2] in (b"table", b"virtual") and not r[1].startswith(b"sqlite_")
        ]
        for table in tables:
            info = conn.execute(f'PRAGMA table_xinfo("{table}")').fetchall()
            cols = [c[1].decode() for c in info]
            # quote() shows TEXT vs BLOB vs numbers; %.17g keeps every bit of a REAL.
            exprs = " || '|' || ".join(
                f"""typeof("{c}") || CASE typeof("{c}") WHEN 'real' """
                f"""THEN printf('%.17g', "{c}") ELSE quote("{c}") END"""
                for c in cols
            )
            without_rowid = conn.execute(
                "SELECT wr FROM pragma_table_list WHERE name = ?", (table,)
            ).fetchone()[0]
            if without_rowid:
                pk = [c[1].decode() for c in sorted(info, key=lambda c: c[5]) if c[5]]
                query = f'SELECT {exprs} FROM "{table}" ORDER BY ' + ", ".join(pk)
            else:
                query = f"SELECT rowid || ':' || {exprs} FROM \"{table}\" ORDER BY rowid"
            h = hashlib.sha256()
            for (row,) in conn.execute(query):
                h.update(row + b"\n")
            out[f"main.{table}"] = h.hexdigest()
        return out
    finally:
        conn.close()


class SqliteHarness:
    engine = ENGINE

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dbs-sqlite-harness-"))

    def make_source(self) -> Endpoint:
        path = self.root / f"src_{uuid.uuid4().hex[:8]}.db"
        make_varied_database(path)
        return parse_endpoint(f"sqlite://{path}")

    def source_selection(self, source: Endpoint) -> ObjectSelection:
        return ObjectSelection.everything()

    def expected_objects(self, source: Endpoint) -> set[str]:
        return {"main", "main.kinds", "main.accounts", "main.settings", "main.audit", "main.docs"}

    def make_large_source(self) -> Endpoint:
        source = self.make_source()
        conn = sqlite3.connect(source.path, isolation_level=None)
        try:
            conn.executescript(LARGE_TABLE)
        finally:
            conn.close()
        return source

    def new_target(self) -> Endpoint:
        return parse_endpoint(f"sqlite://{self.root / f'restored_{uuid.uuid4().hex[:8]}.db'}")

    def digest(self, endpoint: Endpoint) -> dict[str, str]:
        return sql_digest(Path(endpoint.path))

    def restored_endpoint(self, target: Endpoint, source: Endpoint) -> Endpoint:
        return target

    def bad_credentials(self, source: Endpoint) -> Endpoint:
        # As root every file is readable, so "cannot read" is a file that is not a database.
        bogus = self.root / f"not_a_db_{uuid.uuid4().hex[:8]}.db"
        bogus.write_bytes(b"this is a text file, not SQLite\n" * 10)
        return parse_endpoint(f"sqlite://{bogus}")

    def sessions(self, endpoint: Endpoint) -> list[str]:
        """Handles this process holds on the file, its side files, or the engine's staging
        and snapshot files."""
        path = str(Path(endpoint.path).resolve())
        found = []
        for fd in Path("/proc/self/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            if target.startswith(path) or ".dbs-restore" in target or "/dbs-sqlite-" in target:
                found.append(target)
        return found

    def drop(self, endpoint: Endpoint) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(endpoint.path + suffix).unlink(missing_ok=True)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
