"""Storage activation ("Activate OSS") and opening the active backup repository.

Activation proves the storage works (put, get, list, delete and a
conditional create on a marker object) before anything is recorded, then
creates the backup repository in it. On any failure it says which step failed
and records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dbs.catalog.models import Storage
from dbs.errors import AlreadyExists, InvalidParameter, NotReady
from dbs.iam.principals import Caller
from dbs.service.authz import authorize
from dbs.service.context import ServiceContext
from dbs.service.onboarding import require_authorized
from dbs.service.role_session import act_as_service
from dbs.storage.base import ObjectStore
from dbs.storage.factory import open_store
from dbs.storage.probe import probe_store

if TYPE_CHECKING:
    from dbs.repo import KeySource, Repository

REPOSITORY_KEY_FILE = "repository.key"


@dataclass(frozen=True)
class S3Settings:
    endpoint: str
    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str
    prefix: str = ""


def find_storage(session: Session, account_id: str) -> Storage | None:
    return session.scalars(
        select(Storage).where(Storage.account_id == account_id, Storage.active.is_(True))
    ).first()


def require_storage(session: Session, ctx: ServiceContext) -> Storage:
    account = require_authorized(session, ctx)
    storage = find_storage(session, account.id)
    if storage is None:
        raise NotReady(
            "backup storage is not activated: run 'dbs storage activate --accept-agreement' "
            "(local storage under the home by default, or S3-compatible storage "
            "with --s3-endpoint)",
            code="OperationDenied.StorageNotActivated",
        )
    return storage


@dataclass(frozen=True)
class KeyChoice:
    """How the repository key is given at activation (all optional)."""

    encrypt: bool = True
    passphrase: str | None = None  # wrap the master key with a passphrase (kept sealed)
    key_file: Path | None = None  # open an existing repository with its key file
    key_export: str | None = None  # an exported key, if the storage's keys/ was lost


def activate_storage(
    ctx: ServiceContext,
    caller: Caller,
    *,
    accept_agreement: bool,
    local_path: Path | None = None,
    s3: S3Settings | None = None,
    keys: KeyChoice | None = None,
) -> dict[str, Any]:
    """Prove the storage, create or open its repository, record it."""
    keys = keys or KeyChoice()
    if not accept_agreement:
        raise InvalidParameter(
            "--accept-agreement: activating storage means accepting the service agreement "
            "(backup data is stored in the storage you choose); run again with --accept-agreement",
            code="InvalidParameter.AcceptAgreement",
        )
    if local_path is not None and s3 is not None:
        raise InvalidParameter(
            "--local and --s3-endpoint: choose one kind of storage", code="InvalidParameter.Storage"
        )
    if keys.passphrase is not None and keys.key_file is not None:
        raise InvalidParameter(
            "--passphrase-file and --key-file: give one way to unwrap the repository key",
            code="InvalidParameter.Key",
        )
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
        active = find_storage(session, account.id)
        if active is not None:
            raise AlreadyExists(
                f"storage is already active ({active.kind}: {_describe_config(active.config)}); "
                "existing backups stay where they are",
                code="EntityAlreadyExists.Storage",
            )
    authorize(
        ctx, caller, "dbs:ActivateStorage", f"acs:dbs:{account.region}:{account.id}:storage/*"
    )

    config, secret = _storage_config(ctx, local_path, s3)
    store = open_store(config, secret_access_key=secret)
    steps = probe_store(store)
    if keys.encrypt:
        # Before choosing the repository key the service looks up key-management keys,
        # as its role (audited); with none configured it keeps a key file in the home.
        act_as_service(ctx, account.id, "list_encryption_keys")
    repository, encryption = _create_or_open_repository(ctx, store, keys)

    with ctx.catalog.session() as session:
        row = Storage(
            account_id=account.id,
            kind=config["type"],
            config=config,
            secret_sealed=ctx.box.seal(secret, "storage-secret") if secret else None,
            repository_id=repository.id,
            encryption=encryption,
            key_passphrase_sealed=ctx.box.seal(keys.passphrase, "repository-passphrase")
            if encryption == "passphrase" and keys.passphrase
            else None,
        )
        session.add(row)
        session.flush()
        result = describe_storage(row)
    result["Probe"] = [{"Step": s.name, "Detail": s.detail} for s in steps]
    return result


def _create_or_open_repository(
    ctx: ServiceContext, store: ObjectStore, keys: KeyChoice
) -> tuple[Repository, str]:
    from dbs.repo import KeySource, Repository, RepositoryNotFound, WrongKeyError
    from dbs.repo.repository import read_config

    key_path = ctx.home.keys_dir / REPOSITORY_KEY_FILE
    try:
        existing = read_config(store)
    except RepositoryNotFound:
        existing = None
    if existing is None:
        if keys.key_file is not None or keys.key_export is not None:
            raise InvalidParameter(
                f"--key-file/--key-export: there is no repository at {store.describe()} to open; "
                "leave them out to create a new one",
                code="InvalidParameter.Key",
            )
        if not keys.encrypt:
            return Repository.create(store, KeySource.unencrypted()), "none"
        if keys.passphrase is not None:
            return Repository.create(store, KeySource.passphrase(keys.passphrase)), "passphrase"
        key_path.unlink(missing_ok=True)
        return Repository.create(store, KeySource.generate_keyfile(key_path)), "keyfile"
    # The storage already holds a repository (e.g. activation from a new home): open it.
    if existing.get("encryption") == "none":
        return Repository.open(store, KeySource.unencrypted()), "none"
    if keys.passphrase is not None:
        source, kind = KeySource.passphrase(keys.passphrase), "passphrase"
    elif keys.key_file is not None:
        try:
            key_path.write_bytes(Path(keys.key_file).read_bytes())
        except OSError as exc:
            raise InvalidParameter(
                f"--key-file: cannot read {keys.key_file}: {exc.strerror}",
                code="InvalidParameter.Key",
            ) from None
        key_path.chmod(0o600)
        source, kind = KeySource.keyfile(key_path), "keyfile"
    else:
        raise InvalidParameter(
            f"{store.describe()} already holds an encrypted repository: give its key with "
            "--passphrase-file or --key-file (and --key-export FILE if its keys/ folder was lost)",
            code="InvalidParameter.Key",
        )
    try:
        return Repository.open(store, source), kind
    except WrongKeyError:
        if keys.key_export is None:
            raise
    # keys/ does not open with this key: open with the export and put its keys back.
    repository = Repository.open(store, source, exported_key=keys.key_export)
    repository.import_key(keys.key_export)
    return repository, kind


def describe_storage(row: Storage) -> dict[str, Any]:
    shown = {k: v for k, v in row.config.items() if k != "type"}
    return {
        "StorageType": row.kind,
        "Location": _describe_config(row.config),
        "Settings": shown,
        "RepositoryId": row.repository_id,
        "Encryption": row.encryption,
        "ActivatedAt": row.activated_at.isoformat(),
        "SecretStored": row.secret_sealed is not None,
    }


def show_storage(ctx: ServiceContext, caller: Caller) -> dict[str, Any]:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
    authorize(
        ctx, caller, "dbs:DescribeStorage", f"acs:dbs:{account.region}:{account.id}:storage/*"
    )
    with ctx.catalog.session() as session:
        return describe_storage(require_storage(session, ctx))


@dataclass(frozen=True)
class _ActiveStorage:
    """What opening the active storage needs, read from the catalog once."""

    config: dict[str, str]
    secret: str | None
    key: KeySource


def _active_storage(ctx: ServiceContext) -> _ActiveStorage:
    with ctx.catalog.session() as session:
        row = require_storage(session, ctx)
        secret = ctx.box.open(row.secret_sealed, "storage-secret") if row.secret_sealed else None
        return _ActiveStorage(dict(row.config), secret, repository_key(ctx, row))


def repository_key(ctx: ServiceContext, row: Storage) -> KeySource:
    """The key source that opens the active storage's main repository."""
    from dbs.repo import KeySource

    if row.encryption == "none":
        return KeySource.unencrypted()
    if row.encryption == "passphrase":
        assert row.key_passphrase_sealed is not None
        return KeySource.passphrase(
            ctx.box.open(row.key_passphrase_sealed, "repository-passphrase")
        )
    return KeySource.keyfile(ctx.home.keys_dir / REPOSITORY_KEY_FILE)


