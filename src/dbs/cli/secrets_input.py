"""Reading secrets from files, never from the command line in plain sight."""

from __future__ import annotations

from pathlib import Path

from dbs.errors import InvalidParameter


def read_secret_file(path: Path | None, option: str) -> str:
    if path is None:
        raise InvalidParameter(
            f"{option} is required: put the secret in a file readable only by you and pass its path",
            code="InvalidParameter.Secret",
        )
    try:
        secret = Path(path).read_text().strip()
    except OSError as exc:
        raise InvalidParameter(
            f"{option}: cannot read {path}: {exc.strerror}", code="InvalidParameter.Secret"
        ) from None
    if not secret:
        raise InvalidParameter(f"{option}: {path} is empty", code="InvalidParameter.Secret")
    return secret
