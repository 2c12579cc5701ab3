"""Any S3-compatible endpoint (AWS S3, Alibaba OSS's S3 endpoint, MinIO) as an object store.

Built on obstore (Python bindings of Rust's ``object_store``): it streams
multipart uploads with parallel parts, retries transient failures with
exponential backoff and jitter, and sends ``If-None-Match: *`` for create-only
puts. It used about half the client CPU per GiB of boto3 on this kind of
machine (see docs/storage.md).

Keys are namespaced under an optional ``prefix`` inside the bucket; callers
see only their own keys. Addressing: path style (``http://host/bucket/key``)
for custom endpoints such as MinIO, which every S3-compatible server
understands; virtual-hosted style (``https://bucket.host/key``) for Alibaba
OSS, which refuses path style, and for AWS, which is phasing it out.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import (
    AlreadyExistsError,
    BaseError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)
from obstore.store import S3Store as _ObstoreS3

from dbs.errors import InvalidParameter
from dbs.storage.base import ObjectExistsError, ObjectInfo, ObjectNotFoundError, StorageError
from dbs.storage.keys import check_key, check_prefix

if TYPE_CHECKING:
    from obstore import ObjectMeta
    from obstore.store import ClientConfig, S3Credential

MiB = 1 << 20
# Part size × concurrency bounds the memory of one streaming upload (64 MiB by
# default); 16 MiB parts × S3's 10 000-part limit allow objects up to 156 GiB.
DEFAULT_PART_SIZE = 16 * MiB
DEFAULT_CONCURRENCY = 4
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every part but the last
# A create-only put is one conditional PUT (S3 has no conditional multipart in
# obstore), so its body is held in memory: keep such objects (manifests, locks,
# indexes) small.
DEFAULT_CREATE_ONLY_LIMIT = 256 * MiB
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
ADDRESSING_STYLES = ("auto", "path", "virtual")
_VIRTUAL_HOSTED_DOMAINS = (".aliyuncs.com", ".amazonaws.com")
_S3_ERROR_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_S3_ERROR_MESSAGE = re.compile(r"<Message>([^<]{0,300})</Message>")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9/._-]+$")
_SERVER_ERROR = re.compile(r"status code: 5\d\d")
# obstore raises the builtin FileNotFoundError (not its own NotFoundError) for 404s.
_NOT_FOUND = (NotFoundError, FileNotFoundError)
_OBSTORE_ERRORS = (BaseError, FileNotFoundError)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep retrying 5xx answers, dropped and refused connections."""

    max_retries: int = 10
    init_backoff_s: float = 0.1
    max_backoff_s: float = 15.0
    # obstore re-sends the same signed request, so keep this below the
    # 5-minute validity of a SigV4 signature.
    retry_timeout_s: float = 180.0


