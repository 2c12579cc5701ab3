"""Properties of the evaluator over generated policies and requests (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dbs.iam.evaluator import AttachedPolicy, Decision, Request, evaluate
from dbs.iam.policy import parse_policy
from dbs.iam.system_policies import SYSTEM_POLICY_NAMES, system_policy

ACTIONS = [
    "dbs:DescribeBackupPlanList",
    "dbs:StartBackupPlan",
    "DBS:startbackupplan",
    "dbs:DeleteBackupPlan",
    "rds:DescribeDBInstances",
    "ram:CreateUser",
    "ram:DeleteServiceLinkedRole",
]
ACTION_PATTERNS = ["*", "dbs:*", "dbs:Describe*", "*:Start*", "rds:D?scribe*", "RAM:*", *ACTIONS]
RESOURCES = [
    "*",
    "acs:dbs:cn-hangzhou:1234567890123456:backupplan/prod-1",
    "acs:dbs:cn-hangzhou:1234567890123456:backupplan/dev-12",
    "acs:ram::1234567890123456:role/AliyunServiceRoleForDBS",
]
RESOURCE_PATTERNS = [
    "*",
    "acs:dbs:*:*:backupplan/*",
    "acs:dbs:*:*:backupplan/prod-?",
    "acs:ram:*:*:role/*",
    *RESOURCES[1:],
]
# One block per operator family member, so generated statements exercise all 21.
CONDITIONS: list[dict[str, Any]] = [
    {"StringEquals": {"acs:ResourceTag/team": ["dev", "ops"]}},
    {"StringNotEquals": {"acs:ResourceTag/team": "dev"}},
    {"StringEqualsIgnoreCase": {"acs:ResourceTag/team": "DEV"}},
    {"StringNotEqualsIgnoreCase": {"acs:ResourceTag/team": "OPS"}},
    {"StringLike": {"ram:ServiceName": "*.aliyuncs.com"}},
    {"StringNotLike": {"ram:ServiceName": "dbs.*"}},
    {"NumericEquals": {"dbs:Days": "7"}},
    {"NumericNotEquals": {"dbs:Days": ["7", "30"]}},
    {"NumericLessThan": {"dbs:Days": "30"}},
    {"NumericLessThanEquals": {"dbs:Days": "30"}},
    {"NumericGreaterThan": {"dbs:Days": "7"}},
    {"NumericGreaterThanEquals": {"dbs:Days": "7"}},
    {"DateEquals": {"acs:CurrentTime": "2019-08-12T09:00:00Z"}},
    {"DateNotEquals": {"acs:CurrentTime": "2019-08-12T17:00:00+08:00"}},
    {"DateLessThan": {"acs:CurrentTime": "2019-08-12T17:00:00+08:00"}},
    {"DateLessThanEquals": {"acs:CurrentTime": "2019-08-12T17:00:00+08:00"}},
    {"DateGreaterThan": {"acs:CurrentTime": "2019-08-12T17:00:00+08:00"}},
    {"DateGreaterThanEquals": {"acs:CurrentTime": "2019-08-12T17:00:00+08:00"}},
    {"Bool": {"acs:SecureTransport": "true"}},
    {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}},
    {"NotIpAddress": {"acs:SourceIp": "192.168.0.0/16"}},
    {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}, "Bool": {"acs:SecureTransport": "true"}},
]
CONTEXT_VALUES: dict[str, list[str]] = {
    "acs:ResourceTag/team": ["dev", "DEV", "ops", "qa"],
    "ram:ServiceName": ["dbs.aliyuncs.com", "polardb.aliyuncs.com"],
    "dbs:Days": ["7", "7.0", "30", "1e2", "-1", "x"],
    "acs:CurrentTime": [
        "2019-08-12T08:59:59Z",
        "2019-08-12T17:00:00+08:00",
        "2030-01-01T00:00:00Z",
    ],
    "acs:SecureTransport": ["true", "false", "TRUE", "maybe"],
    "acs:SourceIp": ["10.1.2.3", "192.168.1.1", "2001:db8::1", "::ffff:10.0.0.1", "bad"],
}


def _one_or_many(options: list[str]) -> st.SearchStrategy[str | list[str]]:
    return st.one_of(
        st.sampled_from(options), st.lists(st.sampled_from(options), min_size=1, max_size=3)
    )


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    stmt["NotAction" if draw(st.booleans()) else "Action"] = draw(_one_or_many(ACTION_PATTERNS))
    stmt["NotResource" if draw(st.booleans()) else "Resource"] = draw(
        _one_or_many(RESOURCE_PATTERNS)
    )
    if draw(st.booleans()):
        stmt["Condition"] = draw(st.sampled_from(CONDITIONS))
    return stmt


def _policy(name: str, stmts: list[dict[str, Any]]) -> AttachedPolicy:
    return AttachedPolicy(name, parse_policy({"Version": "1", "Statement": stmts}))


@st.composite
def policy_sets(draw: st.DrawFn) -> list[AttachedPolicy]:
    count = draw(st.integers(min_value=0, max_value=3))
    policies = [
        _policy(f"p{i}", draw(st.lists(statements(), min_size=1, max_size=3))) for i in range(count)
    ]
    if draw(st.booleans()):
        name = draw(st.sampled_from(SYSTEM_POLICY_NAMES))
        policies.append(AttachedPolicy(name, system_policy(name), "System"))
    return policies


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, str | list[str]]:
    keys = draw(st.lists(st.sampled_from(sorted(CONTEXT_VALUES)), unique=True))
    return {k: draw(_one_or_many(CONTEXT_VALUES[k])) for k in keys}


requests = st.builds(
    Request,
    action=st.sampled_from(ACTIONS),
    resource=st.sampled_from(RESOURCES),
    context=contexts(),
)


def _with_deny(
    policies: list[AttachedPolicy], deny: dict[str, Any], where: int
) -> list[AttachedPolicy]:
    """Add ``deny`` as a new policy at ``where``, or append it to an existing custom policy."""
    if policies and where % 2:
        target = where % len(policies)
        old = policies[target]
        if old.policy_type == "Custom":
            stmts = [*old.document.to_dict()["Statement"], deny]
            return [*policies[:target], _policy(old.name, stmts), *policies[target + 1 :]]
    position = where % (len(policies) + 1)
    return [*policies[:position], _policy("added-deny", [deny]), *policies[position:]]


@settings(max_examples=200, deadline=None)
@given(policy_sets(), requests, statements(effect="Deny"), st.integers(min_value=0, max_value=7))
def test_adding_a_deny_never_grants_or_lifts_an_explicit_deny(
    policies: list[AttachedPolicy], request: Request, deny: dict[str, Any], where: int
) -> None:
    before = evaluate(policies, request)
    after = evaluate(_with_deny(policies, deny, where), request)
    if not before.allowed:
        assert not after.allowed, (before.reason, after.reason)
    if before.effect == "ExplicitDeny":
        assert after.effect == "ExplicitDeny", (before.reason, after.reason)


@settings(max_examples=100, deadline=None)
@given(policy_sets(), requests, st.randoms(use_true_random=False))
def test_attachment_order_does_not_change_the_outcome(
    policies: list[AttachedPolicy], request: Request, rng: Any
) -> None:
    shuffled = list(policies)
    rng.shuffle(shuffled)
    assert evaluate(policies, request).effect == evaluate(shuffled, request).effect


def _consistent(decision: Decision) -> None:
    assert decision.effect in ("Allow", "ExplicitDeny", "ImplicitDeny")
    assert decision.allowed == (decision.effect == "Allow")
    assert (decision.policy_name is None) == (decision.effect == "ImplicitDeny")
    assert decision.reason


ALL_OPERATORS = [
    _policy(
        "everything",
        [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": c} for c in CONDITIONS],
    ),
    _policy(
        "guards",
        [
            {"Effect": "Deny", "NotAction": "dbs:*", "NotResource": "acs:*:*:*:*", "Condition": c}
            for c in CONDITIONS
        ],
    ),
]
junk_text = st.text(max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.sampled_from(ACTIONS), junk_text),
    st.one_of(st.sampled_from(RESOURCES), junk_text),
    st.dictionaries(
        st.one_of(st.sampled_from(sorted(CONTEXT_VALUES)), junk_text),
        st.one_of(junk_text, st.lists(junk_text, max_size=3)),
        max_size=6,
    ),
)
def test_evaluation_never_raises_on_generated_requests(
    action: str, resource: str, context: dict[str, str | list[str]]
) -> None:
    _consistent(evaluate(ALL_OPERATORS, Request(action, resource, context)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
statement_like = st.dictionaries(
    st.sampled_from(
        [
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
            "Principal",
            "Sid",
        ]
    ),
    json_values | st.sampled_from(["Allow", "Deny", "*", "dbs:*", "acs:dbs:*:*:*"]),
)
document_like = st.fixed_dictionaries(
    {
        "Version": st.sampled_from(["1", 1, "2012-10-17"]),
        "Statement": st.lists(statement_like, max_size=3),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(document_like, json_values, st.text(max_size=60)),
    st.sampled_from(["identity", "trust"]),
)
def test_parse_policy_only_ever_raises_policy_error(source: Any, kind: Any) -> None:
    from dbs.iam.policy import PolicyError

    if not isinstance(source, str | dict):
        source = json.dumps(source)
    try:
        doc = parse_policy(source, kind=kind)
    except PolicyError as exc:
        assert exc.code in ("MalformedPolicyDocument", "InvalidParameter.PolicyDocument.Length")
        assert exc.message
    else:
        assert doc.statements


def test_deeply_nested_json_is_a_policy_error() -> None:
    from dbs.iam.policy import PolicyError

    try:
        parse_policy("[" * 3000 + "]" * 3000)
    except PolicyError as exc:
        assert "nested too deeply" in exc.message
    else:  # pragma: no cover
        raise AssertionError("accepted")
