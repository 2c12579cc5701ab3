"""open_store: from the catalog's plain settings (plus a separate secret) to a working store."""

from __future__ import annotations

from pathlib import Path

import pytest
from testbed.s3server import S3Server

from dbs.errors import InvalidParameter
from dbs.storage.factory import open_store
from dbs.storage.local import LocalStore
from dbs.storage.s3 import S3Store


def _s3_config(server: S3Server, bucket: str) -> dict[str, str]:
    return {
        "type": "s3",
        "endpoint": server.endpoint,
        "bucket": bucket,
        "region": server.region,
        "access_key_id": server.access_key_id,
        "prefix": "dbs",
        "part_size_mib": "8",
        "max_concurrency": "2",
        "allow_http": "true",
    }


def test_local(tmp_path: Path) -> None:
    store = open_store({"type": "local", "path": str(tmp_path / "repo")})
    assert isinstance(store, LocalStore)
    store.put("k", b"v")
    assert (tmp_path / "repo" / "k").read_bytes() == b"v"


def test_s3(s3_server: S3Server, s3_bucket: str) -> None:
    store = open_store(
        _s3_config(s3_server, s3_bucket), secret_access_key=s3_server.secret_access_key
    )
    assert isinstance(store, S3Store)
    assert (store.part_size, store.max_concurrency) == (8 << 20, 2)
    store.put("k", b"v")
    assert store.get("k") == b"v"
    assert store.describe() == f"s3://{s3_bucket}/dbs at {s3_server.endpoint}"


def test_s3_needs_the_secret(s3_server: S3Server) -> None:
    with pytest.raises(InvalidParameter, match="'secret_access_key' is missing"):
        open_store(_s3_config(s3_server, "some-bucket"))


def test_secret_must_not_be_stored_with_settings(s3_server: S3Server) -> None:
    config = {**_s3_config(s3_server, "some-bucket"), "secret_access_key": "s3cr3t"}
    with pytest.raises(InvalidParameter, match="must not be part of the stored settings") as e:
        open_store(config, secret_access_key="s3cr3t")
    assert "s3cr3t" not in str(e.value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "ftp"}, "'type' is 'ftp'; use one of: local, s3"),
        ({}, "'type' is None"),
        ({"type": "local"}, "missing field.*path"),
        ({"type": "local", "path": "/x", "bucket": "b"}, "unknown field.*bucket"),
        ({"type": "s3", "endpoint": "http://h", "bucket": "bkt"}, "missing.*region, access_key_id"),
    ],
)
def test_bad_configs_name_the_field(config: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        open_store(config, secret_access_key="x")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("allow_http", "maybe", "'allow_http' is 'maybe'"),
        ("part_size_mib", "big", "'part_size_mib' is 'big'"),
        ("allow_http", "false", "plain http"),
    ],
)
def test_bad_s3_values(s3_server: S3Server, field: str, value: str, message: str) -> None:
    config = {**_s3_config(s3_server, "some-bucket"), field: value}
    with pytest.raises(InvalidParameter, match=message):
        open_store(config, secret_access_key="x")
