"""Fixtures for engine tests: a real repository to back up into."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dbs.storage.local import LocalStore


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[object]:
    """A fresh encrypted repository on local storage (the real one, not a stand-in)."""
    from dbs.repo import KeySource, Repository

    store = LocalStore(tmp_path / "repo")
    yield Repository.create(store, KeySource.generate_keyfile(tmp_path / "repo.key"))
