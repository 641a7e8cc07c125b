"""A small evaluator of SCP documents against one request, for tests and the audit's what-if checks.

Scope: what the rendered SCPs use. Deny statements with Action/NotAction (wildcards), Resource, and the condition
operators String(Not)Equals, String(Not)Like, Arn(Not)Like, Null, Bool and their ForAnyValue:/ForAllValues: forms and
IfExists. Semantics follow the IAM reference
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
a key missing from the request makes a positive operator false and a negated one true; ForAnyValue on a missing key
is false, ForAllValues true. Allow statements are evaluated as the allow-list (an action must be allowed at every
level); this module answers only "is it denied by an explicit Deny", which is what the guardrails add.
Condition keys and request keys compare case-insensitively, as IAM does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from vending.exceptions import UnsupportedCondition

Context = Mapping[str, str | list[str] | None]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = "*"
    principal_arn: str = "arn:aws:iam::111122223333:role/team-ci"
    context: Mapping[str, str | list[str]] = field(default_factory=dict)

    def keys(self) -> dict[str, list[str]]:
        out = {k.lower(): ([v] if isinstance(v, str) else list(v)) for k, v in self.context.items()}
        out["aws:principalarn"] = [self.principal_arn]
        return out


def _list(value: Any) -> list[str]:
    return [str(value)] if isinstance(value, str | bool) else [str(v) for v in value]


def _like(value: str, pattern: str) -> bool:
    # IAM wildcards: * and ? only; fnmatch would also honour [...] so escape it.
    return fnmatchcase(value, pattern.replace("[", "[[]"))


_BASE = {
    "StringEquals": (lambda v, p: v == p, False),
    "StringNotEquals": (lambda v, p: v == p, True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "ArnEquals": (lambda v, p: v == p, False),
    "ArnNotEquals": (lambda v, p: v == p, True),
    "ArnLike": (_like, False),
    "ArnNotLike": (_like, True),
    "Bool": (lambda v, p: v.lower() == str(p).lower(), False),
}


def _operator_true(operator: str, key: str, expected: Any, keys: dict[str, list[str]]) -> bool:
    values = keys.get(key.lower())
    if operator == "Null":
        return (values is None) == (str(expected).lower() == "true")
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    if op not in _BASE:
        raise UnsupportedCondition(f"condition operator {operator!r} is not implemented by scps.evaluate")
    match, negated = _BASE[op]
    patterns = _list(expected)
    if values is None:
        if if_exists:
            return True
        if qualifier == "ForAnyValue":
            return False
        if qualifier == "ForAllValues":
            return True
        return negated

    def hit(v: str) -> bool:
        found = any(match(v, p) for p in patterns)
        return not found if negated else found

    if qualifier == "ForAllValues":
        return all(hit(v) for v in values)
    if qualifier == "ForAnyValue" or len(values) == 1:
        return any(hit(v) for v in values)
    # A multi-valued key with a single-valued operator: IAM's outcome is not well defined; refuse rather than guess.
    raise UnsupportedCondition(f"{key} has several values; use ForAnyValue/ForAllValues")


def conditions_true(condition: Mapping[str, Mapping[str, Any]], request: Request) -> bool:
    keys = request.keys()
    return all(
        _operator_true(op, key, expected, keys) for op, block in condition.items() for key, expected in block.items()
    )


def _matches(patterns: Iterable[str], value: str, case: bool = False) -> bool:
    if case:
        return any(_like(value, p) for p in patterns)
    return any(_like(value.lower(), p.lower()) for p in patterns)


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "NotAction" in statement:
        action_ok = not _matches(_list(statement["NotAction"]), request.action)
    else:
        action_ok = _matches(_list(statement["Action"]), request.action)
    if not action_ok:
        return False
    if "NotResource" in statement:
        if _matches(_list(statement["NotResource"]), request.resource, case=True):
            return False
    elif not _matches(_list(statement.get("Resource", "*")), request.resource, case=True):
        return False
    return conditions_true(statement.get("Condition", {}), request)


def denying_statements(documents: Iterable[Mapping[str, Any]], request: Request) -> list[str]:
    """Sids of the Deny statements in `documents` that deny `request` (empty: not explicitly denied)."""
    return [
        str(s.get("Sid", "?"))
        for doc in documents
        for s in doc["Statement"]
        if s["Effect"] == "Deny" and statement_applies(s, request)
    ]


def is_denied(documents: Iterable[Mapping[str, Any]], request: Request) -> bool:
    return bool(denying_statements(documents, request))