class S3Store:
    """An S3 bucket (optionally a prefix inside it) implementing ``ObjectStore``."""

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        prefix: str = "",
        *,
        allow_http: bool = True,
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
        connect_timeout_s: float = 10.0,
        request_timeout_s: float = 300.0,
        create_only_limit: int = DEFAULT_CREATE_ONLY_LIMIT,
        addressing_style: str = "auto",
        proxy_url: str | None = None,
    ) -> None:
        _check_config(endpoint, bucket, region, access_key_id, secret_access_key, allow_http)
        self.virtual_hosted = uses_virtual_hosting(endpoint, addressing_style)
        if part_size < MIN_PART_SIZE:
            raise InvalidParameter(f"part_size {part_size} is below S3's minimum of 5 MiB")
        if max_concurrency < 1:
            raise InvalidParameter("max_concurrency must be at least 1")
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix)
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.region = region
        self.prefix = prefix
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.create_only_limit = create_only_limit
        self.retry = retry or RetryPolicy()
        client_options: ClientConfig = {
            "allow_http": allow_http,
            "connect_timeout": timedelta(seconds=connect_timeout_s),
            "timeout": timedelta(seconds=request_timeout_s),
        }
        if proxy_url:
            client_options["proxy_url"] = proxy_url
        # obstore expects the bucket inside a virtual-hosted endpoint.
        base = _bucket_endpoint(self.endpoint, bucket) if self.virtual_hosted else self.endpoint
        self._store = _ObstoreS3(
            bucket,
            endpoint=base,
            region=region,
            # A provider rather than plain config: AWS_* credentials in the environment
            # (e.g. a stray AWS_SESSION_TOKEN) cannot mix in, and the secret does not
            # appear in the obstore store's ``config``.
            credential_provider=_StaticCredentials(access_key_id, secret_access_key),
            virtual_hosted_style_request=self.virtual_hosted,
            conditional_put="etag",
            client_options=client_options,
            retry_config={
                "max_retries": self.retry.max_retries,
                "retry_timeout": timedelta(seconds=self.retry.retry_timeout_s),
                "backoff": {
                    "init_backoff": timedelta(seconds=self.retry.init_backoff_s),
                    "max_backoff": timedelta(seconds=self.retry.max_backoff_s),
                    "base": 2,
                },
            },
        )

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        return f"{where} at {self.endpoint}"

    def __repr__(self) -> str:
        return f"S3Store({self.describe()})"

    # -- writing ---------------------------------------------------------------

    def put(self, key: str, data: bytes | Iterable[bytes], *, create_only: bool = False) -> None:
        path = self._path(key)
        if create_only:
            self._put_create_only(key, path, data)
            return
        try:
            if isinstance(data, bytes | bytearray | memoryview):
                # obstore switches to a parallel multipart upload above part_size.
                self._put(path, data)
                return
            first, rest = _first_part(iter(data), self.part_size)
            if rest is None:  # small: one plain PUT instead of a 3-request multipart
                self._put(path, b"".join(first))
            else:
                self._put(path, itertools.chain(first, rest))
        except _OBSTORE_ERRORS as exc:
            if isinstance(exc, FileNotFoundError) and not _from_obstore(exc):
                raise  # the caller's own data source failed
            raise self._error("put", key, exc) from None

    def _put(self, path: str, body: bytes | bytearray | memoryview | Iterator[bytes]) -> None:
        obstore.put(
            self._store,
            path,
            body,
            chunk_size=self.part_size,
            max_concurrency=self.max_concurrency,
        )

    def _put_create_only(self, key: str, path: str, data: bytes | Iterable[bytes]) -> None:
        if isinstance(data, bytes | bytearray | memoryview):
            body: bytes | bytearray | memoryview = data
        else:
            body = self._collect(key, data)
        if len(body) > self.create_only_limit:
            raise self._too_big(key)
        try:
            obstore.put(self._store, path, body, mode="create")
        except (AlreadyExistsError, PreconditionError):
            raise ObjectExistsError(f"object {key!r} already exists in {self.describe()}") from None
        except _OBSTORE_ERRORS as exc:
            raise self._error("create-only put", key, exc) from None

    def _collect(self, key: str, data: Iterable[bytes]) -> bytes:
        pieces: list[bytes] = []
        size = 0
        for piece in data:
            size += len(piece)
            if size > self.create_only_limit:
                raise self._too_big(key)
            pieces.append(bytes(piece))
        return b"".join(pieces)

    def _too_big(self, key: str) -> StorageError:
        return StorageError(
            f"create-only put of {key!r} to {self.describe()} is larger than "
            f"{self.create_only_limit} bytes; create-only puts are single conditional "
            "requests held in memory, so use them for small objects (manifests, locks) only"
        )

    # -- reading ---------------------------------------------------------------

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return obstore.get(self._store, path).bytes().to_bytes()
        except _OBSTORE_ERRORS as exc:
            raise self._error("get", key, exc) from None

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        path = self._path(key)
        if offset < 0 or length < 0:
            raise StorageError(f"get_range of {key!r}: offset and length must be >= 0")
        if length == 0:
            self.stat(key)  # still report a missing object
            return b""
        try:
            return obstore.get_range(self._store, path, start=offset, length=length).to_bytes()
        except _OBSTORE_ERRORS as exc:
            if _s3_code(exc) == "InvalidRange" or "416 Range Not Satisfiable" in str(exc):
                return b""  # the range starts at or past the end of an existing object
            raise self._error("get_range", key, exc) from None

    def iter_get(self, key: str, piece_size: int = 8 << 20) -> Iterator[bytes]:
        path = self._path(key)
        try:
            # Issue the request now so that a missing object fails here, not on first next().
            result = obstore.get(self._store, path)
        except _OBSTORE_ERRORS as exc:
            raise self._error("get", key, exc) from None
        return self._pieces(key, result.stream(min_chunk_size=piece_size))

    def _pieces(self, key: str, stream: Iterable[bytes]) -> Iterator[bytes]:
        try:
            for piece in stream:
                yield bytes(piece)
        except _OBSTORE_ERRORS as exc:
            raise self._error("get (streaming)", key, exc) from None

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        return self._list(prefix)

    def _list(self, prefix: str) -> Iterator[ObjectInfo]:
        full_prefix = self._full(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        # obstore lists whole path segments ("packs/a" would mean "packs/a/..."), so list
        # the enclosing "directory" from just before the prefix and stop once past it:
        # S3 returns keys in UTF-8 byte order, which is Python's str order.
        directory, _, partial = full_prefix.rpartition("/")
        # Characters outside the plain set (' ', '*', '~'...) in list query parameters are
        # encoded by obstore in a way moto's signature check rejects; list a plain
        # ancestor instead and filter here, so such keys still list correctly everywhere.
        plain = bool(_PLAIN_KEY.match(full_prefix))
        while directory and not _PLAIN_KEY.match(directory):
            directory = directory.rpartition("/")[0]
        offset: str | None = None
        if partial and plain:
            offset = full_prefix  # start just after the prefix (S3 "start-after")
            # The object named exactly like the prefix sorts first but is not "after" it.
            exact = self._head(full_prefix, prefix)
            if exact is not None:
                yield exact
        previous = ""
        try:
            listing = obstore.list(self._store, directory or None, offset=offset, chunk_size=1000)
            for batch in listing:
                for meta in batch:
                    path = meta["path"]
                    if path < previous:
                        raise StorageError(
                            f"{self.describe()} listed {path!r} after {previous!r}; the server "
                            "does not return keys in order as S3 requires"
                        )
                    previous = path
                    if not path.startswith(full_prefix):
                        if path > full_prefix:
                            return  # sorted: nothing later can match
                        continue
                    yield ObjectInfo(self._key(path), meta["size"])
        except _OBSTORE_ERRORS as exc:
            raise self._error("list", prefix or "(all)", exc) from None

    def _head(self, path: str, key: str) -> ObjectInfo | None:
        try:
            meta: ObjectMeta = obstore.head(self._store, path)
        except _NOT_FOUND:
            return None
        except _OBSTORE_ERRORS as exc:
            raise self._error("stat", key, exc) from None
        return ObjectInfo(self._key(meta["path"]), meta["size"])

    def stat(self, key: str) -> ObjectInfo:
        info = self._head(self._path(key), key)
        if info is None:
            raise ObjectNotFoundError(f"object {key!r} not found in {self.describe()}")
        return info

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            obstore.delete(self._store, path)  # S3 answers 204 for a missing key too
        except _NOT_FOUND as exc:
            if _s3_code(exc) == "NoSuchBucket":
                raise self._error("delete", key, exc) from None
        except _OBSTORE_ERRORS as exc:
            raise self._error("delete", key, exc) from None

    # -- keys and errors -------------------------------------------------------

    def _path(self, key: str) -> str:
        return self._full(check_key(key))

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key(self, path: str) -> str:
        return path[len(self.prefix) + 1 :] if self.prefix else path

    def _error(self, operation: str, key: str, exc: BaseException) -> StorageError:
        return translate_error(
            exc,
            operation=operation,
            key=key,
            where=self.describe(),
            bucket=self.bucket,
            endpoint=self.endpoint,
        )


class _StaticCredentials:
    """The configured key pair, handed to obstore when it signs requests."""

    __slots__ = ("_access_key_id", "_secret_access_key")

    def __init__(self, access_key_id: str, secret_access_key: str) -> None:
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key

    def __call__(self) -> S3Credential:
        return {
            "access_key_id": self._access_key_id,
            "secret_access_key": self._secret_access_key,
            "token": None,
            "expires_at": None,
        }

    def __repr__(self) -> str:
        return f"_StaticCredentials({self._access_key_id!r}, secret hidden)"


def uses_virtual_hosting(endpoint: str, addressing_style: str) -> bool:
    """Whether requests go to ``bucket.host`` (True) or ``host/bucket`` (False)."""
    if addressing_style not in ADDRESSING_STYLES:
        raise InvalidParameter(
            f"s3 addressing style {addressing_style!r}: use one of {', '.join(ADDRESSING_STYLES)}"
        )
    if addressing_style != "auto":
        return addressing_style == "virtual"
    host = (urlsplit(endpoint).hostname or "").lower()
    return host.endswith(_VIRTUAL_HOSTED_DOMAINS)


def _bucket_endpoint(endpoint: str, bucket: str) -> str:
    parts = urlsplit(endpoint)
    return parts._replace(netloc=f"{bucket}.{parts.netloc}").geturl()


def translate_error(
    exc: BaseException, *, operation: str, key: str, where: str, bucket: str, endpoint: str
) -> StorageError:
    """A StorageError that says what failed, where, and what to do about it.

    obstore's messages never contain the secret key (requests are signed, the
    signature is not echoed), but they are long; keep the first line as detail.
    """
    code = _s3_code(exc)
    first_line = str(exc).split("\n", 1)[0]
    subject = f"{operation} of {key!r} in {where}"
    if code == "NoSuchBucket":
        return StorageError(
            f"{subject} failed: bucket {bucket!r} does not exist at {endpoint}; "
            "create it (storage activation does) or fix the bucket name",
            code="StorageError.NoSuchBucket",
        )
    if isinstance(exc, _NOT_FOUND):
        return ObjectNotFoundError(f"object {key!r} not found in {where}")
    if code == "InvalidAccessKeyId":
        return StorageError(
            f"{subject} failed: {endpoint} does not know the access key id; "
            "check the access key id",
            code="StorageError.InvalidCredentials",
        )
    if code == "SignatureDoesNotMatch":
        return StorageError(
            f"{subject} failed: the secret access key does not match the access key id; "
            "check the secret access key (and the region)",
            code="StorageError.InvalidCredentials",
        )
    if isinstance(exc, PermissionDeniedError | UnauthenticatedError) or code == "AccessDenied":
        return StorageError(
            f"{subject} was refused ({code or 'HTTP 403'}): the credentials are wrong or lack "
            f"permission for this bucket; check the keys and grant s3:GetObject, s3:PutObject, "
            f"s3:DeleteObject and s3:ListBucket on {bucket!r}",
            code="StorageError.AccessDenied",
        )
    if "kind: Connect" in str(exc) or "error sending request" in first_line:
        return StorageError(
            f"{subject} failed: cannot connect to {endpoint} (after retries); check the "
            "endpoint URL and that the server is running and reachable",
            code="StorageError.Unreachable",
        )
    detail = first_line.split(": <?xml", 1)[0].rstrip(": ")
    server_message = _S3_ERROR_MESSAGE.search(str(exc))
    if code or server_message:
        detail += f" ({code or 'error'}: {server_message.group(1) if server_message else ''})"
    if _SERVER_ERROR.search(first_line):
        return StorageError(
            f"{subject} failed: the server kept failing after retries: {detail}; "
            "check the storage service's health and try again",
            code="StorageError.ServerError",
        )
    return StorageError(f"{subject} failed: {detail}")


def _from_obstore(exc: BaseException) -> bool:
    return isinstance(exc, BaseError) or "Error performing" in str(exc)


def _s3_code(exc: BaseException) -> str | None:
    match = _S3_ERROR_CODE.search(str(exc))
    return match.group(1) if match else None


def _first_part(
    pieces: Iterator[bytes], part_size: int
) -> tuple[list[bytes], Iterator[bytes] | None]:
    """Read up to one part's worth of pieces; ``None`` as rest means the stream ended."""
    first: list[bytes] = []
    size = 0
    for piece in pieces:
        first.append(piece)
        size += len(piece)
        if size > part_size:
            return first, pieces
    return first, None


def _check_config(
    endpoint: str,
    bucket: str,
    region: str,
    access_key_id: str,
    secret_access_key: str,
    allow_http: bool,
) -> None:
    if not endpoint.startswith(("http://", "https://")):
        raise InvalidParameter(
            f"s3 endpoint {endpoint!r} must be a URL like https://s3.us-east-1.amazonaws.com "
            "or https://oss-cn-hangzhou.aliyuncs.com"
        )
    if endpoint.startswith("http://") and not allow_http:
        raise InvalidParameter(
            f"s3 endpoint {endpoint!r} is plain http; use https or allow http explicitly"
        )
    if not _BUCKET_NAME.match(bucket) or ".." in bucket:
        raise InvalidParameter(
            f"bucket name {bucket!r} is not a valid S3 bucket name: 3-63 characters of "
            "lowercase letters, digits, '.' and '-', starting and ending with a letter or digit"
        )
    if not region:
        raise InvalidParameter("s3 region is empty; give the bucket's region, e.g. us-east-1")
    if not access_key_id:
        raise InvalidParameter("s3 access key id is empty")
    if not secret_access_key:
        raise InvalidParameter("s3 secret access key is empty")
