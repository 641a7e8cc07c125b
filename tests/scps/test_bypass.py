"""Attacks from a team account against the rendered SCPs, evaluated with scps.evaluate on real request contexts."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scps.evaluate import Request, denying_statements
from scps.families import EC2_ACCELERATED, EC2_GENERAL_PURPOSE
from scps.render import FULL_AWS_ACCESS, render
from vending.layout import load_layout

LAYOUT = load_layout()
RENDERED = render(LAYOUT)
TEAM_ROLE = "arn:aws:iam::111122223333:role/team-ci"
PLATFORM = [f"arn:aws:iam::111122223333:role/{n}" for n in LAYOUT.organization.platform_role_names]
TAGS = {
    "aws:RequestTag/team": "team-frontend",
    "aws:RequestTag/stage": "staging",
    "aws:RequestTag/cost-center": "CC-1001",
    "aws:RequestedRegion": "us-east-1",
}
INSTANCE = "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc"


def _docs(team: str) -> list[dict[str, Any]]:
    spec = LAYOUT.team(team)
    assert spec is not None
    names = [n for n in RENDERED.governing(LAYOUT.ou_for_stage("staging"), spec.gpu_tier) if n != FULL_AWS_ACCESS]
    return [RENDERED.policies[n].document for n in [*names, RENDERED.team_policies[team]]]


def _req(team: str, action: str, context: dict[str, Any], resource: str = "*", principal: str = TEAM_ROLE) -> list[str]:
    return denying_statements(
        _docs(team), Request(action, resource, principal, {"aws:RequestedRegion": "us-east-1", **context})
    )


# (team, action, resource, context): each must be denied for a team principal and allowed for the platform.
ATTACKS = [
    (
        "team-frontend",
        "ec2:ModifyInstanceAttribute",
        INSTANCE,
        {"ec2:InstanceType": "m5.large", "ec2:Attribute/InstanceType": "g5.xlarge"},
    ),
    ("team-frontend", "ec2:StartInstances", INSTANCE, {"ec2:InstanceType": "g5.xlarge"}),
    ("team-frontend", "ec2:RunInstances", INSTANCE, {**TAGS, "ec2:InstanceType": "p5.48xlarge"}),
    ("team-frontend", "ec2:CreateFleet", INSTANCE, {**TAGS, "ec2:InstanceType": "g6.xlarge"}),
    (
        "team-frontend",
        "ec2:CreateCapacityReservation",
        "arn:aws:ec2:us-east-1:111122223333:capacity-reservation/cr-1",
        {"ec2:InstanceType": "p4d.24xlarge"},
    ),
    ("team-mlops", "ec2:PurchaseCapacityBlock", "*", {}),
    ("team-mlops", "ec2:RequestSpotInstances", "*", {}),
    ("team-mlops", "ec2:RequestSpotFleet", "*", {}),
    ("team-frontend", "ec2:AllocateHosts", "*", {}),  # by family only: no type to check
    (
        "team-frontend",
        "autoscaling:CreateAutoScalingGroup",
        "*",
        {"autoscaling:InstanceTypes": ["m5.large", "g5.xlarge"]},
    ),
    (
        "team-backend",
        "autoscaling:UpdateAutoScalingGroup",
        "*",
        {"autoscaling:InstanceTypes": ["m5.large", "g5.xlarge", "p5.48xlarge"]},
    ),
    ("team-frontend", "autoscaling:CreateLaunchConfiguration", "*", {"autoscaling:InstanceType": "g4dn.xlarge"}),
    ("team-frontend", "ec2:RunInstances", INSTANCE, {**TAGS, "ec2:InstanceType": "f1.2xlarge"}),
    ("team-mlops", "ec2:RunInstances", INSTANCE, {**TAGS, "ec2:InstanceType": "vt1.3xlarge"}),
    ("team-mlops", "ec2:RunInstances", INSTANCE, {**TAGS, "ec2:InstanceType": "f2.12xlarge"}),
    ("team-frontend", "sagemaker:CreateDataQualityJobDefinition", "*", {"sagemaker:InstanceTypes": ["ml.g5.xlarge"]}),
    ("team-frontend", "sagemaker:CreateModelBiasJobDefinition", "*", {"sagemaker:InstanceTypes": ["ml.p3.2xlarge"]}),
    ("team-frontend", "sagemaker:CreateMonitoringSchedule", "*", {"sagemaker:InstanceTypes": ["ml.g4dn.xlarge"]}),
    ("team-backend", "sagemaker:UpdateMonitoringSchedule", "*", {"sagemaker:InstanceTypes": ["ml.p5.48xlarge"]}),
    ("team-backend", "sagemaker:UpdateTrainingJob", "*", {"sagemaker:InstanceTypes": ["ml.trn1.32xlarge"]}),
    (
        "team-backend",
        "sagemaker:CreateEndpointConfig",
        "*",
        {"sagemaker:InstanceTypes": ["ml.m5.large"], "sagemaker:AcceleratorTypes": ["ml.eia2.medium"]},
    ),
    ("team-frontend", "codebuild:CreateFleet", "*", {"codebuild:computeConfiguration.instanceType": "g5.xlarge"}),
    ("team-frontend", "cloud9:CreateEnvironmentEC2", "*", {"cloud9:InstanceType": "g4dn.xlarge"}),
    # tags
    ("team-frontend", "ec2:DeleteTags", INSTANCE, {"aws:TagKeys": ["cost-center"]}),
    ("team-frontend", "sagemaker:DeleteTags", "*", {"aws:TagKeys": ["Name", "team"]}),
    (
        "team-frontend",
        "ec2:CreateTags",
        INSTANCE,
        {
            "aws:ResourceTag/team": "team-frontend",
            "aws:RequestTag/cost-center": "CC-9999",
            "aws:TagKeys": ["cost-center"],
        },
    ),
    (
        "team-frontend",
        "ec2:RunInstances",
        INSTANCE,
        {**TAGS, "aws:RequestTag/cost-center": "", "ec2:InstanceType": "m5.large"},
    ),
    (
        "team-frontend",
        "ec2:RunInstances",
        INSTANCE,
        {**TAGS, "aws:RequestTag/team": "team-mlops", "ec2:InstanceType": "m5.large"},
    ),
    ("team-frontend", "rds:CreateDBInstance", "*", {k: v for k, v in TAGS.items() if k != "aws:RequestTag/stage"}),
    # baseline
    ("team-frontend", "guardduty:DeleteDetector", "*", {}),
    ("team-frontend", "config:StopConfigurationRecorder", "*", {}),
    ("team-frontend", "securityhub:DisableSecurityHub", "*", {}),
    ("team-frontend", "access-analyzer:DeleteAnalyzer", "*", {}),
    ("team-frontend", "cloudtrail:DeleteEventDataStore", "*", {}),
    (
        "team-frontend",
        "kms:ScheduleKeyDeletion",
        "arn:aws:kms:us-east-1:111122223333:key/k-1",
        {"kms:ResourceAliases": ["alias/terraform-state"]},
    ),
    (
        "team-frontend",
        "kms:PutKeyPolicy",
        "arn:aws:kms:us-east-1:111122223333:key/k-1",
        {"kms:ResourceAliases": ["alias/terraform-state"]},
    ),
    ("team-frontend", "kms:UpdateAlias", "arn:aws:kms:us-east-1:111122223333:alias/terraform-state", {}),
    # regions: team-frontend asked for us-east-1 only (us-west-2 is in the org allow-list)
    ("team-frontend", "ec2:DescribeInstances", "*", {"aws:RequestedRegion": "us-west-2"}),
]


@pytest.mark.parametrize(
    ("team", "action", "resource", "context"), ATTACKS, ids=[f"{a[1]}-{i}" for i, a in enumerate(ATTACKS)]
)
def test_bypass_denied_for_team_allowed_for_platform(
    team: str, action: str, resource: str, context: dict[str, Any]
) -> None:
    # GIVEN an attack request from a team principal THEN some guardrail denies it
    assert _req(team, action, context, resource), (team, action, context)
    # AND the platform's roles are never denied the same request
    for arn in PLATFORM:
        assert _req(team, action, context, resource, principal=arn) == [], arn


ORDINARY = [
    ("team-frontend", "ec2:RunInstances", INSTANCE, {**TAGS, "ec2:InstanceType": "m7i.large"}),
    ("team-frontend", "ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-1", TAGS),
    (
        "team-backend",
        "ec2:RunInstances",
        INSTANCE,
        {
            **TAGS,
            "aws:RequestTag/team": "team-backend",
            "aws:RequestTag/cost-center": "CC-1002",
            "ec2:InstanceType": "g6e.xlarge",
        },
    ),
    (
        "team-backend",
        "autoscaling:CreateAutoScalingGroup",
        "*",
        {"autoscaling:InstanceTypes": ["m5.large", "c7g.large", "g5.xlarge"]},
    ),
    ("team-frontend", "autoscaling:CreateAutoScalingGroup", "*", {"autoscaling:InstanceTypes": ["m5.large"]}),
    (
        "team-backend",
        "sagemaker:CreateEndpointConfig",
        "*",
        {**TAGS, "aws:RequestTag/team": "team-backend", "sagemaker:InstanceTypes": ["ml.m5.large", "ml.g6e.xlarge"]},
    ),
    (
        "team-mlops",
        "sagemaker:CreateTrainingJob",
        "*",
        {**TAGS, "aws:RequestTag/team": "team-mlops", "sagemaker:InstanceTypes": ["ml.trn1n.32xlarge"]},
    ),
    ("team-frontend", "ec2:StopInstances", INSTANCE, {"ec2:InstanceType": "g5.xlarge"}),
    ("team-frontend", "ec2:TerminateInstances", INSTANCE, {"ec2:InstanceType": "p5.48xlarge"}),
    (
        "team-frontend",
        "ec2:CreateTags",
        INSTANCE,
        {"aws:RequestTag/Name": "web", "aws:TagKeys": ["Name"], "aws:ResourceTag/team": "team-frontend"},
    ),
    ("team-frontend", "ec2:DeleteTags", INSTANCE, {"aws:TagKeys": ["Name"]}),
    (
        "team-frontend",
        "kms:ScheduleKeyDeletion",
        "arn:aws:kms:us-east-1:111122223333:key/k-2",
        {"kms:ResourceAliases": ["alias/app"]},
    ),
    ("team-frontend", "iam:ListRoles", "*", {"aws:RequestedRegion": "us-west-2"}),  # global service
]


@pytest.mark.parametrize(
    ("team", "action", "resource", "context"), ORDINARY, ids=[f"{a[1]}-{i}" for i, a in enumerate(ORDINARY)]
)
def test_bypass_ordinary_requests_allowed(team: str, action: str, resource: str, context: dict[str, Any]) -> None:
    assert _req(team, action, context, resource) == []


ALL_TYPES = [f"{f}.{size}" for f in (*EC2_ACCELERATED, *EC2_GENERAL_PURPOSE) for size in ("large", "48xlarge")]


@settings(max_examples=300, deadline=None)
@given(
    team=st.sampled_from([t.slug for t in LAYOUT.teams]),
    instance_type=st.sampled_from(ALL_TYPES),
    action=st.sampled_from(
        [
            "ec2:RunInstances",
            "ec2:StartInstances",
            "ec2:CreateFleet",
            "ec2:CreateCapacityReservation",
            "ec2:ModifyInstanceAttribute",
        ]
    ),
)
def test_bypass_property_allowed_iff_cpu_or_in_tier(team: str, instance_type: str, action: str) -> None:
    # GIVEN any known instance type on any action that names it
    spec = LAYOUT.team(team)
    assert spec is not None
    tier = LAYOUT.gpu_tiers[spec.gpu_tier]
    ctx = {**TAGS, "aws:RequestTag/team": team, "aws:RequestTag/cost-center": spec.cost_center}
    if action == "ec2:ModifyInstanceAttribute":
        ctx.update({"ec2:InstanceType": "m5.large", "ec2:Attribute/InstanceType": instance_type})
    else:
        ctx["ec2:InstanceType"] = instance_type
    denied = bool(_req(team, action, ctx, INSTANCE))
    # THEN it is allowed iff it is not accelerated or the team's tier grants it
    in_tier = any(fnmatchcase(instance_type, p) for p in tier.ec2_instance_types)
    accelerated = instance_type.split(".")[0] in EC2_ACCELERATED
    assert denied == (accelerated and not in_tier), (team, instance_type, action)


@settings(max_examples=200, deadline=None)
@given(
    team=st.sampled_from([t.slug for t in LAYOUT.teams]),
    types=st.lists(st.sampled_from(ALL_TYPES), min_size=1, max_size=4),
)
def test_bypass_property_asg_overrides(team: str, types: list[str]) -> None:
    # GIVEN any mix of override types on an Auto Scaling group
    spec = LAYOUT.team(team)
    assert spec is not None
    tier = LAYOUT.gpu_tiers[spec.gpu_tier]
    denied = bool(_req(team, "autoscaling:CreateAutoScalingGroup", {"autoscaling:InstanceTypes": types}))
    # THEN it is denied iff one of them is accelerated and outside the tier
    bad = [
        t
        for t in types
        if t.split(".")[0] in EC2_ACCELERATED and not any(fnmatchcase(t, p) for p in tier.ec2_instance_types)
    ]
    assert denied == bool(bad), (team, types)
