"""Decide a request against attached policies, RAM's three-valued way.

RAM "Policy evaluation process": every attached identity policy (user, group,
system and custom alike) is pooled; any matching Deny statement gives
**ExplicitDeny**; otherwise any matching Allow gives **Allow**; otherwise the
request is **ImplicitDeny**. Statement and policy order never change the
outcome, only which statement the reason names (the first in attachment order).

A statement matches a request when its Action (or NotAction) covers the action,
case-insensitively; its Resource (or NotResource) covers the resource,
case-sensitively; and its condition block is met. Trust policies add the
Principal test and are decided by ``evaluate_trust``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from dbs.errors import InvalidParameter
from dbs.iam.conditions import RequestContext, conditions_met, normalise_context
from dbs.iam.policy import PolicyDocument, Principal, Statement
from dbs.iam.wildcard import glob_match

__all__ = [
    "ASSUME_ROLE_ACTION",
    "CURRENT_TIME_KEY",
    "AttachedPolicy",
    "Decision",
    "Request",
    "evaluate",
    "evaluate_trust",
    "statement_matches",
]

CURRENT_TIME_KEY = "acs:CurrentTime"
ASSUME_ROLE_ACTION = "sts:AssumeRole"

Effect = Literal["Allow", "ExplicitDeny", "ImplicitDeny"]


@dataclass(frozen=True)
class AttachedPolicy:
    """A policy as attached to a principal; ``name`` is what reasons and audit logs show."""

    name: str
    document: PolicyDocument
    policy_type: Literal["System", "Custom"] = "Custom"


@dataclass(frozen=True)
class Request:
    """What is being asked: an action (``dbs:StartBackupPlan``) on a resource ARN (or ``*``)."""

    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The outcome, and which statement decided it (index from 0, as in policy errors)."""

    effect: Effect
    policy_name: str | None
    statement_index: int | None
    reason: str

    @property
    def allowed(self) -> bool:
        return self.effect == "Allow"


def _with_current_time(context: RequestContext) -> dict[str, tuple[str, ...]]:
    normalised = normalise_context(context)
    if CURRENT_TIME_KEY.casefold() not in normalised:
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        normalised[CURRENT_TIME_KEY.casefold()] = (now,)
    return normalised


def _action_matches(statement: Statement, action: str) -> bool:
    # RAM: "Values in Action and NotAction are generally not case-sensitive".
    hit = any(glob_match(p, action, ignore_case=True) for p in statement.actions)
    return not hit if statement.not_action else hit


def _resource_matches(statement: Statement, resource: str) -> bool:
    if statement.resources is None:  # trust policy: no Resource element
        return True
    # Case-sensitive, whole-string glob (UNVERIFIED for RAM; AWS matches ARNs case-sensitively).
    hit = any(glob_match(p, resource) for p in statement.resources)
    return not hit if statement.not_resource else hit


def statement_matches(
    statement: Statement, action: str, resource: str, context: Mapping[str, tuple[str, ...]]
) -> bool:
    """Whether ``statement`` applies, Principal aside; ``context`` is from ``normalise_context``."""
    return (
        _action_matches(statement, action)
        and _resource_matches(statement, resource)
        and conditions_met(statement.conditions, context)
    )


def _describe(statement: Statement) -> str:
    actions = ("NotAction " if statement.not_action else "") + ",".join(statement.actions)
    if statement.resources is None:
        return f"{statement.effect} {actions}"
    resources = ("NotResource " if statement.not_resource else "") + ",".join(statement.resources)
    text = f"{statement.effect} {actions} on {resources}"
    if statement.conditions:
        text += " when " + " and ".join(
            f"{c.operator} {c.key} {list(c.values)}" for c in statement.conditions
        )
    return text


def evaluate(policies: Sequence[AttachedPolicy], request: Request) -> Decision:
    """Explicit Deny beats Allow; no matching statement is an implicit deny.

    ``acs:CurrentTime`` is added to the context (now, UTC) unless the caller set it.
    """
    context = _with_current_time(request.context)
    first_allow: tuple[str, int, Statement] | None = None
    for policy in policies:
        if policy.document.kind != "identity":
            raise InvalidParameter(
                f"policy {policy.name!r} is a trust policy; evaluate it with evaluate_trust",
                code="InvalidParameter.PolicyType",
            )
        for index, statement in enumerate(policy.document.statements):
            if statement.effect == "Allow" and first_allow is not None:
                continue  # an Allow is already known; only a Deny can change the outcome
            if not statement_matches(statement, request.action, request.resource, context):
                continue
            if statement.effect == "Deny":
                return Decision(
                    effect="ExplicitDeny",
                    policy_name=policy.name,
                    statement_index=index,
                    reason=(
                        f"{request.action} on {request.resource} is explicitly denied by "
                        f"statement {index} of policy {policy.name!r} ({_describe(statement)})"
                    ),
                )
            first_allow = (policy.name, index, statement)
    if first_allow is not None:
        name, index, statement = first_allow
        return Decision(
            effect="Allow",
            policy_name=name,
            statement_index=index,
            reason=(
                f"{request.action} on {request.resource} is allowed by statement {index} of "
                f"policy {name!r} ({_describe(statement)}); no Deny statement matched"
            ),
        )
    if not policies:
        why = "no policy is attached"
    else:
        names = ", ".join(repr(p.name) for p in policies)
        why = f"no statement of the attached policies ({names}) allows it"
    return Decision(
        effect="ImplicitDeny",
        policy_name=None,
        statement_index=None,
        reason=f"{request.action} on {request.resource} is implicitly denied: {why}",
    )


