"""A real S3-compatible server for tests and benchmarks: ``moto_server`` on a loopback port.

The server runs as a subprocess so that the S3 backend talks to it over real
HTTP, exactly as it would talk to AWS, OSS or MinIO. After start-up the helper
creates an IAM user with an access key through moto's IAM API, then switches
moto's request authentication on, so that every S3 request must carry a valid
SigV4 signature from that key: tests of bad credentials meet a real refusal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from dbs.storage.s3 import MIN_PART_SIZE, S3Store
from testbed.ports import free_port
from testbed.process import stop_process

REGION = "us-east-1"
_START_TIMEOUT_S = 60.0
# moto accepts any credentials until authentication is switched on; these only
# serve the set-up calls that create the real IAM user.
_BOOTSTRAP_KEY = ("testing", "testing")
_ALLOW_S3 = """{"Version": "2012-10-17",
 "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}"""


@dataclass(frozen=True)
class S3Server:
    """Where a running test server listens and the credentials it accepts."""

    endpoint: str
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False, compare=False)

    def client(self):  # type: ignore[no-untyped-def]  # boto3 clients are untyped
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def create_bucket(self, name: str | None = None) -> str:
        """A new, empty bucket with a unique name."""
        bucket = name or f"dbs-test-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def delete_bucket(self, bucket: str) -> None:
        """Remove a bucket and everything in it (multipart leftovers included)."""
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        for upload in uploads:
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        client.delete_bucket(Bucket=bucket)


def make_s3_store(server: S3Server, bucket: str, prefix: str = "") -> S3Store:
    """An S3Store on the test server, with parts small enough that tests go multipart."""
    return S3Store(
        server.endpoint,
        bucket,
        server.region,
        server.access_key_id,
        server.secret_access_key,
        prefix,
        part_size=MIN_PART_SIZE,
        max_concurrency=4,
    )


_ROOT = Path(__file__).resolve().parents[1]  # where ``testbed`` can be imported from


def _moto_server_command(port: int) -> list[str]:
    # This module run as a program is moto_server with atomic conditional puts (see below).
    return [sys.executable, "-m", "testbed.s3server", "-H", "127.0.0.1", "-p", str(port)]


def _die_with_parent() -> None:
    # If the test run is killed before its fixtures finish, take the server with it.
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_until_answering(endpoint: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {endpoint} within {_START_TIMEOUT_S}s")


def _create_iam_key(endpoint: str) -> tuple[str, str]:
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=_BOOTSTRAP_KEY[0],
        aws_secret_access_key=_BOOTSTRAP_KEY[1],
    )
    user = f"dbs-test-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3-all", PolicyDocument=_ALLOW_S3)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _require_authentication(endpoint: str) -> None:
    # moto's documented switch: authenticate every request from now on.
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        # A form content type would make moto read an empty body.
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def start_s3_server(*, authenticate: bool = True) -> S3Server:
    """Start ``moto_server`` on a free loopback port and wait until it answers."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="moto-server-", suffix=".log")[1])
    path = os.pathsep.join(p for p in (str(_ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true", "PYTHONPATH": path}
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            _moto_server_command(port),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent,
        )
    try:
        _wait_until_answering(endpoint, process, log)
        if authenticate:
            access_key_id, secret = _create_iam_key(endpoint)
            _require_authentication(endpoint)
        else:
            access_key_id, secret = _BOOTSTRAP_KEY
    except BaseException:
        stop_s3_server_process(process)
        raise
    finally:
        log.unlink(missing_ok=True)
    return S3Server(endpoint, REGION, access_key_id, secret, process)


def stop_s3_server_process(process: subprocess.Popen[bytes]) -> None:
    stop_process(process, timeout=10)


def stop_s3_server(server: S3Server) -> None:
    stop_s3_server_process(server.process)


def _serve_with_atomic_conditional_puts() -> None:
    """Run ``moto_server`` (same arguments), with If-None-Match puts made atomic.

    moto checks "does the key exist?" and then stores the object without a lock,
    so two concurrent create-only puts of one key can both succeed (seen about
    once in 60 races of 8 writers). AWS S3 guarantees exactly one winner, and the
    conformance suite tests that guarantee, so serialise just those requests.
    """
    import threading

    from moto.s3.responses import S3Response
    from moto.server import main

    lock = threading.Lock()
    put_object = S3Response.put_object

    def atomic_put_object(self: S3Response) -> object:
        if self.headers.get("If-None-Match") is None:
            return put_object(self)
        with lock:
            return put_object(self)

    S3Response.put_object = atomic_put_object  # type: ignore[method-assign,assignment]
    main()


if __name__ == "__main__":
    _serve_with_atomic_conditional_puts()
