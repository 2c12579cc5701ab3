"""The system policies DBS ships, as JSON files under ``iam/policies/``.

They are files rather than Python literals so the text users see in
``GetPolicy`` is exactly the published text (the service-linked role policy is
byte-for-byte the one in the DBS docs, duplicate ``rds:DescribeBinlogFiles``
included). All are parsed and validated at import, so a broken file fails the
first import rather than the first request.
"""

from __future__ import annotations

from importlib import resources

from dbs.errors import NotFound
from dbs.iam.policy import PolicyDocument, PolicyKind, parse_policy

__all__ = [
    "DBS_SERVICE",
    "FULL_ACCESS_POLICY_NAME",
    "READ_ONLY_POLICY_NAME",
    "SLR_POLICY_NAME",
    "SLR_ROLE_NAME",
    "SYSTEM_POLICY_NAMES",
    "slr_trust_policy",
    "system_policy",
]

DBS_SERVICE = "dbs.aliyuncs.com"
SLR_ROLE_NAME = "AliyunServiceRoleForDBS"
SLR_POLICY_NAME = "AliyunServiceRolePolicyForDBS"
READ_ONLY_POLICY_NAME = "AliyunDBSReadOnlyAccess"
# UNVERIFIED: the published JSON of AliyunDBSFullAccess was not found; the file holds
# the shape every sibling *FullAccess policy has (research/ram-policy.md §3.6).
FULL_ACCESS_POLICY_NAME = "AliyunDBSFullAccess"

SYSTEM_POLICY_NAMES: tuple[str, ...] = (
    SLR_POLICY_NAME,
    READ_ONLY_POLICY_NAME,
    FULL_ACCESS_POLICY_NAME,
)

_TRUST_FILE = f"{SLR_ROLE_NAME}.trust.json"


def _load(filename: str, kind: PolicyKind) -> PolicyDocument:
    text = resources.files("dbs").joinpath("iam", "policies", filename).read_text("utf-8")
    return parse_policy(text, kind=kind)


_POLICIES: dict[str, PolicyDocument] = {
    name: _load(f"{name}.json", "identity") for name in SYSTEM_POLICY_NAMES
}
_SLR_TRUST = _load(_TRUST_FILE, "trust")


def system_policy(name: str) -> PolicyDocument:
    """The system policy called ``name`` (case-sensitive, as RAM policy names are)."""
    try:
        return _POLICIES[name]
    except KeyError:
        raise NotFound(
            f"system policy {name!r} does not exist; known: {', '.join(SYSTEM_POLICY_NAMES)}",
            code="EntityNotExist.Policy",
        ) from None


def slr_trust_policy() -> PolicyDocument:
    """The trust policy of ``AliyunServiceRoleForDBS``: only ``dbs.aliyuncs.com`` may assume it."""
    return _SLR_TRUST
