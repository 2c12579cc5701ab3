"""Fixtures for the foundation tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def seed_policy_text() -> str:
    """The policy JSON from the seed text, or the packaged copy where shared/ is absent."""
    seed_dir = _REPO_ROOT.parent / "shared" / "seed"
    for seed in sorted(seed_dir.glob("*.txt")) if seed_dir.is_dir() else []:
        text = seed.read_text()
        start = text.find("{", text.find("The policy specifies the following permissions:"))
        end = text.rfind("}") + 1
        if start > 0:
            return text[start:end]
    from dbs.iam.system_policies import SLR_POLICY_NAME, system_policy

    return json.dumps(system_policy(SLR_POLICY_NAME).to_dict())
