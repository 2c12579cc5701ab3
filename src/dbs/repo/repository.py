"""A repository: where backup sets live, on any ObjectStore.

Layout (docs/repository-format.md)::

    config               plaintext JSON: format version, id, algorithms (no secrets)
    keys/<id>            the master key, wrapped by a passphrase or key file
    packs/<xx>/<id>      write-once packs of sealed blobs
    index/<name>         sealed lists of which blob is where (a cache of pack headers)
    sets/<set id>        sealed manifests; a backup set exists iff its manifest does
    locks/<id>           who is writing, checking or pruning
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dbs.errors import InvalidParameter
from dbs.repo.crypto import Crypto, IntegrityError, RepositoryKeys
from dbs.repo.errors import (
    BackupSetNotFound,
    RepositoryDamaged,
    RepositoryError,
    RepositoryExists,
    RepositoryNotFound,
    WrongKeyError,
)
from dbs.repo.index import ChunkIndex
from dbs.repo.keys import (
    KeySource,
    decode_key_object,
    encode_key_object,
    unwrap_master_key,
    wrap_master_key,
)
from dbs.repo.layout import (
    CONFIG_KEY,
    FORMAT_VERSION,
    KEYS_PREFIX,
    OLDEST_FORMAT_VERSION,
    SETS_PREFIX,
    set_key,
)
from dbs.repo.locks import RepositoryLock
from dbs.repo.manifest import BackupSetInfo, Manifest, read_manifest
from dbs.repo.packsink import PACK_TARGET
from dbs.repo.reader import BackupSetReader
from dbs.repo.retention import RetentionDecision, RetentionPolicy, apply_retention
from dbs.repo.writer import BackupSetWriter
from dbs.storage.base import ObjectExistsError, ObjectNotFoundError, ObjectStore

if TYPE_CHECKING:
    from dbs.repo.check import CheckReport
    from dbs.repo.prune import PruneReport
    from dbs.repo.rebuild import RebuildReport

CONFIG_FORMAT = "dbs-repository"
KEY_EXPORT_FORMAT = "dbs-key-export"

RECOVERY_INSTRUCTIONS = """\
This file holds the wrapped master key of a dbs backup repository. Without it
(or the copy inside the repository's keys/ folder) AND the passphrase or key
file that wraps it, the backups cannot be decrypted by anyone.

To open the repository from another machine or home:
  1. Keep this file and the passphrase / key file in two separate safe places.
  2. Point dbs at the same storage (bucket/prefix or directory).
  3. Open it with this file and the passphrase or key file:
       dbs storage activate --accept-agreement <the same --local or --s3-... options>
           --key-export <this file> (--passphrase-file FILE | --key-file FILE)
     (library: Repository.open(store, KeySource.passphrase(...), exported_key=<this text>)).
This file alone cannot decrypt anything; it is safe to store next to other backups,
but not next to the passphrase or key file.
"""


class Repository:
    """An open repository. Safe to share between threads."""

    def __init__(
        self,
        store: ObjectStore,
        config: Mapping[str, Any],
        keys: RepositoryKeys,
        key_objects: list[str],
    ) -> None:
        self.store = store
        self.config = dict(config)
        self.crypto = Crypto(keys)
        self.pack_target = int(config.get("pack_target", PACK_TARGET))
        self._key_objects = key_objects  # the key objects the caller's key opened
        self._index = ChunkIndex()
        self._index_loaded = False
        self._index_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # -- creating and opening --------------------------------------------------------------
    @classmethod
    def create(cls, store: ObjectStore, key: KeySource) -> Repository:
        if not isinstance(key, KeySource):
            raise InvalidParameter("key: give a KeySource (passphrase, keyfile or unencrypted)")
        if _exists(store, CONFIG_KEY):
            raise RepositoryExists(
                f"a repository already exists at {store.describe()}; open it instead, "
                "or choose an empty location"
            )
        repo_id = secrets.token_hex(16)
        config: dict[str, Any] = {
            "format": CONFIG_FORMAT,
            "version": FORMAT_VERSION,
            "id": repo_id,
            "created_at": datetime.now(UTC).isoformat(),
            "encryption": "none" if key.kind == "none" else "aes-256-gcm",
            "chunk_id": "blake3-keyed-256",
            "compression": "zstd",
            "chunker": "fastcdc-2020",
            "pack_target": PACK_TARGET,
        }
        key_objects: list[str] = []
        if key.kind == "none":
            id_key = secrets.token_bytes(32)
            config["chunk_id_key"] = id_key.hex()  # not a secret without encryption
            keys = RepositoryKeys.unencrypted(id_key)
        else:
            master = secrets.token_bytes(32)
            keys = RepositoryKeys.from_master(master)
            key_objects.append(_write_key_object(store, wrap_master_key(master, key, repo_id)))
        try:
            store.put(CONFIG_KEY, json.dumps(config, indent=2).encode() + b"\n", create_only=True)
        except ObjectExistsError:
            for name in key_objects:
                store.delete(name)
            raise RepositoryExists(
                f"a repository was created at {store.describe()} at the same moment; "
                "open it instead"
            ) from None
        return cls(store, config, keys, key_objects)

    @classmethod
    def open(
        cls, store: ObjectStore, key: KeySource, *, exported_key: str | None = None
    ) -> Repository:
        """Open with ``key``; an ``exported_key`` (export_key) is tried if keys/ cannot."""
        config = read_config(store)
        repo_id = str(config["id"])
        if config.get("encryption") == "none":
            if key.kind != "none":
                raise WrongKeyError(
                    f"the repository at {store.describe()} is not encrypted; "
                    "open it with KeySource.unencrypted()"
                )
            return cls(
                store, config, RepositoryKeys.unencrypted(bytes.fromhex(config["chunk_id_key"])), []
            )
        if key.kind == "none":
            raise WrongKeyError(
                f"the repository at {store.describe()} is encrypted; "
                "give its passphrase or key file"
            )
        opened: list[str] = []
        master: bytes | None = None
        for info in store.list(KEYS_PREFIX):
            obj = decode_key_object(store.get(info.key))
            found = unwrap_master_key(obj, key, repo_id) if obj else None
            if found is not None:
                master = found
                opened.append(info.key)
        if master is None and exported_key is not None:
            for obj in parse_key_export(exported_key, repo_id):
                master = unwrap_master_key(obj, key, repo_id)
                if master is not None:
                    break
        if master is None:
            what = "passphrase" if key.kind == "passphrase" else f"key file {key.origin}"
            raise WrongKeyError(
                f"the {what} does not open the repository at {store.describe()}; check it, "
                "or open with the exported key (dbs key export) if keys/ was lost"
            )
        return cls(store, config, RepositoryKeys.from_master(master), opened)

    # -- properties ------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.config["id"])

    @property
    def encrypted(self) -> bool:
        return self.crypto.encrypted

    def describe(self) -> str:
        return self.store.describe()

    # -- internals shared by writer, reader, check and prune -----------------------------
    def pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="dbs-repo"
                )
            return self._pool

    def chunk_index(self, *, refresh: bool = False) -> ChunkIndex:
        with self._index_lock:
            if refresh or not self._index_loaded:
                self._index.refresh(self.store, self.crypto)
                self._index_loaded = True
        return self._index

    def lock_shared(self, purpose: str) -> RepositoryLock:
        lock, _ = RepositoryLock.acquire(self.store, "shared", purpose)
        return lock

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- backup sets -----------------------------------------------------------------------
    def begin_backup(self, *, tags: Mapping[str, str] | None = None) -> BackupSetWriter:
        self.chunk_index(refresh=True)
        return BackupSetWriter(self, tags)

    def list_backup_sets(self) -> list[BackupSetInfo]:
        """Committed sets, oldest first. A damaged manifest raises RepositoryDamaged."""
        infos = [
            self._read_manifest(info.key[len(SETS_PREFIX) :]).info
            for info in self.store.list(SETS_PREFIX)
        ]
        infos.sort(key=lambda i: (i.created_at, i.id))
        return infos

    def read_manifest(self, set_id: str) -> Manifest:
        return self._read_manifest(set_id)

    def _read_manifest(self, set_id: str) -> Manifest:
        if not isinstance(set_id, str) or not set_id or "/" in set_id:
            raise InvalidParameter(
                f"backup set id {set_id!r}: not a valid id (see list_backup_sets)"
            )
        try:
            data = self.store.get(set_key(set_id))
        except ObjectNotFoundError:
            raise BackupSetNotFound(
                f"backup set {set_id} does not exist in {self.store.describe()} "
                "(list them with list_backup_sets)"
            ) from None
        try:
            return read_manifest(self.crypto, set_id, data)
        except IntegrityError as exc:
            raise RepositoryDamaged(f"manifest of backup set {set_id} is damaged: {exc}") from None

    def open_backup_set(self, set_id: str) -> BackupSetReader:
        manifest = self._read_manifest(set_id)
        self.chunk_index(refresh=True)
        return BackupSetReader(self, manifest)

    def delete_backup_set(self, set_id: str) -> None:
        """Remove the manifest; its data stays until `prune` finds it unreferenced."""
        self._read_manifest(set_id)
        self.store.delete(set_key(set_id))

    def forget(
        self,
        policy: RetentionPolicy,
        *,
        tags: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> RetentionDecision:
        """Apply ``policy`` to the sets whose tags include ``tags`` (e.g. one plan's).

        Deletes the manifests of sets the policy does not keep (unless ``dry_run``);
        run ``prune`` afterwards to free their data.
        """
        wanted = dict(tags or {})
        sets = [
            s for s in self.list_backup_sets() if all(s.tags.get(k) == v for k, v in wanted.items())
        ]
        decision = apply_retention(sets, policy)
        if not dry_run:
            for info in decision.forget:
                self.store.delete(set_key(info.id))
        return decision

    # -- maintenance -----------------------------------------------------------------------
    def check(self, *, read_data: bool = False) -> CheckReport:
        from dbs.repo.check import check_repository

        return check_repository(self, read_data=read_data)

    def break_stale_locks(self) -> list[str]:
        """Remove locks whose owner is gone; returns a description of each one removed."""
        from dbs.repo.locks import read_locks

        broken = []
        for lock in read_locks(self.store):
            if lock.host != "?" and lock.is_stale():
                self.store.delete(lock.key)
                broken.append(lock.describe())
        return broken

    def rebuild_index(self) -> RebuildReport:
        """Recreate the index from pack headers (after `check` reports a damaged index)."""
        from dbs.repo.rebuild import rebuild_index

        return rebuild_index(self)

    def prune(self, *, dry_run: bool = False) -> PruneReport:
        from dbs.repo.prune import prune_repository

        return prune_repository(self, dry_run=dry_run)

    # -- keys ------------------------------------------------------------------------------
    def export_key(self) -> str:
        """The wrapped key material and recovery instructions, as text to keep safe."""
        if not self.encrypted:
            raise InvalidParameter("key export: the repository is not encrypted; there is no key")
        keys = []
        for info in self.store.list(KEYS_PREFIX):
            obj = decode_key_object(self.store.get(info.key))
            if obj is not None and obj.get("repository") == self.id:
                keys.append(obj)
        doc = {
            "format": KEY_EXPORT_FORMAT,
            "version": 1,
            "repository": self.id,
            "location": self.store.describe(),
            "exported_at": datetime.now(UTC).isoformat(),
            "keys": keys,
            "instructions": RECOVERY_INSTRUCTIONS.splitlines(),
        }
        return json.dumps(doc, indent=2) + "\n"

    def import_key(self, exported_key: str) -> list[str]:
        """Write key objects from an export back into keys/ (after keys/ was lost)."""
        written = []
        for obj in parse_key_export(exported_key, self.id):
            written.append(_write_key_object(self.store, obj))
        return written

    def rotate_key(self, new_key: KeySource) -> str:
        """Wrap the master key with ``new_key`` and remove the key objects the old key opened.

        Data is not rewritten. Returns the new key object's name.
        """
        master = self.crypto.keys.master
        if master is None:
            raise InvalidParameter("key rotate: the repository is not encrypted; there is no key")
        if new_key.kind == "none":
            raise InvalidParameter("key rotate: the new key must be a passphrase or a key file")
        name = _write_key_object(self.store, wrap_master_key(master, new_key, self.id))
        # Prove the new key object opens before dropping the old ones.
        check = decode_key_object(self.store.get(name))
        if check is None or unwrap_master_key(check, new_key, self.id) != master:
            self.store.delete(name)
            raise RepositoryError("key rotate: the new key object did not verify; nothing changed")
        for old in self._key_objects:
            if old != name:
                self.store.delete(old)
        self._key_objects = [name]
        return name


def read_config(store: ObjectStore) -> dict[str, Any]:
    try:
        raw = store.get(CONFIG_KEY)
    except ObjectNotFoundError:
        raise RepositoryNotFound(
            f"no repository at {store.describe()}; create one first (dbs init / Repository.create)"
        ) from None
    try:
        config = json.loads(raw)
        if config.get("format") != CONFIG_FORMAT:
            raise ValueError("wrong format")
    except (ValueError, AttributeError):
        raise RepositoryDamaged(
            f"{store.describe()}/{CONFIG_KEY} is not a dbs repository config"
        ) from None
    if int(config.get("version", 0)) > FORMAT_VERSION:
        raise RepositoryError(
            f"repository format version {config['version']} is newer than this program "
            f"supports ({FORMAT_VERSION}); upgrade dbs"
        )
    if int(config.get("version", 0)) < OLDEST_FORMAT_VERSION:
        raise RepositoryError(
            f"repository format version {config.get('version')} was written by a development "
            f"version of dbs and is no longer readable (this program reads "
            f"{OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}); create a new repository"
        )
    return dict(config)


def parse_key_export(text: str, repository_id: str) -> list[dict[str, Any]]:
    try:
        doc = json.loads(text)
        if doc.get("format") != KEY_EXPORT_FORMAT:
            raise ValueError
    except (ValueError, AttributeError):
        raise InvalidParameter(
            "exported key: not a dbs key export (dbs key export writes one)"
        ) from None
    if doc.get("repository") != repository_id:
        raise InvalidParameter(
            f"exported key: belongs to repository {doc.get('repository')}, not {repository_id}"
        )
    return [k for k in doc.get("keys", []) if isinstance(k, dict)]


def _write_key_object(store: ObjectStore, obj: dict[str, Any]) -> str:
    name = f"{KEYS_PREFIX}{secrets.token_hex(16)}"
    store.put(name, encode_key_object(obj), create_only=True)
    return name


def _exists(store: ObjectStore, key: str) -> bool:
    try:
        store.stat(key)
    except ObjectNotFoundError:
        return False
    return True
