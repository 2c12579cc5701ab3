"""Backup plans: purchase (``CreateBackupPlan``), list, release.

Only the purchase step lives here so far; configuring, prechecking and
starting plans arrive with the plans issue. Plans matter to the foundation
because the service-linked role cannot be deleted while any plan exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from dbs.catalog.models import Account, BackupPlan
from dbs.errors import InvalidParameter, NotFound
from dbs.iam.arn import backup_plan_arn, format_arn
from dbs.iam.principals import Caller
from dbs.service import ids
from dbs.service.authz import authorize
from dbs.service.context import ServiceContext
from dbs.service.onboarding import require_authorized
from dbs.service.storage import require_storage


@dataclass(frozen=True)
class PlanClass:
    """A plan's capacity. DBS: micro ~100 GB in 20 h ... xlarge ~100 GB in 1 h (or more)."""

    name: str
    max_bytes_per_second: int | None  # None = unlimited
    threads: int


_GB = 1_000_000_000
PLAN_CLASSES: dict[str, PlanClass] = {
    "micro": PlanClass("micro", 100 * _GB // (20 * 3600), 1),
    "small": PlanClass("small", 100 * _GB // (10 * 3600), 2),
    "medium": PlanClass("medium", 100 * _GB // (5 * 3600), 4),
    "large": PlanClass("large", 100 * _GB // (2 * 3600), 8),
    "xlarge": PlanClass("xlarge", None, 16),
}
ENGINES = ("postgresql", "mysql", "redis", "sqlite")
METHODS = ("logical",)
_NAME = re.compile(r"^[\w\-. ]{1,128}$")


def _plan_resource(account: Account, plan_id: str) -> str:
    if plan_id == "*":  # every plan of the account, for list calls
        return format_arn("dbs", account.region, account.id, "backupplan/*")
    return backup_plan_arn(account.region, account.id, plan_id)


def create_plan(
    ctx: ServiceContext, caller: Caller, *, engine: str, method: str, plan_class: str, name: str | None
) -> dict[str, Any]:
    engine = engine.lower()
    if engine not in ENGINES:
        raise InvalidParameter(
            f"--engine: {engine!r} is not supported; use one of {', '.join(ENGINES)}",
            code="InvalidParameter.DatabaseType",
        )
    if method not in METHODS:
        raise InvalidParameter(
            f"--method: {method!r} is not supported; use one of {', '.join(METHODS)}",
            code="InvalidParameter.BackupMethod",
        )
    if plan_class not in PLAN_CLASSES:
        raise InvalidParameter(
            f"--class: {plan_class!r} is not a plan class; use one of {', '.join(PLAN_CLASSES)}",
            code="InvalidParameter.InstanceClass",
        )
    if name is not None and not _NAME.match(name):
        raise InvalidParameter(
            "--name: use 1-128 letters, digits, spaces or - _ .", code="InvalidParameter.BackupPlanName"
        )
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
        require_storage(session, ctx)
    plan_id = ids.backup_plan_id()
    authorize(ctx, caller, "dbs:CreateBackupPlan", _plan_resource(account, plan_id))
    with ctx.catalog.session() as session:
        plan = BackupPlan(
            id=plan_id,
            account_id=account.id,
            name=name or plan_id,
            engine=engine,
            method=method,
            plan_class=plan_class,
            status="wait",
        )
        session.add(plan)
        session.flush()
        return describe(plan, account)


def describe(plan: BackupPlan, account: Account) -> dict[str, Any]:
    return {
        "BackupPlanId": plan.id,
        "BackupPlanName": plan.name,
        "BackupPlanStatus": plan.status,
        "SourceEndpointInstanceType": plan.engine,
        "BackupMethod": plan.method,
        "InstanceClass": plan.plan_class,
        "BackupPlanCreateTime": plan.created_at.isoformat(),
        "Arn": _plan_resource(account, plan.id),
    }


def list_plans(ctx: ServiceContext, caller: Caller) -> list[dict[str, Any]]:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
    authorize(ctx, caller, "dbs:DescribeBackupPlanList", _plan_resource(account, "*"))
    with ctx.catalog.session() as session:
        plans = session.scalars(
            select(BackupPlan).where(BackupPlan.account_id == account.id).order_by(BackupPlan.created_at)
        ).all()
        return [describe(p, account) for p in plans]


def release_plan(ctx: ServiceContext, caller: Caller, plan_id: str) -> dict[str, Any]:
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
    authorize(ctx, caller, "dbs:ReleaseBackupPlan", _plan_resource(account, plan_id))
    with ctx.catalog.session() as session:
        plan = session.get(BackupPlan, plan_id)
        if plan is None or plan.account_id != account.id:
            raise NotFound(
                f"backup plan {plan_id!r} does not exist; 'dbs plan list' shows your plans",
                code="EntityNotExist.BackupPlan",
            )
        described = describe(plan, account)
        session.delete(plan)
    described["BackupPlanStatus"] = "released"
    return described
