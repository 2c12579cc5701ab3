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
    from dbs.repo import Repository

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


def activate_storage(
    ctx: ServiceContext,
    caller: Caller,
    *,
    accept_agreement: bool,
    local_path: Path | None = None,
    s3: S3Settings | None = None,
    encrypt: bool = True,
    key_file: Path | None = None,
) -> dict[str, Any]:
    """Prove the storage, create (or, with ``key_file``, open) the repository, record it."""
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

    from dbs.repo import KeySource, Repository

    config, secret = _storage_config(ctx, local_path, s3)
    store = open_store(config, secret_access_key=secret)
    steps = probe_store(store)

    key_path = ctx.home.keys_dir / REPOSITORY_KEY_FILE
    if key_file is not None:
        # An existing repository, opened from another home with its exported key.
        key_path.write_bytes(Path(key_file).read_bytes())
        key_path.chmod(0o600)
        repository = Repository.open(store, KeySource.keyfile(key_path))
    elif encrypt:
        # The service picks the repository key itself: look up key-management keys first,
        # as the service role (audited), then fall back to a key file in the home.
        act_as_service(ctx, account.id, "list_encryption_keys")
        key_path.unlink(missing_ok=True)
        repository = Repository.create(store, KeySource.generate_keyfile(key_path))
    else:
        repository = Repository.create(store, KeySource.unencrypted())

    with ctx.catalog.session() as session:
        row = Storage(
            account_id=account.id,
            kind=config["type"],
            config=config,
            secret_sealed=ctx.box.seal(secret, "storage-secret") if secret else None,
            repository_id=repository.id,
            encryption="keyfile" if repository.encrypted else "none",
        )
        session.add(row)
        session.flush()
        result = describe_storage(row)
    result["Probe"] = [{"Step": s.name, "Detail": s.detail} for s in steps]
    return result


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


def open_active_store(ctx: ServiceContext) -> ObjectStore:
    with ctx.catalog.session() as session:
        row = require_storage(session, ctx)
        secret = ctx.box.open(row.secret_sealed, "storage-secret") if row.secret_sealed else None
        return open_store(row.config, secret_access_key=secret)


def open_repository(ctx: ServiceContext) -> Repository:
    from dbs.repo import KeySource, Repository

    store = open_active_store(ctx)
    with ctx.catalog.session() as session:
        encryption = require_storage(session, ctx).encryption
    if encryption == "none":
        return Repository.open(store, KeySource.unencrypted())
    return Repository.open(store, KeySource.keyfile(ctx.home.keys_dir / REPOSITORY_KEY_FILE))


PLAIN_REPOSITORY_PREFIX = "plain"


def open_plan_repository(ctx: ServiceContext, *, encrypted: bool) -> tuple[Repository, str]:
    """The repository a plan's backups go to: ``main`` (the storage's own) or ``plain``.

    Encryption is chosen per plan. The main repository is encrypted unless the
    storage was activated with --no-encryption; plans that ask for no encryption
    in an encrypted storage use a second, unencrypted repository under ``plain/``.
    """
    from dbs.repo import KeySource, Repository, RepositoryNotFound

    with ctx.catalog.session() as session:
        row = require_storage(session, ctx)
        main_encrypted = row.encryption != "none"
        config = dict(row.config)
        secret = ctx.box.open(row.secret_sealed, "storage-secret") if row.secret_sealed else None
    if encrypted == main_encrypted:
        return open_repository(ctx), "main"
    if encrypted:
        raise InvalidParameter(
            "the storage was activated with --no-encryption, so it cannot hold encrypted "
            "backups; configure the plan with --no-encryption or activate encrypted storage",
            code="InvalidParameter.StorageEncryption",
        )
    if config["type"] == "local":
        config["path"] = str(Path(config["path"]) / PLAIN_REPOSITORY_PREFIX)
    else:
        prefix = config.get("prefix", "").strip("/")
        config["prefix"] = (
            f"{prefix}/{PLAIN_REPOSITORY_PREFIX}" if prefix else PLAIN_REPOSITORY_PREFIX
        )
    store = open_store(config, secret_access_key=secret)
    try:
        return Repository.open(store, KeySource.unencrypted()), "plain"
    except RepositoryNotFound:
        return Repository.create(store, KeySource.unencrypted()), "plain"


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
