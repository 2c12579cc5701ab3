"""Alibaba Cloud resource names: ``acs:<service>:<region>:<account>:<relative-id>``.

Five colon-separated fields, unlike AWS's six. ``region`` is empty for global
services such as RAM (``acs:ram::<acct>:role/<name>``); the relative id is
service-defined and may itself contain colons, so only the first four colons
split fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbs.errors import InvalidParameter

__all__ = [
    "ARN_PREFIX",
    "Arn",
    "account_root_arn",
    "backup_plan_arn",
    "format_arn",
    "is_arn",
    "parse_arn",
    "role_arn",
    "role_session_arn",
    "saml_provider_arn",
    "user_arn",
]

ARN_PREFIX = "acs:"

_ACCOUNT_ID = re.compile(r"^[0-9]{1,32}$")
# RAM user and role names (CreateUser / CreateRole): letters, digits, ". @ - _", 1-64 chars.
_PRINCIPAL_NAME = re.compile(r"^[A-Za-z0-9.@\-_]{1,64}$")
# RoleSessionName (AssumeRole): 2-32 chars of the same alphabet.
_SESSION_NAME = re.compile(r"^[A-Za-z0-9.@\-_]{2,32}$")
_REGION = re.compile(r"^[a-z0-9\-]*$")
_PLAN_ID = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")


@dataclass(frozen=True)
class Arn:
    """One parsed ARN. ``str(arn)`` gives back the canonical text."""

    service: str
    region: str
    account: str
    relative_id: str

    def __str__(self) -> str:
        return format_arn(self.service, self.region, self.account, self.relative_id)


def is_arn(text: str) -> bool:
    """True if ``text`` has the ``acs:`` prefix and five fields with a service and a relative id."""
    try:
        parse_arn(text)
    except InvalidParameter:
        return False
    return True


def parse_arn(text: str) -> Arn:
    """Split ``text`` into its five fields, or raise ``InvalidParameter`` naming what is wrong."""
    if not text.startswith(ARN_PREFIX):
        raise InvalidParameter(
            f"ARN {text!r} must start with 'acs:' (format acs:<service>:<region>:<account>:<id>)",
            code="InvalidParameter.Arn",
        )
    parts = text.split(":", 4)
    if len(parts) != 5:
        raise InvalidParameter(
            f"ARN {text!r} has {len(parts)} colon-separated fields; it needs 5: "
            "acs:<service>:<region>:<account>:<relative-id>",
            code="InvalidParameter.Arn",
        )
    _, service, region, account, relative_id = parts
    if not service:
        raise InvalidParameter(
            f"ARN {text!r} has an empty service field (e.g. 'dbs', 'ram', 'oss')",
            code="InvalidParameter.Arn",
        )
    if not relative_id:
        raise InvalidParameter(
            f"ARN {text!r} has an empty relative id (e.g. 'backupplan/<id>' or '*')",
            code="InvalidParameter.Arn",
        )
    return Arn(service=service, region=region, account=account, relative_id=relative_id)


def format_arn(service: str, region: str, account: str, relative_id: str) -> str:
    """Join the five fields. No validation: callers build from values they already checked."""
    return f"acs:{service}:{region}:{account}:{relative_id}"


def _check(value: str, pattern: re.Pattern[str], what: str, rule: str) -> str:
    if not pattern.match(value):
        raise InvalidParameter(
            f"{what} {value!r} is invalid: {rule}",
            code=f"InvalidParameter.{what.title().replace(' ', '')}",
        )
    return value


def _account(account: str) -> str:
    return _check(account, _ACCOUNT_ID, "account id", "use the numeric account UID")


def account_root_arn(account: str) -> str:
    """The account itself as a principal: ``acs:ram::<acct>:root``."""
    return format_arn("ram", "", _account(account), "root")


def user_arn(account: str, name: str) -> str:
    """``acs:ram::<acct>:user/<name>``."""
    _check(
        name, _PRINCIPAL_NAME, "user name", "1-64 characters of letters, digits, '.', '@', '-', '_'"
    )
    return format_arn("ram", "", _account(account), f"user/{name}")


def role_arn(account: str, name: str) -> str:
    """``acs:ram::<acct>:role/<name>``."""
    _check(
        name, _PRINCIPAL_NAME, "role name", "1-64 characters of letters, digits, '.', '@', '-', '_'"
    )
    return format_arn("ram", "", _account(account), f"role/{name}")


def role_session_arn(account: str, role: str, session: str) -> str:
    """An assumed-role session: ``acs:ram::<acct>:role/<role>/<session>`` (AssumeRole.md)."""
    _check(
        session,
        _SESSION_NAME,
        "session name",
        "2-32 characters of letters, digits, '.', '@', '-', '_'",
    )
    return f"{role_arn(account, role)}/{session}"


def saml_provider_arn(account: str, name: str) -> str:
    """``acs:ram::<acct>:saml-provider/<name>`` (a ``Federated`` principal)."""
    _check(
        name,
        _PRINCIPAL_NAME,
        "provider name",
        "1-64 characters of letters, digits, '.', '@', '-', '_'",
    )
    return format_arn("ram", "", _account(account), f"saml-provider/{name}")


def backup_plan_arn(region: str, account: str, plan_id: str) -> str:
    """A DBS backup plan: ``acs:dbs:<region>:<acct>:backupplan/<id>`` (DBS RAM docs)."""
    _check(region, _REGION, "region", "lower-case letters, digits and '-', e.g. 'cn-hangzhou'")
    _check(plan_id, _PLAN_ID, "backup plan id", "1-64 characters of letters, digits, '-', '_'")
    return format_arn("dbs", region, _account(account), f"backupplan/{plan_id}")
