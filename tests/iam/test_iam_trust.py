"""sts:AssumeRole against trust policies (research §5.2 items 15-16)."""

from __future__ import annotations

import pytest

from dbs.errors import InvalidParameter
from dbs.iam.evaluator import AttachedPolicy, Request, evaluate, evaluate_trust
from dbs.iam.policy import PolicyDocument, parse_policy
from dbs.iam.system_policies import slr_trust_policy, system_policy

ACCT = "1234567890123456"
OTHER = "6543210987654321"


def trust(*statements: dict[str, object]) -> PolicyDocument:
    return parse_policy({"Version": "1", "Statement": list(statements)}, kind="trust")


def allow(principal: dict[str, object], **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal, **extra}


def test_slr_trust_admits_only_the_dbs_service() -> None:
    slr = slr_trust_policy()
    assert evaluate_trust(slr, service="dbs.aliyuncs.com").effect == "Allow"
    assert evaluate_trust(slr, service="DBS.aliyuncs.com").effect == "Allow"
    assert evaluate_trust(slr, service="polardb.aliyuncs.com").effect == "ImplicitDeny"
    user = f"acs:ram::{ACCT}:user/alice"
    decision = evaluate_trust(slr, ram_principal=user)
    assert decision.effect == "ImplicitDeny"
    assert "no statement of the trust policy trusts it" in decision.reason


def test_a_ram_user_with_assume_role_everywhere_still_cannot_assume_the_slr() -> None:
    # RAM's AssumeRole rule: identity policy AND trust policy must both Allow.
    identity = parse_policy(
        {
            "Version": "1",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
        }
    )
    role = f"acs:ram::{ACCT}:role/AliyunServiceRoleForDBS"
    caller_side = evaluate(
        [AttachedPolicy("assume-any", identity)], Request("sts:AssumeRole", role)
    )
    trust_side = evaluate_trust(slr_trust_policy(), ram_principal=f"acs:ram::{ACCT}:user/alice")
    assert caller_side.allowed and not trust_side.allowed


def test_account_qualified_service_principal() -> None:
    cross = trust(allow({"Service": [f"{OTHER}@dbs.aliyuncs.com"]}))
    assert evaluate_trust(cross, service=f"{OTHER}@dbs.aliyuncs.com").allowed
    assert not evaluate_trust(cross, service=f"{ACCT}@dbs.aliyuncs.com").allowed
    assert not evaluate_trust(cross, service="dbs.aliyuncs.com").allowed
    assert evaluate_trust(cross, service="dbs.aliyuncs.com", role_account=OTHER).allowed
    plain = slr_trust_policy()
    assert evaluate_trust(plain, service=f"{ACCT}@dbs.aliyuncs.com").allowed
    assert evaluate_trust(plain, service=f"{ACCT}@dbs.aliyuncs.com", role_account=ACCT).allowed
    assert not evaluate_trust(plain, service=f"{OTHER}@dbs.aliyuncs.com", role_account=ACCT).allowed


@pytest.mark.parametrize(
    ("trusted", "caller", "allowed"),
    [
        (f"acs:ram::{ACCT}:root", f"acs:ram::{ACCT}:user/alice", True),
        (f"acs:ram::{ACCT}:root", f"acs:ram::{OTHER}:user/alice", False),
        (ACCT, f"acs:ram::{ACCT}:role/ops", True),
        (f"acs:ram::{ACCT}:user/alice", f"acs:ram::{ACCT}:user/alice", True),
        (f"acs:ram::{ACCT}:user/alice", f"acs:ram::{ACCT}:user/ALICE", True),
        (f"acs:ram::{ACCT}:user/alice", f"acs:ram::{ACCT}:user/bob", False),
        (f"acs:ram::{ACCT}:role/ops", f"acs:ram::{ACCT}:role/ops/session-1", True),
        (f"acs:ram::{ACCT}:role/ops", f"acs:ram::{ACCT}:role/ops2", False),
        (f"acs:ram::{ACCT}:user/alice", "not-an-arn", False),
    ],
)
def test_ram_principals(trusted: str, caller: str, allowed: bool) -> None:
    assert evaluate_trust(trust(allow({"RAM": trusted})), ram_principal=caller).allowed is allowed


def test_federated_principal_and_condition() -> None:
    idp = f"acs:ram::{ACCT}:saml-provider/corp"
    doc = trust(
        allow(
            {"Federated": [idp]},
            Condition={"StringEquals": {"saml:recipient": "https://signin.example/saml/SSO"}},
        )
    )
    ok = {"saml:recipient": "https://signin.example/saml/SSO"}
    assert evaluate_trust(doc, federated=idp, context=ok).allowed
    assert not evaluate_trust(doc, federated=idp).allowed
    assert not evaluate_trust(
        doc, federated=f"acs:ram::{ACCT}:saml-provider/other", context=ok
    ).allowed


def test_trust_deny_beats_allow_and_other_actions_do_not_match() -> None:
    doc = trust(
        allow({"RAM": f"acs:ram::{ACCT}:root"}),
        {
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "Principal": {"RAM": f"acs:ram::{ACCT}:user/mallory"},
        },
    )
    denied = evaluate_trust(doc, ram_principal=f"acs:ram::{ACCT}:user/mallory", name="ops trust")
    assert (denied.effect, denied.policy_name, denied.statement_index) == (
        "ExplicitDeny",
        "ops trust",
        1,
    )
    assert evaluate_trust(doc, ram_principal=f"acs:ram::{ACCT}:user/alice").statement_index == 0
    other_action = trust(
        {
            "Effect": "Allow",
            "Action": "sts:GetCallerIdentity",
            "Principal": {"Service": "dbs.aliyuncs.com"},
        }
    )
    assert not evaluate_trust(other_action, service="dbs.aliyuncs.com").allowed


def test_misuse_is_reported() -> None:
    with pytest.raises(InvalidParameter, match="exactly one caller"):
        evaluate_trust(slr_trust_policy())
    with pytest.raises(InvalidParameter, match="exactly one caller"):
        evaluate_trust(slr_trust_policy(), service="dbs.aliyuncs.com", ram_principal=ACCT)
    with pytest.raises(InvalidParameter, match="identity policy"):
        evaluate_trust(system_policy("AliyunDBSReadOnlyAccess"), service="dbs.aliyuncs.com")
    with pytest.raises(InvalidParameter, match="evaluate it with evaluate_trust") as caught:
        evaluate([AttachedPolicy("t", slr_trust_policy())], Request("sts:AssumeRole", "*"))
    assert caught.value.code == "InvalidParameter.PolicyType"
