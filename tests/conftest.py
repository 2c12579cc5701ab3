"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dbs.storage.local import LocalStore


@pytest.fixture(params=["local"])
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """An empty object store on each backend (the S3 one runs against moto_server)."""
    yield LocalStore(tmp_path / "store")