def open_repository(ctx: ServiceContext) -> Repository:
    from dbs.repo import Repository

    active = _active_storage(ctx)
    store = open_store(active.config, secret_access_key=active.secret)
    return Repository.open(store, active.key)


PLAIN_REPOSITORY_PREFIX = "plain"


def check_plan_encryption(storage: Storage, *, encrypted: bool) -> None:
    """An encrypted plan needs encrypted storage (the reverse is served by ``plain/``)."""
    if encrypted and storage.encryption == "none":
        raise InvalidParameter(
            "the storage was activated with --no-encryption, so it cannot hold encrypted "
            "backups; configure the plan with --no-encryption or activate encrypted storage",
            code="InvalidParameter.StorageEncryption",
        )


def open_plan_repository(ctx: ServiceContext, *, encrypted: bool) -> tuple[Repository, str]:
    """The repository a plan's backups go to: ``main`` (the storage's own) or ``plain``.

    Encryption is chosen per plan. The main repository is encrypted unless the
    storage was activated with --no-encryption; plans that ask for no encryption
    in an encrypted storage use a second, unencrypted repository under ``plain/``.
    """
    from dbs.repo import KeySource, Repository, RepositoryExists, RepositoryNotFound

    with ctx.catalog.session() as session:
        check_plan_encryption(require_storage(session, ctx), encrypted=encrypted)
    active = _active_storage(ctx)
    main_encrypted = active.key.kind != "none"
    if encrypted == main_encrypted:
        store = open_store(active.config, secret_access_key=active.secret)
        return Repository.open(store, active.key), "main"
    config = dict(active.config)
    if config["type"] == "local":
        config["path"] = str(Path(config["path"]) / PLAIN_REPOSITORY_PREFIX)
    else:
        prefix = config.get("prefix", "").strip("/")
        config["prefix"] = (
            f"{prefix}/{PLAIN_REPOSITORY_PREFIX}" if prefix else PLAIN_REPOSITORY_PREFIX
        )
    store = open_store(config, secret_access_key=active.secret)
    try:
        return Repository.open(store, KeySource.unencrypted()), "plain"
    except RepositoryNotFound:
        try:
            return Repository.create(store, KeySource.unencrypted()), "plain"
        except RepositoryExists:  # another job created it a moment ago
            return Repository.open(store, KeySource.unencrypted()), "plain"


