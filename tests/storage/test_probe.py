"""Storage probes: what `dbs storage activate` runs before it records a storage as active."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from testbed.ports import free_port
from testbed.s3server import S3Server, start_s3_server, stop_s3_server

from dbs.storage.base import ObjectStore
from dbs.storage.probe import PROBE_PREFIX, ProbeFailed, probe_store
from dbs.storage.s3 import RetryPolicy, S3Store
from tests.storage.faulty_proxy import FaultyProxy

FAST_RETRY = RetryPolicy(max_retries=2, init_backoff_s=0.01, max_backoff_s=0.05, retry_timeout_s=20)


def _store(server: S3Server, bucket: str, **overrides: str) -> S3Store:
    settings = {
        "endpoint": server.endpoint,
        "bucket": bucket,
        "region": server.region,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
        **overrides,
    }
    return S3Store(**settings, retry=FAST_RETRY)


def test_probe_passes_and_cleans_up(object_store: ObjectStore) -> None:
    object_store.put("existing/data", b"keep me")
    steps = probe_store(object_store)
    assert [step.name for step in steps] == ["put", "get", "list", "conditional create", "delete"]
    assert all(step.detail for step in steps)
    assert list(object_store.list(PROBE_PREFIX)) == []
    assert [info.key for info in object_store.list()] == ["existing/data"]
    assert object_store.get("existing/data") == b"keep me"


def test_probe_bad_secret_fails_at_put(s3_server: S3Server, s3_bucket: str) -> None:
    secret = "wrong-" + uuid.uuid4().hex
    with pytest.raises(ProbeFailed) as caught:
        probe_store(_store(s3_server, s3_bucket, secret_access_key=secret))
    assert caught.value.step == "put"
    assert str(caught.value).startswith("StorageError.InvalidCredentials: step 'put': ")
    assert secret not in str(caught.value)


def test_probe_missing_bucket_fails_at_put(s3_server: S3Server) -> None:
    bucket = "dbs-missing-" + uuid.uuid4().hex[:8]
    with pytest.raises(ProbeFailed) as caught:
        probe_store(_store(s3_server, bucket))
    assert caught.value.step == "put"
    assert caught.value.code == "StorageError.NoSuchBucket"
    assert f"bucket {bucket!r} does not exist" in caught.value.message


def test_probe_unreachable_endpoint_fails_at_put(s3_server: S3Server, s3_bucket: str) -> None:
    with pytest.raises(ProbeFailed) as caught:
        probe_store(_store(s3_server, s3_bucket, endpoint=f"http://127.0.0.1:{free_port()}"))
    assert caught.value.step == "put"
    assert caught.value.code == "StorageError.Unreachable"


@pytest.fixture(scope="module")
def open_s3_server() -> Iterator[S3Server]:
    # Without request authentication, so a proxy may drop a signed header.
    server = start_s3_server(authenticate=False)
    try:
        yield server
    finally:
        stop_s3_server(server)


def test_probe_refuses_server_ignoring_if_none_match(open_s3_server: S3Server) -> None:
    bucket = open_s3_server.create_bucket()
    try:
        with FaultyProxy(open_s3_server.endpoint, drop_if_none_match=True) as proxy:
            store = _store(open_s3_server, bucket, endpoint=proxy.endpoint)
            with pytest.raises(ProbeFailed) as caught:
                probe_store(store)
            assert caught.value.step == "conditional create"
            assert "accepted an overwrite" in caught.value.message
            assert caught.value.code == "StorageError.NoConditionalCreate"
            assert list(store.list(PROBE_PREFIX)) == []  # cleaned up even on failure
    finally:
        open_s3_server.delete_bucket(bucket)
