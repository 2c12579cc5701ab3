"""Who is calling, and which policies apply to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dbs.catalog.models import Policy, PolicyAttachment
from dbs.iam.arn import account_root_arn, user_arn
from dbs.iam.evaluator import AttachedPolicy
from dbs.iam.policy import parse_policy
from dbs.iam.system_policies import system_policy


@dataclass(frozen=True)
class Caller:
    """An authenticated principal: the account root or a RAM user."""

    account_id: str
    name: str
    is_root: bool
    source_ip: str = "127.0.0.1"
    secure_transport: bool = True

    @property
    def arn(self) -> str:
        if self.is_root:
            return account_root_arn(self.account_id)
        return user_arn(self.account_id, self.name)

    @property
    def label(self) -> str:
        """How RAM names the principal in a Forbidden message."""
        return "root" if self.is_root else f"user/{self.name}"


def attached_policies(
    session: Session, account_id: str, principal_type: str, principal_name: str
) -> list[AttachedPolicy]:
    """The parsed policies attached to a user or role, system and custom."""
    rows = session.scalars(
        select(PolicyAttachment).where(
            PolicyAttachment.account_id == account_id,
            PolicyAttachment.principal_type == principal_type,
            PolicyAttachment.principal_name == principal_name,
        )
    ).all()
    policies: list[AttachedPolicy] = []
    for row in rows:
        if row.policy_type == "System":
            document = system_policy(row.policy_name)
        else:
            custom = session.scalars(
                select(Policy).where(
                    Policy.account_id == account_id, Policy.name == row.policy_name
                )
            ).one()
            document = parse_policy(custom.document)
        policy_type: Literal["System", "Custom"] = (
            "System" if row.policy_type == "System" else "Custom"
        )
        policies.append(AttachedPolicy(row.policy_name, document, policy_type))
    return policies