def _storage_config(
    ctx: ServiceContext, local_path: Path | None, s3: S3Settings | None
) -> tuple[dict[str, str], str | None]:
    if s3 is None:
        path = Path(local_path) if local_path is not None else ctx.home.default_storage_path
        return {"type": "local", "path": str(path.expanduser().resolve())}, None
    from dbs.storage.s3_bucket import ensure_bucket

    for field_name, value in (
        ("--s3-endpoint", s3.endpoint),
        ("--bucket", s3.bucket),
        ("--region", s3.region),
        ("--access-key-id", s3.access_key_id),
        ("--secret-access-key-file", s3.secret_access_key),
    ):
        if not value:
            raise InvalidParameter(
                f"{field_name} is required for S3-compatible storage",
                code="InvalidParameter.Storage",
            )
    ensure_bucket(s3.endpoint, s3.bucket, s3.region, s3.access_key_id, s3.secret_access_key)
    config = {
        "type": "s3",
        "endpoint": s3.endpoint,
        "bucket": s3.bucket,
        "region": s3.region,
        "access_key_id": s3.access_key_id,
    }
    if s3.prefix:
        config["prefix"] = s3.prefix
    return config, s3.secret_access_key


def _describe_config(config: dict[str, str]) -> str:
    if config.get("type") == "local":
        return config.get("path", "")
    prefix = f"/{config['prefix']}" if config.get("prefix") else ""
    return f"s3://{config.get('bucket')}{prefix} at {config.get('endpoint')}"
