"""How the master key is obtained, wrapped and stored.

The 32-byte master key is random and never stored in the clear: each
``keys/<id>`` object holds it wrapped (AES-256-GCM) by a key-encryption key
derived from a passphrase (Argon2id, memory-hard) or from a key file (HKDF
over the file's random secret). Changing the passphrase writes a new key
object and removes the old one; data is never rewritten.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dbs.errors import InvalidParameter
from dbs.repo.crypto import hkdf

KeyKind = Literal["passphrase", "keyfile", "none"]

# RFC 9106 §4 second recommended option (64 MiB), with p=2 for this class of machine.
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 64 * 1024
ARGON2_PARALLELISM = 2
MIN_KEYFILE_BYTES = 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


@dataclass(frozen=True, repr=False)
class KeySource:
    """How to obtain the repository's master key. Its repr never shows the secret."""

    kind: KeyKind
    _secret: bytes = b""
    origin: str = ""  # for messages: the key file's path, never the secret

    def __repr__(self) -> str:
        return f"KeySource(kind={self.kind!r}, origin={self.origin!r})"

    @staticmethod
    def passphrase(passphrase: str) -> KeySource:
        if not isinstance(passphrase, str) or not passphrase:
            raise InvalidParameter("passphrase: must be a non-empty string")
        return KeySource("passphrase", passphrase.encode("utf-8"), "passphrase")

    @staticmethod
    def keyfile(path: str | Path) -> KeySource:
        file = Path(path)
        try:
            secret = file.read_bytes()
        except OSError as exc:
            raise InvalidParameter(
                f"key file {file}: cannot be read ({exc.strerror}); "
                "give the path of an existing key file"
            ) from None
        if len(secret) < MIN_KEYFILE_BYTES:
            raise InvalidParameter(
                f"key file {file}: holds {len(secret)} bytes, needs at least {MIN_KEYFILE_BYTES} "
                "random bytes; create one with KeySource.generate_keyfile"
            )
        return KeySource("keyfile", secret, str(file))

    @staticmethod
    def generate_keyfile(path: str | Path) -> KeySource:
        file = Path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        content = (base64.b64encode(secrets.token_bytes(32)).decode() + "\n").encode()
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise InvalidParameter(
                f"key file {file}: already exists; refusing to overwrite a key "
                "(use KeySource.keyfile)"
            ) from None
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        return KeySource("keyfile", content, str(file))

    @staticmethod
    def unencrypted() -> KeySource:
        return KeySource("none", b"", "unencrypted")

    def wrapping_key(self, params: dict[str, Any], salt: bytes) -> bytes:
        if self.kind == "passphrase":
            return hash_secret_raw(
                self._secret,
                salt,
                time_cost=int(params["time_cost"]),
                memory_cost=int(params["memory_kib"]),
                parallelism=int(params["parallelism"]),
                hash_len=32,
                type=Type.ID,
            )
        if self.kind == "keyfile":
            return hkdf(self._secret, b"dbs/v1/keyfile-wrap", salt=salt)
        raise InvalidParameter("key: an unencrypted key source cannot wrap a key")


def wrap_master_key(master: bytes, source: KeySource, repository_id: str) -> dict[str, Any]:
    """A key object (JSON-ready) holding ``master`` wrapped by ``source``."""
    salt = secrets.token_bytes(16)
    kdf: dict[str, Any]
    if source.kind == "passphrase":
        kdf = {
            "name": "argon2id",
            "time_cost": ARGON2_TIME_COST,
            "memory_kib": ARGON2_MEMORY_KIB,
            "parallelism": ARGON2_PARALLELISM,
        }
    else:
        kdf = {"name": "hkdf-sha256"}
    kek = source.wrapping_key(kdf, salt)
    nonce = secrets.token_bytes(12)
    wrapped = AESGCM(kek).encrypt(nonce, master, _wrap_aad(repository_id, source.kind))
    return {
        "format": "dbs-key",
        "version": 1,
        "repository": repository_id,
        "kind": source.kind,
        "kdf": kdf,
        "salt": _b64(salt),
        "nonce": _b64(nonce),
        "wrapped_master_key": _b64(wrapped),
        "created_at": datetime.now(UTC).isoformat(),
    }


def unwrap_master_key(
    key_object: dict[str, Any], source: KeySource, repository_id: str
) -> bytes | None:
    """The master key, or None if ``source`` does not open this key object."""
    if key_object.get("format") != "dbs-key" or key_object.get("kind") != source.kind:
        return None
    if key_object.get("repository") != repository_id:
        return None
    try:
        kek = source.wrapping_key(key_object["kdf"], _unb64(key_object["salt"]))
        return AESGCM(kek).decrypt(
            _unb64(key_object["nonce"]),
            _unb64(key_object["wrapped_master_key"]),
            _wrap_aad(repository_id, source.kind),
        )
    except (InvalidTag, KeyError, ValueError, TypeError):
        return None


def _wrap_aad(repository_id: str, kind: str) -> bytes:
    return f"dbs-key/v1/{repository_id}/{kind}".encode()


def encode_key_object(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True).encode() + b"\n"


def decode_key_object(data: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None
