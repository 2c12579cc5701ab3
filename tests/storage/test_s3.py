"""What only the S3 backend has: multipart, prefixes, retries, error messages, bucket creation."""

from __future__ import annotations

import threading
import uuid

import pytest
from testbed.ports import free_port
from testbed.s3server import S3Server, make_s3_store

from dbs.errors import InvalidParameter
from dbs.storage.base import ObjectNotFoundError, StorageError
from dbs.storage.s3 import MIN_PART_SIZE, RetryPolicy, S3Store, uses_virtual_hosting
from dbs.storage.s3_bucket import ensure_bucket
from tests.storage.faulty_proxy import FaultyProxy

MiB = 1 << 20
FAST_RETRY = RetryPolicy(max_retries=3, init_backoff_s=0.01, max_backoff_s=0.05, retry_timeout_s=20)


def _store(server: S3Server, bucket_name: str, **overrides: object) -> S3Store:
    settings: dict[str, object] = {
        "endpoint": server.endpoint,
        "bucket": bucket_name,
        "region": server.region,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
        "part_size": MIN_PART_SIZE,
        "retry": FAST_RETRY,
    }
    settings.update(overrides)
    return S3Store(**settings)  # type: ignore[arg-type]


def test_large_objects_go_multipart_small_ones_do_not(s3_server: S3Server, s3_bucket: str) -> None:
    store = make_s3_store(s3_server, s3_bucket)
    store.put("big-bytes", b"a" * (11 * MiB))
    store.put("big-stream", (b"b" * MiB for _ in range(12)))
    store.put("small-stream", iter([b"c" * 1000, b"d"]))
    client = s3_server.client()

    def etag(key: str) -> str:
        return str(client.head_object(Bucket=s3_bucket, Key=key)["ETag"])

    # A multipart object's ETag ends in "-<number of parts>".
    assert etag("big-bytes").endswith('-3"')
    assert etag("big-stream").endswith('-3"')
    assert "-" not in etag("small-stream")
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def test_prefix_keeps_stores_apart(s3_server: S3Server, s3_bucket: str) -> None:
    tenant_a = make_s3_store(s3_server, s3_bucket, prefix="tenant-a")
    tenant_b = make_s3_store(s3_server, s3_bucket, prefix="tenant-a-b/")
    whole = make_s3_store(s3_server, s3_bucket)
    tenant_a.put("packs/1", b"a1")
    tenant_a.put("x", b"ax")
    tenant_b.put("packs/1", b"b1")
    assert [i.key for i in tenant_a.list()] == ["packs/1", "x"]
    assert [i.key for i in tenant_a.list("pa")] == ["packs/1"]
    assert [i.key for i in tenant_b.list()] == ["packs/1"]
    assert [i.key for i in whole.list()] == ["tenant-a-b/packs/1", "tenant-a/packs/1", "tenant-a/x"]
    assert tenant_b.get("packs/1") == b"b1"
    assert tenant_a.stat("x").key == "x"
    assert tenant_a.describe() == f"s3://{s3_bucket}/tenant-a at {s3_server.endpoint}"
    assert tenant_b.describe() == f"s3://{s3_bucket}/tenant-a-b at {s3_server.endpoint}"


def test_transient_failures_are_retried(s3_server: S3Server, s3_bucket: str) -> None:
    with FaultyProxy(s3_server.endpoint, fail_first=3) as proxy:
        store = _store(s3_server, s3_bucket, endpoint=proxy.endpoint)
        store.put("retried", b"made it")
        assert proxy.failures_served == 3  # three 503 answers, then success
        assert make_s3_store(s3_server, s3_bucket).get("retried") == b"made it"
        proxy.fail_first += 2
        assert store.get("retried") == b"made it"
        assert proxy.failures_served == 5


def test_retries_give_up_with_a_clear_error(s3_server: S3Server, s3_bucket: str) -> None:
    with FaultyProxy(s3_server.endpoint, fail_first=1000) as proxy:
        store = _store(s3_server, s3_bucket, endpoint=proxy.endpoint)
        with pytest.raises(StorageError) as caught:
            store.put("never", b"x")
    assert proxy.failures_served == FAST_RETRY.max_retries + 1
    assert "put of 'never'" in caught.value.message
    assert "503" in caught.value.message
    assert caught.value.code == "StorageError.ServerError"
    assert "SlowDown: Please reduce your request rate." in caught.value.message


