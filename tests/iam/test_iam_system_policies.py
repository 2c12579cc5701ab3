"""The shipped system policies: exact text, names, and the SLR policy's gated last statement."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from dbs.errors import NotFound
from dbs.iam.evaluator import AttachedPolicy, Request, evaluate, evaluate_trust
from dbs.iam.system_policies import (
    DBS_SERVICE,
    SLR_POLICY_NAME,
    SLR_ROLE_NAME,
    SYSTEM_POLICY_NAMES,
    slr_trust_policy,
    system_policy,
)

REPO = Path(__file__).resolve().parents[2]
# CI keeps shared/ beside the clone; the seed text is the project's origin document.
SEED = REPO.parent / "shared" / "seed" / "000_be6ad3b9fe75f4a2.txt"
POLICY_FILES = resources.files("dbs").joinpath("iam", "policies")


def _seed_policy_json() -> str:
    text = SEED.read_text("utf-8")
    anchor = text.index("The policy specifies the following permissions:")
    start = text.index("\n{\n", anchor) + 1
    end = text.index("\n}\n", start) + 3
    return text[start:end]


def test_names_and_constants() -> None:
    assert SYSTEM_POLICY_NAMES == (
        "AliyunServiceRolePolicyForDBS",
        "AliyunDBSReadOnlyAccess",
        "AliyunDBSFullAccess",
    )
    assert SLR_ROLE_NAME == "AliyunServiceRoleForDBS"
    assert SLR_POLICY_NAME == "AliyunServiceRolePolicyForDBS"
    assert DBS_SERVICE == "dbs.aliyuncs.com"


def test_every_json_file_ships_and_is_a_known_policy() -> None:
    shipped = sorted(p.name for p in POLICY_FILES.iterdir() if p.name.endswith(".json"))
    expected = sorted([f"{n}.json" for n in SYSTEM_POLICY_NAMES] + [f"{SLR_ROLE_NAME}.trust.json"])
    assert shipped == expected
    for name in SYSTEM_POLICY_NAMES:
        assert system_policy(name).text == POLICY_FILES.joinpath(f"{name}.json").read_text("utf-8")


@pytest.mark.skipif(not SEED.exists(), reason=f"seed not found at {SEED}")
def test_slr_policy_is_byte_for_byte_the_seed_json() -> None:
    shipped = POLICY_FILES.joinpath(f"{SLR_POLICY_NAME}.json").read_bytes()
    assert shipped == _seed_policy_json().encode("utf-8")


def test_slr_policy_keeps_the_published_quirks() -> None:
    doc = system_policy(SLR_POLICY_NAME)
    assert len(doc.statements) == 11
    assert doc.statements[0].actions.count("rds:DescribeBinlogFiles") == 2
    assert '          "StringEquals": {' in doc.text  # the published (odd) indentation


def test_slr_last_statement_allows_deleting_only_the_dbs_role() -> None:
    doc = system_policy(SLR_POLICY_NAME)
    last = doc.statements[-1]
    assert (last.effect, last.actions, last.resources) == (
        "Allow",
        ("ram:DeleteServiceLinkedRole",),
        ("*",),
    )
    (clause,) = last.conditions
    assert (clause.operator, clause.key, clause.values) == (
        "StringEquals",
        "ram:ServiceName",
        ("dbs.aliyuncs.com",),
    )
    policies = [AttachedPolicy(SLR_POLICY_NAME, doc, "System")]

    def decide(context: dict[str, str]) -> str:
        return evaluate(policies, Request("ram:DeleteServiceLinkedRole", "*", context)).effect

    assert decide({"ram:ServiceName": DBS_SERVICE}) == "Allow"
    assert decide({"ram:ServiceName": "polardb.aliyuncs.com"}) == "ImplicitDeny"
    assert decide({}) == "ImplicitDeny"


def test_read_only_and_full_access() -> None:
    read_only = system_policy("AliyunDBSReadOnlyAccess")
    assert read_only.to_dict() == {
        "Version": "1",
        "Statement": [{"Action": "dbs:Describe*", "Resource": "*", "Effect": "Allow"}],
    }
    full = system_policy("AliyunDBSFullAccess")
    assert full.statements[0].actions == ("dbs:*",)
    assert full.statements[1].actions == (
        "ram:CreateServiceLinkedRole",
        "ram:DeleteServiceLinkedRole",
    )


def test_slr_trust_policy() -> None:
    trust = slr_trust_policy()
    assert trust.kind == "trust"
    assert trust.to_dict() == {
        "Statement": [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": ["dbs.aliyuncs.com"]},
            }
        ],
        "Version": "1",
    }
    assert evaluate_trust(trust, service=DBS_SERVICE).allowed


def test_unknown_system_policy() -> None:
    with pytest.raises(NotFound) as caught:
        system_policy("AliyunDBSReadonlyAccess")
    assert caught.value.code == "EntityNotExist.Policy"
    assert "AliyunDBSReadOnlyAccess" in caught.value.message
