"""RAM users, policies and the Forbidden.RAM answer, through the real ``dbs`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.foundation.cli import DbsCommand

# The last statement of the seed's AliyunServiceRolePolicyForDBS, verbatim.
SEED_DELETE_STATEMENT = {
    "Action": "ram:DeleteServiceLinkedRole",
    "Resource": "*",
    "Effect": "Allow",
    "Condition": {"StringEquals": {"ram:ServiceName": "dbs.aliyuncs.com"}},
}


@pytest.fixture
def root(tmp_path: Path) -> DbsCommand:
    dbs = DbsCommand(tmp_path / "home")
    dbs("init", check=True)
    return dbs


def _user_with_key(root: DbsCommand, name: str, *policies: str) -> DbsCommand:
    root("user", "create", name, check=True)
    for policy in policies:
        root("user", "attach-policy", name, policy, check=True)
    key = root("user", "create-access-key", name, "--json", check=True).json()
    return root.as_key(key["AccessKeyId"], key["AccessKeySecret"])


def _custom_policy(
    root: DbsCommand, tmp_path: Path, name: str, statements: list[dict[str, object]]
) -> None:
    doc = tmp_path / f"{name}.json"
    doc.write_text(json.dumps({"Version": "1", "Statement": statements}))
    root("policy", "create", name, "--document", str(doc), check=True)


def test_user_without_policies_is_forbidden(root: DbsCommand) -> None:
    alice = _user_with_key(root, "alice")
    r = alice("authorize")
    assert r.code == 1
    assert (
        "Forbidden.RAM: user/alice is not allowed to perform "
        "dbs:InitializeDbsServiceLinkedRole on *" in r.err
    )


def test_full_access_user_can_authorize_and_read_only_user_cannot_buy(root: DbsCommand) -> None:
    admin = _user_with_key(root, "admin", "AliyunDBSFullAccess")
    admin("authorize", check=True)
    admin("storage", "activate", "--accept-agreement", check=True)
    reader = _user_with_key(root, "reader", "AliyunDBSReadOnlyAccess")
    assert reader("plan", "list", "--json", check=True).json() == []
    r = reader("plan", "create", "--engine", "mysql", "--class", "micro")
    assert r.code == 1
    assert (
        "Forbidden.RAM: user/reader is not allowed to perform dbs:CreateBackupPlan on acs:dbs:"
        in r.err
    )
    admin("plan", "create", "--engine", "mysql", "--class", "micro", check=True)
    assert len(reader("plan", "list", "--json", check=True).json()) == 1


def test_role_deletion_is_gated_by_the_seed_statement(root: DbsCommand, tmp_path: Path) -> None:
    root("authorize", check=True)
    _custom_policy(root, tmp_path, "DeleteDbsRole", [SEED_DELETE_STATEMENT])
    other_service = dict(
        SEED_DELETE_STATEMENT,
        Condition={"StringEquals": {"ram:ServiceName": "polardb.aliyuncs.com"}},
    )
    _custom_policy(root, tmp_path, "DeletePolarDbRole", [other_service])
    readers = (
        "GetRole",
        [
            {
                "Action": ["ram:GetRole", "ram:GetServiceLinkedRoleDeletionStatus"],
                "Resource": "*",
                "Effect": "Allow",
            }
        ],
    )
    _custom_policy(root, tmp_path, readers[0], readers[1])

    wrong = _user_with_key(root, "polar", "DeletePolarDbRole", "GetRole")
    r = wrong("role", "delete")
    assert r.code == 1
    assert (
        "Forbidden.RAM: user/polar is not allowed to perform ram:DeleteServiceLinkedRole" in r.err
    )
    wrong("role", "show", check=True)  # still exists

    right = _user_with_key(root, "ops", "DeleteDbsRole", "GetRole")
    task = right("role", "delete", "--json", check=True).json()["DeletionTaskId"]
    assert (
        right("role", "deletion-status", task, "--json", check=True).json()["Status"] == "SUCCEEDED"
    )
    assert "DBS is not authorized" in root("role", "show").err


def test_invalid_policy_documents_are_refused_with_the_element_named(
    root: DbsCommand, tmp_path: Path
) -> None:
    doc = tmp_path / "bad.json"
    doc.write_text(
        json.dumps(
            {
                "Version": "1",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "dbs:*",
                        "Resource": "*",
                        "Condition": {"StringEqualsIfExists": {"acs:SourceIp": "1.2.3.4"}},
                    }
                ],
            }
        )
    )
    r = root("policy", "create", "Bad", "--document", str(doc))
    assert r.code == 1
    assert "MalformedPolicyDocument" in r.err
    assert "StringEqualsIfExists" in r.err
    assert "Statement" in r.err
    assert "Traceback" not in r.err

    big = tmp_path / "big.json"
    big.write_text(
        json.dumps(
            {
                "Version": "1",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["dbs:Describe" + "x" * 40] * 200,
                        "Resource": "*",
                    }
                ],
            }
        )
    )
    r = root("policy", "create", "Big", "--document", str(big))
    assert r.code == 1 and "InvalidParameter.PolicyDocument.Length" in r.err


def test_wrong_secret_is_refused(root: DbsCommand) -> None:
    alice = _user_with_key(root, "alice", "AliyunDBSFullAccess")
    bad = alice.as_key(alice.env["DBS_ACCESS_KEY_ID"], "not-the-secret")
    r = bad("plan", "list")
    assert r.code == 1 and "SignatureDoesNotMatch" in r.err


def test_denials_are_audited(root: DbsCommand) -> None:
    alice = _user_with_key(root, "alice")
    alice("authorize")
    events = root("audit", "--json", check=True).json()
    denied = [e for e in events if e["Decision"] == "ImplicitDeny"]
    assert denied and denied[-1]["Principal"].endswith(":user/alice")
    assert denied[-1]["Action"] == "dbs:InitializeDbsServiceLinkedRole"
