"""Fixtures for plan tests: an initialized, authorized, activated home."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.foundation.cli import DbsCommand


@pytest.fixture
def dbs(tmp_path: Path) -> DbsCommand:
    command = DbsCommand(tmp_path / "home")
    command("init", check=True)
    command("authorize", check=True)
    command("storage", "activate", "--accept-agreement", check=True)
    return command


def make_sqlite_source(path: Path, rows: int = 2000, blob_size: int = 64) -> Path:
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER, note BLOB)"
    )
    conn.executemany(
        "INSERT INTO accounts (owner, balance, note) VALUES (?, ?, ?)",
        [(f"owner {i} ✓", 100, bytes([i % 256]) * blob_size) for i in range(rows)],
    )
    conn.execute("CREATE INDEX accounts_owner ON accounts (owner)")
    conn.commit()
    conn.close()
    return path


def sqlite_digest(path: Path) -> str:
    """An ordered digest of every table's rows and the schema, computed with sqlite3 alone."""
    conn = sqlite3.connect(path)
    digest = hashlib.sha256()
    for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"):
        digest.update(sql.encode())
    tables = [
        r[0]
        for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
    ]
    for table in tables:
        for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
            digest.update(repr(row).encode())
    conn.close()
    return digest.hexdigest()


def plan_id(dbs: DbsCommand, engine: str, plan_class: str = "xlarge") -> str:
    plan = dbs(
        "plan", "create", "--engine", engine, "--class", plan_class, "--json", check=True
    ).json()
    return str(plan["BackupPlanId"])
