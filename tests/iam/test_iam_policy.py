"""Parsing: what a PolicyDocument keeps, input forms, the length boundary, trust policies."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from dbs.errors import InvalidParameter
from dbs.iam.policy import MAX_POLICY_LENGTH, PolicyError, Principal, parse_policy

POLICY = {
    "Version": "1",
    "Statement": [
        {
            "Sid": "Office",
            "Effect": "Deny",
            "NotAction": ["dbs:Describe*"],
            "NotResource": "acs:dbs:*:*:backupplan/dev-*",
            "Condition": {
                "NumericLessThan": {"dbs:Days": ["7", "8.5"]},
                "IpAddress": {"acs:SourceIp": "10.0.0.0/8"},
            },
        }
    ],
}


def test_text_is_kept_verbatim_and_parsed_into_frozen_statements() -> None:
    text = json.dumps(POLICY, indent=4) + "\n"
    doc = parse_policy(text)
    assert doc.text == text
    assert doc.kind == "identity"
    assert doc.to_dict() == POLICY
    (stmt,) = doc.statements
    assert stmt.effect == "Deny" and stmt.sid == "Office"
    assert stmt.actions == ("dbs:Describe*",) and stmt.not_action
    assert stmt.resources == ("acs:dbs:*:*:backupplan/dev-*",) and stmt.not_resource
    assert stmt.principal is None
    ops = {c.operator: c for c in stmt.conditions}
    assert ops["NumericLessThan"].values == ("7", "8.5")
    assert ops["NumericLessThan"].operands == (Decimal("7"), Decimal("8.5"))
    assert not ops["IpAddress"].negated
    with pytest.raises(AttributeError):
        stmt.effect = "Allow"  # type: ignore[misc]


def test_to_dict_returns_a_copy() -> None:
    doc = parse_policy(POLICY)
    doc.to_dict()["Statement"].clear()
    assert len(doc.to_dict()["Statement"]) == 1


def test_bytes_and_mapping_inputs() -> None:
    text = json.dumps(POLICY)
    assert parse_policy(text.encode()).statements == parse_policy(text).statements
    from_mapping = parse_policy(POLICY)
    assert json.loads(from_mapping.text) == POLICY
    assert " " not in from_mapping.text.split('"Sid"')[0]  # compact serialisation


def test_policy_error_is_an_invalid_parameter() -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_policy(b"\xff\xfe")
    assert isinstance(caught.value, PolicyError)
    assert caught.value.code == "MalformedPolicyDocument"
    assert str(caught.value).startswith("MalformedPolicyDocument: the document is not valid UTF-8")


def test_length_boundary_counts_every_character() -> None:
    base = '{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    exact = base + " " * (MAX_POLICY_LENGTH - len(base))
    assert len(parse_policy(exact).text) == MAX_POLICY_LENGTH
    with pytest.raises(PolicyError) as caught:
        parse_policy(exact + " ")
    assert caught.value.code == "InvalidParameter.PolicyDocument.Length"
    # Characters, not bytes: 6,144 two-byte characters still fit.
    wide = base[:-3] + ',"Sid":"' + "é" * (MAX_POLICY_LENGTH - len(base) - 9) + '"}]}'
    assert len(wide) == MAX_POLICY_LENGTH and len(wide.encode()) > MAX_POLICY_LENGTH
    parse_policy(wide)


def test_trust_policy_principals() -> None:
    doc = parse_policy(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {
                        "RAM": ["acs:ram::1234567890123456:root", "1234567890123456"],
                        "Service": ["1234567890123456@dbs.aliyuncs.com", "dbs.aliyuncs.com"],
                        "Federated": "acs:ram::1234567890123456:saml-provider/idp",
                    },
                }
            ],
        },
        kind="trust",
    )
    (stmt,) = doc.statements
    assert doc.kind == "trust" and stmt.resources is None
    assert stmt.principal == Principal(
        ram=("acs:ram::1234567890123456:root", "1234567890123456"),
        service=("1234567890123456@dbs.aliyuncs.com", "dbs.aliyuncs.com"),
        federated=("acs:ram::1234567890123456:saml-provider/idp",),
    )


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_policy(POLICY, kind="resource")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    ["2019-08-12T17:00:00+08:00", "2012-11-11T23:59:59Z", "2019-08-12T09:00:00", "2019-08-12"],
)
def test_accepted_date_forms(value: str) -> None:
    parse_policy(
        {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"DateLessThan": {"acs:CurrentTime": value}},
                }
            ],
        }
    )