# --- trust policies (sts:AssumeRole) ----------------------------------------------------


def _split_service(value: str) -> tuple[str | None, str]:
    """``"123@dbs.aliyuncs.com"`` -> ("123", "dbs.aliyuncs.com"); plain -> (None, value)."""
    account, sep, service = value.partition("@")
    if not sep:
        return None, value.lower()
    return account, service.lower()


def _service_matches(policy_value: str, caller: str, role_account: str | None) -> bool:
    # A plain "dbs.aliyuncs.com" trusts the service acting for the role's own account;
    # "<uid>@dbs.aliyuncs.com" trusts it acting for account <uid> (DBS cross-account FAQ).
    # A caller presents either form. When the role's account is not given, a plain
    # policy value accepts the service acting for any account. UNVERIFIED beyond the
    # two documented shapes.
    p_account, p_service = _split_service(policy_value)
    c_account, c_service = _split_service(caller)
    if p_service != c_service:
        return False
    if p_account is None:
        return c_account is None or role_account is None or c_account == role_account
    if c_account is None:
        return role_account == p_account
    return c_account == p_account


def _ram_parts(value: str) -> tuple[str, str]:
    """(account, relative id lower-cased) for a RAM principal ARN or bare account id."""
    if value.isdigit():
        return value, "root"
    parts = value.split(":", 4)
    if len(parts) != 5 or parts[0] != "acs" or parts[1] != "ram":
        return "", ""
    # RAM echoes role ARNs lower-cased (e.g. .../role/aliyunserviceroleforhdr), so user
    # and role names compare case-insensitively here (UNVERIFIED).
    return parts[3], parts[4].lower()


def _ram_matches(policy_value: str, caller: str) -> bool:
    p_account, p_rel = _ram_parts(policy_value)
    c_account, c_rel = _ram_parts(caller)
    if not p_account or not c_account or p_account != c_account:
        return False
    if p_rel == "root":
        # Trusting an account root trusts every identity of that account that its own
        # policies let call sts:AssumeRole (CreateRole.md).
        return True
    if p_rel == c_rel:
        return True
    # A trusted role also covers its sessions: role/<name>/<session>.
    return p_rel.startswith("role/") and c_rel.startswith(p_rel + "/")


def _principal_matches(
    principal: Principal | None,
    *,
    service: str | None,
    ram_principal: str | None,
    federated: str | None,
    role_account: str | None,
) -> bool:
    if principal is None:
        return False
    if service is not None and any(
        _service_matches(v, service, role_account) for v in principal.service
    ):
        return True
    if ram_principal is not None and any(_ram_matches(v, ram_principal) for v in principal.ram):
        return True
    return federated is not None and any(v == federated for v in principal.federated)


def evaluate_trust(
    trust: PolicyDocument,
    *,
    service: str | None = None,
    ram_principal: str | None = None,
    federated: str | None = None,
    role_account: str | None = None,
    context: RequestContext | None = None,
    name: str = "trust policy",
) -> Decision:
    """May this caller ``sts:AssumeRole`` under ``trust``?

    Give exactly one caller: ``service`` (``dbs.aliyuncs.com`` or
    ``<uid>@dbs.aliyuncs.com``), ``ram_principal`` (a user/role/session ARN or
    account id) or ``federated`` (an IdP ARN). ``role_account`` is the account
    that owns the role; it lets a plain service principal match the
    account-qualified form for that account. RAM also requires the caller's own
    identity policies to allow ``sts:AssumeRole`` on the role (both must Allow);
    that half is ``evaluate`` on the caller's policies.
    """
    callers = [c for c in (service, ram_principal, federated) if c is not None]
    if len(callers) != 1:
        raise InvalidParameter(
            "evaluate_trust needs exactly one caller: service, ram_principal or federated",
            code="InvalidParameter.Principal",
        )
    if trust.kind != "trust":
        raise InvalidParameter(
            f"{name!r} is an identity policy; parse trust policies with kind='trust'",
            code="InvalidParameter.PolicyType",
        )
    caller = callers[0]
    ctx = _with_current_time(context or {})
    first_allow: int | None = None
    for index, statement in enumerate(trust.statements):
        if statement.effect == "Allow" and first_allow is not None:
            continue
        if not _principal_matches(
            statement.principal,
            service=service,
            ram_principal=ram_principal,
            federated=federated,
            role_account=role_account,
        ):
            continue
        if not statement_matches(statement, ASSUME_ROLE_ACTION, "*", ctx):
            continue
        if statement.effect == "Deny":
            return Decision(
                effect="ExplicitDeny",
                policy_name=name,
                statement_index=index,
                reason=f"{caller} may not assume the role: statement {index} of the {name} "
                f"denies it ({_describe(statement)})",
            )
        first_allow = index
    if first_allow is not None:
        return Decision(
            effect="Allow",
            policy_name=name,
            statement_index=first_allow,
            reason=f"{caller} may assume the role: statement {first_allow} of the {name} "
            f"trusts it ({_describe(trust.statements[first_allow])})",
        )
    return Decision(
        effect="ImplicitDeny",
        policy_name=None,
        statement_index=None,
        reason=f"{caller} may not assume the role: no statement of the {name} trusts it",
    )
