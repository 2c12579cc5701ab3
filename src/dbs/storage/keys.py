"""Which object keys and list prefixes every backend accepts.

One rule set for all backends, so that a repository that works on a local
directory also works on S3 (and the other way round): keys are ``/``-separated
relative paths of non-empty segments, none of them ``.`` or ``..``, without
control characters, at most 1024 bytes of UTF-8 (the S3 limit).
"""

from __future__ import annotations

import re

from dbs.storage.base import StorageError

MAX_KEY_BYTES = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")
_FIX = "use a relative path like 'packs/ab/abcdef' (segments separated by '/', no '.' or '..')"


def check_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid object key, else raise StorageError."""
    if not isinstance(key, str) or not key:
        raise StorageError(f"invalid object key {key!r}: it is empty; {_FIX}")
    _check_segments(key, key.split("/"), what="object key")
    return key


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` unchanged if it may be listed, else raise StorageError.

    A prefix is any leading part of a valid key: it may be empty, end with
    ``/``, or stop inside a segment (``packs/a`` matches ``packs/ab...``).
    """
    if not isinstance(prefix, str):
        raise StorageError(f"invalid list prefix {prefix!r}: it must be a string")
    if not prefix:
        return prefix
    segments = prefix.split("/")
    if segments[-1] == "":
        segments = segments[:-1]  # a trailing '/' names a "directory"
    _check_segments(prefix, segments, what="list prefix")
    return prefix


def _check_segments(text: str, segments: list[str], *, what: str) -> None:
    if len(text.encode("utf-8")) > MAX_KEY_BYTES:
        raise StorageError(f"invalid {what} {text!r}: longer than {MAX_KEY_BYTES} bytes")
    if _CONTROL.search(text):
        raise StorageError(
            f"invalid {what} {text!r}: control characters and '\\' are not allowed; {_FIX}"
        )
    for segment in segments:
        if segment in ("", ".", ".."):
            raise StorageError(f"invalid {what} {text!r}: empty, '.' or '..' path segment; {_FIX}")
