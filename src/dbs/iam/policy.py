"""RAM policy documents: parse, validate, and hold them as frozen values.

Grammar (RAM "Policy structure and syntax", "Policy elements"; docs/iam.md has
the full rules and sources)::

    {"Version": "1", "Statement": [<statement>, ...]}
    <statement> = {"Effect": "Allow" | "Deny",
                   "Action" | "NotAction": "*" | "<ram-code>:<action>" | [...],
                   "Resource" | "NotResource": "*" | "acs:..." | [...],   # identity policies
                   "Principal": {"RAM" | "Service" | "Federated": ...},   # trust policies
                   "Condition": {<operator>: {<prefix:key>: "v" | ["v", ...]}}}

Element names, operators and predefined values are case-sensitive (RAM says
so). Error paths index statements from 0, like JSONPath and AWS Access
Analyzer locations: ``Statement[0]`` is the first statement.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dbs.errors import InvalidParameter
from dbs.iam.conditions import OPERATORS, ConditionClause, Operand, parse_operand

__all__ = [
    "MALFORMED",
    "MAX_POLICY_LENGTH",
    "TOO_LONG",
    "PolicyDocument",
    "PolicyError",
    "PolicyKind",
    "Principal",
    "Statement",
    "parse_policy",
]

PolicyKind = Literal["identity", "trust"]

# Current RAM limit for a custom policy document (Limitations page, Dec 2025).
# Whether RAM counts whitespace is not documented (AWS does not); we count every
# character of the submitted text, which can only be stricter (UNVERIFIED).
MAX_POLICY_LENGTH = 6144

MALFORMED = "MalformedPolicyDocument"
TOO_LONG = "InvalidParameter.PolicyDocument.Length"

_TOP_LEVEL = ("Version", "Statement")
_IDENTITY_ELEMENTS = (
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
_TRUST_ELEMENTS = ("Sid", "Effect", "Action", "NotAction", "Principal", "Condition")
_PRINCIPAL_KEYS = ("RAM", "Service", "Federated")

# <ram-code>:<action-name>, wildcards allowed on both sides (RAM policy checker:
# "Invalid action format").
_ACTION = re.compile(r"^[A-Za-z0-9\-_*?]+:[A-Za-z0-9\-_*?]+$")
# <prefix>:<name>; names such as acs:ResourceTag/team carry '/', tag keys may carry more.
_CONDITION_KEY = re.compile(r"^[A-Za-z0-9\-_]+:\S+$")
_ACCOUNT_ID = re.compile(r"^[0-9]{1,32}$")
# <svc>.aliyuncs.com or the account-qualified <uid>@<svc>.aliyuncs.com (DBS cross-account FAQ).
_SERVICE_PRINCIPAL = re.compile(r"^(?:[0-9]{1,32}@)?[a-z0-9][a-z0-9\-.]*\.aliyuncs\.com$")


class PolicyError(InvalidParameter):
    """A policy document that RAM would refuse; ``code`` says which kind."""

    code = MALFORMED


@dataclass(frozen=True)
class Principal:
    """The ``Principal`` element of a trust policy, each list as written."""

    ram: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()


@dataclass(frozen=True)
class Statement:
    """One statement. ``actions``/``resources`` hold the patterns; the flags say Not*."""

    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    not_action: bool
    # None in trust policies, which name no resource (the role is the resource).
    resources: tuple[str, ...] | None
    not_resource: bool
    principal: Principal | None
    conditions: tuple[ConditionClause, ...]
    # UNVERIFIED: RAM's identity-policy grammar has no Sid, but KMS and OSS
    # policies use it; we accept it and ignore it for evaluation.
    sid: str | None = None


@dataclass(frozen=True)
class PolicyDocument:
    """A validated document. ``text`` is exactly what was submitted."""

    text: str
    kind: PolicyKind
    statements: tuple[Statement, ...]
    _raw: Mapping[str, Any] = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The parsed JSON (a fresh copy each call)."""
        return copy.deepcopy(dict(self._raw))


def _fail(message: str) -> PolicyError:
    return PolicyError(message, code=MALFORMED)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads silently keeps the last of two equal keys; a policy with two
    # "Effect"s is ambiguous, so it is refused instead.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _fail(f"duplicate key {key!r} in one JSON object; keep only one")
        result[key] = value
    return result


