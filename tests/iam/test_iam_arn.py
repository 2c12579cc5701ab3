"""ARN parsing and the identity / DBS ARN builders."""

from __future__ import annotations

import pytest

from dbs.errors import InvalidParameter
from dbs.iam.arn import (
    Arn,
    account_root_arn,
    backup_plan_arn,
    format_arn,
    is_arn,
    parse_arn,
    role_arn,
    role_session_arn,
    saml_provider_arn,
    user_arn,
)

ACCT = "1234567890123456"


def test_parse_keeps_colons_in_the_relative_id() -> None:
    arn = parse_arn("acs:oss:cn-hangzhou:1:bucket/a:b")
    assert arn == Arn("oss", "cn-hangzhou", "1", "bucket/a:b")
    assert str(arn) == "acs:oss:cn-hangzhou:1:bucket/a:b"


def test_parse_global_service_with_empty_region() -> None:
    assert parse_arn(f"acs:ram::{ACCT}:role/x") == Arn("ram", "", ACCT, "role/x")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("arn:aws:s3:::b", "must start with 'acs:'"),
        ("acs:dbs:*:*", "has 4 colon-separated fields"),
        ("acs::r:1:x", "empty service field"),
        ("acs:dbs:r:1:", "empty relative id"),
    ],
)
def test_parse_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_arn(text)
    assert caught.value.code == "InvalidParameter.Arn"
    assert fragment in caught.value.message
    assert not is_arn(text)


def test_builders() -> None:
    assert account_root_arn(ACCT) == f"acs:ram::{ACCT}:root"
    assert user_arn(ACCT, "alice") == f"acs:ram::{ACCT}:user/alice"
    assert (
        role_arn(ACCT, "AliyunServiceRoleForDBS") == f"acs:ram::{ACCT}:role/AliyunServiceRoleForDBS"
    )
    assert role_session_arn(ACCT, "r", "s1") == f"acs:ram::{ACCT}:role/r/s1"
    assert saml_provider_arn(ACCT, "idp") == f"acs:ram::{ACCT}:saml-provider/idp"
    assert backup_plan_arn("cn-hangzhou", ACCT, "dbs1abc") == (
        f"acs:dbs:cn-hangzhou:{ACCT}:backupplan/dbs1abc"
    )
    assert format_arn("dbs", "", "*", "*") == "acs:dbs::*:*"
    assert is_arn(backup_plan_arn("cn-hangzhou", ACCT, "p1"))


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: account_root_arn("12a"), "InvalidParameter.AccountId"),
        (lambda: user_arn(ACCT, "bad name"), "InvalidParameter.UserName"),
        (lambda: role_arn(ACCT, "x" * 65), "InvalidParameter.RoleName"),
        (lambda: role_session_arn(ACCT, "r", "s"), "InvalidParameter.SessionName"),
        (lambda: backup_plan_arn("CN_HZ", ACCT, "p"), "InvalidParameter.Region"),
        (lambda: backup_plan_arn("cn-hangzhou", ACCT, "a/b"), "InvalidParameter.BackupPlanId"),
    ],
)
def test_builders_reject_bad_parts(call: object, code: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        call()  # type: ignore[operator]
    assert caught.value.code == code
