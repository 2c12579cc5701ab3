"""Errors a user can act on.

Every failure the service reports to a person goes through `DbsError`: a short
code in DBS/RAM style (``Forbidden.RAM``, ``EntityAlreadyExists.Role``,
``InvalidParameter.Retention``) and a message that names the field or step and
how to fix it. The CLI prints ``code: message`` and exits non-zero; the API
(later) returns the same pair in DBS's error envelope.
"""

from __future__ import annotations


class DbsError(Exception):
    """A failure with a stable code and a message meant for the operator."""

    code: str = "InternalError"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidParameter(DbsError):
    """Bad input: the message names the field, what was wrong and the allowed values."""

    code = "InvalidParameter"


class NotFound(DbsError):
    code = "EntityNotExist"
    http_status = 404


class AlreadyExists(DbsError):
    code = "EntityAlreadyExists"
    http_status = 409


class Forbidden(DbsError):
    code = "Forbidden.RAM"
    http_status = 403


class NotReady(DbsError):
    """A first-use step is missing (init, authorize, activate storage)."""

    code = "OperationDenied"
    http_status = 403


class Conflict(DbsError):
    code = "OperationConflict"
    http_status = 409
