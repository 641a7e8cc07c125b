"""The reconcile Executor, one action at a time: the call each action makes, with what arguments, and the name a
throttled call is reported under (the state machine's and the audit's error says which call gave up)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scps.render import render
from vending.exceptions import OrganizationsThrottled
from vending.guardrails.orgapi import Backoff
from vending.guardrails.reconcile import Action, Executor
from vending.layout import Layout


class _Org:
    """An Organizations client that records each call and answers it with `code` (throttling by default)."""

    def __init__(self, code: str = "TooManyRequestsException") -> None:
        self.code = code
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**kwargs: Any) -> Any:
            self.calls.append((operation, kwargs))
            raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, operation)

        return call


def _executor(org: Any, layout: Layout) -> Executor:
    snap = SimpleNamespace(
        root_id="r-1",
        ou_ids={"Workloads": "ou-w", "Workloads/Staging": "ou-s"},
        policies={"vend-gpu-none": SimpleNamespace(id="p-scp")},
        tag_policies={"vend-tags": SimpleNamespace(id="p-tag")},
        accounts={"111122223333": SimpleNamespace(id="111122223333", parent_id="r-1")},
    )
    return Executor(org, layout, snap, render(layout), Backoff(attempts=1))  # type: ignore[arg-type]


# (action, the call it makes, the arguments that matter, the name it is reported under when throttled)
CASES = [
    (
        Action("enable_policy_type", "root", data=(("type", "TAG_POLICY"),)),
        "enable_policy_type",
        {"RootId": "r-1", "PolicyType": "TAG_POLICY"},
        "EnablePolicyType TAG_POLICY",
    ),
    (
        Action("create_ou", "ou:Workloads/Staging/Gpu"),
        "create_organizational_unit",
        {"ParentId": "ou-s", "Name": "Gpu"},
        "CreateOrganizationalUnit Workloads/Staging/Gpu",
    ),
    (
        Action("create_ou", "ou:Platform"),
        "create_organizational_unit",
        {"ParentId": "r-1", "Name": "Platform"},
        "CreateOrganizationalUnit Platform",
    ),
    (
        Action("update_policy", "root", "vend-gpu-none"),
        "update_policy",
        {"PolicyId": "p-scp"},
        "UpdatePolicy vend-gpu-none",
    ),
    (
        Action("delete_policy", "root", "vend-gpu-none"),
        "delete_policy",
        {"PolicyId": "p-scp"},
        "DeletePolicy vend-gpu-none",
    ),
    (
        Action("move_account", "account:111122223333", data=(("from", "root"), ("to", "Workloads/Staging"))),
        "move_account",
        {"AccountId": "111122223333", "SourceParentId": "r-1", "DestinationParentId": "ou-s"},
        "MoveAccount 111122223333",
    ),
    (
        Action("tag_account", "account:111122223333", data=(("team", "team-a"),)),
        "tag_resource",
        {"ResourceId": "111122223333", "Tags": [{"Key": "team", "Value": "team-a"}]},
        "TagResource account:111122223333",
    ),
    (
        Action("update_tag_policy", "root", "vend-tags"),
        "update_policy",
        {"PolicyId": "p-tag"},
        "UpdatePolicy vend-tags",
    ),
    (
        Action("attach_tag_policy", "ou:Workloads", "vend-tags"),
        "attach_policy",
        {"PolicyId": "p-tag", "TargetId": "ou-w"},
        "AttachPolicy vend-tags",
    ),
    (
        Action("detach_tag_policy", "root", "vend-tags"),
        "detach_policy",
        {"PolicyId": "p-tag", "TargetId": "r-1"},
        "DetachPolicy vend-tags",
    ),
    (
        Action("delete_tag_policy", "root", "vend-tags"),
        "delete_policy",
        {"PolicyId": "p-tag"},
        "DeletePolicy vend-tags",
    ),
    (
        Action("attach", "account:111122223333", "vend-gpu-none"),
        "attach_policy",
        {"PolicyId": "p-scp", "TargetId": "111122223333"},
        "AttachPolicy vend-gpu-none",
    ),
    (
        Action("detach", "ou:Workloads/Staging", "vend-gpu-none"),
        "detach_policy",
        {"PolicyId": "p-scp", "TargetId": "ou-s"},
        "DetachPolicy vend-gpu-none",
    ),
]


@pytest.mark.parametrize(("action", "operation", "arguments", "name"), CASES, ids=lambda v: getattr(v, "kind", None))
def test_each_action_makes_its_call_and_a_throttled_one_is_named(
    layout: Layout, action: Action, operation: str, arguments: dict[str, Any], name: str
) -> None:
    org = _Org()
    with pytest.raises(OrganizationsThrottled) as raised:
        _executor(org, layout).run([action])
    assert str(raised.value) == f"{name}: TooManyRequestsException"
    assert len(org.calls) == 1
    made, kwargs = org.calls[0]
    assert made == operation
    assert {k: kwargs.get(k) for k in arguments} == arguments


def test_a_policy_update_puts_back_the_description_with_the_content(layout: Layout) -> None:
    org = _Org()
    with pytest.raises(OrganizationsThrottled):
        _executor(org, layout).run([Action("update_policy", "root", "vend-gpu-none")])
    p = render(layout).policies["vend-gpu-none"]
    assert org.calls[0][1] == {"PolicyId": "p-scp", "Description": p.description, "Content": p.content}


@pytest.mark.parametrize(
    ("policy", "policy_type"), [("vend-gpu-none", "SERVICE_CONTROL_POLICY"), ("vend-tags", "TAG_POLICY")]
)
def test_a_delete_refused_on_a_gone_policy_is_settled_from_its_own_type(
    layout: Layout, policy: str, policy_type: str
) -> None:
    # GIVEN a DeletePolicy answered AccessDenied (a retry after a lost answer: the policy's ARN is gone), and the
    # policies of its type listed without it
    class Gone(_Org):
        def list_policies(self, **kwargs: Any) -> dict[str, Any]:
            self.calls.append(("list_policies", kwargs))
            return {"Policies": []}

    org = Gone("AccessDenied")
    kind = "delete_policy" if policy_type == "SERVICE_CONTROL_POLICY" else "delete_tag_policy"
    # WHEN the Executor deletes it THEN the delete is settled by listing that type's policies, nothing raised
    assert _executor(org, layout).run([Action(kind, "root", policy)]) == [f"{kind} {policy} -> root"]
    assert org.calls[1] == ("list_policies", {"Filter": policy_type})


def test_a_plan_reads_out_whole() -> None:
    from vending.guardrails.reconcile import Finding, Plan

    plan = Plan(
        actions=[Action("move_account", "account:1", data=(("from", "root"), ("to", "Suspended")))],
        findings=[Finding("unknown_account", "account:1", "in the root", False)],
        unfixable=["u"],
        notes=["n"],
        executed=True,
    )
    assert plan.to_dict() == {
        "changes": 1,
        "executed": True,
        "actions": [{"kind": "move_account", "target": "account:1", "policy": "", "from": "root", "to": "Suspended"}],
        "unfixable": ["u"],
        "notes": ["n"],
        "findings": [{"type": "unknown_account", "target": "account:1", "detail": "in the root", "fixable": False}],
    }
