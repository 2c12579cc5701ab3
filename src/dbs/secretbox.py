"""Encryption of secrets kept in the catalog (passwords, access key secrets).

AES-256-GCM under the home's secret key, with the secret's purpose (e.g.
``access-key:LTAI...``) as associated data so a ciphertext cannot be moved to
another row and decrypt there. Stored form: ``v1:<base64(nonce || ciphertext)>``.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dbs.errors import DbsError

_VERSION = "v1"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def seal(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode(), purpose.encode())
        return f"{_VERSION}:{base64.b64encode(nonce + ct).decode()}"

    def open(self, token: str, purpose: str) -> str:
        version, _, body = token.partition(":")
        if version != _VERSION:
            raise DbsError(f"unknown secret format {version!r}", code="SecretDecryptFailed")
        raw = base64.b64decode(body)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], purpose.encode()).decode()
        except InvalidTag:
            raise DbsError(
                "a stored secret could not be decrypted: the home's secret.key does not match "
                "the catalog (was the catalog moved without its home?)",
                code="SecretDecryptFailed",
            ) from None
