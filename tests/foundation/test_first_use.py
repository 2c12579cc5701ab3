"""The first-use flow end to end through the real ``dbs`` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.foundation.cli import DbsCommand

SEED_TRUST = (
    '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow",'
    '"Principal":{"Service":["dbs.aliyuncs.com"]}}],"Version":"1"}'
)


@pytest.fixture
def dbs(tmp_path: Path) -> DbsCommand:
    return DbsCommand(tmp_path / "home")


def test_commands_before_init_name_the_step(dbs: DbsCommand) -> None:
    for args in (["authorize"], ["role", "show"], ["storage", "show"], ["plan", "list"]):
        r = dbs(*args)
        assert r.code == 1, args
        assert "run 'dbs init'" in r.err
        assert "Traceback" not in r.err


def test_init_creates_account_once(dbs: DbsCommand) -> None:
    first = dbs("init", "--json", check=True).json()
    assert re.fullmatch(r"[1-9]\d{15}", first["AccountId"])
    assert re.fullmatch(r"LTAI[A-Za-z0-9]{20}", first["AccessKeyId"])
    assert len(first["AccessKeySecret"]) == 30
    again = dbs("init")
    assert again.code == 1
    assert "already initialized" in again.err
    # The secret is never stored in plain text anywhere in the home.
    for path in dbs.home.rglob("*"):
        if path.is_file():
            assert first["AccessKeySecret"].encode() not in path.read_bytes(), path


def test_before_authorization_commands_say_run_authorize(dbs: DbsCommand) -> None:
    dbs("init", check=True)
    for args in (["role", "show"], ["storage", "activate", "--accept-agreement"], ["plan", "list"]):
        r = dbs(*args)
        assert r.code == 1, args
        assert (
            "DBS is not authorized: run 'dbs authorize' (creates the service-linked role "
            "AliyunServiceRoleForDBS)" in r.err
        )


def test_authorize_creates_the_role_with_the_seed_policy(
    dbs: DbsCommand, seed_policy_text: str
) -> None:
    dbs("init", check=True)
    created = dbs("authorize", "--json", check=True).json()
    assert created["RoleName"] == "AliyunServiceRoleForDBS"
    again = dbs("authorize")
    assert again.code == 1
    assert "EntityAlreadyExists.Role" in again.err

    role = dbs("role", "show", "--json", check=True).json()
    assert set(role) == {
        "RoleName",
        "Arn",
        "AssumeRolePolicyDocument",
        "PolicyName",
        "PolicyDocument",
    }
    assert role["RoleName"] == "AliyunServiceRoleForDBS"
    assert role["PolicyName"] == "AliyunServiceRolePolicyForDBS"
    assert re.fullmatch(r"acs:ram::\d{16}:role/AliyunServiceRoleForDBS", role["Arn"])
    assert json.loads(role["AssumeRolePolicyDocument"]) == json.loads(SEED_TRUST)
    assert json.loads(role["PolicyDocument"]) == json.loads(seed_policy_text)

    shown = dbs("role", "show", check=True).out
    assert "Role name: AliyunServiceRoleForDBS" in shown
    assert "Policy of the role: AliyunServiceRolePolicyForDBS" in shown
    assert '"ram:ServiceName": "dbs.aliyuncs.com"' in shown

    refused = dbs("role", "attach-policy", "AliyunServiceRoleForDBS", "AliyunDBSFullAccess")
    assert refused.code == 1
    assert "cannot be changed" in refused.err


def test_storage_activation_needs_the_agreement(dbs: DbsCommand) -> None:
    dbs("init", check=True)
    dbs("authorize", check=True)
    r = dbs("storage", "activate")
    assert r.code == 1
    assert "--accept-agreement" in r.err
    assert "not activated" in dbs("storage", "show").err  # nothing was recorded


def test_full_first_use_flow_and_role_deletion(dbs: DbsCommand, tmp_path: Path) -> None:
    dbs("init", check=True)
    r = dbs("plan", "create", "--engine", "postgresql", "--class", "small")
    assert r.code == 1 and "dbs authorize" in r.err
    dbs("authorize", check=True)
    r = dbs("plan", "create", "--engine", "postgresql", "--class", "small")
    assert r.code == 1 and "dbs storage activate --accept-agreement" in r.err

    activated = dbs("storage", "activate", "--accept-agreement", "--json", check=True).json()
    assert activated["StorageType"] == "local"
    assert activated["Location"] == str((dbs.home / "storage").resolve())
    assert [s["Step"] for s in activated["Probe"]]
    shown = dbs("storage", "show", "--json", check=True).json()
    assert shown["Encryption"] == "keyfile"

    plan = dbs(
        "plan", "create", "--engine", "postgresql", "--class", "small", "--json", check=True
    ).json()
    assert re.fullmatch(r"dbs[a-z0-9]{10}", plan["BackupPlanId"])
    assert plan["BackupPlanStatus"] == "wait"

    # Deletion fails while a plan uses the role, and names the plan.
    task = dbs("role", "delete", "--json", check=True).json()["DeletionTaskId"]
    assert re.fullmatch(
        r"task/acs-service-role/dbs\.aliyuncs\.com/AliyunServiceRoleForDBS/[0-9a-f-]{36}", task
    )
    status = dbs("role", "deletion-status", task, "--json")
    assert status.code == 1
    body = status.json()
    assert body["Status"] == "FAILED"
    resources = body["Reason"]["RoleUsages"][0]["Resources"]
    assert resources == [plan["Arn"]]
    assert "in use by dbs.aliyuncs.com" in body["Reason"]["Message"]
    dbs("role", "show", check=True)  # still there

    dbs("plan", "release", plan["BackupPlanId"], check=True)
    task2 = dbs("role", "delete", "--json", check=True).json()["DeletionTaskId"]
    assert task2 != task
    assert dbs("role", "deletion-status", task2, "--json", check=True).json() == {
        "DeletionTaskId": task2,
        "Status": "SUCCEEDED",
    }
    after = dbs("plan", "list")
    assert after.code == 1 and "DBS is not authorized" in after.err
    missing = dbs("role", "delete")
    assert missing.code == 1 and "EntityNotExist.Role" in missing.err


def test_service_actions_are_audited_as_the_role(dbs: DbsCommand) -> None:
    dbs("init", check=True)
    dbs("authorize", check=True)
    dbs("storage", "activate", "--accept-agreement", check=True)
    events = dbs("audit", "--json", check=True).json()
    service_events = [e for e in events if e["Via"] == "service"]
    assert service_events, events
    kms = service_events[0]
    assert kms["Action"] == "kms:ListKeys"
    assert kms["Decision"] == "Allow"
    assert kms["Principal"].endswith(":role/AliyunServiceRoleForDBS/dbs")
    assert "AliyunServiceRolePolicyForDBS" in kms["DecidedBy"]
    # Caller decisions are recorded too.
    assert any(e["Action"] == "ram:CreateServiceLinkedRole" and e["Via"] == "cli" for e in events)
