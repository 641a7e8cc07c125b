"""Fences by meaning: every operation in the AWS API models (botocore) whose request can name an instance type, family
or accelerator is found here and must be fenced by the SCPs (decided by scps.evaluate), be a known service-linked-role
bypass, or carry a decision with its reason in scps.coverage.API_DECISIONS. A service AWS adds fails here."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session

from scps.coverage import (
    API_DECISIONS,
    STRUCTURAL_BYPASSES,
    coverage,
    denied_in_every_tier,
    drop_statements,
    probe_layout,
)
from scps.render import render
from vending.layout import load_layout

FIELD = re.compile(
    r"(instancetypes?|computetype(name)?|instancefamily|acceleratortypes?|nodetype|instancerequirements)$", re.I
)
VERBS = ("Create", "Update", "Modify", "Start", "Run", "Request", "Allocate", "Purchase", "Put", "Import", "Register")


def _fields(shape: Any, seen: set[str], depth: int = 0) -> set[str]:
    if depth > 6 or shape.name in seen:
        return set()
    seen.add(shape.name)
    if shape.type_name == "structure":
        out = {n for n in shape.members if FIELD.search(n)}
        for member in shape.members.values():
            out |= _fields(member, seen, depth + 1)
        return out
    if shape.type_name == "list":
        return _fields(shape.member, seen, depth + 1)
    if shape.type_name == "map":
        return _fields(shape.value, seen, depth + 1)
    return set()


@cache
def typed_operations() -> dict[str, tuple[str, ...]]:
    """IAM action (signing name:operation) -> the request fields that name a type, for every writing operation."""
    session = botocore.session.get_session()
    found: dict[str, tuple[str, ...]] = {}
    for service in session.get_available_services():
        model = session.get_service_model(service)
        prefix = model.metadata.get("signingName") or model.endpoint_prefix
        for name in model.operation_names:
            op = model.operation_model(name)
            if name.startswith(VERBS) and op.input_shape is not None:
                fields = _fields(op.input_shape, set())
                if fields:
                    found[f"{prefix}:{name}"] = tuple(sorted(fields))
    return found


def _decide_all(drop: frozenset[str] = frozenset()) -> dict[str, str]:
    layout = load_layout()
    rendered = drop_statements(render(probe_layout(layout)), set(drop))
    fenced = {r.action for r in coverage(layout, rendered) if r.status == "fenced"}
    bypassed = " ".join(STRUCTURAL_BYPASSES)
    out: dict[str, str] = {}
    for action in typed_operations():
        service = action.split(":")[0]
        if action in fenced or denied_in_every_tier(layout, action, rendered):
            out[action] = "fenced"
        elif action in bypassed or f"{service}:{action.split(':')[1][:-1]}" in bypassed:
            out[action] = "bypass"
        elif action in API_DECISIONS or service in API_DECISIONS:
            out[action] = API_DECISIONS.get(action, API_DECISIONS.get(service, ("", "")))[0]
        else:
            out[action] = "UNDECIDED"
    return out


def test_accelerated_apis_every_typed_operation_is_decided() -> None:
    # GIVEN every operation of the API models that names an instance type, family or accelerator
    decisions = _decide_all()
    counts = {s: sum(v == s for v in decisions.values()) for s in sorted(set(decisions.values()))}
    print(f"\n{len(decisions)} typed operations: {counts}")
    for action, status in sorted(decisions.items()):
        if status not in ("fenced",):
            print(f"  {status:14} {action}")
    # THEN each one is fenced, a known bypass, or decided with a reason; the only gaps are the ones listed
    assert [a for a, s in decisions.items() if s == "UNDECIDED"] == []
    assert {a for a, s in decisions.items() if s == "gap"} <= {a for a, (s, _) in API_DECISIONS.items() if s == "gap"}
    # AND the doors are fenced by the evaluator, not by a decision
    for action in (
        "codebuild:CreateFleet",
        "codebuild:CreateProject",
        "appstream:CreateFleet",
        "workspaces:CreateWorkspaces",
        "gamelift:CreateFleet",
        "ec2:AllocateHosts",
        "ec2:CreateCapacityReservation",
        "sagemaker:CreateTrainingJob",
    ):
        assert decisions[action] == "fenced", action


def test_accelerated_apis_decisions_name_real_services() -> None:
    # GIVEN the decisions THEN each names a service (or action) the models have: no stale entry hides a new door
    services = {a.split(":")[0] for a in typed_operations()}
    stale = [k for k in API_DECISIONS if k not in typed_operations() and k not in services]
    assert stale == []


def test_accelerated_apis_negative_control_deleted_fence_is_undecided() -> None:
    # GIVEN the statement that denies the untyped doors deleted WHEN decided again
    decisions = _decide_all(frozenset({"DenyUntypedCapacity", "DenyCodeBuildGpuProjects"}))
    # THEN the doors it closed are no longer fenced and nothing else claims them
    for action in ("appstream:CreateFleet", "workspaces:CreateWorkspaces", "gamelift:CreateFleet", "braket:CreateJob"):
        assert decisions[action] == "UNDECIDED", action
