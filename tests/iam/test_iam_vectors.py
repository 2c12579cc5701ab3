"""Run the JSON vector corpora: evaluation (vectors/evaluation.json) and validation.

Each evaluation case lists policies (``{"system": name}`` or ``{"name", "document"}``
with the document as a JSON object or text), a request and the expected
outcome; ``decided_by`` pins the policy and statement (0-based) the decision
names. Each validation case gives a document that must be refused with an
exact error code and a message fragment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dbs.iam.evaluator import AttachedPolicy, Request, evaluate
from dbs.iam.policy import PolicyError, parse_policy
from dbs.iam.system_policies import system_policy

VECTORS = Path(__file__).parent / "vectors"
EXPECTED = {"allow": "Allow", "explicit_deny": "ExplicitDeny", "implicit_deny": "ImplicitDeny"}


def _load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text("utf-8"))
    return cases


EVALUATION = _load("evaluation.json")
VALIDATION = _load("validation.json")


def _attached(entry: dict[str, Any]) -> AttachedPolicy:
    if "system" in entry:
        return AttachedPolicy(entry["system"], system_policy(entry["system"]), "System")
    document = entry["document"]
    source = document if isinstance(document, str) else json.dumps(document)
    return AttachedPolicy(entry["name"], parse_policy(source))


@pytest.mark.parametrize("case", EVALUATION, ids=[c["name"] for c in EVALUATION])
def test_evaluation_vector(case: dict[str, Any]) -> None:
    policies = [_attached(entry) for entry in case["policies"]]
    req = case["request"]
    decision = evaluate(policies, Request(req["action"], req["resource"], req["context"]))
    assert decision.effect == EXPECTED[case["expected"]], decision.reason
    assert decision.allowed == (case["expected"] == "allow")
    if "decided_by" in case:
        assert decision.policy_name == case["decided_by"]["policy"]
        assert decision.statement_index == case["decided_by"]["statement"]
        assert f"statement {decision.statement_index} of policy" in decision.reason
    if case["expected"] == "implicit_deny":
        assert decision.policy_name is None and decision.statement_index is None
        assert "implicitly denied" in decision.reason


def _padded(length: int) -> str:
    base = '{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    return base + " " * (length - len(base))


@pytest.mark.parametrize("case", VALIDATION, ids=[c["name"] for c in VALIDATION])
def test_validation_vector(case: dict[str, Any]) -> None:
    if "pad_to_length" in case:
        source: Any = _padded(case["pad_to_length"])
    elif "document_text" in case:
        source = case["document_text"]
    else:
        source = json.dumps(case["document"])
    with pytest.raises(PolicyError) as caught:
        parse_policy(source, kind=case["kind"])
    assert caught.value.code == case["code"]
    assert case["message"] in caught.value.message


def test_corpus_sizes_and_operator_coverage() -> None:
    """The corpus keeps its promised breadth: 100+ cases, every operator true and false."""
    from dbs.iam.conditions import OPERATORS

    assert len(EVALUATION) >= 100
    assert len(VALIDATION) >= 30
    outcomes: dict[str, set[str]] = {op: set() for op in OPERATORS}
    for case in EVALUATION:
        for entry in case["policies"]:
            document = entry.get("document")
            if not isinstance(document, dict):
                continue
            for statement in document["Statement"]:
                if statement["Effect"] == "Allow" and len(document["Statement"]) == 1:
                    for op in statement.get("Condition", {}):
                        outcomes[op].add(case["expected"])
    for op, seen in outcomes.items():
        assert {"allow", "implicit_deny"} <= seen, f"{op} lacks a true or a false case: {seen}"
