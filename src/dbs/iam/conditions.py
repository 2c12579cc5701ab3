"""The 21 RAM condition operators and how a condition block is decided.

Source: https://www.alibabacloud.com/help/en/ram/conditional-operator (five
families: String, Numeric, Date, Bool, IpAddress). RAM has no ``...IfExists``,
``Null``, ``ForAnyValue:``/``ForAllValues:``, ``Arn*`` or ``Binary*``.

Combination rules (RAM "Policy elements"; same as AWS):

* the values listed for one key are ORed; for a negated operator they are NORed
  (true iff no request value matches any listed value);
* several keys under one operator are ANDed, several operators are ANDed.

Decisions that RAM does not document, taken from AWS and flagged UNVERIFIED:

* a key absent from the request makes a positive operator false and a negated
  operator true (AWS reference_policies_elements_condition_operators);
* a multi-valued request key satisfies a positive operator if *any* of its values
  matches *any* policy value (AWS's single-valued operator over a list);
* a request value that does not parse for the family (``"abc"`` for a Numeric
  key) is a non-match, so it fails positive and satisfies negated operators;
* condition key names are compared case-insensitively (AWS does; RAM is silent).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from dbs.iam.wildcard import glob_match

__all__ = [
    "NEGATED_OPERATORS",
    "OPERATORS",
    "ConditionClause",
    "Family",
    "Operand",
    "RequestContext",
    "conditions_met",
    "normalise_context",
    "operator_family",
    "parse_operand",
]

Family = Literal["String", "Numeric", "Date", "Bool", "IpAddress"]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddr = ipaddress.IPv4Address | ipaddress.IPv6Address
Operand = str | Decimal | datetime | bool | IpNetwork
RequestValue = str | Sequence[str]
RequestContext = Mapping[str, RequestValue]


@dataclass(frozen=True)
class _Operator:
    family: Family
    negated: bool
    # (request value, policy operand) -> bool, after both sides were parsed.
    test: Callable[[object, object], bool]


def _str_eq(r: object, p: object) -> bool:
    return r == p


def _str_eq_ci(r: object, p: object) -> bool:
    return isinstance(r, str) and isinstance(p, str) and r.casefold() == p.casefold()


def _str_like(r: object, p: object) -> bool:
    return isinstance(r, str) and isinstance(p, str) and glob_match(p, r)


def _eq(r: object, p: object) -> bool:
    return r == p


def _lt(r: object, p: object) -> bool:
    return r < p  # type: ignore[operator,no-any-return]


def _le(r: object, p: object) -> bool:
    return r <= p  # type: ignore[operator,no-any-return]


def _gt(r: object, p: object) -> bool:
    return r > p  # type: ignore[operator,no-any-return]


def _ge(r: object, p: object) -> bool:
    return r >= p  # type: ignore[operator,no-any-return]


def _in_network(r: object, p: object) -> bool:
    if not isinstance(p, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return False
    if not isinstance(r, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return False
    return r.version == p.version and r in p


# Order is the documentation's order; error messages list operators in this order.
OPERATORS: Mapping[str, _Operator] = {
    "StringEquals": _Operator("String", False, _str_eq),
    "StringNotEquals": _Operator("String", True, _str_eq),
    "StringEqualsIgnoreCase": _Operator("String", False, _str_eq_ci),
    "StringNotEqualsIgnoreCase": _Operator("String", True, _str_eq_ci),
    "StringLike": _Operator("String", False, _str_like),
    "StringNotLike": _Operator("String", True, _str_like),
    "NumericEquals": _Operator("Numeric", False, _eq),
    "NumericNotEquals": _Operator("Numeric", True, _eq),
    "NumericLessThan": _Operator("Numeric", False, _lt),
    "NumericLessThanEquals": _Operator("Numeric", False, _le),
    "NumericGreaterThan": _Operator("Numeric", False, _gt),
    "NumericGreaterThanEquals": _Operator("Numeric", False, _ge),
    "DateEquals": _Operator("Date", False, _eq),
    "DateNotEquals": _Operator("Date", True, _eq),
    "DateLessThan": _Operator("Date", False, _lt),
    "DateLessThanEquals": _Operator("Date", False, _le),
    "DateGreaterThan": _Operator("Date", False, _gt),
    "DateGreaterThanEquals": _Operator("Date", False, _ge),
    "Bool": _Operator("Bool", False, _eq),
    "IpAddress": _Operator("IpAddress", False, _in_network),
    "NotIpAddress": _Operator("IpAddress", True, _in_network),
}

NEGATED_OPERATORS = frozenset(name for name, op in OPERATORS.items() if op.negated)


def operator_family(operator: str) -> Family:
    """The value family of a supported operator (KeyError for an unsupported one)."""
    return OPERATORS[operator].family


# Plain decimal notation with an optional exponent; rejects "NaN", "Infinity" and "1_000",
# which Decimal() would otherwise accept.
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")


def _parse_number(text: str) -> Decimal:
    if not _NUMBER.match(text):
        raise ValueError(f"{text!r} is not a decimal number (e.g. '10', '-2.5')")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already rules this out
        raise ValueError(f"{text!r} is not a decimal number") from exc


def _parse_date(text: str) -> datetime:
    # datetime.fromisoformat (3.11) reads ISO 8601 incl. 'Z' and '+08:00' offsets.
    # A value without an offset is read as UTC (UNVERIFIED for RAM; its examples
    # always carry 'Z' or an offset).
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date-time (e.g. '2019-08-12T17:00:00+08:00')"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _parse_bool_policy(text: str) -> bool:
    # Policies must spell the value in lower case, as every RAM example does
    # (UNVERIFIED whether RAM also accepts "True").
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError(f'{text!r} is not a Bool value; use "true" or "false"')


def _parse_network(text: str) -> IpNetwork:
    # strict=False: "10.0.0.1/24" is read as 10.0.0.0/24 rather than refused
    # (UNVERIFIED; RAM's examples only use canonical blocks).
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not an IPv4/IPv6 address or CIDR block (e.g. '192.168.0.0/16')"
        ) from exc


def parse_operand(family: Family, text: str) -> Operand:
    """Parse a policy value for ``family``; raise ``ValueError`` with a fix-it message."""
    if family == "String":
        return text
    if family == "Numeric":
        return _parse_number(text)
    if family == "Date":
        return _parse_date(text)
    if family == "Bool":
        return _parse_bool_policy(text)
    return _parse_network(text)


def _parse_request_value(family: Family, text: str) -> object | None:
    """Parse one request-context value, or None if it does not parse (a non-match)."""
    try:
        if family == "String":
            return text
        if family == "Numeric":
            return _parse_number(text)
        if family == "Date":
            return _parse_date(text)
        if family == "Bool":
            lowered = text.lower()
            return {"true": True, "false": False}.get(lowered)
        address: IpAddr = ipaddress.ip_address(text.strip())
        # An IPv4 client seen through a dual-stack socket arrives as ::ffff:a.b.c.d.
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return address.ipv4_mapped
        return address
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class ConditionClause:
    """One ``Operator: {Key: [values]}`` entry; values kept as written and parsed."""

    operator: str
    key: str
    values: tuple[str, ...]
    operands: tuple[Operand, ...] = field(compare=False, repr=False)

    @property
    def negated(self) -> bool:
        return OPERATORS[self.operator].negated

    def is_met(self, context: Mapping[str, tuple[str, ...]]) -> bool:
        """Decide this clause against a context from ``normalise_context``."""
        spec = OPERATORS[self.operator]
        request_values = context.get(self.key.casefold(), ())
        matched = False
        for raw in request_values:
            value = _parse_request_value(spec.family, raw)
            if value is None:
                continue
            if any(_safe_test(spec.test, value, operand) for operand in self.operands):
                matched = True
                break
        # Absent key => no request values => positive False, negated True (AWS's
        # documented rule; UNVERIFIED for RAM, which does not say).
        return not matched if spec.negated else matched


def _safe_test(test: Callable[[object, object], bool], value: object, operand: object) -> bool:
    try:
        return test(value, operand)
    except (TypeError, ArithmeticError):
        # e.g. comparing an IPv4 address with an IPv6 network: not a match.
        return False


def normalise_context(context: RequestContext) -> dict[str, tuple[str, ...]]:
    """Lower-case the keys and turn every value into a tuple of strings.

    Keys that differ only in case are merged (UNVERIFIED: key names treated as
    case-insensitive). Non-string items are dropped: a value the policy cannot
    compare is a non-match rather than an error.
    """
    merged: dict[str, tuple[str, ...]] = {}
    for key, value in context.items():
        if not isinstance(key, str):
            continue
        items: tuple[str, ...]
        if isinstance(value, str):
            items = (value,)
        elif isinstance(value, Sequence):
            items = tuple(v for v in value if isinstance(v, str))
        else:
            items = ()
        folded = key.casefold()
        merged[folded] = merged.get(folded, ()) + items
    return merged


def conditions_met(
    clauses: Sequence[ConditionClause], context: Mapping[str, tuple[str, ...]]
) -> bool:
    """All clauses true (keys and operators AND). An empty block is met."""
    return all(clause.is_met(context) for clause in clauses)
