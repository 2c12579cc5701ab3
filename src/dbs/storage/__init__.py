"""Object storage: one small protocol, a local-directory backend and an S3 backend."""

from dbs.storage.base import (
    ObjectExistsError,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectStore,
    StorageError,
)

__all__ = ["ObjectExistsError", "ObjectInfo", "ObjectNotFoundError", "ObjectStore", "StorageError"]
