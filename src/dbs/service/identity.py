"""RAM users, their access keys, custom policies and policy attachments."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from dbs.catalog.models import AccessKey, Policy, PolicyAttachment, Role, User
from dbs.errors import AlreadyExists, Forbidden, InvalidParameter, NotFound
from dbs.iam.arn import user_arn
from dbs.iam.policy import parse_policy
from dbs.iam.principals import Caller
from dbs.iam.system_policies import SYSTEM_POLICY_NAMES, system_policy
from dbs.service import ids
from dbs.service.authz import authorize
from dbs.service.context import ServiceContext, require_account

_USER_NAME = re.compile(r"^[A-Za-z0-9.@\-_]{1,64}$")
_POLICY_NAME = re.compile(r"^[A-Za-z0-9\-]{1,128}$")
_MAX_CUSTOM_POLICIES_PER_USER = 10
_MAX_SYSTEM_POLICIES_PER_USER = 20


def _policy_arn(account_id: str, name: str, policy_type: str) -> str:
    owner = "*" if policy_type == "System" else account_id
    return f"acs:ram::{owner}:policy/{name}"


def create_user(ctx: ServiceContext, caller: Caller, name: str) -> dict[str, Any]:
    if not _USER_NAME.match(name) or name == "root":
        raise InvalidParameter(
            f"NAME: {name!r} is not a valid user name; use 1-64 letters, digits or . @ - _ "
            "(and not 'root')",
            code="InvalidParameter.UserName",
        )
    authorize(ctx, caller, "ram:CreateUser", user_arn(caller.account_id, name))
    with ctx.catalog.session() as session:
        account = require_account(session, ctx.home)
        if _find_user(session, account.id, name) is not None:
            raise AlreadyExists(f"The user already exists: {name}", code="EntityAlreadyExists.User")
        user = User(account_id=account.id, name=name)
        session.add(user)
        session.flush()
        return {
            "UserName": name,
            "Arn": user_arn(account.id, name),
            "CreateDate": user.created_at.isoformat(),
        }


def list_users(ctx: ServiceContext, caller: Caller) -> list[dict[str, Any]]:
    authorize(ctx, caller, "ram:ListUsers", f"acs:ram::{caller.account_id}:user/*")
    with ctx.catalog.session() as session:
        users = session.scalars(
            select(User)
            .where(User.account_id == caller.account_id, User.is_root.is_(False))
            .order_by(User.name)
        ).all()
        out = []
        for u in users:
            policies = session.scalars(
                select(PolicyAttachment.policy_name).where(
                    PolicyAttachment.account_id == caller.account_id,
                    PolicyAttachment.principal_type == "user",
                    PolicyAttachment.principal_name == u.name,
                )
            ).all()
            out.append(
                {
                    "UserName": u.name,
                    "Arn": user_arn(u.account_id, u.name),
                    "Policies": list(policies),
                }
            )
        return out


def create_access_key(ctx: ServiceContext, caller: Caller, user_name: str) -> dict[str, str]:
    authorize(ctx, caller, "ram:CreateAccessKey", user_arn(caller.account_id, user_name))
    with ctx.catalog.session() as session:
        user = _require_user(session, caller.account_id, user_name)
        key_id, secret = ids.access_key_id(), ids.access_key_secret()
        session.add(
            AccessKey(
                id=key_id,
                user_id=user.id,
                secret_sealed=ctx.box.seal(secret, f"access-key:{key_id}"),
            )
        )
    return {"AccessKeyId": key_id, "AccessKeySecret": secret, "UserName": user_name}


def create_policy(
    ctx: ServiceContext, caller: Caller, name: str, document: str, description: str = ""
) -> dict[str, Any]:
    if not _POLICY_NAME.match(name):
        raise InvalidParameter(
            f"NAME: {name!r} is not a valid policy name; use 1-128 letters, digits or '-'",
            code="InvalidParameter.PolicyName.InvalidChars",
        )
    if name in SYSTEM_POLICY_NAMES:
        raise AlreadyExists(
            f"{name} is a system policy; choose another name for a custom policy",
            code="EntityAlreadyExists.Policy",
        )
    parsed = parse_policy(document)  # raises MalformedPolicyDocument naming the element
    authorize(ctx, caller, "ram:CreatePolicy", _policy_arn(caller.account_id, name, "Custom"))
    with ctx.catalog.session() as session:
        account = require_account(session, ctx.home)
        exists = session.scalars(
            select(Policy).where(Policy.account_id == account.id, Policy.name == name)
        ).first()
        if exists is not None:
            raise AlreadyExists(
                f"The policy already exists: {name}", code="EntityAlreadyExists.Policy"
            )
        session.add(
            Policy(account_id=account.id, name=name, description=description, document=parsed.text)
        )
    return {"PolicyName": name, "PolicyType": "Custom", "PolicyDocument": parsed.text}


def list_policies(ctx: ServiceContext, caller: Caller) -> list[dict[str, Any]]:
    authorize(ctx, caller, "ram:ListPolicies", f"acs:ram::{caller.account_id}:policy/*")
    out: list[dict[str, Any]] = [
        {"PolicyName": n, "PolicyType": "System", "PolicyDocument": system_policy(n).text}
        for n in sorted(SYSTEM_POLICY_NAMES)
    ]
    with ctx.catalog.session() as session:
        for p in session.scalars(
            select(Policy).where(Policy.account_id == caller.account_id).order_by(Policy.name)
        ):
            out.append({"PolicyName": p.name, "PolicyType": "Custom", "PolicyDocument": p.document})
    return out


def attach_policy_to_user(
    ctx: ServiceContext, caller: Caller, user_name: str, policy_name: str
) -> dict[str, str]:
    authorize(ctx, caller, "ram:AttachPolicyToUser", user_arn(caller.account_id, user_name))
    with ctx.catalog.session() as session:
        _require_user(session, caller.account_id, user_name)
        policy_type = _policy_type(session, caller.account_id, policy_name)
        attached = session.scalars(
            select(PolicyAttachment).where(
                PolicyAttachment.account_id == caller.account_id,
                PolicyAttachment.principal_type == "user",
                PolicyAttachment.principal_name == user_name,
            )
        ).all()
        if any(a.policy_name == policy_name and a.policy_type == policy_type for a in attached):
            raise AlreadyExists(
                f"policy {policy_name} is already attached to user {user_name}",
                code="EntityAlreadyExists.User.Policy",
            )
        limit = (
            _MAX_SYSTEM_POLICIES_PER_USER
            if policy_type == "System"
            else _MAX_CUSTOM_POLICIES_PER_USER
        )
        if sum(a.policy_type == policy_type for a in attached) >= limit:
            raise InvalidParameter(
                f"user {user_name} already has {limit} {policy_type.lower()} policies attached, "
                "RAM's limit; detach one first",
                code="LimitExceeded.User.Policy",
            )
        session.add(
            PolicyAttachment(
                account_id=caller.account_id,
                principal_type="user",
                principal_name=user_name,
                policy_type=policy_type,
                policy_name=policy_name,
            )
        )
    return {"UserName": user_name, "PolicyName": policy_name, "PolicyType": policy_type}


def attach_policy_to_role(
    ctx: ServiceContext, caller: Caller, role_name: str, policy_name: str
) -> None:
    """Roles here are service-linked, and their policy is fixed by the service."""
    authorize(
        ctx, caller, "ram:AttachPolicyToRole", f"acs:ram::{caller.account_id}:role/{role_name}"
    )
    with ctx.catalog.session() as session:
        role = session.scalars(
            select(Role).where(Role.account_id == caller.account_id, Role.name == role_name)
        ).first()
        if role is None:
            raise NotFound(f"The role does not exist: {role_name}", code="EntityNotExist.Role")
        if role.service_name is not None:
            raise Forbidden(
                f"{role_name} is a service-linked role: its policy is defined by "
                f"{role.service_name} and cannot be changed, and no other policy can be attached",
                code="NoPermission.ServiceLinkedRole",
            )
        raise InvalidParameter(  # pragma: no cover - only service-linked roles exist today
            f"attaching policies to role {role_name} is not supported", code="InvalidParameter.Role"
        )


def _find_user(session: Any, account_id: str, name: str) -> User | None:
    user: User | None = session.scalars(
        select(User).where(User.account_id == account_id, User.name == name)
    ).first()
    return user


def _require_user(session: Any, account_id: str, name: str) -> User:
    user = _find_user(session, account_id, name)
    if user is None or user.is_root:
        raise NotFound(
            f"The user does not exist: {name}; create it with 'dbs user create {name}'",
            code="EntityNotExist.User",
        )
    return user


def _policy_type(session: Any, account_id: str, name: str) -> str:
    if name in SYSTEM_POLICY_NAMES:
        return "System"
    exists = session.scalars(
        select(Policy).where(Policy.account_id == account_id, Policy.name == name)
    ).first()
    if exists is None:
        raise NotFound(
            f"The policy does not exist: {name}; system policies are "
            f"{', '.join(sorted(SYSTEM_POLICY_NAMES))}, "
            "custom ones are created with 'dbs policy create'",
            code="EntityNotExist.Policy",
        )
    return "Custom"
