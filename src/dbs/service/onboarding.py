"""First use: create the account, authorize the service-linked role, delete it.

These are DBS's "Authorize DBS SLR" (``InitializeDbsServiceLinkedRole``) and
RAM's ``DeleteServiceLinkedRole`` / ``GetServiceLinkedRoleDeletionStatus``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dbs.catalog.models import (
    AccessKey,
    Account,
    BackupPlan,
    PolicyAttachment,
    Role,
    RoleDeletionTask,
    User,
)
from dbs.errors import AlreadyExists, NotFound, NotReady
from dbs.iam.arn import backup_plan_arn, role_arn
from dbs.iam.principals import Caller
from dbs.iam.system_policies import (
    DBS_SERVICE,
    SLR_POLICY_NAME,
    SLR_ROLE_NAME,
    slr_trust_policy,
    system_policy,
)
from dbs.service import ids
from dbs.service.authz import authorize
from dbs.service.context import ServiceContext, find_account, require_account


@dataclass(frozen=True)
class InitResult:
    account_id: str
    access_key_id: str
    access_key_secret: str  # shown once, then only stored sealed


def init_account(ctx: ServiceContext) -> InitResult:
    """Create the account and its root identity with one access key."""
    with ctx.catalog.session() as session:
        existing = find_account(session)
        if existing is not None:
            raise AlreadyExists(
                f"the home {ctx.home.path} is already initialized (account {existing.id}); "
                "use it as it is, or choose another home with --home",
                code="EntityAlreadyExists.Account",
            )
        account = Account(id=ids.account_id())
        session.add(account)
        root = User(account_id=account.id, name="root", is_root=True)
        session.add(root)
        session.flush()
        key_id, secret = ids.access_key_id(), ids.access_key_secret()
        session.add(
            AccessKey(
                id=key_id,
                user_id=root.id,
                secret_sealed=ctx.box.seal(secret, f"access-key:{key_id}"),
            )
        )
    return InitResult(account.id, key_id, secret)


def find_service_role(session: Session, account_id: str) -> Role | None:
    return session.scalars(
        select(Role).where(Role.account_id == account_id, Role.name == SLR_ROLE_NAME)
    ).first()


def require_authorized(session: Session, ctx: ServiceContext) -> Account:
    account = require_account(session, ctx.home)
    if find_service_role(session, account.id) is None:
        raise NotReady(
            f"DBS is not authorized: run 'dbs authorize' (creates the service-linked role "
            f"{SLR_ROLE_NAME})",
            code="OperationDenied.NotAuthorized",
        )
    return account


def authorize_service(ctx: ServiceContext, caller: Caller) -> dict[str, Any]:
    """Create AliyunServiceRoleForDBS with its trust policy and system policy."""
    resource = role_arn(caller.account_id, SLR_ROLE_NAME)
    authorize(ctx, caller, "dbs:InitializeDbsServiceLinkedRole", "*")
    authorize(
        ctx, caller, "ram:CreateServiceLinkedRole", resource, {"ram:ServiceName": DBS_SERVICE}
    )
    with ctx.catalog.session() as session:
        account = require_account(session, ctx.home)
        if find_service_role(session, account.id) is not None:
            raise AlreadyExists(
                f"The role already exists:{SLR_ROLE_NAME}", code="EntityAlreadyExists.Role"
            )
        trust = slr_trust_policy()
        role = Role(
            account_id=account.id,
            name=SLR_ROLE_NAME,
            trust_policy=trust.text.strip(),
            description="Database Backup (DBS) uses this role to access your databases and "
            "other cloud resources.",
            service_name=DBS_SERVICE,
        )
        session.add(role)
        session.add(
            PolicyAttachment(
                account_id=account.id,
                principal_type="role",
                principal_name=SLR_ROLE_NAME,
                policy_type="System",
                policy_name=SLR_POLICY_NAME,
            )
        )
        session.flush()
        return describe_role_row(role)


def describe_role_row(role: Role) -> dict[str, Any]:
    return {
        "RoleName": role.name,
        "Arn": role_arn(role.account_id, role.name),
        "AssumeRolePolicyDocument": role.trust_policy,
        "Description": role.description,
        "IsServiceLinkedRole": role.service_name is not None,
        "ServiceName": role.service_name,
        "CreateDate": role.created_at.isoformat(),
        "PolicyName": SLR_POLICY_NAME,
        "PolicyType": "System",
        "PolicyDocument": system_policy(SLR_POLICY_NAME).text,
    }


def describe_service_role(ctx: ServiceContext, caller: Caller) -> dict[str, Any]:
    authorize(ctx, caller, "ram:GetRole", role_arn(caller.account_id, SLR_ROLE_NAME))
    with ctx.catalog.session() as session:
        account = require_authorized(session, ctx)
        role = find_service_role(session, account.id)
        assert role is not None
        return describe_role_row(role)


def delete_service_role(ctx: ServiceContext, caller: Caller) -> str:
    """Start a deletion task; it fails while any backup plan still uses the role."""
    resource = role_arn(caller.account_id, SLR_ROLE_NAME)
    authorize(
        ctx, caller, "ram:DeleteServiceLinkedRole", resource, {"ram:ServiceName": DBS_SERVICE}
    )
    with ctx.catalog.session() as session:
        account = require_account(session, ctx.home)
        role = find_service_role(session, account.id)
        if role is None:
            raise NotFound(f"The role does not exist: {SLR_ROLE_NAME}", code="EntityNotExist.Role")
        task_id = f"task/acs-service-role/{DBS_SERVICE}/{SLR_ROLE_NAME}/{uuid.uuid4()}"
        plans = session.scalars(
            select(BackupPlan.id).where(BackupPlan.account_id == account.id).order_by(BackupPlan.id)
        ).all()
        if plans:
            reason: dict[str, object] | None = {
                "Message": f"Service-Linked Role {resource.lower()} cannot be deleted as it is in "
                f"use by {DBS_SERVICE}. Release these backup plans first: 'dbs plan release PLAN'.",
                "RoleUsages": [
                    {
                        "Region": account.region,
                        "Resources": [
                            backup_plan_arn(account.region, account.id, p) for p in plans
                        ],
                    }
                ],
            }
            status = "FAILED"
        else:
            reason, status = None, "SUCCEEDED"
            session.execute(
                delete(PolicyAttachment).where(
                    PolicyAttachment.account_id == account.id,
                    PolicyAttachment.principal_type == "role",
                    PolicyAttachment.principal_name == SLR_ROLE_NAME,
                )
            )
            session.delete(role)
        session.add(
            RoleDeletionTask(
                id=task_id,
                account_id=account.id,
                role_name=SLR_ROLE_NAME,
                status=status,
                reason=reason,
            )
        )
    return task_id


def deletion_status(ctx: ServiceContext, caller: Caller, task_id: str) -> dict[str, Any]:
    authorize(
        ctx,
        caller,
        "ram:GetServiceLinkedRoleDeletionStatus",
        role_arn(caller.account_id, SLR_ROLE_NAME),
    )
    with ctx.catalog.session() as session:
        task = session.get(RoleDeletionTask, task_id)
        if task is None or task.account_id != caller.account_id:
            raise NotFound(
                f"no deletion task {task_id!r}; use the id 'dbs role delete' printed",
                code="EntityNotExist.DeletionTask",
            )
        result: dict[str, Any] = {"DeletionTaskId": task.id, "Status": task.status}
        if task.reason:
            result["Reason"] = json.loads(json.dumps(task.reason))
        return result
