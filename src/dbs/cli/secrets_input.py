"""Reading secrets from files, prompts or the environment, never from the command line."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from dbs.errors import InvalidParameter


def read_secret_file(path: Path | None, option: str) -> str:
    if path is None:
        raise InvalidParameter(
            f"{option} is required: put the secret in a file readable only by you "
            "and pass its path",
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


def database_password(path: Path | None, ask: bool, env_var: str, option: str) -> str | None:
    """A database password from ``--password-file``, a prompt, or ``env_var`` (or none)."""
    if path is not None:
        return read_secret_file(path, option)
    if ask:
        return str(typer.prompt("Password", hide_input=True))
    return os.environ.get(env_var) or None
