"""The service's home directory: catalog, secrets key, local storage.

``--home`` or ``DBS_HOME`` selects it (default ``./var``). Layout:

    <home>/catalog.db      SQLite catalog (unless DBS_DATABASE_URL names PostgreSQL)
    <home>/secret.key      32 random bytes that encrypt secrets stored in the catalog (mode 0600)
    <home>/keys/           repository key files (mode 0600)
    <home>/storage/        default local storage, once activated
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from dbs.errors import InvalidParameter

DEFAULT_HOME = "./var"
SECRET_KEY_BYTES = 32


@dataclass(frozen=True)
class Home:
    path: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Home:
        raw = home if home is not None else os.environ.get("DBS_HOME") or DEFAULT_HOME
        return cls(Path(raw).expanduser().resolve())

    @property
    def catalog_url(self) -> str:
        url = os.environ.get("DBS_DATABASE_URL")
        if url:
            return _normalise_database_url(url)
        return f"sqlite:///{self.path / 'catalog.db'}"

    @property
    def secret_key_path(self) -> Path:
        return self.path / "secret.key"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    @property
    def default_storage_path(self) -> Path:
        return self.path / "storage"

    def ensure(self) -> None:
        """Create the home directory and its secrets key if missing."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidParameter(
                f"--home: cannot create {self.path}: {exc.strerror}; choose a writable directory "
                "with --home or DBS_HOME",
                code="InvalidParameter.Home",
            ) from None
        self.keys_dir.mkdir(mode=0o700, exist_ok=True)
        if not self.secret_key_path.exists():
            _write_private(self.secret_key_path, secrets.token_bytes(SECRET_KEY_BYTES))

    def secret_key(self) -> bytes:
        key = self.secret_key_path.read_bytes()
        if len(key) != SECRET_KEY_BYTES:
            raise InvalidParameter(
                f"{self.secret_key_path} is damaged (expected {SECRET_KEY_BYTES} bytes); "
                "restore it "
                "from your backup of the home directory",
                code="InvalidParameter.SecretKey",
            )
        return key


def _normalise_database_url(url: str) -> str:
    # Use psycopg 3 for PostgreSQL catalogs whatever form of the URL was given.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, creating it exclusively."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
