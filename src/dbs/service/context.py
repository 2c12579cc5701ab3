"""What every service call needs: the home, the catalog, the secret box, the caller."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dbs.catalog import Catalog, open_catalog
from dbs.catalog.models import AccessKey, Account, User
from dbs.errors import DbsError, Forbidden, NotReady
from dbs.home import Home
from dbs.iam.principals import Caller
from dbs.secretbox import SecretBox


@dataclass
class ServiceContext:
    home: Home
    catalog: Catalog
    box: SecretBox

    @classmethod
    def open(cls, home: Home) -> ServiceContext:
        home.ensure()
        catalog = open_catalog(home.catalog_url)
        return cls(home=home, catalog=catalog, box=SecretBox(home.secret_key()))

    def close(self) -> None:
        self.catalog.close()


def find_account(session: Session) -> Account | None:
    return session.scalars(select(Account)).first()


def require_account(session: Session, home: Home) -> Account:
    account = find_account(session)
    if account is None:
        raise NotReady(
            f"dbs is not initialized in {home.path}: run 'dbs init' (creates the account and "
            "its root access key)",
            code="OperationDenied.NotInitialized",
        )
    return account


def authenticate(ctx: ServiceContext, access_key_id: str | None, secret: str | None) -> Caller:
    """The caller named by an access key pair, or the account root when none is given.

    Whoever can read the home directory already holds every secret in it, so a
    CLI call without a key acts as the root, like a local administrator.
    """
    with ctx.catalog.session() as session:
        account = require_account(session, ctx.home)
        if not access_key_id:
            return Caller(account_id=account.id, name="root", is_root=True)
        key = session.get(AccessKey, access_key_id)
        if key is None or key.status != "Active":
            raise Forbidden(
                f"access key {access_key_id!r} does not exist or is disabled; check "
                "DBS_ACCESS_KEY_ID",
                code="InvalidAccessKeyId.NotFound",
            )
        expected = ctx.box.open(key.secret_sealed, f"access-key:{key.id}")
        if secret is None or not _same(expected, secret):
            raise Forbidden(
                f"the secret for access key {access_key_id!r} is wrong; "
                "check DBS_ACCESS_KEY_SECRET",
                code="SignatureDoesNotMatch",
            )
        user = session.get(User, key.user_id)
        if user is None:  # cascade should prevent this
            raise DbsError("the access key's user is gone", code="InvalidAccessKeyId.NotFound")
        return Caller(account_id=account.id, name=user.name, is_root=user.is_root)


def caller_from_environment(ctx: ServiceContext) -> Caller:
    return authenticate(
        ctx, os.environ.get("DBS_ACCESS_KEY_ID"), os.environ.get("DBS_ACCESS_KEY_SECRET")
    )


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())