def test_server_down_is_named(s3_server: S3Server, s3_bucket: str) -> None:
    store = _store(s3_server, s3_bucket, endpoint=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageError) as caught:
        store.put("k", b"x")
    assert caught.value.code == "StorageError.Unreachable"
    assert "cannot connect to http://127.0.0.1:" in caught.value.message


def test_server_briefly_down_then_back(s3_server: S3Server, s3_bucket: str) -> None:
    # Nothing listens on the port at first; the proxy comes up on it while we retry.
    port = free_port()
    retry = RetryPolicy(max_retries=8, init_backoff_s=0.2, max_backoff_s=1.0, retry_timeout_s=60)
    store = _store(s3_server, s3_bucket, endpoint=f"http://127.0.0.1:{port}", retry=retry)

    proxies: list[FaultyProxy] = []

    def come_up() -> None:
        proxies.append(FaultyProxy(s3_server.endpoint, port=port).__enter__())

    timer = threading.Timer(0.3, come_up)
    timer.start()
    try:
        store.put("after-outage", b"ok")
    finally:
        timer.join()
        for proxy in proxies:
            proxy.__exit__(None, None, None)
    assert len(proxies) == 1
    assert proxies[0].requests_forwarded >= 1
    assert make_s3_store(s3_server, s3_bucket).get("after-outage") == b"ok"


def test_bad_secret_is_named_and_never_shown(s3_server: S3Server, s3_bucket: str) -> None:
    secret = "wrong-secret-" + uuid.uuid4().hex
    store = _store(s3_server, s3_bucket, secret_access_key=secret)
    with pytest.raises(StorageError) as caught:
        store.put("k", b"x")
    assert caught.value.code == "StorageError.InvalidCredentials"
    assert "secret access key does not match" in caught.value.message
    for text in (str(caught.value), repr(caught.value), repr(store), store.describe()):
        assert secret not in text
    assert s3_server.secret_access_key not in repr(make_s3_store(s3_server, s3_bucket))


def test_unknown_access_key_is_named(s3_server: S3Server, s3_bucket: str) -> None:
    store = _store(s3_server, s3_bucket, access_key_id="AKIANOSUCHKEY0000000")
    with pytest.raises(StorageError) as caught:
        store.get("k")
    assert caught.value.code == "StorageError.InvalidCredentials"
    assert "access key id" in caught.value.message


def test_missing_bucket_is_named(s3_server: S3Server) -> None:
    store = _store(s3_server, "no-such-bucket-" + uuid.uuid4().hex[:8])
    with pytest.raises(StorageError) as caught:
        store.put("k", b"x")
    assert caught.value.code == "StorageError.NoSuchBucket"
    assert store.bucket in caught.value.message
    with pytest.raises(StorageError, match="does not exist"):
        list(store.list())
    with pytest.raises(ObjectNotFoundError):  # a HEAD answer has no body to tell why
        store.stat("k")


def test_create_only_size_limit(s3_server: S3Server, s3_bucket: str) -> None:
    store = _store(s3_server, s3_bucket, create_only_limit=1000)
    store.put("ok", b"x" * 1000, create_only=True)
    with pytest.raises(StorageError, match="larger than 1000 bytes"):
        store.put("too-big", iter([b"x" * 600, b"y" * 600]), create_only=True)
    with pytest.raises(ObjectNotFoundError):
        store.stat("too-big")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("endpoint", "127.0.0.1:9000", "must be a URL"),
        ("bucket", "Bad_Bucket", "not a valid S3 bucket name"),
        ("bucket", "ab", "not a valid S3 bucket name"),
        ("region", "", "region is empty"),
        ("access_key_id", "", "access key id is empty"),
        ("secret_access_key", "", "secret access key is empty"),
        ("part_size", MiB, "below S3's minimum"),
    ],
)
def test_bad_settings_are_named(
    s3_server: S3Server, field: str, value: object, message: str
) -> None:
    with pytest.raises(InvalidParameter, match=message):
        _store(s3_server, "some-bucket", **{field: value})