def _load_text(source: str | bytes | Mapping[str, Any]) -> tuple[str, Any]:
    if isinstance(source, Mapping):
        try:
            text = json.dumps(source, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise _fail(f"the document is not JSON-serialisable: {exc}") from exc
    elif isinstance(source, bytes):
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(f"the document is not valid UTF-8 (byte {exc.start})") from exc
    elif isinstance(source, str):
        text = source
    else:
        raise _fail(f"the document must be JSON text or an object, not {type(source).__name__}")
    if len(text) > MAX_POLICY_LENGTH:
        raise PolicyError(
            f'The parameter - "PolicyDocument" beyond the length limit: {len(text)} characters, '
            f"at most {MAX_POLICY_LENGTH} (whitespace counts); shorten it or split it into "
            "several policies",
            code=TOO_LONG,
        )
    if not text.strip():
        raise _fail("the document is empty; give a JSON object with Version and Statement")
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise _fail(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        # 6,144 characters allow ~3,000 nested brackets, deeper than json's recursion.
        raise _fail("the JSON is nested too deeply; a policy needs only 4 levels") from exc
    return text, data


def _string_list(value: Any, path: str, what: str) -> tuple[str, ...]:
    """A string or a non-empty list of strings (RAM allows both for one value)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        if not value:
            raise _fail(f"{path}: empty list; give at least one {what}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise _fail(f"{path}[{i}]: {what} must be a JSON string, not {_json_type(item)}")
        return tuple(value)
    raise _fail(f"{path}: must be a string or a list of strings, not {_json_type(value)}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a string"


def _parse_actions(value: Any, path: str) -> tuple[str, ...]:
    actions = _string_list(value, path, "action")
    for i, action in enumerate(actions):
        if action != "*" and not _ACTION.match(action):
            where = path if isinstance(value, str) else f"{path}[{i}]"
            raise _fail(
                f"{where}: invalid action format {action!r}; write '<ram-code>:<action-name>' "
                "such as 'dbs:DescribeBackupPlanList' or 'dbs:Describe*', or '*'"
            )
    return actions


def _parse_resources(value: Any, path: str) -> tuple[str, ...]:
    resources = _string_list(value, path, "resource")
    for i, resource in enumerate(resources):
        where = path if isinstance(value, str) else f"{path}[{i}]"
        if resource == "*":
            continue
        if not resource.startswith("acs:"):
            raise _fail(
                f"{where}: invalid ARN prefix in {resource!r}; a resource is '*' or an ARN "
                "'acs:<service>:<region>:<account>:<relative-id>'"
            )
        parts = resource.split(":", 4)
        if len(parts) != 5 or not parts[1] or not parts[4]:
            raise _fail(
                f"{where}: {resource!r} is not a 5-field ARN; write "
                "'acs:<service>:<region>:<account>:<relative-id>' (region and account may be "
                "empty or '*', e.g. 'acs:dbs:*:*:backupplan/*')"
            )
    return resources


def _check_principal_value(key: str, item: str, where: str) -> None:
    if key == "Service":
        if not _SERVICE_PRINCIPAL.match(item):
            raise _fail(
                f"{where}: {item!r} is not a service principal; write '<service>.aliyuncs.com' "
                "such as 'dbs.aliyuncs.com', or '<account-id>@<service>.aliyuncs.com'"
            )
        return
    if key == "RAM" and _ACCOUNT_ID.match(item):
        return  # a bare account id means that account's root
    prefix = "acs:ram::"
    parts = item.split(":", 4)
    if not item.startswith(prefix) or len(parts) != 5 or not parts[3] or not parts[4]:
        example = (
            "'acs:ram::<account-id>:root' or 'acs:ram::<account-id>:role/<name>'"
            if key == "RAM"
            else "'acs:ram::<account-id>:saml-provider/<name>'"
        )
        raise _fail(f"{where}: {item!r} is not a RAM principal ARN; write {example}")


def _parse_principal(value: Any, path: str) -> Principal:
    if not isinstance(value, dict):
        raise _fail(
            f'{path}: must be an object such as {{"Service": ["dbs.aliyuncs.com"]}}, '
            f"not {_json_type(value)}"
        )
    if not value:
        raise _fail(f"{path}: empty; name at least one of RAM, Service, Federated")
    lists: dict[str, tuple[str, ...]] = {}
    for key, raw in value.items():
        if key not in _PRINCIPAL_KEYS:
            raise _fail(
                f"{path}: unsupported principal type {key!r}; RAM supports RAM, Service, Federated"
            )
        items = _string_list(raw, f"{path}.{key}", "principal")
        for i, item in enumerate(items):
            where = f"{path}.{key}" if isinstance(raw, str) else f"{path}.{key}[{i}]"
            _check_principal_value(key, item, where)
        lists[key] = items
    return Principal(
        ram=lists.get("RAM", ()),
        service=lists.get("Service", ()),
        federated=lists.get("Federated", ()),
    )


_SUPPORTED_LIST = ", ".join(OPERATORS)


def _operator_hint(operator: str) -> str:
    folded = {name.lower(): name for name in OPERATORS}
    if operator.lower() in folded:
        return f" (operator names are case-sensitive: did you mean {folded[operator.lower()]!r}?)"
    if operator.endswith("IfExists"):
        return (
            " (RAM has no ...IfExists operators; a missing key already makes negated"
            " operators true)"
        )
    if ":" in operator:
        return " (RAM has no ForAnyValue:/ForAllValues: qualifiers)"
    if operator == "Null":
        return " (RAM has no Null operator)"
    if operator.startswith(("Arn", "Binary")):
        return " (RAM has no Arn* or Binary* operators; use StringLike on the ARN instead)"
    return ""


def _parse_conditions(value: Any, path: str) -> tuple[ConditionClause, ...]:
    if not isinstance(value, dict):
        raise _fail(
            f"{path}: must be an object {{<operator>: {{<key>: <values>}}}}, "
            f"not {_json_type(value)}"
        )
    if not value:
        raise _fail(f"{path}: empty; name at least one operator or remove Condition")
    clauses: list[ConditionClause] = []
    for operator, block in value.items():
        if operator not in OPERATORS:
            raise _fail(
                f"{path}: unsupported operator {operator!r}; RAM supports {_SUPPORTED_LIST}"
                f"{_operator_hint(operator)}"
            )
        op_path = f"{path}.{operator}"
        if not isinstance(block, dict):
            raise _fail(
                f"{op_path}: must be an object {{<key>: <values>}}, not {_json_type(block)}"
            )
        if not block:
            raise _fail(f"{op_path}: empty; name at least one condition key")
        family = OPERATORS[operator].family
        for key, raw in block.items():
            key_path = f"{op_path}.{key}"
            if not _CONDITION_KEY.match(key):
                raise _fail(
                    f"{op_path}: invalid condition key format {key!r}; write "
                    "'<prefix>:<name>' such as 'acs:SourceIp' or 'ram:ServiceName'"
                )
            if not isinstance(raw, str | list):
                raise _fail(
                    f"{key_path}: condition values must be JSON strings (quote numbers and "
                    f'booleans, e.g. "10", "true"), not {_json_type(raw)}'
                )
            values = _string_list(raw, key_path, "value")
            if family == "Bool" and len(values) != 1:
                raise _fail(
                    f"{key_path}: invalid condition multiple Boolean; Bool takes exactly one "
                    'value, "true" or "false"'
                )
            operands: list[Operand] = []
            for i, text in enumerate(values):
                try:
                    operands.append(parse_operand(family, text))
                except ValueError as exc:
                    where = key_path if isinstance(raw, str) else f"{key_path}[{i}]"
                    raise _fail(f"{where}: data type mismatch for {operator}: {exc}") from exc
            clauses.append(
                ConditionClause(operator=operator, key=key, values=values, operands=tuple(operands))
            )
    return tuple(clauses)


def _exactly_one(stmt: dict[str, Any], a: str, b: str, path: str) -> str:
    if a in stmt and b in stmt:
        raise _fail(f"{path}: has both {a} and {b}; keep exactly one")
    if a not in stmt and b not in stmt:
        raise _fail(f"{path}: missing {a} (or {b}); every statement needs one")
    return a if a in stmt else b


def _parse_statement(stmt: Any, path: str, kind: PolicyKind) -> Statement:
    if not isinstance(stmt, dict):
        raise _fail(f"{path}: must be an object, not {_json_type(stmt)}")
    allowed = _IDENTITY_ELEMENTS if kind == "identity" else _TRUST_ELEMENTS
    for element in stmt:
        if element in allowed:
            continue
        if element == "NotPrincipal":
            raise _fail(
                f"{path}: NotPrincipal is not supported by RAM; list principals in Principal"
            )
        if element == "Principal":
            raise _fail(
                f"{path}: Principal is only allowed in trust policies; identity policies apply "
                "to whoever they are attached to, so remove it"
            )
        if element in ("Resource", "NotResource"):
            raise _fail(
                f"{path}: {element} is not allowed in a trust policy (the role itself is the "
                "resource); remove it"
            )
        raise _fail(
            f"{path}: unknown policy element {element!r}; allowed: {', '.join(allowed)} "
            "(element names are case-sensitive)"
        )

    if "Effect" not in stmt:
        raise _fail(f'{path}: missing Effect; set "Allow" or "Deny"')
    effect = stmt["Effect"]
    if effect not in ("Allow", "Deny"):
        raise _fail(
            f'{path}.Effect: invalid effect {effect!r}; use "Allow" or "Deny" (case-sensitive)'
        )

    action_key = _exactly_one(stmt, "Action", "NotAction", path)
    actions = _parse_actions(stmt[action_key], f"{path}.{action_key}")

    resources: tuple[str, ...] | None = None
    not_resource = False
    principal: Principal | None = None
    if kind == "identity":
        resource_key = _exactly_one(stmt, "Resource", "NotResource", path)
        resources = _parse_resources(stmt[resource_key], f"{path}.{resource_key}")
        not_resource = resource_key == "NotResource"
    else:
        if "Principal" not in stmt:
            raise _fail(
                f"{path}: missing Principal; a trust policy names who may assume the role, "
                'e.g. {"Service": ["dbs.aliyuncs.com"]}'
            )
        principal = _parse_principal(stmt["Principal"], f"{path}.Principal")

    conditions: tuple[ConditionClause, ...] = ()
    if "Condition" in stmt:
        conditions = _parse_conditions(stmt["Condition"], f"{path}.Condition")

    sid = stmt.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise _fail(f"{path}.Sid: must be a string, not {_json_type(sid)}")

    return Statement(
        effect=effect,
        actions=actions,
        not_action=action_key == "NotAction",
        resources=resources,
        not_resource=not_resource,
        principal=principal,
        conditions=conditions,
        sid=sid,
    )


def parse_policy(
    source: str | bytes | Mapping[str, Any], *, kind: PolicyKind = "identity"
) -> PolicyDocument:
    """Parse and validate a RAM policy; raise ``PolicyError`` naming the element and the fix.

    ``source`` is the JSON text (kept verbatim as ``.text``), UTF-8 bytes, or an
    already-decoded mapping (then ``.text`` is its compact JSON serialisation).
    ``kind="trust"`` validates a role trust policy: ``Principal`` required,
    ``Resource``/``NotResource`` forbidden.
    """
    if kind not in ("identity", "trust"):
        raise ValueError(f"kind must be 'identity' or 'trust', not {kind!r}")
    text, data = _load_text(source)
    if not isinstance(data, dict):
        raise _fail(
            f"the document must be a JSON object with Version and Statement, not {_json_type(data)}"
        )
    for key in data:
        if key not in _TOP_LEVEL:
            raise _fail(
                f"unknown top-level element {key!r}; a policy has only Version and Statement"
            )
    if "Version" not in data:
        raise _fail('missing Version; set "Version": "1"')
    if data["Version"] != "1":
        raise _fail(
            f'Version: unsupported version {data["Version"]!r}; RAM policies use "Version": "1" '
            "(a string)"
        )
    if "Statement" not in data:
        raise _fail("missing Statement; give a list of statements")
    raw_statements = data["Statement"]
    if not isinstance(raw_statements, list):
        raise _fail(
            f"Statement: must be a list of statements (wrap a single statement in [ ]), "
            f"not {_json_type(raw_statements)}"
        )
    if not raw_statements:
        raise _fail("Statement: empty list; give at least one statement")
    statements = tuple(
        _parse_statement(stmt, f"Statement[{i}]", kind) for i, stmt in enumerate(raw_statements)
    )
    return PolicyDocument(text=text, kind=kind, statements=statements, _raw=data)
