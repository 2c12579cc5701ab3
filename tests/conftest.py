"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from testbed.s3server import S3Server, make_s3_store, start_s3_server, stop_s3_server

from dbs.storage.base import ObjectStore
from dbs.storage.local import LocalStore


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real ``moto_server`` on a free loopback port for the whole session.

    It authenticates requests: use ``s3_server.access_key_id`` and
    ``s3_server.secret_access_key`` (or ``s3_server.client()`` for boto3).
    """
    server = start_s3_server()
    try:
        yield server
    finally:
        stop_s3_server(server)


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> Iterator[str]:
    """A fresh, empty bucket on the test server, removed after the test."""
    bucket = s3_server.create_bucket()
    try:
        yield bucket
    finally:
        s3_server.delete_bucket(bucket)


@pytest.fixture(params=["local", "s3"])
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    """An empty object store on each backend (the S3 one runs against moto_server)."""
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
        return
    server: S3Server = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    yield make_s3_store(server, bucket)