def test_plain_http_needs_consent(s3_server: S3Server) -> None:
    with pytest.raises(InvalidParameter, match="plain http"):
        _store(s3_server, "some-bucket", allow_http=False)


def test_ensure_bucket_creates_once(s3_server: S3Server) -> None:
    bucket = "dbs-new-" + uuid.uuid4().hex[:12]
    args = (s3_server.endpoint, bucket, s3_server.region)
    keys = (s3_server.access_key_id, s3_server.secret_access_key)
    with pytest.raises(StorageError, match=r"step 'check bucket'.*does not exist"):
        ensure_bucket(*args, *keys, create=False)
    try:
        assert ensure_bucket(*args, *keys) is True
        assert ensure_bucket(*args, *keys) is False
        store = make_s3_store(s3_server, bucket)
        store.put("k", b"v")
        assert store.get("k") == b"v"
    finally:
        s3_server.delete_bucket(bucket)


def test_ensure_bucket_in_another_region(s3_server: S3Server) -> None:
    bucket = "dbs-eu-" + uuid.uuid4().hex[:12]
    keys = (s3_server.access_key_id, s3_server.secret_access_key)
    try:
        assert ensure_bucket(s3_server.endpoint, bucket, "eu-central-1", *keys) is True
        location = s3_server.client().get_bucket_location(Bucket=bucket)["LocationConstraint"]
        assert location == "eu-central-1"
    finally:
        s3_server.delete_bucket(bucket)


def test_ensure_bucket_failures_name_the_step(s3_server: S3Server) -> None:
    with pytest.raises(StorageError, match=r"step 'check bucket'.*refused access") as caught:
        ensure_bucket(s3_server.endpoint, "dbs-any", s3_server.region, "AKIANOSUCHKEY0000000", "x")
    assert caught.value.code == "StorageError.AccessDenied"
    with pytest.raises(StorageError, match="step 'check bucket': cannot reach") as caught:
        ensure_bucket(f"http://127.0.0.1:{free_port()}", "dbs-any", "us-east-1", "a", "b")
    assert caught.value.code == "StorageError.Unreachable"


def test_addressing_style_choice() -> None:
    assert uses_virtual_hosting("https://oss-cn-hangzhou.aliyuncs.com", "auto")
    assert uses_virtual_hosting("https://s3.eu-west-1.amazonaws.com", "auto")
    assert not uses_virtual_hosting("http://minio.internal:9000", "auto")
    assert not uses_virtual_hosting("https://oss-cn-hangzhou.aliyuncs.com", "path")
    assert uses_virtual_hosting("http://minio.internal:9000", "virtual")
    with pytest.raises(InvalidParameter, match="addressing style 'dns'"):
        uses_virtual_hosting("http://h", "dns")


def test_virtual_hosted_requests(s3_server: S3Server, s3_bucket: str) -> None:
    # The proxy lets the client resolve "<bucket>.s3.dbs.test" to the test server.
    port = s3_server.endpoint.rsplit(":", 1)[1]
    with FaultyProxy(s3_server.endpoint) as proxy:
        store = _store(
            s3_server,
            s3_bucket,
            endpoint=f"http://s3.dbs.test:{port}",
            addressing_style="virtual",
            proxy_url=proxy.endpoint,
        )
        store.put("vhost/key", b"via bucket.host")
        assert [i.key for i in store.list("vhost/")] == ["vhost/key"]
        assert proxy.requests_forwarded >= 2
    assert make_s3_store(s3_server, s3_bucket).get("vhost/key") == b"via bucket.host"


def test_aws_environment_does_not_leak_in(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Credentials come only from the store's settings, never from AWS_* variables.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-environment")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "stray-session-token")
    store = make_s3_store(s3_server, s3_bucket)
    store.put("env", b"ok")
    assert store.get("env") == b"ok"
