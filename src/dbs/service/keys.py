"""The repository key: export it for recovery, rotate how it is wrapped.

Losing the key loses the backups. The master key never changes (data is not
rewritten); what changes is what wraps it: a key file in the home or a
passphrase the operator knows (kept sealed in the catalog so scheduled
backups run unattended).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbs.catalog.models import Storage
from dbs.errors import InvalidParameter
from dbs.iam.principals import Caller
from dbs.service.authz import authorize
from dbs.service.context import ServiceContext
from dbs.service.onboarding import require_authorized
from dbs.service.storage import REPOSITORY_KEY_FILE, open_repository, require_storage


def _storage_resource(ctx: ServiceContext, caller: Caller, action: str) -> None:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
        require_storage(session, ctx)
    authorize(ctx, caller, action, f"acs:dbs:{account.region}:{account.id}:storage/*")


def export_key(ctx: ServiceContext, caller: Caller, destination: Path) -> dict[str, Any]:
    """Write the wrapped key material and recovery instructions to ``destination``."""
    _storage_resource(ctx, caller, "dbs:ExportRepositoryKey")
    repository = open_repository(ctx)
    text = repository.export_key()
    try:
        fd_path = Path(destination)
        fd_path.parent.mkdir(parents=True, exist_ok=True)
        fd_path.write_text(text)
        fd_path.chmod(0o600)
    except OSError as exc:
        raise InvalidParameter(
            f"--to: cannot write {destination}: {exc.strerror}", code="InvalidParameter.Path"
        ) from None
    with ctx.catalog.session() as session:
        row = require_storage(session, ctx)
        wrapped_by = row.encryption
    needs = (
        f"the key file {ctx.home.keys_dir / REPOSITORY_KEY_FILE}"
        if wrapped_by == "keyfile"
        else "the passphrase"
    )
    return {
        "RepositoryId": repository.id,
        "File": str(destination),
        "WrappedBy": wrapped_by,
        "AlsoNeeded": needs,
    }


def rotate_key(
    ctx: ServiceContext, caller: Caller, *, passphrase: str | None = None
) -> dict[str, Any]:
    """Re-wrap the master key with a new passphrase, or (without one) a new key file."""
    from dbs.repo import KeySource

    _storage_resource(ctx, caller, "dbs:RotateRepositoryKey")
    repository = open_repository(ctx)
    if not repository.encrypted:
        raise InvalidParameter(
            "the storage's repository is not encrypted; there is no key to rotate",
            code="InvalidParameter.Key",
        )
    key_path = ctx.home.keys_dir / REPOSITORY_KEY_FILE
    if passphrase is not None:
        repository.rotate_key(KeySource.passphrase(passphrase))
        kind = "passphrase"
    else:
        new_path = key_path.with_suffix(".new")
        new_path.unlink(missing_ok=True)
        repository.rotate_key(KeySource.generate_keyfile(new_path))
        new_path.replace(key_path)
        kind = "keyfile"
    with ctx.catalog.session() as session:
        row: Storage = require_storage(session, ctx)
        row.encryption = kind
        row.key_passphrase_sealed = (
            ctx.box.seal(passphrase, "repository-passphrase") if passphrase is not None else None
        )
    if kind == "passphrase":
        key_path.unlink(missing_ok=True)  # the old key file no longer opens anything
    return {"RepositoryId": repository.id, "WrappedBy": kind}
