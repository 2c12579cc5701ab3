"""``check`` and ``prune`` over the active storage's repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dbs.catalog.models import BackupPlan
from dbs.iam.principals import Caller
from dbs.service.authz import authorize
from dbs.service.context import ServiceContext
from dbs.service.onboarding import require_authorized
from dbs.service.storage import open_plan_repository, require_storage


def _repositories(ctx: ServiceContext) -> list[tuple[str, Any]]:
    """The main repository, plus the unencrypted one if any plan uses it."""
    with ctx.catalog.session() as session:
        storage = require_storage(session, ctx)
        main_encrypted = storage.encryption != "none"
        plain_used = (
            main_encrypted
            and session.scalars(
                select(BackupPlan.id).where(BackupPlan.encryption.is_(False))
            ).first()
        )
    repos = [("main", open_plan_repository(ctx, encrypted=main_encrypted)[0])]
    if plain_used:
        repos.append(("plain", open_plan_repository(ctx, encrypted=False)[0]))
    return repos


def _authorize(ctx: ServiceContext, caller: Caller, action: str) -> None:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
    authorize(ctx, caller, action, f"acs:dbs:{account.region}:{account.id}:storage/*")


def check(ctx: ServiceContext, caller: Caller, *, read_data: bool) -> list[tuple[str, Any]]:
    _authorize(ctx, caller, "dbs:DescribeRepositoryCheck")
    return [(name, repo.check(read_data=read_data)) for name, repo in _repositories(ctx)]


def prune(ctx: ServiceContext, caller: Caller, *, dry_run: bool) -> list[tuple[str, Any]]:
    _authorize(ctx, caller, "dbs:PruneRepository")
    return [(name, repo.prune(dry_run=dry_run)) for name, repo in _repositories(ctx)]
