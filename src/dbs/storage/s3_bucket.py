"""Create an S3 bucket if it is missing (used once, when storage is activated).

obstore works inside an existing bucket and has no bucket API, so this one
call goes through botocore, the signing/HTTP core of boto3 (imported lazily:
nothing else in dbs needs it).
"""

from __future__ import annotations

from typing import Any

from dbs.storage.base import StorageError
from dbs.storage.s3 import uses_virtual_hosting

_US_EAST_1 = "us-east-1"


def ensure_bucket(
    endpoint: str,
    bucket: str,
    region: str,
    access_key_id: str,
    secret_access_key: str,
    *,
    create: bool = True,
    addressing_style: str = "auto",
) -> bool:
    """Make sure ``bucket`` exists; return True if this call created it.

    With ``create=False`` a missing bucket is an error instead. Raises
    StorageError naming the step ('check bucket' or 'create bucket') and the fix.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    virtual = uses_virtual_hosting(endpoint, addressing_style)
    client = _client(endpoint, region, access_key_id, secret_access_key, virtual=virtual)
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        status = _status(exc)
        if status in (401, 403):
            raise StorageError(
                f"step 'check bucket': {endpoint} refused access to bucket {bucket!r} "
                f"(HTTP {status}): the keys are wrong, lack s3:ListBucket, or the bucket "
                "belongs to another account",
                code="StorageError.AccessDenied",
            ) from None
        if status != 404:
            raise StorageError(
                f"step 'check bucket': {endpoint} answered HTTP {status} for bucket {bucket!r}"
            ) from None
    except BotoCoreError as exc:
        raise StorageError(
            f"step 'check bucket': cannot reach {endpoint} ({type(exc).__name__}); check the "
            "endpoint URL and that the server is running and reachable",
            code="StorageError.Unreachable",
        ) from None
    if not create:
        raise StorageError(
            f"step 'check bucket': bucket {bucket!r} does not exist at {endpoint}",
            code="StorageError.NoSuchBucket",
        )
    args: dict[str, Any] = {"Bucket": bucket}
    if region != _US_EAST_1:  # us-east-1 is the one region that rejects a LocationConstraint
        args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(**args)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "BucketAlreadyOwnedByYou":
            return False  # created concurrently by ourselves
        if code == "BucketAlreadyExists":
            raise StorageError(
                f"step 'create bucket': the name {bucket!r} is taken by another account; "
                "choose another bucket name",
                code="StorageError.BucketNameTaken",
            ) from None
        raise StorageError(
            f"step 'create bucket': {endpoint} refused to create bucket {bucket!r} "
            f"({code or _status(exc)}); create it yourself or grant s3:CreateBucket",
        ) from None
    except BotoCoreError as exc:
        raise StorageError(
            f"step 'create bucket': request to {endpoint} failed ({type(exc).__name__})",
            code="StorageError.Unreachable",
        ) from None
    return True


def _client(
    endpoint: str, region: str, access_key_id: str, secret_access_key: str, *, virtual: bool
) -> Any:
    import botocore.session
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "virtual" if virtual else "path"},
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=10,
        read_timeout=60,
        # Newer botocore adds CRC checksums some S3-compatible servers reject.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


def _status(exc: Any) -> int:
    status: int = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status
