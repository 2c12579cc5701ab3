"""Checking a caller's permission for one action, and recording the decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dbs.errors import Forbidden
from dbs.iam import audit
from dbs.iam.evaluator import Decision, Request, evaluate
from dbs.iam.principals import Caller, attached_policies
from dbs.service.context import ServiceContext


def authorize(
    ctx: ServiceContext,
    caller: Caller,
    action: str,
    resource: str,
    context: Mapping[str, str | Sequence[str]] | None = None,
    *,
    via: str = "cli",
) -> Decision:
    """Allow or raise Forbidden.RAM; either way the decision goes to the audit log.

    The account root is allowed everything, as in RAM. The audit write uses its
    own transaction so that a denial is recorded even though the call fails.
    """
    full_context: dict[str, str | Sequence[str]] = {
        "acs:SourceIp": caller.source_ip,
        "acs:SecureTransport": "true" if caller.secure_transport else "false",
        "acs:MFAPresent": "false",
    }
    full_context.update(context or {})
    with ctx.catalog.session() as session:
        if caller.is_root:
            decision = Decision(
                effect="Allow",
                policy_name=None,
                statement_index=None,
                reason="the account root is allowed every action",
            )
        else:
            policies = attached_policies(session, caller.account_id, "user", caller.name)
            decision = evaluate(policies, Request(action, resource, full_context))
        audit.record(
            session,
            principal=caller.arn,
            action=action,
            resource=resource,
            decision=decision.effect,
            decided_by=decision.reason,
            via=via,
        )
    if not decision.allowed:
        raise Forbidden(
            f"{caller.label} is not allowed to perform {action} on {resource} ({decision.reason})"
        )
    return decision
