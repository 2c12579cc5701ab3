"""The service acting as its service-linked role.

Before the service does anything on the account's behalf (listing a source's
databases, choosing an encryption key, ...) it checks the operation's action
against the role's own policy and writes an audit record naming the
statement that decided. The role's session principal is
``acs:ram::<account>:role/AliyunServiceRoleForDBS/dbs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select

from dbs.catalog.models import Role
from dbs.errors import Forbidden, NotReady
from dbs.iam import audit
from dbs.iam.arn import role_session_arn
from dbs.iam.evaluator import AttachedPolicy, Decision, Request, evaluate, evaluate_trust
from dbs.iam.policy import parse_policy
from dbs.iam.principals import attached_policies
from dbs.iam.service_actions import action_for
from dbs.iam.system_policies import DBS_SERVICE, SLR_ROLE_NAME
from dbs.service.context import ServiceContext

SESSION_NAME = "dbs"


def act_as_service(
    ctx: ServiceContext,
    account_id: str,
    operation: str,
    resource: str = "*",
    context: Mapping[str, str | Sequence[str]] | None = None,
) -> Decision:
    """Allow the operation under the role's policy, or raise; always audited."""
    action = action_for(operation)
    principal = role_session_arn(account_id, SLR_ROLE_NAME, SESSION_NAME)
    with ctx.catalog.session() as session:
        role = session.scalars(
            select(Role).where(Role.account_id == account_id, Role.name == SLR_ROLE_NAME)
        ).first()
        if role is None:
            raise NotReady(
                f"DBS is not authorized: run 'dbs authorize' (creates the service-linked role "
                f"{SLR_ROLE_NAME})",
                code="OperationDenied.NotAuthorized",
            )
        # Only the linked service may assume the role: check its own trust policy.
        trust = evaluate_trust(
            parse_policy(role.trust_policy, kind="trust"),
            service=DBS_SERVICE,
            role_account=account_id,
        )
        if not trust.allowed:
            decision = trust
        else:
            policies: list[AttachedPolicy] = attached_policies(
                session, account_id, "role", SLR_ROLE_NAME
            )
            decision = evaluate(policies, Request(action, resource, dict(context or {})))
        audit.record(
            session,
            principal=principal,
            action=action,
            resource=resource,
            decision=decision.effect,
            decided_by=decision.reason,
            via="service",
        )
    if not decision.allowed:
        raise Forbidden(
            f"the service role {SLR_ROLE_NAME} is not allowed to perform {action} on {resource} "
            f"({decision.reason})",
            code="Forbidden.ServiceRole",
        )
    return decision
