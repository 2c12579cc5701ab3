"""Build an ObjectStore from the plain settings the catalog keeps.

The catalog stores a flat ``{name: string}`` mapping per storage and keeps the
S3 secret apart (encrypted), so the secret is passed separately here and is
refused inside the mapping.

    {"type": "local", "path": "/var/lib/dbs/repo"}
    {"type": "s3", "endpoint": "https://oss-cn-hangzhou.aliyuncs.com",
     "bucket": "backups", "region": "cn-hangzhou", "access_key_id": "LTAI...",
     "prefix": "dbs", "allow_http": "false", "part_size_mib": "16", "max_concurrency": "4",
     "addressing_style": "auto"}
"""

from __future__ import annotations

from collections.abc import Mapping

from dbs.errors import InvalidParameter
from dbs.storage.base import ObjectStore
from dbs.storage.local import LocalStore
from dbs.storage.s3 import DEFAULT_CONCURRENCY, DEFAULT_PART_SIZE, MiB, S3Store

STORAGE_TYPES = ("local", "s3")
_LOCAL_REQUIRED = ("path",)
_S3_REQUIRED = ("endpoint", "bucket", "region", "access_key_id")
_S3_OPTIONAL = ("prefix", "allow_http", "part_size_mib", "max_concurrency", "addressing_style")
_SECRET_FIELDS = ("secret_access_key", "secret", "password")


def open_store(config: Mapping[str, str], *, secret_access_key: str | None = None) -> ObjectStore:
    """The store ``config`` describes; InvalidParameter names any bad or missing field."""
    kind = config.get("type")
    if kind == "local":
        _check_fields(config, _LOCAL_REQUIRED, ())
        return LocalStore(config["path"])
    if kind == "s3":
        _check_fields(config, _S3_REQUIRED, _S3_OPTIONAL)
        if not secret_access_key:
            raise InvalidParameter(
                "storage field 'secret_access_key' is missing: pass the S3 secret access key "
                "(it is stored encrypted, apart from the other settings)"
            )
        return S3Store(
            config["endpoint"],
            config["bucket"],
            config["region"],
            config["access_key_id"],
            secret_access_key,
            config.get("prefix", ""),
            allow_http=_flag(config, "allow_http", default=True),
            part_size=_int(config, "part_size_mib", default=DEFAULT_PART_SIZE // MiB) * MiB,
            max_concurrency=_int(config, "max_concurrency", default=DEFAULT_CONCURRENCY),
            addressing_style=config.get("addressing_style", "auto"),
        )
    raise InvalidParameter(
        f"storage field 'type' is {kind!r}; use one of: {', '.join(STORAGE_TYPES)}"
    )


def _check_fields(
    config: Mapping[str, str], required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    for name in _SECRET_FIELDS:
        if name in config:
            raise InvalidParameter(
                f"storage field {name!r} must not be part of the stored settings; "
                "pass the secret separately so it can be kept encrypted"
            )
    missing = [name for name in required if not config.get(name)]
    if missing:
        raise InvalidParameter(
            f"{config['type']} storage is missing field(s): {', '.join(missing)}"
        )
    unknown = sorted(set(config) - {"type", *required, *optional})
    if unknown:
        raise InvalidParameter(
            f"{config['type']} storage has unknown field(s): {', '.join(unknown)}; "
            f"allowed: {', '.join((*required, *optional))}"
        )


def _flag(config: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = config.get(name)
    if value is None:
        return default
    lowered = str(value).strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise InvalidParameter(f"storage field {name!r} is {value!r}; use 'true' or 'false'")


def _int(config: Mapping[str, str], name: str, *, default: int) -> int:
    value = config.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidParameter(f"storage field {name!r} is {value!r}; use a whole number") from None
