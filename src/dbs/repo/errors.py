"""Errors the repository raises; each names the object or step and the fix."""

from __future__ import annotations

from dbs.errors import AlreadyExists, Conflict, DbsError, InvalidParameter, NotFound


class RepositoryError(DbsError):
    code = "RepositoryError"


class RepositoryExists(AlreadyExists):
    code = "EntityAlreadyExists.Repository"


class RepositoryNotFound(NotFound):
    code = "EntityNotExist.Repository"


class WrongKeyError(DbsError):
    """No key object in the repository opens with the key the caller gave."""

    code = "InvalidParameter.Key"
    http_status = 403


class BackupSetNotFound(NotFound):
    code = "EntityNotExist.BackupSet"


class StreamNotFound(NotFound):
    code = "EntityNotExist.Stream"


class RepositoryDamaged(RepositoryError):
    """Stored data failed a check: missing, truncated or altered."""

    code = "RepositoryDamaged"


class RepositoryLocked(Conflict):
    code = "OperationConflict.RepositoryLocked"


class InvalidStream(InvalidParameter):
    code = "InvalidParameter.Stream"
