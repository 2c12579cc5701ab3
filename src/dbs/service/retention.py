"""Retention: a plan's backup sets older than its retention days are removed,
except the newest ``keep_at_least`` ones, which are never removed."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from dbs.catalog.models import BackupPlan, BackupSet
from dbs.iam.principals import Caller
from dbs.service.authz import authorize
from dbs.service.context import ServiceContext
from dbs.service.onboarding import require_authorized
from dbs.service.plans import load_plan, plan_resource
from dbs.service.storage import open_plan_repository


def expired_sets(
    sets: list[BackupSet], *, retention_days: int, keep_at_least: int, now: datetime
) -> list[BackupSet]:
    """Which of one plan's sets retention removes (pure, so it can be tested on a fake clock)."""
    newest_first = sorted(sets, key=lambda s: s.finished_at, reverse=True)
    cutoff = now - timedelta(days=retention_days)
    return [s for s in newest_first[keep_at_least:] if s.finished_at < cutoff]


def apply_retention(
    ctx: ServiceContext, plan_id: str, *, now: datetime | None = None, prune: bool = True
) -> dict[str, Any]:
    """Delete the plan's expired sets from the repository and the catalog, then prune.

    A released plan's sets keep the retention recorded when the newest was made.
    """
    moment = now or datetime.now(UTC)
    with ctx.catalog.session() as session:
        sets = list(session.scalars(select(BackupSet).where(BackupSet.plan_id == plan_id)))
        if not sets:
            return {"BackupPlanId": plan_id, "Removed": []}
        plan = session.get(BackupPlan, plan_id)
        newest = max(sets, key=lambda s: s.finished_at)
        days, keep = (
            (plan.retention_days, plan.keep_at_least)
            if plan is not None
            else (newest.retention_days, newest.keep_at_least)
        )
        expired = expired_sets(sets, retention_days=days, keep_at_least=keep, now=moment)
        victims = [(s.id, s.repository) for s in expired]
    return _delete_sets(ctx, plan_id, victims, prune=prune)


def delete_plan_backups(ctx: ServiceContext, plan_id: str) -> dict[str, Any]:
    with ctx.catalog.session() as session:
        victims = [
            (s.id, s.repository)
            for s in session.scalars(select(BackupSet).where(BackupSet.plan_id == plan_id))
        ]
    return _delete_sets(ctx, plan_id, victims, prune=True)


def _delete_sets(
    ctx: ServiceContext, plan_id: str, victims: list[tuple[str, str]], *, prune: bool
) -> dict[str, Any]:
    from dbs.repo import BackupSetNotFound

    pruned: dict[str, Any] = {}
    for repo_name in sorted({r for _, r in victims}):
        repository, _ = open_plan_repository(ctx, encrypted=repo_name == "main")
        for set_id, name in victims:
            if name != repo_name:
                continue
            # Already gone from storage: forget it in the catalog too.
            with suppress(BackupSetNotFound):
                repository.delete_backup_set(set_id)
            with ctx.catalog.session() as session:
                row = session.get(BackupSet, set_id)
                if row is not None:
                    session.delete(row)
        if prune:
            report = repository.prune()
            pruned[repo_name] = str(report)
    return {"BackupPlanId": plan_id, "Removed": [s for s, _ in victims], "Prune": pruned}


def apply_retention_command(
    ctx: ServiceContext, caller: Caller, plan_id: str, now: datetime | None = None
) -> dict[str, Any]:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
    authorize(ctx, caller, "dbs:ModifyBackupStrategy", plan_resource(account, plan_id))
    with ctx.catalog.session() as session:
        load_plan(session, account, plan_id)
    return apply_retention(ctx, plan_id, now=now)
